from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from leads.models import Task
from tests.factories import LeadFactory, TaskFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/tasks/"


def test_it_creates_a_task_for_the_requester_by_default(org_a, client_for):
    lead = LeadFactory(organization=org_a.org)
    due = (timezone.now() + timedelta(days=1)).isoformat()
    response = client_for(org_a.closer).post(
        URL,
        {"titulo": "Ligar amanhã", "tipo": "ligacao", "lead_id": str(lead.pk), "vencimento": due},
        format="json",
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["responsavel_id"] == str(org_a.closer.id)
    assert body["origem"] == "manual"
    assert body["status"] == "pendente"
    task = Task.objects.get(pk=body["id"])
    assert task.organization == org_a.org
    assert task.created_by == org_a.closer


def test_it_assigns_a_task_to_another_member(org_a, client_for):
    response = client_for(org_a.gestor).post(
        URL, {"titulo": "Proposta", "responsavel_id": str(org_a.sdr.id)}, format="json"
    )
    assert response.status_code == 201
    assert response.json()["responsavel"]["id"] == str(org_a.sdr.id)


def test_it_completes_and_reopens_a_task(org_a, client_for):
    task = TaskFactory(responsavel=org_a.closer)
    client = client_for(org_a.closer)
    done = client.patch(f"{URL}{task.pk}/", {"status": "concluida"}, format="json").json()
    assert done["status"] == "concluida"
    assert done["concluida_em"] is not None
    reopened = client.patch(f"{URL}{task.pk}/", {"status": "pendente"}, format="json").json()
    assert reopened["concluida_em"] is None


def test_it_filters_by_status_responsavel_and_overdue(org_a, client_for):
    mine = TaskFactory(responsavel=org_a.closer)
    overdue = TaskFactory(responsavel=org_a.sdr, vencimento=timezone.now() - timedelta(hours=1))
    done = TaskFactory(
        responsavel=org_a.sdr,
        status="concluida",
        vencimento=timezone.now() - timedelta(days=1),
    )
    client = client_for(org_a.closer)

    def ids(**params):
        response = client.get(URL, params)
        assert response.status_code == 200, response.json()
        return {item["id"] for item in response.json()["data"]}

    assert ids(responsavel_id="me") == {str(mine.pk)}
    assert ids(responsavel_id=str(org_a.sdr.id)) == {str(overdue.pk), str(done.pk)}
    assert ids(vencidas="true") == {str(overdue.pk)}
    assert ids(vencidas="false") == {str(mine.pk), str(done.pk)}
    assert ids(status="concluida") == {str(done.pk)}
    listed = client.get(URL, {"vencidas": "true"}).json()["data"][0]
    assert listed["vencida"] is True


@pytest.mark.parametrize(
    "params",
    [{"status": "feita"}, {"responsavel_id": "eu"}, {"vencidas": "talvez"}, {"lead_id": "x"}],
)
def test_it_rejects_invalid_task_filters(org_a, client_for, params):
    response = client_for(org_a.closer).get(URL, params)
    assert response.status_code == 400
    assert set(response.json()["details"]) == set(params)


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({}, "titulo"),
        ({"titulo": "x" * 201}, "titulo"),
        ({"titulo": "A", "tipo": "visita"}, "tipo"),
        ({"titulo": "A", "status": "feita"}, "status"),
        ({"titulo": "A", "vencimento": "amanhã"}, "vencimento"),
        ({"titulo": "A", "responsavel_id": "nope"}, "responsavel_id"),
    ],
)
def test_it_rejects_bad_tasks(org_a, client_for, payload, field):
    response = client_for(org_a.closer).post(URL, payload, format="json")
    assert response.status_code == 400
    assert field in response.json()["details"]
    assert not Task.objects.exists()


def test_it_rejects_references_to_another_organization(org_a, org_b, client_for):
    lead_b = LeadFactory(organization=org_b.org)
    client = client_for(org_a.admin)
    for payload in (
        {"titulo": "A", "lead_id": str(lead_b.pk)},
        {"titulo": "A", "responsavel_id": str(org_b.closer.id)},
    ):
        response = client.post(URL, payload, format="json")
        assert response.status_code == 400
    assert not Task.objects.exists()


def test_it_hides_another_organizations_tasks(org_a, org_b, client_for):
    task = TaskFactory(responsavel=org_b.closer, titulo="Beta")
    client = client_for(org_a.admin)
    assert client.get(URL).json()["data"] == []
    assert client.get(f"{URL}{task.pk}/").status_code == 404
    assert client.patch(f"{URL}{task.pk}/", {"titulo": "X"}, format="json").status_code == 404
    task.refresh_from_db()
    assert task.titulo == "Beta"


def test_it_lets_mentors_read_but_not_write_tasks(org_a, client_for):
    task = TaskFactory(responsavel=org_a.closer)
    mentor = client_for(org_a.mentor)
    assert mentor.get(URL).status_code == 200
    assert mentor.post(URL, {"titulo": "A"}, format="json").status_code == 403
    assert mentor.patch(f"{URL}{task.pk}/", {"titulo": "B"}, format="json").status_code == 403


def test_it_limits_sellers_to_their_tasks_when_leads_are_assigned(org_a, client_for):
    org_a.org.visibilidade_leads = "atribuidos"
    org_a.org.save()
    own = TaskFactory(responsavel=org_a.closer)
    on_my_lead = TaskFactory(
        responsavel=org_a.sdr, lead=LeadFactory(organization=org_a.org, closer=org_a.closer)
    )
    TaskFactory(responsavel=org_a.sdr, lead=LeadFactory(organization=org_a.org))
    ids = {item["id"] for item in client_for(org_a.closer).get(URL).json()["data"]}
    assert ids == {str(own.pk), str(on_my_lead.pk)}


def test_it_lists_tasks_with_constant_queries(org_a, client_for):
    for _ in range(15):
        TaskFactory(responsavel=org_a.closer, lead=LeadFactory(organization=org_a.org))
    client = client_for(org_a.admin)
    counts = []
    for limit in (1, 100):
        with CaptureQueriesContext(connection) as queries:
            assert client.get(URL, {"limit": limit}).status_code == 200
        counts.append(len(queries))
    assert counts[0] == counts[1]
