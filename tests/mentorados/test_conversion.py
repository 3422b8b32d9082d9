"""A converted lead gets exactly one Mentorado, through every real conversion path."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from django.utils import timezone

from leads.models import Lead
from mentorados.models import Mentorado
from mentorados.services import mentorado_from_lead, organization_today
from tests.factories import LeadFactory, OrganizationFactory

pytestmark = pytest.mark.django_db


def close_won(client, lead: Lead) -> None:
    response = client.post(
        f"/api/v1/leads/{lead.pk}/interactions/",
        {"tipo_interacao": "reuniao", "resultado": "fechamento_positivo", "valor": "18000"},
        format="json",
    )
    assert response.status_code == 201, response.content


def test_it_creates_the_mentee_when_a_closing_interaction_converts_the_lead(org_a, client_for):
    lead = LeadFactory(
        organization=org_a.org,
        closer=org_a.closer,
        nome_completo="Renata Alves",
        email="renata@clinica.com.br",
        telefone="+5511987651234",
        status="negociacao",
    )
    close_won(client_for(org_a.closer), lead)
    mentee = Mentorado.objects.get()
    lead.refresh_from_db()
    assert lead.status == "convertido"
    assert mentee.lead_id == lead.pk
    assert mentee.organization_id == org_a.org.pk
    assert (mentee.nome_completo, mentee.email, mentee.telefone) == (
        "Renata Alves",
        "renata@clinica.com.br",
        "+5511987651234",
    )
    assert mentee.status == "ativo"
    assert mentee.faturamento_inicial is None
    assert mentee.mentor_id is None
    assert lead.converted_at is not None
    assert mentee.data_inicio == organization_today(org_a.org, lead.converted_at)
    # Visible through the mentee API, with its lead.
    body = client_for(org_a.gestor).get(f"/api/v1/mentorados/?lead_id={lead.pk}").json()
    assert [item["id"] for item in body["data"]] == [str(mentee.pk)]
    assert body["data"][0]["lead_id"] == str(lead.pk)


def test_it_creates_one_mentee_when_a_lead_is_closed_twice(org_a, client_for):
    lead = LeadFactory(organization=org_a.org, closer=org_a.closer)
    client = client_for(org_a.closer)
    close_won(client, lead)
    close_won(client, lead)
    assert Mentorado.objects.filter(lead=lead).count() == 1


def test_it_creates_the_mentee_when_the_status_is_patched_to_convertido(org_a, client_for):
    lead = LeadFactory(organization=org_a.org, status="agendado", nome_completo="Caio Dias")
    response = client_for(org_a.gestor).patch(
        f"/api/v1/leads/{lead.pk}/", {"status": "convertido"}, format="json"
    )
    assert response.status_code == 200, response.content
    mentee = Mentorado.objects.get(lead=lead)
    assert mentee.nome_completo == "Caio Dias"


def test_it_keeps_one_mentee_when_a_lead_is_reopened_and_converted_again(org_a, client_for):
    lead = LeadFactory(organization=org_a.org, status="negociacao")
    client = client_for(org_a.admin)
    url = f"/api/v1/leads/{lead.pk}/"
    assert client.patch(url, {"status": "convertido"}, format="json").status_code == 200
    response = client.post(f"{url}reopen/", {"motivo": "Estorno"}, format="json")
    assert response.status_code == 200, response.content
    assert client.patch(url, {"status": "convertido"}, format="json").status_code == 200
    close_won(client, lead)
    assert Mentorado.objects.count() == 1


def test_it_creates_the_mentee_for_a_lead_created_already_converted(org_a, client_for):
    response = client_for(org_a.admin).post(
        "/api/v1/leads/",
        {"nome_completo": "Lia Souza", "email": "lia@x.com.br", "status": "convertido"},
        format="json",
    )
    assert response.status_code == 201, response.content
    mentee = Mentorado.objects.get()
    assert str(mentee.lead_id) == response.json()["id"]
    assert mentee.email == "lia@x.com.br"


def test_it_creates_nothing_for_other_status_changes(org_a, client_for):
    lead = LeadFactory(organization=org_a.org, status="novo")
    client = client_for(org_a.admin)
    client.patch(f"/api/v1/leads/{lead.pk}/", {"status": "qualificado"}, format="json")
    client.post(
        f"/api/v1/leads/{lead.pk}/interactions/",
        {"tipo_interacao": "ligacao", "resultado": "fechamento_negativo"},
        format="json",
    )
    assert not Mentorado.objects.exists()


def test_it_keeps_the_mentee_when_the_lead_is_deleted(org_a, client_for):
    lead = LeadFactory(organization=org_a.org, status="negociacao")
    client = client_for(org_a.admin)
    client.patch(f"/api/v1/leads/{lead.pk}/", {"status": "convertido"}, format="json")
    assert client.delete(f"/api/v1/leads/{lead.pk}/").status_code == 204
    mentee = Mentorado.objects.get()
    assert mentee.lead_id is None


@pytest.mark.parametrize(
    ("tz", "expected"),
    [
        ("America/Sao_Paulo", date(2026, 3, 31)),  # 23:30 on the 31st in São Paulo
        ("UTC", date(2026, 4, 1)),
        ("Asia/Tokyo", date(2026, 4, 1)),
    ],
)
def test_it_dates_the_start_on_the_conversion_day_in_the_organizations_time_zone(tz, expected):
    org = OrganizationFactory(timezone=tz)
    lead = LeadFactory(
        organization=org,
        status="convertido",
        converted_at=datetime(2026, 4, 1, 2, 30, tzinfo=UTC),
    )
    mentee, created = mentorado_from_lead(lead=lead)
    assert created
    assert mentee.data_inicio == expected
    again, created_again = mentorado_from_lead(lead=lead)
    assert (again.pk, created_again) == (mentee.pk, False)


def test_it_starts_today_when_the_lead_has_no_conversion_time(org_a):
    lead = LeadFactory(organization=org_a.org, status="convertido", converted_at=None)
    mentee, _created = mentorado_from_lead(lead=lead)
    assert mentee.data_inicio == organization_today(org_a.org, timezone.now())
