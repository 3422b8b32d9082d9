"""factory-boy factories for the core models (apps add theirs in tests/<app>/factories.py)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any, TypeVar

import factory
from django.db.models import Model
from django.utils import timezone
from factory.django import DjangoModelFactory

from leads.models import Lead, LeadInteraction, LeadQualification, Task
from leads.phones import phone_match_key
from organizations.models import (
    Membership,
    Notification,
    Organization,
    OrganizationHoliday,
    Role,
    User,
)

PASSWORD = "senha-forte-123"


M = TypeVar("M", bound=Model)


class ModelFactory(DjangoModelFactory[M]):
    """A factory whose call type-checks as the model it creates (factory_boy's metaclass
    `__call__` is untyped, so mypy would see an instance of the factory)."""

    class Meta:
        abstract = True

    if TYPE_CHECKING:

        def __new__(cls, *args: Any, **kwargs: Any) -> M: ...  # type: ignore[misc]


class OrganizationFactory(ModelFactory[Organization]):
    class Meta:
        model = Organization

    nome = factory.Sequence(lambda n: f"Mentoria {n}")
    slug = factory.Sequence(lambda n: f"mentoria-{n}")
    estado = "SP"


class UserFactory(ModelFactory[User]):
    class Meta:
        model = User

    email = factory.Sequence(lambda n: f"user{n}@example.com")
    nome_completo = factory.Faker("name", locale="pt_BR")
    # Hashed before the insert (one statement; set_password after it was an UPDATE more).
    password = factory.django.Password(PASSWORD)


class MembershipFactory(ModelFactory[Membership]):
    class Meta:
        model = Membership

    organization = factory.SubFactory(OrganizationFactory)
    user = factory.SubFactory(UserFactory)
    role = Role.CLOSER
    nome_completo = factory.LazyAttribute(lambda m: m.user.nome_completo)


class LeadFactory(ModelFactory[Lead]):
    class Meta:
        model = Lead

    organization = factory.SubFactory(OrganizationFactory)
    nome_completo = factory.Faker("name", locale="pt_BR")
    email = factory.Sequence(lambda n: f"lead{n}@cliente.com.br")
    # Valid Brazilian mobiles: +55 11 9 followed by eight digits, unique per sequence.
    telefone = factory.Sequence(lambda n: f"+55119{(10_000_000 + n) % 100_000_000:08d}")
    telefone_chave = factory.LazyAttribute(lambda lead: phone_match_key(lead.telefone))
    # Not Faker's company: its Brazilian companies are surnames ("Silva Ltda.", "Souza e Filhos")
    # that a test's search for a surname would match at random.
    empresa = factory.Sequence(lambda n: f"Comércio Exemplo {n}")
    origem = "instagram"
    valor_potencial = Decimal("15000.00")


class InteractionFactory(ModelFactory[LeadInteraction]):
    class Meta:
        model = LeadInteraction

    lead = factory.SubFactory(LeadFactory)
    organization = factory.LazyAttribute(lambda i: i.lead.organization)
    tipo_interacao = "ligacao"
    resultado = "contato_realizado"
    resumo = "Conversa inicial"
    data_interacao = factory.LazyFunction(lambda: timezone.now() - timedelta(hours=1))


class QualificationFactory(ModelFactory[LeadQualification]):
    class Meta:
        model = LeadQualification

    lead = factory.SubFactory(LeadFactory)
    organization = factory.LazyAttribute(lambda q: q.lead.organization)


class TaskFactory(ModelFactory[Task]):
    class Meta:
        model = Task

    organization = factory.LazyAttribute(lambda t: t.responsavel.organization)
    responsavel = factory.SubFactory(MembershipFactory)
    titulo = "Ligar para o lead"
    vencimento = factory.LazyFunction(lambda: timezone.now() + timedelta(days=1))


class HolidayFactory(ModelFactory[OrganizationHoliday]):
    class Meta:
        model = OrganizationHoliday

    organization = factory.SubFactory(OrganizationFactory)
    data = factory.Sequence(lambda n: timezone.localdate() + timedelta(days=n + 1))
    nome = "Aniversário da empresa"


class NotificationFactory(ModelFactory[Notification]):
    class Meta:
        model = Notification

    organization = factory.LazyAttribute(lambda n: n.recipient.organization)
    recipient = factory.SubFactory(MembershipFactory)
    tipo = "lead_converted"
    titulo = "Lead convertido"
