"""factory-boy factories for mentees, their monthly results and feedback."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import factory

from mentorados.models import EvolucaoFinanceira, Mentorado, MentoradoFeedback
from tests.factories import ModelFactory, OrganizationFactory


class MentoradoFactory(ModelFactory[Mentorado]):
    class Meta:
        model = Mentorado

    organization = factory.SubFactory(OrganizationFactory)
    nome_completo = factory.Faker("name", locale="pt_BR")
    email = factory.Sequence(lambda n: f"mentorado{n}@negocio.com.br")
    programa = "Mentoria Escala"
    data_inicio = date(2025, 1, 10)
    status = "ativo"


class EvolucaoFactory(ModelFactory[EvolucaoFinanceira]):
    class Meta:
        model = EvolucaoFinanceira

    mentorado = factory.SubFactory(MentoradoFactory)
    organization = factory.LazyAttribute(lambda e: e.mentorado.organization)
    ano = 2025
    mes = 1
    faturamento = Decimal("10000.00")


class FeedbackFactory(ModelFactory[MentoradoFeedback]):
    class Meta:
        model = MentoradoFeedback

    mentorado = factory.SubFactory(MentoradoFactory)
    organization = factory.LazyAttribute(lambda f: f.mentorado.organization)
    data_feedback = date(2025, 6, 1)
    nota_nps = 9
    nota_geral = 8
