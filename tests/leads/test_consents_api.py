"""The consent ledger: GET PUT /api/v1/leads/{id}/consents/, the opt-out flags as its view,
the admin's add form."""

from __future__ import annotations

import pytest
from django.test import Client

from leads.consent import consent_set
from leads.models import ConsentRecord, Lead
from tests.factories import LeadFactory

pytestmark = pytest.mark.django_db


def url(lead: Lead) -> str:
    return f"/api/v1/leads/{lead.pk}/consents/"


def test_a_lead_without_entries_has_the_default_basis(org_a, client_for):
    lead = LeadFactory(organization=org_a.org)

    body = client_for(org_a.closer).get(url(lead)).json()

    assert body == [
        {
            "canal": "email",
            "estado": "concedido",
            "base_legal": "legitimo_interesse",
            "origem": "padrao",
            "at": None,
            "evidencia": {},
        },
        {
            "canal": "whatsapp",
            "estado": "concedido",
            "base_legal": "legitimo_interesse",
            "origem": "padrao",
            "at": None,
            "evidencia": {},
        },
    ]


def test_put_appends_entries_and_flips_the_opt_out_flags(org_a, client_for):
    lead = LeadFactory(organization=org_a.org, closer=org_a.closer)
    client = client_for(org_a.closer)

    response = client.put(
        url(lead),
        [
            {"canal": "whatsapp", "estado": "revogado"},
            {
                "canal": "email",
                "estado": "concedido",
                "base_legal": "consentimento",
                "evidencia": {"texto": "aceite no formulário"},
            },
        ],
        format="json",
    )

    assert response.status_code == 200, response.content
    by_canal = {item["canal"]: item for item in response.json()}
    assert by_canal["whatsapp"]["estado"] == "revogado"
    assert by_canal["whatsapp"]["origem"] == "api"
    assert by_canal["email"]["base_legal"] == "consentimento"
    lead.refresh_from_db()
    assert (lead.opt_out_email, lead.opt_out_whatsapp) == (False, True)
    entry = ConsentRecord.objects.get(canal="email")
    assert entry.actor == org_a.closer
    assert entry.evidencia == {"texto": "aceite no formulário"}
    # The lead API keeps opt_out_* as the ledger's view.
    detail = client.get(f"/api/v1/leads/{lead.pk}/").json()
    assert (detail["opt_out_email"], detail["opt_out_whatsapp"]) == (False, True)

    client.put(url(lead), {"canal": "whatsapp", "estado": "concedido"}, format="json")
    lead.refresh_from_db()
    assert lead.opt_out_whatsapp is False
    assert ConsentRecord.objects.filter(lead=lead).count() == 3


def test_patching_an_opt_out_flag_writes_the_ledger(org_a, client_for):
    lead = LeadFactory(organization=org_a.org, closer=org_a.closer)

    response = client_for(org_a.closer).patch(
        f"/api/v1/leads/{lead.pk}/", {"opt_out_email": True}, format="json"
    )

    assert response.status_code == 200
    entry = ConsentRecord.objects.get(lead=lead)
    assert (entry.canal, entry.estado, entry.origem) == ("email", "revogado", "api")
    states = client_for(org_a.closer).get(url(lead)).json()
    assert states[0]["estado"] == "revogado"
    assert states[0]["origem"] == "api"


def test_a_lead_created_opted_out_starts_its_ledger(org_a, client_for):
    response = client_for(org_a.admin).post(
        "/api/v1/leads/",
        {"nome_completo": "Ana", "email": "ana@x.com.br", "opt_out_whatsapp": True},
        format="json",
    )
    assert response.status_code == 201, response.content
    entry = ConsentRecord.objects.get()
    assert (entry.canal, entry.estado, entry.origem) == ("whatsapp", "revogado", "api")


@pytest.mark.parametrize(
    "payload",
    [
        {"canal": "sms", "estado": "revogado"},
        {"canal": "email", "estado": "talvez"},
        {"canal": "email", "estado": "revogado", "base_legal": "porque_sim"},
        {"canal": "email"},
        {"canal": "email", "estado": "revogado", "evidencia": "texto solto"},
        [{"canal": "email", "estado": "revogado"}, {"canal": "email", "estado": "concedido"}],
        [],
        "x",
    ],
)
def test_bad_input_is_a_400_and_writes_nothing(org_a, client_for, payload):
    lead = LeadFactory(organization=org_a.org, closer=org_a.closer)

    response = client_for(org_a.closer).put(url(lead), payload, format="json")

    assert response.status_code == 400, response.content
    assert set(response.json()) == {"error", "details"}
    assert not ConsentRecord.objects.exists()
    lead.refresh_from_db()
    assert not lead.opt_out_email


def test_another_organizations_lead_is_a_404(org_a, org_b, client_for):
    lead = LeadFactory(organization=org_b.org)
    client = client_for(org_a.admin)
    assert client.get(url(lead)).status_code == 404
    assert (
        client.put(url(lead), {"canal": "email", "estado": "revogado"}, format="json").status_code
        == 404
    )
    assert not ConsentRecord.objects.exists()


def test_a_mentor_cannot_change_consent(org_a, client_for):
    lead = LeadFactory(organization=org_a.org)
    response = client_for(org_a.mentor).put(
        url(lead), {"canal": "email", "estado": "revogado"}, format="json"
    )
    assert response.status_code in (403, 404)
    assert not ConsentRecord.objects.exists()


def test_setting_the_same_state_again_keeps_the_flag_and_records_the_entry(org_a):
    lead = LeadFactory(organization=org_a.org)
    consent_set(lead=lead, canal="email", estado="revogado", origem="api")
    consent_set(lead=lead, canal="email", estado="revogado", origem="descadastro")
    lead.refresh_from_db()
    assert lead.opt_out_email is True
    assert ConsentRecord.objects.filter(lead=lead).count() == 2


def test_the_admin_adds_entries_and_never_edits_them(org_a):
    lead = LeadFactory(organization=org_a.org)
    user = org_a.admin.user
    user.is_staff = True
    user.save()
    client = Client()
    client.force_login(user)

    response = client.post(
        "/admin/leads/consentrecord/add/",
        {
            "lead": str(lead.pk),
            "canal": "whatsapp",
            "estado": "revogado",
            "base_legal": "consentimento",
            "evidencia": '{"ligacao": "03/12"}',
        },
    )

    assert response.status_code == 302, response.content.decode()[:2000]
    entry = ConsentRecord.objects.get()
    assert (entry.origem, entry.actor, entry.organization_id) == (
        "admin",
        org_a.admin,
        org_a.org.pk,
    )
    lead.refresh_from_db()
    assert lead.opt_out_whatsapp is True
    change = client.post(f"/admin/leads/consentrecord/{entry.pk}/change/", {"estado": "concedido"})
    assert change.status_code in (302, 403)
    entry.refresh_from_db()
    assert entry.estado == "revogado"
    assert (
        client.post(f"/admin/leads/consentrecord/{entry.pk}/delete/", {"post": "yes"}).status_code
        == 403
    )
    assert ConsentRecord.objects.count() == 1
