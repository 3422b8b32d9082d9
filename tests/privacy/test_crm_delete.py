"""Anonymisation asks the connected CRM to delete the person (HubSpot GDPR delete, Pipedrive
person delete), over HTTP against local stubs; a failure midway is resumed without asking twice."""

from __future__ import annotations

import pytest
from django.utils import timezone
from pytest_httpserver import HTTPServer

from followup.models import FollowupExecutionLog
from integrations.crm import services as crm
from integrations.errors import RetryableError
from leads.models import Lead
from mentorados.models import Mentorado
from privacy import requests
from privacy.jobs import run_data_subject_request
from privacy.models import DataSubjectRequest
from tests.factories import LeadFactory
from tests.followup.factories import make_execution, make_sequence
from tests.integrations.factories import CRM_TOKEN, CRMConnectionFactory
from tests.integrations.helpers import load_fixture

pytestmark = pytest.mark.django_db
URL = "/api/v1/privacy/requests/"
GDPR_DELETE = "/crm/v3/objects/contacts/gdpr-delete"
HUBSPOT_AUTH = {"Authorization": f"Bearer {CRM_TOKEN}"}
PIPEDRIVE_AUTH = {"x-api-token": CRM_TOKEN}


def connect(org, httpserver: HTTPServer, provider: str):
    return CRMConnectionFactory(
        organization=org.org, provider=provider, api_base_url=httpserver.url_for("")
    )


def anonymise(client, payload, capture) -> DataSubjectRequest:
    with capture(execute=True):
        response = client.post(URL, {"tipo": "anonimizacao", **payload}, format="json")
    assert response.status_code == 201, response.content
    return DataSubjectRequest.objects.get(pk=response.json()["id"])


def run(request: DataSubjectRequest) -> DataSubjectRequest:
    run_data_subject_request(
        request_id=str(request.pk), organization_id=str(request.organization_id)
    )
    request.refresh_from_db()
    return request


def test_hubspot_gets_a_gdpr_delete_by_contact_id(
    org_a, client_for, httpserver, django_capture_on_commit_callbacks
):
    connection = connect(org_a, httpserver, "hubspot")
    lead = LeadFactory(organization=org_a.org, crm_provider="hubspot", crm_id="501")
    Lead.objects.filter(pk=lead.pk).update(crm_synced_at=timezone.now())
    httpserver.expect_oneshot_request(
        GDPR_DELETE, method="POST", headers=HUBSPOT_AUTH, json={"objectId": "501"}
    ).respond_with_data("", status=204)

    request = run(
        anonymise(
            client_for(org_a.admin), {"lead_id": str(lead.pk)}, django_capture_on_commit_callbacks
        )
    )

    assert request.status == "concluida"
    assert request.resultado["crm"] == {str(lead.pk): "deleted"}
    lead.refresh_from_db()
    assert (lead.crm_id, lead.crm_provider) == ("", "hubspot")
    # The anonymous row is not pushed back to the CRM by the sync sweep.
    assert str(lead.pk) not in crm.leads_to_resync(connection)


def test_hubspot_is_asked_by_email_for_a_lead_never_synced(
    org_a, client_for, httpserver, django_capture_on_commit_callbacks
):
    connect(org_a, httpserver, "hubspot")
    lead = LeadFactory(organization=org_a.org, email="nunca.sincronizado@exemplo.com.br")
    httpserver.expect_oneshot_request(
        GDPR_DELETE,
        method="POST",
        headers=HUBSPOT_AUTH,
        json={"objectId": "nunca.sincronizado@exemplo.com.br", "idProperty": "email"},
    ).respond_with_data("", status=204)

    request = run(
        anonymise(
            client_for(org_a.admin), {"email": lead.email}, django_capture_on_commit_callbacks
        )
    )
    assert request.resultado["crm"] == {str(lead.pk): "deleted"}


@pytest.mark.parametrize(
    ("status", "body", "outcome"),
    [
        (200, load_fixture("pipedrive_person_deleted.json"), "deleted"),
        (404, load_fixture("pipedrive_404.json"), "not_found"),
    ],
)
def test_pipedrive_gets_a_person_delete(
    org_a, client_for, httpserver, django_capture_on_commit_callbacks, status, body, outcome
):
    connect(org_a, httpserver, "pipedrive")
    lead = LeadFactory(organization=org_a.org, crm_provider="pipedrive", crm_id="77")
    httpserver.expect_oneshot_request(
        "/api/v2/persons/77", method="DELETE", headers=PIPEDRIVE_AUTH
    ).respond_with_json(body, status=status)

    request = run(
        anonymise(
            client_for(org_a.admin), {"lead_id": str(lead.pk)}, django_capture_on_commit_callbacks
        )
    )
    assert request.status == "concluida"
    assert request.resultado["crm"] == {str(lead.pk): outcome}


def test_a_crm_failure_midway_is_resumed_without_repeating_any_step(
    org_a, client_for, httpserver, django_capture_on_commit_callbacks
):
    """Two leads of one person (a lead, and the mentee of another lead with the same email):
    the CRM deletes the first, then answers 503; the rerun asks only for the second."""
    connect(org_a, httpserver, "hubspot")
    first = LeadFactory(organization=org_a.org, crm_provider="hubspot", crm_id="1")
    second = LeadFactory(organization=org_a.org, crm_provider="hubspot", crm_id="2")
    Mentorado.objects.create(
        organization=org_a.org, lead=second, nome_completo="Mesma Pessoa",
        email=first.email, data_inicio=timezone.localdate(),
    )  # fmt: skip
    make_execution(make_sequence(org_a.org), first)
    httpserver.expect_request(GDPR_DELETE, method="POST", json={"objectId": "1"}).respond_with_data(
        "", status=204
    )
    httpserver.expect_oneshot_request(
        GDPR_DELETE, method="POST", json={"objectId": "2"}
    ).respond_with_json({"status": "error", "message": "unavailable"}, status=503)
    admin = client_for(org_a.admin)
    request = anonymise(admin, {"email": first.email}, django_capture_on_commit_callbacks)
    assert sorted(request.lead_ids) == sorted([str(first.pk), str(second.pk)])

    with pytest.raises(RetryableError):
        run(request)
    request.refresh_from_db()
    assert request.status == "falhou"
    assert request.etapas == ["followups"]
    assert request.erro == "RetryableError (HTTP 503)"
    assert Lead.objects.get(pk=first.pk).nome_completo == first.nome_completo  # nothing yet
    shown = admin.get(f"{URL}{request.pk}/").json()
    assert (shown["status"], shown["progresso"]) == ("falhou", 33)

    httpserver.expect_oneshot_request(
        GDPR_DELETE, method="POST", json={"objectId": "2"}
    ).respond_with_data("", status=204)
    with django_capture_on_commit_callbacks(execute=True):
        retried = admin.post(f"{URL}{request.pk}/retry/")
    assert retried.status_code == 200
    assert retried.json()["status"] == "pendente"
    request = run(request)

    assert request.status == "concluida"
    assert request.etapas == ["followups", "crm", "dados"]
    assert request.resultado["crm"] == {str(first.pk): "deleted", str(second.pk): "deleted"}
    asked_first = [e for e, _ in httpserver.log if e.json == {"objectId": "1"}]
    assert len(asked_first) == 1
    assert FollowupExecutionLog.objects.filter(evento="cancelled").count() == 1
    assert request.resultado["followups_cancelados"] == 1
    assert Lead.objects.get(pk=first.pk).nome_completo == "Titular anonimizado"
    # A finished request cannot be retried.
    assert admin.post(f"{URL}{request.pk}/retry/").status_code == 409


def test_a_duplicate_run_of_the_job_skips_the_steps_done_meanwhile(
    org_a, client_for, django_capture_on_commit_callbacks
):
    """The outbox delivers a job at least once: a second run finds each step already recorded
    (the step re-reads the request under a row lock) and repeats nothing."""
    lead = LeadFactory(organization=org_a.org)
    make_execution(make_sequence(org_a.org), lead)
    request = run(
        anonymise(
            client_for(org_a.admin), {"lead_id": str(lead.pk)}, django_capture_on_commit_callbacks
        )
    )
    # A second delivery that loaded the request before the first one finished: its copy still
    # says nothing is done.
    stale = DataSubjectRequest.objects.get(pk=request.pk)
    stale.etapas, stale.resultado = [], {}
    for step in (requests._step_followups, requests._step_data):
        step(stale, 100)
    request.refresh_from_db()
    assert request.etapas == ["followups", "crm", "dados"]
    assert request.resultado["crm"] == {str(lead.pk): "no_connection"}
    assert FollowupExecutionLog.objects.filter(evento="cancelled").count() == 1


def test_the_crms_change_events_about_the_person_are_exported_then_cleared(
    org_a, client_for, httpserver, django_capture_on_commit_callbacks
):
    from integrations.models import CrmWebhookEvent

    connection = connect(org_a, httpserver, "hubspot")
    lead = LeadFactory(organization=org_a.org, crm_provider="hubspot", crm_id="777")
    event = CrmWebhookEvent.objects.create(
        organization=org_a.org, connection=connection, event_id="e1", crm_id="777",
        changes=[{"campo": "nome_completo", "value": "Grafia Do Crm", "at": 1}],
    )  # fmt: skip
    admin = client_for(org_a.admin)
    with django_capture_on_commit_callbacks(execute=True):
        created = admin.post(URL, {"tipo": "exportacao", "lead_id": str(lead.pk)}, format="json")
    run(DataSubjectRequest.objects.get(pk=created.json()["id"]))
    document = admin.get(f"{URL}{created.json()['id']}/download/").json()
    assert document["leads"][0]["crm"]["eventos_recebidos"][0]["changes"][0]["value"] == (
        "Grafia Do Crm"
    )

    httpserver.expect_oneshot_request(
        GDPR_DELETE, method="POST", json={"objectId": "777"}
    ).respond_with_data("", status=204)
    run(anonymise(admin, {"lead_id": str(lead.pk)}, django_capture_on_commit_callbacks))
    event.refresh_from_db()
    assert event.changes == []
