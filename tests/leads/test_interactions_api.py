from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from leads.models import LeadInteraction, LeadStatusChange
from organizations.models import Notification
from tests.factories import InteractionFactory, LeadFactory

pytestmark = pytest.mark.django_db


def url(lead) -> str:
    return f"/api/v1/leads/{lead.pk}/interactions/"


def test_it_creates_an_interaction_authored_by_the_requester(org_a, client_for):
    lead = LeadFactory(organization=org_a.org)
    response = client_for(org_a.sdr).post(
        url(lead),
        {
            "tipo_interacao": "ligacao",
            "resumo": "Primeiro contato",
            "resultado": "contato_realizado",
            "duracao_minutos": 12,
            "closer_id": str(org_a.closer.id),
            "organization": "x",
        },
        format="json",
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["closer_id"] == str(org_a.sdr.id)
    assert body["lead_id"] == str(lead.pk)
    interaction = LeadInteraction.objects.get(pk=body["id"])
    assert interaction.organization == org_a.org
    lead.refresh_from_db()
    assert lead.last_interaction_at == interaction.data_interacao


def test_it_accepts_past_dates_and_never_moves_last_interaction_backwards(org_a, client_for):
    lead = LeadFactory(organization=org_a.org)
    client = client_for(org_a.closer)
    recent = timezone.now() - timedelta(hours=1)
    older = timezone.now() - timedelta(days=5)
    client.post(
        url(lead), {"tipo_interacao": "email", "data_interacao": recent.isoformat()}, format="json"
    )
    response = client.post(
        url(lead), {"tipo_interacao": "email", "data_interacao": older.isoformat()}, format="json"
    )
    assert response.status_code == 201
    lead.refresh_from_db()
    assert lead.last_interaction_at is not None
    assert abs((lead.last_interaction_at - recent).total_seconds()) < 1


def test_it_rejects_future_dates(org_a, client_for):
    lead = LeadFactory(organization=org_a.org)
    future = (timezone.now() + timedelta(hours=2)).isoformat()
    response = client_for(org_a.closer).post(
        url(lead), {"tipo_interacao": "email", "data_interacao": future}, format="json"
    )
    assert response.status_code == 400
    assert "data_interacao" in response.json()["details"]
    assert not LeadInteraction.objects.exists()


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({}, "tipo_interacao"),
        ({"tipo_interacao": "telepatia"}, "tipo_interacao"),
        ({"tipo_interacao": "email", "resultado": "talvez"}, "resultado"),
        ({"tipo_interacao": "email", "data_interacao": "2026-13-45T10:00"}, "data_interacao"),
        ({"tipo_interacao": "email", "duracao_minutos": -3}, "duracao_minutos"),
        ({"tipo_interacao": "email", "duracao_minutos": "muito"}, "duracao_minutos"),
        ({"tipo_interacao": "email", "resumo": "x" * 501}, "resumo"),
        ({"tipo_interacao": "email", "valor": "-10"}, "valor"),
    ],
)
def test_it_rejects_bad_interactions(org_a, client_for, payload, field):
    lead = LeadFactory(organization=org_a.org)
    response = client_for(org_a.closer).post(url(lead), payload, format="json")
    assert response.status_code == 400
    assert field in response.json()["details"]
    assert not LeadInteraction.objects.exists()


def test_it_lists_interactions_newest_first(org_a, client_for):
    lead = LeadFactory(organization=org_a.org)
    old = InteractionFactory(lead=lead, data_interacao=timezone.now() - timedelta(days=2))
    new = InteractionFactory(lead=lead, data_interacao=timezone.now() - timedelta(hours=2))
    InteractionFactory(lead=LeadFactory(organization=org_a.org))
    body = client_for(org_a.mentor).get(url(lead)).json()
    assert [item["id"] for item in body["data"]] == [str(new.pk), str(old.pk)]


def test_it_lists_interactions_with_constant_queries(org_a, client_for):
    lead = LeadFactory(organization=org_a.org)
    InteractionFactory.create_batch(20, lead=lead, closer=org_a.closer)
    client = client_for(org_a.admin)
    counts = []
    for limit in (1, 100):
        with CaptureQueriesContext(connection) as queries:
            assert client.get(url(lead), {"limit": limit}).status_code == 200
        counts.append(len(queries))
    assert counts[0] == counts[1]


def test_it_converts_the_lead_on_fechamento_positivo(org_a, client_for):
    lead = LeadFactory(organization=org_a.org, closer=org_a.closer, valor_potencial="20000.00")
    response = client_for(org_a.closer).post(
        url(lead),
        {"tipo_interacao": "reuniao", "resultado": "fechamento_positivo", "valor": "18000.00"},
        format="json",
    )
    assert response.status_code == 201
    lead.refresh_from_db()
    assert lead.status == "convertido"
    assert lead.converted_at is not None
    assert str(lead.valor_fechado) == "18000.00"
    change = LeadStatusChange.objects.get(lead=lead, to_status="convertido")
    assert change.changed_by == org_a.closer
    recipients = set(
        Notification.objects.filter(tipo="lead_converted").values_list("recipient", flat=True)
    )
    assert recipients == {org_a.closer.pk, org_a.admin.pk, org_a.gestor.pk}


def test_it_uses_valor_potencial_when_the_closing_has_no_value(org_a, client_for):
    lead = LeadFactory(organization=org_a.org, valor_potencial="7000.00")
    client_for(org_a.closer).post(
        url(lead), {"tipo_interacao": "reuniao", "resultado": "fechamento_positivo"}, format="json"
    )
    lead.refresh_from_db()
    assert str(lead.valor_fechado) == "7000.00"


def test_it_converts_only_once(org_a, client_for):
    lead = LeadFactory(organization=org_a.org, closer=org_a.closer)
    client = client_for(org_a.closer)
    for _ in range(2):
        client.post(
            url(lead),
            {"tipo_interacao": "reuniao", "resultado": "fechamento_positivo"},
            format="json",
        )
    assert LeadStatusChange.objects.filter(lead=lead, to_status="convertido").count() == 1
    assert Notification.objects.filter(recipient=org_a.closer, tipo="lead_converted").count() == 1


def test_it_loses_the_lead_on_fechamento_negativo(org_a, client_for):
    lead = LeadFactory(organization=org_a.org, status="negociacao")
    client_for(org_a.closer).post(
        url(lead),
        {
            "tipo_interacao": "ligacao",
            "resultado": "fechamento_negativo",
            "resumo": "Sem orçamento este ano",
            "motivo_perda": "Sem orçamento",
        },
        format="json",
    )
    lead.refresh_from_db()
    assert lead.status == "perdido"
    assert lead.motivo_perda == "Sem orçamento"
    assert LeadStatusChange.objects.filter(
        lead=lead, from_status="negociacao", to_status="perdido"
    ).exists()


def test_it_takes_the_loss_reason_from_the_summary_by_default(org_a, client_for):
    lead = LeadFactory(organization=org_a.org)
    client_for(org_a.closer).post(
        url(lead),
        {"tipo_interacao": "ligacao", "resultado": "fechamento_negativo", "resumo": "Desistiu"},
        format="json",
    )
    lead.refresh_from_db()
    assert lead.motivo_perda == "Desistiu"


def test_it_refuses_interactions_by_mentors(org_a, client_for):
    lead = LeadFactory(organization=org_a.org)
    response = client_for(org_a.mentor).post(url(lead), {"tipo_interacao": "email"}, format="json")
    assert response.status_code == 403
    assert not LeadInteraction.objects.exists()


def test_it_hides_interactions_of_leads_the_seller_cannot_see(org_a, client_for):
    org_a.org.visibilidade_leads = "atribuidos"
    org_a.org.save()
    lead = LeadFactory(organization=org_a.org)
    client = client_for(org_a.closer)
    assert client.get(url(lead)).status_code == 404
    assert client.post(url(lead), {"tipo_interacao": "email"}, format="json").status_code == 404


def test_it_hides_another_organizations_interactions(org_a, org_b, client_for):
    lead = LeadFactory(organization=org_b.org)
    interaction = InteractionFactory(lead=lead)
    client = client_for(org_a.admin)
    assert client.get(url(lead)).status_code == 404
    assert client.get(f"{url(lead)}{interaction.pk}/").status_code == 404
    assert client.post(url(lead), {"tipo_interacao": "email"}, format="json").status_code == 404
    assert LeadInteraction.objects.count() == 1
