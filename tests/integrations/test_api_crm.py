"""/api/v1/integrations/crm-connections/ and POST /api/v1/leads/{id}/sync-crm/."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from integrations.models import CRMConnection
from tests.factories import LeadFactory
from tests.integrations.factories import CRM_TOKEN, CRMConnectionFactory
from tests.integrations.jobs import queued_jobs, scheduled_jobs

pytestmark = pytest.mark.django_db

URL = "/api/v1/integrations/crm-connections/"


def sync_url(lead) -> str:
    return f"/api/v1/leads/{lead.pk}/sync-crm/"


# -- connections ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("provider", "default_url"),
    [("hubspot", "https://api.hubapi.com"), ("pipedrive", "https://api.pipedrive.com")],
)
def test_it_creates_a_connection_with_the_providers_url(org_a, client_for, provider, default_url):
    response = client_for(org_a.admin).post(
        URL, {"provider": provider, "token": "tok-secreto"}, format="json"
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert "token" not in body
    assert "tok-secreto" not in str(body)
    assert body["api_base_url"] == default_url
    assert body["last_error"] == ""
    assert body["last_success_at"] is None
    row = CRMConnection.objects.get()
    assert (row.organization, row.provider, row.token) == (org_a.org, provider, "tok-secreto")


def test_it_reads_and_lists_without_the_token(org_a, org_b, client_for):
    mine = CRMConnectionFactory(organization=org_a.org, last_error="HTTP 401")
    CRMConnectionFactory(organization=org_b.org)
    client = client_for(org_a.admin)
    listing = client.get(URL).json()
    assert [item["id"] for item in listing["data"]] == [str(mine.pk)]
    detail = client.get(f"{URL}{mine.pk}/").json()
    assert detail["last_error"] == "HTTP 401"
    assert CRM_TOKEN not in str([listing, detail])
    assert "token" not in detail


def test_it_updates_the_connection(org_a, client_for):
    row = CRMConnectionFactory(
        organization=org_a.org, api_base_url="https://api.hubapi.com", last_error="HTTP 401"
    )
    client = client_for(org_a.admin)
    response = client.patch(f"{URL}{row.pk}/", {"ativo": False}, format="json")
    assert response.status_code == 200
    row.refresh_from_db()
    assert (row.ativo, row.token, row.last_error) == (False, CRM_TOKEN, "HTTP 401")

    # Switching CRM: the default URL follows, the old error no longer applies.
    response = client.patch(
        f"{URL}{row.pk}/", {"provider": "pipedrive", "token": "novo"}, format="json"
    )
    assert response.status_code == 200
    body = response.json()
    assert body["api_base_url"] == "https://api.pipedrive.com"
    assert body["last_error"] == ""
    row.refresh_from_db()
    assert row.token == "novo"


def test_it_ignores_writes_to_read_only_fields(org_a, client_for):
    row = CRMConnectionFactory(organization=org_a.org)
    response = client_for(org_a.admin).patch(
        f"{URL}{row.pk}/",
        {"last_error": "forjado", "last_success_at": "2020-01-01T00:00:00Z"},
        format="json",
    )
    assert response.status_code == 200
    row.refresh_from_db()
    assert (row.last_error, row.last_success_at) == ("", None)


def test_it_deletes_the_connection(org_a, client_for):
    row = CRMConnectionFactory(organization=org_a.org)
    assert client_for(org_a.admin).delete(f"{URL}{row.pk}/").status_code == 204
    assert not CRMConnection.objects.exists()


def test_it_keeps_one_connection_per_organization(org_a, org_b, client_for):
    existing = CRMConnectionFactory(organization=org_a.org)
    response = client_for(org_a.admin).post(
        URL, {"provider": "pipedrive", "token": "x"}, format="json"
    )
    assert response.status_code == 409
    assert response.json()["details"] == {"existing_id": str(existing.pk)}
    # Another organization has its own.
    assert (
        client_for(org_b.admin).post(URL, {"provider": "hubspot", "token": "y"}, format="json")
    ).status_code == 201


@pytest.mark.parametrize(
    ("payload", "fields"),
    [
        ({}, {"provider", "token"}),
        ({"provider": "salesforce", "token": "x"}, {"provider"}),
        ({"provider": "hubspot"}, {"token"}),
        ({"provider": "hubspot", "token": ""}, {"token"}),
        (
            {"provider": "hubspot", "token": "x", "api_base_url": "javascript:alert(1)"},
            {"api_base_url"},
        ),
        ({"provider": "hubspot", "token": "x", "ativo": "sim?"}, {"ativo"}),
        ({"provider": ["hubspot"], "token": {"a": 1}}, {"provider", "token"}),
    ],
)
def test_it_rejects_bad_input(org_a, client_for, payload, fields):
    response = client_for(org_a.admin).post(URL, payload, format="json")
    assert response.status_code == 400
    assert set(response.json()["details"]) == fields
    assert not CRMConnection.objects.exists()


def test_it_rejects_a_bad_provider_on_update(org_a, client_for):
    row = CRMConnectionFactory(organization=org_a.org)
    response = client_for(org_a.admin).patch(f"{URL}{row.pk}/", {"provider": "rd"}, format="json")
    assert response.status_code == 400
    row.refresh_from_db()
    assert row.provider == "hubspot"


@pytest.mark.parametrize("role", ["gestor", "closer", "sdr", "mentor"])
def test_it_is_for_admins_only(org_a, client_for, role):
    row = CRMConnectionFactory(organization=org_a.org)
    client = client_for(org_a.member(role))
    assert client.get(URL).status_code == 403
    assert client.get(f"{URL}{row.pk}/").status_code == 403
    assert client.post(URL, {"provider": "hubspot", "token": "x"}, format="json").status_code == 403
    assert client.patch(f"{URL}{row.pk}/", {"ativo": False}, format="json").status_code == 403
    assert client.delete(f"{URL}{row.pk}/").status_code == 403
    assert CRMConnection.objects.get().ativo is True


def test_it_hides_another_organizations_connection(org_a, org_b, client_for):
    foreign = CRMConnectionFactory(organization=org_b.org)
    client = client_for(org_a.admin)
    assert client.get(f"{URL}{foreign.pk}/").status_code == 404
    assert client.patch(f"{URL}{foreign.pk}/", {"token": "x"}, format="json").status_code == 404
    assert client.delete(f"{URL}{foreign.pk}/").status_code == 404
    foreign.refresh_from_db()
    assert foreign.token == CRM_TOKEN


def test_it_lists_with_a_constant_number_of_queries(org_a, client_for):
    CRMConnectionFactory(organization=org_a.org)
    client = client_for(org_a.admin)
    counts = []
    for limit in (1, 100):
        with CaptureQueriesContext(connection) as queries:
            assert client.get(URL, {"limit": limit}).status_code == 200
        counts.append(len(queries))
    assert counts[0] == counts[1]


# -- sync-crm ---------------------------------------------------------------------------------


def sync_jobs() -> list:
    return [j for j in queued_jobs() if j.func_name == "integrations.jobs.sync_crm_batch"]


@pytest.mark.parametrize("role", ["admin", "gestor", "closer", "sdr"])
def test_it_enqueues_a_sync_now(org_a, client_for, role, django_capture_on_commit_callbacks):
    CRMConnectionFactory(organization=org_a.org)
    lead = LeadFactory(organization=org_a.org)
    with django_capture_on_commit_callbacks(execute=True):
        response = client_for(org_a.member(role)).post(sync_url(lead))
    assert response.status_code == 202
    assert response.json() == {"status": "queued", "lead_id": str(lead.pk), "provider": "hubspot"}
    [job] = sync_jobs()
    assert job.kwargs == {
        "organization_id": str(org_a.org.pk),
        "lead_ids": [str(lead.pk)],
        "attempt": 0,
    }
    assert not scheduled_jobs()  # now, not after the coalescing delay


def test_it_refuses_sync_to_mentors(org_a, client_for):
    CRMConnectionFactory(organization=org_a.org)
    lead = LeadFactory(organization=org_a.org)
    assert client_for(org_a.mentor).post(sync_url(lead)).status_code == 403
    assert not sync_jobs()


@pytest.mark.parametrize("connection_state", ["none", "inactive"])
def test_it_answers_409_without_an_active_connection(org_a, client_for, connection_state):
    if connection_state == "inactive":
        CRMConnectionFactory(organization=org_a.org, ativo=False)
    lead = LeadFactory(organization=org_a.org)
    response = client_for(org_a.admin).post(sync_url(lead))
    assert response.status_code == 409
    assert response.json()["error"]
    assert not sync_jobs()


def test_it_answers_404_for_leads_of_another_organization(org_a, org_b, client_for):
    CRMConnectionFactory(organization=org_a.org)
    CRMConnectionFactory(organization=org_b.org)
    foreign = LeadFactory(organization=org_b.org)
    assert client_for(org_a.admin).post(sync_url(foreign)).status_code == 404
    assert not sync_jobs()


def test_it_answers_404_for_leads_a_closer_cannot_see(org_a, client_for):
    org_a.org.visibilidade_leads = "atribuidos"
    org_a.org.save()
    CRMConnectionFactory(organization=org_a.org)
    lead = LeadFactory(organization=org_a.org, closer=org_a.gestor)
    assert client_for(org_a.closer).post(sync_url(lead)).status_code == 404


def test_it_only_accepts_post_for_sync(org_a, client_for):
    lead = LeadFactory(organization=org_a.org)
    assert client_for(org_a.admin).get(sync_url(lead)).status_code == 405
