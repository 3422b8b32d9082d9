"""Data subject requests and retention settings in the admin: a confirmation step, the same
checks as the API, organization admins only, another organization's request a 404."""

from __future__ import annotations

import pytest
from django.test import Client

from privacy.jobs import run_data_subject_request
from privacy.models import DataAccessLog, DataSubjectRequest, RetentionSettings
from tests.factories import LeadFactory

pytestmark = pytest.mark.django_db
ADD = "/admin/privacy/datasubjectrequest/add/"


def login(membership) -> Client:
    client = Client()
    client.force_login(membership.user)
    return client


def test_a_request_needs_a_confirmation_and_then_runs(org_a, django_capture_on_commit_callbacks):
    lead = LeadFactory(organization=org_a.org)
    client = login(org_a.admin)
    form = {"tipo": "exportacao", "identificador": "email", "valor": lead.email}

    assert client.get(ADD).status_code == 200
    first = client.post(ADD, form)
    assert first.status_code == 200
    assert "Confirme a solicitação" in first.content.decode()
    assert "Leads encontrados: 1" in first.content.decode()
    assert not DataSubjectRequest.objects.exists()

    with django_capture_on_commit_callbacks(execute=True):
        confirmed = client.post(ADD, {**form, "confirmar": "1"})
    assert confirmed.status_code == 302
    request = DataSubjectRequest.objects.get()
    assert request.lead_ids == [str(lead.pk)]
    assert request.solicitado_por == org_a.admin
    run_data_subject_request(request_id=str(request.pk), organization_id=str(org_a.org.pk))

    listing = client.get("/admin/privacy/datasubjectrequest/")
    assert listing.status_code == 200
    assert "Baixar JSON" in listing.content.decode()
    download = client.get(f"/admin/privacy/datasubjectrequest/{request.pk}/download/")
    assert download.status_code == 200
    assert download.json()["leads"][0]["lead"]["email"] == lead.email
    assert DataAccessLog.objects.filter(tipo="privacy_download", actor=org_a.admin).count() == 1


@pytest.mark.parametrize(
    ("form", "message"),
    [
        ({"identificador": "email", "valor": "ninguem@exemplo.com.br"}, "Nenhum titular"),
        ({"identificador": "lead_id", "valor": "abc"}, "id válido"),
        ({"identificador": "telefone", "valor": "12"}, "Telefone inválido"),
    ],
)
def test_bad_input_is_a_form_error_and_writes_nothing(org_a, form, message):
    client = login(org_a.admin)
    for extra in ({}, {"confirmar": "1"}):
        response = client.post(ADD, {"tipo": "anonimizacao", **form, **extra})
        assert response.status_code == 200
        assert message in response.content.decode()
    assert not DataSubjectRequest.objects.exists()


def test_another_organizations_lead_and_request_are_not_reachable(org_a, org_b):
    other = LeadFactory(organization=org_b.org)
    client = login(org_a.admin)
    response = client.post(
        ADD,
        {
            "tipo": "anonimizacao",
            "identificador": "lead_id",
            "valor": str(other.pk),
            "confirmar": "1",
        },
    )
    assert "Nenhum titular" in response.content.decode()
    theirs = DataSubjectRequest.objects.create(
        organization=org_b.org, tipo="exportacao", identificador_tipo="lead",
        identificador_hash="0" * 64, lead_ids=[str(other.pk)],
    )  # fmt: skip
    assert client.get(f"/admin/privacy/datasubjectrequest/{theirs.pk}/change/").status_code in (
        302,
        404,
    )
    assert client.get(f"/admin/privacy/datasubjectrequest/{theirs.pk}/download/").status_code == 404
    assert not DataSubjectRequest.objects.filter(organization=org_a.org).exists()


@pytest.mark.parametrize("role", ["gestor", "closer", "sdr", "mentor"])
def test_only_organization_admins_see_the_pages(org_a, role):
    client = login(org_a.member(role))
    assert client.get(ADD).status_code == 403
    assert client.get("/admin/privacy/datasubjectrequest/").status_code == 403
    assert client.get("/admin/privacy/retentionsettings/").status_code == 403


def test_retention_settings_are_changed_with_the_same_checks(org_a):
    client = login(org_a.admin)
    add = "/admin/privacy/retentionsettings/add/"
    bad = client.post(add, {"leads_perdidos_dias": "0", "webhooks_dias": "30", "envios_dias": ""})
    assert bad.status_code == 200
    assert "entre 1 e" in bad.content.decode()
    assert not RetentionSettings.objects.exists()
    ok = client.post(add, {"leads_perdidos_dias": "365", "webhooks_dias": "15", "envios_dias": ""})
    assert ok.status_code == 302, ok.content.decode()[:2000]
    saved = RetentionSettings.objects.get(organization=org_a.org)
    assert (saved.leads_perdidos_dias, saved.webhooks_dias, saved.envios_dias) == (365, 15, None)
    assert client.get(add).status_code == 403  # one row per organization: change it instead
    change = f"/admin/privacy/retentionsettings/{org_a.org.pk}/change/"
    assert client.get(change).status_code == 200
    assert (
        client.post(
            change, {"leads_perdidos_dias": "", "webhooks_dias": "99", "envios_dias": ""}
        ).status_code
        == 200
    )
    saved.refresh_from_db()
    assert saved.webhooks_dias == 15
