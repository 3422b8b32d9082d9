from __future__ import annotations

import pytest

from leads.models import LeadQualification
from tests.factories import LeadFactory, QualificationFactory

pytestmark = pytest.mark.django_db


def url(lead) -> str:
    return f"/api/v1/leads/{lead.pk}/qualification/"


FULL = {
    "budget_confirmado": True,
    "valor_orcamento": "30000.00",
    "authority_nivel": "decisor",
    "necessidade_identificada": True,
    "dor_principal": "Quer escalar",
    "prazo_decisao": "imediato",
}


def test_it_creates_then_updates_the_qualification_with_its_score(org_a, client_for):
    lead = LeadFactory(organization=org_a.org)
    client = client_for(org_a.closer)
    created = client.put(url(lead), FULL, format="json")
    assert created.status_code == 201, created.json()
    assert created.json()["qualification_score"] == 100
    updated = client.put(
        url(lead),
        {**FULL, "authority_nivel": "influenciador", "prazo_decisao": "medio"},
        format="json",
    )
    assert updated.status_code == 200
    assert updated.json()["qualification_score"] == 30 + 15 + 25 + 6
    assert LeadQualification.objects.filter(lead=lead).count() == 1
    assert client.get(url(lead)).json()["qualification_score"] == 76


@pytest.mark.parametrize(
    ("fields", "score"),
    [
        ({}, 0),
        ({"budget_confirmado": True}, 30),
        ({"authority_nivel": "usuario"}, 5),
        ({"authority_nivel": "desconhecido"}, 0),
        ({"necessidade_identificada": True}, 25),
        ({"prazo_decisao": "curto"}, 12),
        ({"prazo_decisao": "longo"}, 0),
        ({"prazo_decisao": "indefinido"}, 0),
    ],
)
def test_it_scores_each_criterion(org_a, client_for, fields, score):
    lead = LeadFactory(organization=org_a.org)
    body = client_for(org_a.gestor).put(url(lead), fields, format="json").json()
    assert body["qualification_score"] == score


def test_it_answers_404_before_the_first_qualification(org_a, client_for):
    lead = LeadFactory(organization=org_a.org)
    response = client_for(org_a.closer).get(url(lead))
    assert response.status_code == 404
    assert response.json()["error"]


@pytest.mark.parametrize(
    "payload",
    [
        {"authority_nivel": "chefe"},
        {"prazo_decisao": "ontem"},
        {"budget_confirmado": "talvez"},
        {"valor_orcamento": "abc"},
        {"qualification_score": "not-even-a-number", "authority_nivel": 5},
    ],
)
def test_it_rejects_bad_qualifications(org_a, client_for, payload):
    lead = LeadFactory(organization=org_a.org)
    response = client_for(org_a.closer).put(url(lead), payload, format="json")
    assert response.status_code == 400
    assert not LeadQualification.objects.exists()


def test_it_ignores_a_client_supplied_score(org_a, client_for):
    lead = LeadFactory(organization=org_a.org)
    body = (
        client_for(org_a.closer).put(url(lead), {"qualification_score": 99}, format="json").json()
    )
    assert body["qualification_score"] == 0


def test_it_lets_mentors_read_but_not_write(org_a, client_for):
    lead = LeadFactory(organization=org_a.org)
    QualificationFactory(lead=lead)
    mentor = client_for(org_a.mentor)
    assert mentor.get(url(lead)).status_code == 200
    assert mentor.put(url(lead), FULL, format="json").status_code == 403


def test_it_hides_another_organizations_qualification(org_a, org_b, client_for):
    lead = LeadFactory(organization=org_b.org)
    QualificationFactory(lead=lead, budget_confirmado=False)
    client = client_for(org_a.admin)
    assert client.get(url(lead)).status_code == 404
    assert client.put(url(lead), FULL, format="json").status_code == 404
    assert LeadQualification.objects.get(lead=lead).budget_confirmado is False


def test_it_answers_options_on_the_qualification(org_a, client_for):
    lead = LeadFactory(organization=org_a.org)
    client = client_for(org_a.closer)
    assert client.options(url(lead)).status_code == 200
    QualificationFactory(lead=lead)
    assert client.options(url(lead)).status_code == 200
