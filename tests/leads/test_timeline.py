"""Lead timeline: interactions, status changes and tasks merged newest first, paginated."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from leads import timeline
from leads.models import LeadInteraction, LeadStatusChange
from organizations.models import Organization
from tests.factories import InteractionFactory, LeadFactory, TaskFactory

pytestmark = pytest.mark.django_db


def ago(hours: float):
    return timezone.now() - timedelta(hours=hours)


def url(lead) -> str:
    return f"/api/v1/leads/{lead.pk}/timeline/"


@pytest.fixture
def lead(org_a):
    lead = LeadFactory(organization=org_a.org, closer=org_a.closer, created_at=ago(10))
    LeadStatusChange.objects.create(
        organization=org_a.org, lead=lead, from_status="", to_status="novo", changed_at=ago(10)
    )
    InteractionFactory(
        lead=lead, closer=org_a.closer, data_interacao=ago(8), resumo="Primeira ligação",
        valor=Decimal("1234.50"), duracao_minutos=12,
    )  # fmt: skip
    LeadStatusChange.objects.create(
        organization=org_a.org, lead=lead, from_status="novo", to_status="em_contato",
        changed_by=org_a.closer, changed_at=ago(7),
    )  # fmt: skip
    task = TaskFactory(responsavel=org_a.closer, lead=lead, titulo="Enviar proposta")
    task.created_at = ago(5)
    task.vencimento = ago(-24)
    task.save()
    InteractionFactory(
        lead=lead, closer=None, data_interacao=ago(1), tipo_interacao="whatsapp",
        resultado="agendamento", resumo="Marcou reunião",
    )  # fmt: skip
    # Noise: another lead's history never shows up.
    other = LeadFactory(organization=org_a.org)
    InteractionFactory(lead=other, data_interacao=ago(2))
    return lead


def test_it_merges_every_kind_newest_first(org_a, lead, client_for):
    response = client_for(org_a.admin).get(url(lead))
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["pagination"] == {"page": 1, "limit": 20, "total": 5, "pages": 1}
    assert [item["tipo"] for item in body["data"]] == [
        "interaction", "task", "status_change", "interaction", "status_change",
    ]  # fmt: skip
    moments = [item["at"] for item in body["data"]]
    assert moments == sorted(moments, reverse=True)


def test_it_gives_each_kind_its_fields(org_a, lead, client_for):
    data = client_for(org_a.admin).get(url(lead)).json()["data"]
    latest, task, change, first_call, created = data
    assert latest["closer"] is None
    assert latest["resultado"] == "agendamento"
    assert latest["valor"] is None
    call = LeadInteraction.objects.get(lead=lead, resumo="Primeira ligação")
    assert first_call["id"] == str(call.pk)
    assert first_call["valor"] == "1234.50"
    assert first_call["duracao_minutos"] == 12
    assert first_call["closer"] == {
        "id": str(org_a.closer.pk),
        "nome_completo": org_a.closer.nome_completo,
    }
    assert first_call["created_at"].endswith("Z")
    assert first_call["at"].endswith("Z")
    assert change["from_status"] == "novo"
    assert change["to_status"] == "em_contato"
    assert change["changed_by"]["id"] == str(org_a.closer.pk)
    assert created["changed_by"] is None
    assert created["from_status"] == ""
    assert task["titulo"] == "Enviar proposta"
    assert task["status"] == "pendente"
    assert task["tipo_tarefa"] == "tarefa"
    assert task["responsavel"]["id"] == str(org_a.closer.pk)
    assert task["vencimento"].endswith("Z")
    assert task["concluida_em"] is None


def test_it_paginates_without_overlap(org_a, lead, client_for):
    # Ties on `at` are ordered by kind and id, so pages never repeat or skip an item.
    same = ago(3)
    for _ in range(4):
        InteractionFactory(lead=lead, data_interacao=same)
    client = client_for(org_a.admin)
    full = [item["id"] for item in client.get(url(lead), {"limit": 100}).json()["data"]]
    paged = []
    for page in (1, 2, 3, 4, 5):
        body = client.get(url(lead), {"limit": 2, "page": page}).json()
        paged += [item["id"] for item in body["data"]]
        assert body["pagination"]["total"] == 9
    assert paged == full
    assert len(set(full)) == 9
    past = client.get(url(lead), {"limit": 2, "page": 50})
    assert past.status_code == 200
    assert past.json()["data"] == []


def test_its_query_count_does_not_grow_with_page_size_or_history(org_a, lead, client_for):
    client = client_for(org_a.admin)
    client.get(url(lead))
    with CaptureQueriesContext(connection) as one:
        assert client.get(url(lead), {"limit": 1}).status_code == 200
    for hours in range(40):
        InteractionFactory(lead=lead, data_interacao=ago(hours + 0.5))
    with CaptureQueriesContext(connection) as hundred:
        body = client.get(url(lead), {"limit": 100}).json()
    assert len(body["data"]) == 45
    assert len(one) == len(hundred)


def test_it_includes_registered_sources(org_a, lead, client_for):
    def notes(lead_obj):
        return timeline.timeline_rows(
            Organization.objects.filter(pk=lead_obj.organization_id),
            tipo="org_note",
            at="created_at",
            fields=["nome", "ticket_alvo"],
        )

    timeline.register_timeline_source("org_note", notes)
    try:
        data = client_for(org_a.admin).get(url(lead), {"limit": 100}).json()["data"]
    finally:
        timeline.unregister_timeline_source("org_note")
    note = next(item for item in data if item["tipo"] == "org_note")
    assert note == {
        "tipo": "org_note",
        "id": str(org_a.org.pk),
        "at": note["at"],
        "nome": org_a.org.nome,
        "ticket_alvo": "10000.00",
    }
    assert len(data) == 6


def test_it_refuses_payload_keys_that_clash_with_the_item(org_a):
    with pytest.raises(ValueError, match="are reserved"):
        timeline.timeline_rows(
            LeadStatusChange.objects.all(), tipo="x", at="changed_at", fields=["id"]
        )


def test_every_role_that_reads_leads_sees_it(org_a, lead, client_for):
    for role in ("admin", "gestor", "closer", "sdr", "mentor"):
        assert client_for(org_a.member(role)).get(url(lead)).status_code == 200


def test_it_hides_leads_a_seller_cannot_see(org_a, lead, client_for):
    Organization.objects.filter(pk=org_a.org.pk).update(visibilidade_leads="atribuidos")
    assert client_for(org_a.closer).get(url(lead)).status_code == 200  # their lead
    response = client_for(org_a.sdr).get(url(lead))
    assert response.status_code == 404
    assert response.json()["error"]


def test_it_is_a_404_for_another_organizations_lead(org_b, lead, client_for):
    response = client_for(org_b.admin).get(url(lead))
    assert response.status_code == 404
    assert response.json()["error"]


@pytest.mark.parametrize("params", [{"limit": 0}, {"limit": 101}, {"page": "x"}, {"page": 0}])
def test_it_rejects_bad_pagination(org_a, lead, client_for, params):
    response = client_for(org_a.admin).get(url(lead), params)
    assert response.status_code == 400
    assert response.json()["details"]


def test_it_is_a_404_for_a_missing_or_malformed_lead(org_a, client_for):
    client = client_for(org_a.admin)
    assert (
        client.get("/api/v1/leads/00000000-0000-0000-0000-000000000000/timeline/").status_code
        == 404
    )
    assert client.get("/api/v1/leads/nope/timeline/").status_code == 404


def test_it_answers_an_empty_page_for_a_lead_without_history(org_a, client_for):
    bare = LeadFactory(organization=org_a.org)
    body = client_for(org_a.admin).get(url(bare)).json()
    assert body == {"data": [], "pagination": {"page": 1, "limit": 20, "total": 0, "pages": 0}}
