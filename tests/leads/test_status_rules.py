"""Pipeline status rules (DOMAIN.md, second round): `perdido` needs a reason, `convertido` is
final except through the managers' reopen route. One rule in leads.services serves the API, the
admin and the CSV import."""

from __future__ import annotations

import pytest

from leads.jobs_import import run_lead_import
from leads.models import Lead, LeadImport, LeadStatusChange
from mentorados.models import Mentorado
from tests.factories import PASSWORD, LeadFactory
from tests.leads.test_import_export import upload

pytestmark = pytest.mark.django_db

URL = "/api/v1/leads/"


def detail(lead: Lead) -> str:
    return f"{URL}{lead.pk}/"


def reopen(lead: Lead) -> str:
    return f"{URL}{lead.pk}/reopen/"


# --- perdido needs motivo_perda -------------------------------------------------------------


def test_it_refuses_perdido_without_a_reason_on_update(org_a, client_for):
    lead = LeadFactory(organization=org_a.org, closer=org_a.closer, status="negociacao")
    for body in ({"status": "perdido"}, {"status": "perdido", "motivo_perda": "   "}):
        response = client_for(org_a.closer).patch(detail(lead), body, format="json")
        assert response.status_code == 400, response.content
        payload = response.json()
        assert "motivo_perda" in payload["details"]
        assert "motivo" in payload["error"]
    lead.refresh_from_db()
    assert lead.status == "negociacao"
    assert not LeadStatusChange.objects.filter(lead=lead, to_status="perdido").exists()


def test_it_accepts_perdido_with_a_reason(org_a, client_for):
    lead = LeadFactory(organization=org_a.org, closer=org_a.closer, status="negociacao")
    response = client_for(org_a.closer).patch(
        detail(lead), {"status": "perdido", "motivo_perda": "Sem orçamento"}, format="json"
    )
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "perdido"
    # Clearing the reason of a lost lead is the same mistake.
    response = client_for(org_a.closer).patch(detail(lead), {"motivo_perda": ""}, format="json")
    assert response.status_code == 400
    lead.refresh_from_db()
    assert lead.motivo_perda == "Sem orçamento"


def test_it_refuses_creating_a_lost_lead_without_a_reason(org_a, client_for):
    response = client_for(org_a.gestor).post(
        URL, {"nome_completo": "Perdido Sem Motivo", "status": "perdido"}, format="json"
    )
    assert response.status_code == 400
    assert "motivo_perda" in response.json()["details"]
    assert not Lead.objects.filter(nome_completo="Perdido Sem Motivo").exists()


def test_a_negative_closing_without_any_reason_is_a_400(org_a, client_for):
    lead = LeadFactory(organization=org_a.org, closer=org_a.closer, status="negociacao")
    response = client_for(org_a.closer).post(
        f"{detail(lead)}interactions/",
        {"tipo_interacao": "ligacao", "resultado": "fechamento_negativo", "resumo": ""},
        format="json",
    )
    assert response.status_code == 400
    assert "motivo_perda" in response.json()["details"]
    lead.refresh_from_db()
    assert lead.status == "negociacao"
    assert not lead.interactions.exists()  # nothing written


def test_the_import_reports_a_lost_row_without_a_reason(
    org_a, client_for, django_capture_on_commit_callbacks
):
    text = (
        "nome_completo;email;status;motivo_perda\n"
        "Com Motivo;com@x.com.br;perdido;Preço\n"
        "Sem Motivo;sem@x.com.br;perdido;\n"
    )
    client = client_for(org_a.admin)
    with django_capture_on_commit_callbacks(execute=True):
        response = upload(client, text)
    assert response.status_code == 202, response.content
    lead_import = LeadImport.objects.get(pk=response.json()["id"])
    run_lead_import(lead_import_id=str(lead_import.pk), organization_id=str(org_a.org.pk))
    lead_import.refresh_from_db()
    assert (lead_import.created_count, lead_import.invalid_rows) == (1, 1)
    errors = client.get(f"/api/v1/imports/{lead_import.pk}/").json()["errors"]
    assert [(e["line"], e["field"]) for e in errors] == [(3, "motivo_perda")]


def test_the_admin_form_applies_the_same_rule(client, org_a):
    user = org_a.gestor.user
    user.is_staff = True
    user.save()
    client.login(email=user.email, password=PASSWORD)
    lead = LeadFactory(organization=org_a.org, status="negociacao")
    response = client.post(
        f"/admin/leads/lead/{lead.pk}/change/",
        {
            "organization": str(org_a.org.pk),
            "nome_completo": lead.nome_completo,
            "origem": "site",
            "status": "perdido",
            "motivo_perda": "",
            "tags": "[]",
        },
    )
    assert response.status_code == 200  # the form again, with the error
    assert "Informe o motivo da perda" in response.content.decode()
    lead.refresh_from_db()
    assert lead.status == "negociacao"


# --- convertido is final; reopen -----------------------------------------------------------


def _converted(org_a, client_for) -> Lead:
    lead = LeadFactory(organization=org_a.org, closer=org_a.closer, valor_potencial="9000.00")
    response = client_for(org_a.closer).patch(detail(lead), {"status": "convertido"}, format="json")
    assert response.status_code == 200
    lead.refresh_from_db()
    assert Mentorado.objects.filter(lead=lead).exists()
    return lead


@pytest.mark.parametrize("role", ["closer", "sdr", "gestor", "admin"])
def test_no_one_moves_a_converted_lead_back_by_editing(org_a, client_for, role):
    lead = _converted(org_a, client_for)
    lead.sdr = org_a.sdr
    lead.save()
    response = client_for(org_a.member(role)).patch(detail(lead), {"status": "novo"}, format="json")
    assert response.status_code == 409, response.content
    assert "reabri" in response.json()["error"]
    lead.refresh_from_db()
    assert lead.status == "convertido"
    assert lead.valor_fechado is not None


@pytest.mark.parametrize("role", ["closer", "sdr", "mentor"])
def test_sellers_cannot_reopen(org_a, client_for, role):
    lead = _converted(org_a, client_for)
    response = client_for(org_a.member(role)).post(
        reopen(lead), {"status": "negociacao", "motivo": "Pagamento estornado"}, format="json"
    )
    assert response.status_code == 403
    lead.refresh_from_db()
    assert lead.status == "convertido"


def test_a_manager_reopens_with_a_reason(org_a, client_for):
    lead = _converted(org_a, client_for)
    mentee = Mentorado.objects.get(lead=lead)
    response = client_for(org_a.gestor).post(reopen(lead), {}, format="json")
    assert response.status_code == 400
    assert "motivo" in response.json()["details"]

    response = client_for(org_a.gestor).post(
        reopen(lead), {"status": "negociacao", "motivo": "Pagamento estornado"}, format="json"
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["status"] == "negociacao"
    assert body["converted_at"] is None
    assert body["valor_fechado"] is None
    change = LeadStatusChange.objects.filter(lead=lead).order_by("-changed_at").first()
    assert change is not None
    assert (change.from_status, change.to_status, change.changed_by, change.motivo) == (
        "convertido",
        "negociacao",
        org_a.gestor,
        "Pagamento estornado",
    )
    mentee.refresh_from_db()
    assert mentee.status == "ativo"  # left as it is: a manager cancels it separately
    # Only a converted lead can be reopened.
    again = client_for(org_a.gestor).post(reopen(lead), {"motivo": "De novo"}, format="json")
    assert again.status_code == 409


def test_reopen_refuses_a_closed_target_status(org_a, client_for):
    lead = _converted(org_a, client_for)
    response = client_for(org_a.admin).post(
        reopen(lead), {"status": "perdido", "motivo": "x"}, format="json"
    )
    assert response.status_code == 400
    assert "status" in response.json()["details"]


def test_reopen_of_another_organizations_lead_is_a_404(org_a, org_b, client_for):
    lead = LeadFactory(organization=org_b.org, status="convertido")
    response = client_for(org_a.admin).post(
        reopen(lead), {"status": "novo", "motivo": "x"}, format="json"
    )
    assert response.status_code == 404
