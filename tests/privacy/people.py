"""A person with rows in every app (for the data subject request tests)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date

from integrations.models import WebhookNotification
from integrations.outbound.models import WebhookDelivery, WebhookEndpoint
from leads.models import Lead, LeadImport, LeadQualification
from mentorados.models import Mentorado
from tests.conftest import Org
from tests.followup.factories import make_execution, make_sequence
from tests.integrations.factories import WhatsAppMessageFactory
from tests.mentorados.factories import EvolucaoFactory, FeedbackFactory

# Values found nowhere else in the database, so that a scan for them is meaningful.
NAME = "Quintiliana Zebedeu Vasconcelos"
OLD_NAME = "Quintiliana Zebedeu"
EMAIL = "quintiliana.zebedeu@exemplo-titular.com.br"
PHONE = "+5511987651234"
PHONE_DIGITS = "5511987651234"
CPF = "529.982.247-25"
COMPANY = "Zebedeu Artefatos Ltda"
VALUES = [NAME, OLD_NAME, EMAIL, PHONE_DIGITS, CPF, COMPANY, "987651234", "87651234"]


@dataclass
class Person:
    lead: Lead
    mentorado: Mentorado


def make_person(org: Org, client_for) -> Person:
    """Created through the API (audit trail, consent ledger, notifications on the way)."""
    client = client_for(org.closer)
    created = client.post(
        "/api/v1/leads/",
        {
            "nome_completo": OLD_NAME,
            "email": EMAIL,
            "telefone": PHONE,
            "empresa": COMPANY,
            "observacoes": f"CPF {CPF}",
            "closer_id": str(org.closer.pk),
        },
        format="json",
    )
    assert created.status_code == 201, created.content
    lead = Lead.objects.get(pk=created.json()["id"])
    url = f"/api/v1/leads/{lead.pk}/"
    assert client.patch(url, {"nome_completo": NAME}, format="json").status_code == 200
    interaction = client.post(
        f"{url}interactions/",
        {
            "tipo_interacao": "ligacao",
            "resultado": "contato_realizado",
            "resumo": f"Falei com {NAME}",
            "detalhes_completos": f"CPF {CPF}, email {EMAIL}",
            "proximo_passo": f"Ligar para {NAME}",
        },
        format="json",
    )
    assert interaction.status_code == 201, interaction.content
    LeadQualification.objects.create(
        organization=org.org, lead=lead, dor_principal=f"{NAME} quer crescer"
    )
    assert client.put(
        f"{url}consents/",
        {"canal": "email", "estado": "concedido", "base_legal": "consentimento",
         "evidencia": {"texto": f"aceite de {EMAIL}"}},
        format="json",
    ).status_code == 200  # fmt: skip
    sequence = make_sequence(org.org)
    make_execution(sequence, lead)
    WhatsAppMessageFactory(
        organization=org.org, lead=lead, from_phone=PHONE_DIGITS, body=f"Oi, sou {NAME}",
        payload={"contacts": [{"profile": {"name": NAME}, "wa_id": PHONE_DIGITS}]},
    )  # fmt: skip
    WebhookNotification.objects.create(
        organization=org.org,
        raw_body=json.dumps({"from": PHONE_DIGITS, "body": f"Oi, sou {NAME}"}).encode(),
        body_sha256="a" * 64,
        processed_at=lead.created_at,
    )
    endpoint = WebhookEndpoint.objects.create(
        organization=org.org, url="https://example.com/h", eventos=["lead.created"], secret="x"
    )
    WebhookDelivery.objects.create(
        organization=org.org, endpoint=endpoint, evento="lead.created", mensagem_id="m1",
        payload={"data": {"id": str(lead.pk), "nome_completo": NAME, "email": EMAIL}},
    )  # fmt: skip
    LeadImport.objects.create(
        organization=org.org, created_by=org.admin,
        content=f"nome,email\nOutra Pessoa,outra@x.com.br\n{NAME},{EMAIL}\n",
        errors=[{"linha": 3, "valor": EMAIL}],
    )  # fmt: skip
    # Converted: the mentee (and a "Lead convertido: <name>" notification).
    assert client.patch(url, {"status": "convertido"}, format="json").status_code == 200
    mentorado = Mentorado.objects.get(lead=lead)
    client_for(org.admin).patch(
        f"/api/v1/mentorados/{mentorado.pk}/", {"telefone": PHONE}, format="json"
    )
    EvolucaoFactory(mentorado=mentorado, observacoes=f"{NAME} abriu filial", ano=2025, mes=2)
    FeedbackFactory(
        mentorado=mentorado, comentario=f"Assinado: {NAME}", data_feedback=date(2025, 6, 1)
    )
    lead.refresh_from_db()
    return Person(lead=lead, mentorado=mentorado)
