"""Lead -> CRM sync: coalesced scheduling, the job over real HTTP, retries, the sweep."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone
from prometheus_client import REGISTRY
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from config.jobs import discover_periodic_jobs
from integrations.crm import mapping
from integrations.crm import services as crm
from integrations.crm.hubspot import BASIC_FIELD_MAP
from integrations.models import CRMConnection
from leads import services as lead_services
from leads.models import Lead
from tests.factories import LeadFactory
from tests.integrations.factories import CRM_TOKEN, CRMConnectionFactory
from tests.integrations.helpers import load_fixture
from tests.integrations.jobs import run_jobs, scheduled_jobs

pytestmark = pytest.mark.django_db

UPSERT = "/crm/v3/objects/contacts/batch/upsert"
PERSONS = "/api/v2/persons"
HUBSPOT_AUTH = {"Authorization": f"Bearer {CRM_TOKEN}"}
PIPEDRIVE_AUTH = {"x-api-token": CRM_TOKEN}


def hubspot_echo(received: list[dict[str, Any]]) -> Any:
    """Answer a batch upsert as HubSpot does: one record per input, ids derived from the trace."""

    def handler(request: Request) -> Response:
        assert request.headers["Authorization"] == f"Bearer {CRM_TOKEN}"
        inputs = json.loads(request.data)["inputs"]
        received.append(json.loads(request.data))
        results = [
            {
                "id": f"hs-{item['objectWriteTraceId'][:8]}",
                "properties": {"email": item["id"]},
                "new": True,
                "objectWriteTraceId": item["objectWriteTraceId"],
            }
            for item in inputs
        ]
        body = {"status": "COMPLETE", "results": results}
        return Response(json.dumps(body), status=200, content_type="application/json")

    return handler


def basic_fields_only(connection: CRMConnection) -> CRMConnection:
    """Map only the basic fields, already prepared: the tests of the sync's lifecycle see the
    same requests as before the mapping existed (the mapping has its own tests)."""
    overrides = {f: "" for f in mapping.mappable(connection.provider) if f not in BASIC_FIELD_MAP}
    connection.field_mapping = overrides
    keys = mapping.effective_mapping(connection.provider, overrides)
    connection.field_keys = keys if connection.provider == "hubspot" else {}
    connection.fields_ready_for = mapping.mapping_digest(connection.provider, keys)
    connection.save()
    return connection


@pytest.fixture
def hubspot(org_a, httpserver: HTTPServer) -> CRMConnection:
    return basic_fields_only(
        CRMConnectionFactory(
            organization=org_a.org, provider="hubspot", api_base_url=httpserver.url_for("")
        )
    )


@pytest.fixture
def pipedrive(org_a, httpserver: HTTPServer) -> CRMConnection:
    return basic_fields_only(
        CRMConnectionFactory(
            organization=org_a.org, provider="pipedrive", api_base_url=httpserver.url_for("")
        )
    )


def sync_metric(provider: str, outcome: str) -> float:
    return (
        REGISTRY.get_sample_value("crm_sync_total", {"provider": provider, "outcome": outcome})
        or 0.0
    )


def create_lead(org, **data: Any) -> Lead:
    fields = {"nome_completo": "Maria da Silva", "email": "maria@cliente.com.br"}
    fields.update(data)
    return lead_services.lead_create(organization=org, actor=None, data=fields)


# -- scheduling -------------------------------------------------------------------------------


def test_it_schedules_one_delayed_sync_for_a_new_lead(
    org_a, hubspot, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        lead = create_lead(org_a.org)
    [job] = scheduled_jobs()
    # One coalesced job per organization; the lead waits in its pending set.
    assert job.func_name == "integrations.jobs.crm_sync_pending"
    assert job.kwargs == {"organization_id": str(org_a.org.pk)}
    assert crm.SYNC.pending(org_a.org.pk) == {str(lead.pk)}
    # Retried if its worker dies, and the failure is recorded on the leads meanwhile.
    assert job.retries_left == 3
    assert job._failure_callback_name == crm.FAILURE_CALLBACK
    delay = scheduled_at(job) - timezone.now()
    assert timedelta(seconds=3) < delay <= timedelta(seconds=6)


def scheduled_at(job: Any) -> Any:
    from django_rq import get_queue

    return get_queue(job.origin).scheduled_job_registry.get_scheduled_time(job)


@pytest.mark.parametrize("ativo", [None, False])
def test_it_schedules_nothing_without_an_active_connection(
    org_a, django_capture_on_commit_callbacks, ativo
):
    if ativo is False:
        CRMConnectionFactory(organization=org_a.org, ativo=False)
    with django_capture_on_commit_callbacks(execute=True):
        create_lead(org_a.org)
    assert scheduled_jobs() == []


@pytest.mark.parametrize(
    ("provider", "data", "expected"),
    [
        ("hubspot", {"observacoes": "ligar amanhã"}, False),
        ("hubspot", {"tags": ["vip"]}, False),
        ("hubspot", {"empresa": "Nova Ltda"}, True),
        ("hubspot", {"status": "em_contato"}, True),
        ("hubspot", {"lead_score": 80}, True),
        ("hubspot", {"temperatura": "quente"}, True),
        ("pipedrive", {"empresa": "Nova Ltda"}, True),
        ("pipedrive", {"observacoes": "ligar amanhã"}, False),
        ("pipedrive", {"email": "novo@cliente.com.br"}, True),
    ],
)
def test_it_syncs_updates_only_when_mapped_fields_change(
    org_a, django_capture_on_commit_callbacks, provider, data, expected
):
    CRMConnectionFactory(organization=org_a.org, provider=provider)
    lead = LeadFactory(organization=org_a.org)
    with django_capture_on_commit_callbacks(execute=True):
        lead_services.lead_update(lead=lead, actor=None, data=data)
    assert len(scheduled_jobs()) == int(expected)


def test_it_coalesces_a_burst_of_updates_into_one_call_with_the_latest_state(
    org_a, hubspot, httpserver, django_capture_on_commit_callbacks
):
    lead = LeadFactory(organization=org_a.org, email="maria@cliente.com.br", empresa="Antiga")
    for index in range(5):
        # Five requests, five transactions, within the coalescing delay.
        with django_capture_on_commit_callbacks(execute=True):
            lead_services.lead_update(lead=lead, actor=None, data={"empresa": f"Empresa {index}"})
    assert len(scheduled_jobs()) == 1

    received: list[dict[str, Any]] = []
    httpserver.expect_request(UPSERT, method="POST").respond_with_handler(hubspot_echo(received))
    run_jobs(scheduled=True)

    assert len(httpserver.log) == 1
    [payload] = received
    [item] = payload["inputs"]
    assert item["properties"]["company"] == "Empresa 4"
    lead.refresh_from_db()
    assert lead.crm_provider == "hubspot"
    assert lead.crm_id == f"hs-{str(lead.pk)[:8]}"
    assert lead.crm_synced_at is not None
    assert lead.crm_sync_error == ""
    # Writing the CRM fields sends no signal, so nothing new is scheduled...
    assert scheduled_jobs() == []
    # ...but the next real change is synced again.
    with django_capture_on_commit_callbacks(execute=True):
        lead_services.lead_update(lead=lead, actor=None, data={"cargo": "CEO"})
    assert len(scheduled_jobs()) == 1


def test_it_sends_hubspot_the_mapped_properties(org_a, hubspot, httpserver):
    lead = LeadFactory(
        organization=org_a.org,
        nome_completo="Maria da Silva Souza",
        email="MARIA@Cliente.com.br",
        telefone="+5511987654321",
        empresa="Cliente Ltda",
        cargo="Diretora",
        status="em_contato",
    )
    httpserver.expect_oneshot_request(
        UPSERT,
        method="POST",
        headers=HUBSPOT_AUTH,
        json={
            "inputs": [
                {
                    "idProperty": "email",
                    "id": "maria@cliente.com.br",
                    "objectWriteTraceId": str(lead.pk),
                    "properties": {
                        "email": "maria@cliente.com.br",
                        "firstname": "Maria",
                        "lastname": "da Silva Souza",
                        "phone": "+5511987654321",
                        "company": "Cliente Ltda",
                        "jobtitle": "Diretora",
                        "hs_lead_status": "IN_PROGRESS",
                    },
                }
            ]
        },
    ).respond_with_json(
        {"status": "COMPLETE", "results": [{"id": "51350", "objectWriteTraceId": str(lead.pk)}]}
    )
    before = sync_metric("hubspot", "synced")
    outcome = crm.crm_sync_leads(organization_id=org_a.org.pk, lead_ids=[lead.pk])
    assert outcome.synced == [str(lead.pk)]
    lead.refresh_from_db()
    assert lead.crm_id == "51350"
    assert sync_metric("hubspot", "synced") == before + 1
    hubspot.refresh_from_db()
    assert hubspot.last_success_at is not None


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ("novo", "NEW"),
        ("em_contato", "IN_PROGRESS"),
        ("qualificado", "OPEN_DEAL"),
        ("agendado", "OPEN_DEAL"),
        ("negociacao", "OPEN_DEAL"),
        ("perdido", "UNQUALIFIED"),
        ("convertido", None),
    ],
)
def test_it_maps_pipeline_statuses_to_hubspot_lead_statuses(
    org_a, hubspot, httpserver, status, expected
):
    lead = LeadFactory(organization=org_a.org, status=status)
    received: list[dict[str, Any]] = []
    httpserver.expect_oneshot_request(UPSERT, method="POST").respond_with_handler(
        hubspot_echo(received)
    )
    crm.crm_sync_leads(organization_id=org_a.org.pk, lead_ids=[lead.pk])
    assert received[0]["inputs"][0]["properties"].get("hs_lead_status") == expected


def test_it_creates_a_pipedrive_person_after_searching(org_a, pipedrive, httpserver):
    lead = LeadFactory(
        organization=org_a.org,
        nome_completo="Maria da Silva Souza",
        email="maria@empresa.com.br",
        telefone="+5511987654321",
    )
    search = load_fixture("pipedrive_search_miss.json")
    httpserver.expect_ordered_request(
        f"{PERSONS}/search",
        method="GET",
        headers=PIPEDRIVE_AUTH,
        query_string={"term": "maria@empresa.com.br", "fields": "email", "exact_match": "true"},
    ).respond_with_json(search)
    httpserver.expect_ordered_request(
        f"{PERSONS}/search",
        method="GET",
        query_string={"term": "+5511987654321", "fields": "phone", "exact_match": "true"},
    ).respond_with_json(search)
    httpserver.expect_ordered_request(
        PERSONS,
        method="POST",
        headers=PIPEDRIVE_AUTH,
        json={
            "name": "Maria da Silva Souza",
            "emails": [{"value": "maria@empresa.com.br", "primary": True, "label": "work"}],
            "phones": [{"value": "+5511987654321", "primary": True, "label": "mobile"}],
        },
    ).respond_with_json(load_fixture("pipedrive_person.json"), status=201)

    crm.crm_sync_leads(organization_id=org_a.org.pk, lead_ids=[lead.pk])
    lead.refresh_from_db()
    assert (lead.crm_provider, lead.crm_id, lead.crm_sync_error) == ("pipedrive", "42", "")


def test_it_updates_a_known_pipedrive_person_by_id(org_a, pipedrive, httpserver):
    lead = LeadFactory(organization=org_a.org, crm_provider="pipedrive", crm_id="42")
    httpserver.expect_oneshot_request(f"{PERSONS}/42", method="PATCH").respond_with_json(
        load_fixture("pipedrive_person.json")
    )
    crm.crm_sync_leads(organization_id=org_a.org.pk, lead_ids=[lead.pk])
    lead.refresh_from_db()
    assert lead.crm_synced_at is not None


def test_it_ignores_an_id_from_another_crm(org_a, pipedrive, httpserver):
    lead = LeadFactory(organization=org_a.org, crm_provider="hubspot", crm_id="51350")
    httpserver.expect_request(f"{PERSONS}/search", method="GET").respond_with_json(
        load_fixture("pipedrive_search_miss.json")
    )
    httpserver.expect_oneshot_request(PERSONS, method="POST").respond_with_json(
        load_fixture("pipedrive_person.json"), status=201
    )
    crm.crm_sync_leads(organization_id=org_a.org.pk, lead_ids=[lead.pk])
    lead.refresh_from_db()
    assert (lead.crm_provider, lead.crm_id) == ("pipedrive", "42")


# -- failures ---------------------------------------------------------------------------------


def test_it_honours_retry_after_on_429(
    org_a, hubspot, httpserver, django_capture_on_commit_callbacks
):
    lead = LeadFactory(organization=org_a.org)
    httpserver.expect_oneshot_request(UPSERT, method="POST").respond_with_json(
        load_fixture("hubspot_429.json"), status=429, headers={"Retry-After": "7"}
    )
    before = sync_metric("hubspot", "retry")
    with django_capture_on_commit_callbacks(execute=True):
        outcome = crm.crm_sync_leads(organization_id=org_a.org.pk, lead_ids=[lead.pk])
    assert outcome.retrying == [str(lead.pk)]
    assert outcome.retry_delay == 7
    [job] = scheduled_jobs()
    assert job.kwargs["attempt"] == 1
    assert job.kwargs["lead_ids"] == [str(lead.pk)]
    delay = scheduled_at(job) - timezone.now()
    assert timedelta(seconds=5) < delay <= timedelta(seconds=8)
    lead.refresh_from_db()
    assert lead.crm_sync_error == ""
    assert sync_metric("hubspot", "retry") == before + 1

    received: list[dict[str, Any]] = []
    httpserver.expect_oneshot_request(UPSERT, method="POST").respond_with_handler(
        hubspot_echo(received)
    )
    run_jobs(scheduled=True)
    lead.refresh_from_db()
    assert lead.crm_synced_at is not None
    assert len(received) == 1


def test_it_backs_off_on_transient_errors(
    org_a, hubspot, httpserver, django_capture_on_commit_callbacks
):
    lead = LeadFactory(organization=org_a.org)
    httpserver.expect_oneshot_request(UPSERT, method="POST").respond_with_data(
        "upstream down", status=503
    )
    with django_capture_on_commit_callbacks(execute=True):
        outcome = crm.crm_sync_leads(organization_id=org_a.org.pk, lead_ids=[lead.pk], attempt=1)
    assert outcome.retry_delay == crm.RETRY_DELAYS[1]
    [job] = scheduled_jobs()
    assert job.kwargs["attempt"] == 2


def test_it_records_the_error_on_the_lead_when_retries_run_out(org_a, hubspot, httpserver):
    lead = LeadFactory(organization=org_a.org)
    httpserver.expect_oneshot_request(UPSERT, method="POST").respond_with_data("down", status=503)
    outcome = crm.crm_sync_leads(
        organization_id=org_a.org.pk, lead_ids=[lead.pk], attempt=len(crm.RETRY_DELAYS)
    )
    assert outcome.failed == [str(lead.pk)]
    assert scheduled_jobs() == []
    lead.refresh_from_db()
    assert "503" in lead.crm_sync_error
    hubspot.refresh_from_db()
    assert "503" in hubspot.last_error


def test_it_stores_permanent_errors_per_lead_without_blocking_the_others(
    org_a, hubspot, httpserver
):
    good = LeadFactory(organization=org_a.org, email="maria@empresa.com.br")
    bad = LeadFactory(organization=org_a.org, email="joao@acme.com.br", crm_sync_error="velho")
    answer = load_fixture("hubspot_batch_upsert_207.json")
    answer["results"][0]["objectWriteTraceId"] = str(good.pk)
    answer["errors"][0]["context"]["objectWriteTraceId"] = [str(bad.pk)]
    httpserver.expect_oneshot_request(UPSERT, method="POST").respond_with_json(answer, status=207)
    before = sync_metric("hubspot", "failed")
    outcome = crm.crm_sync_leads(organization_id=org_a.org.pk, lead_ids=[good.pk, bad.pk])
    assert outcome.synced == [str(good.pk)]
    assert outcome.failed == [str(bad.pk)]
    good.refresh_from_db()
    bad.refresh_from_db()
    assert (good.crm_id, good.crm_sync_error) == ("51350", "")
    assert "INVALID_EMAIL" in bad.crm_sync_error
    assert bad.crm_synced_at is None
    assert scheduled_jobs() == []
    assert sync_metric("hubspot", "failed") == before + 1


def test_it_records_credential_failures_on_every_lead_and_the_connection(
    org_a, hubspot, httpserver
):
    leads = LeadFactory.create_batch(2, organization=org_a.org)
    httpserver.expect_oneshot_request(UPSERT, method="POST").respond_with_json(
        load_fixture("hubspot_401.json"), status=401
    )
    crm.crm_sync_leads(organization_id=org_a.org.pk, lead_ids=[lead.pk for lead in leads])
    for lead in leads:
        lead.refresh_from_db()
        assert "401" in lead.crm_sync_error
        assert CRM_TOKEN not in lead.crm_sync_error
    hubspot.refresh_from_db()
    assert "INVALID_AUTHENTICATION" in hubspot.last_error
    assert hubspot.last_error_at is not None


def test_it_skips_deleted_leads_and_missing_connections(org_a, org_b, hubspot, httpserver):
    lead = LeadFactory(organization=org_a.org)
    lead_id = lead.pk
    lead.delete()
    assert crm.crm_sync_leads(organization_id=org_a.org.pk, lead_ids=[lead_id]).skipped
    other = LeadFactory(organization=org_b.org)
    assert crm.crm_sync_leads(organization_id=org_b.org.pk, lead_ids=[other.pk]).skipped
    # A lead id of another organization is never synced through this one's connection.
    assert crm.crm_sync_leads(organization_id=org_a.org.pk, lead_ids=[other.pk]).skipped
    assert httpserver.log == []


# -- sweep ------------------------------------------------------------------------------------


def age(lead: Lead, **delta: Any) -> Lead:
    Lead.objects.filter(pk=lead.pk).update(updated_at=timezone.now() - timedelta(**delta))
    lead.refresh_from_db()
    return lead


def test_it_sweeps_leads_that_failed_never_synced_or_changed(
    org_a, org_b, hubspot, httpserver, django_capture_on_commit_callbacks
):
    now = timezone.now()
    never = age(LeadFactory(organization=org_a.org), hours=2)
    failed = age(
        LeadFactory(
            organization=org_a.org,
            crm_provider="hubspot",
            crm_id="1",
            crm_synced_at=now - timedelta(days=1),
            crm_sync_error="HTTP 400",
        ),
        days=2,
    )
    changed = age(
        LeadFactory(
            organization=org_a.org,
            crm_provider="hubspot",
            crm_id="2",
            crm_synced_at=now - timedelta(hours=3),
        ),
        hours=1,
    )
    other_crm = age(
        LeadFactory(
            organization=org_a.org,
            crm_provider="pipedrive",
            crm_id="3",
            crm_synced_at=now - timedelta(minutes=30),
        ),
        hours=1,
    )
    age(  # in sync
        LeadFactory(
            organization=org_a.org,
            crm_provider="hubspot",
            crm_id="4",
            crm_synced_at=now - timedelta(minutes=30),
        ),
        hours=1,
    )
    LeadFactory(organization=org_a.org)  # just changed: its own coalesced job handles it
    age(LeadFactory(organization=org_b.org), hours=2)  # no connection

    expected = {str(lead.pk) for lead in (never, failed, changed, other_crm)}
    assert set(crm.leads_to_resync(hubspot)) == expected
    with django_capture_on_commit_callbacks(execute=True):
        assert crm.crm_sync_sweep() == 4
    with django_capture_on_commit_callbacks(execute=True):
        assert crm.crm_sync_sweep() == 0  # already pending: not scheduled twice

    received: list[dict[str, Any]] = []
    httpserver.expect_request(UPSERT, method="POST").respond_with_handler(hubspot_echo(received))
    run_jobs(scheduled=True)
    assert len(received) == 1  # one batch call
    assert {item["objectWriteTraceId"] for item in received[0]["inputs"]} == expected
    assert not Lead.objects.filter(pk__in=expected).exclude(crm_sync_error="").exists()


def test_it_sweeps_in_batches(
    org_a, hubspot, httpserver, monkeypatch, django_capture_on_commit_callbacks
):
    for lead in LeadFactory.create_batch(3, organization=org_a.org):
        age(lead, hours=1)
    monkeypatch.setattr(crm, "SWEEP_BATCH", 2)
    with django_capture_on_commit_callbacks(execute=True):
        assert crm.crm_sync_sweep() == 3
    assert len(scheduled_jobs()) == 1  # one job for the organization...

    received: list[dict[str, Any]] = []
    httpserver.expect_request(UPSERT, method="POST").respond_with_handler(hubspot_echo(received))
    run_jobs(scheduled=True)
    # ...calling the CRM in batches of SWEEP_BATCH.
    assert sorted(len(call["inputs"]) for call in received) == [1, 2]


def test_it_registers_the_periodic_sweeps():
    ids = {job.id for job in discover_periodic_jobs()}
    assert {"integrations.crm_sync_sweep", "integrations.whatsapp_notifications_sweep"} <= ids


# -- connection test --------------------------------------------------------------------------


def test_it_tests_a_hubspot_connection(org_a, hubspot, httpserver):
    httpserver.expect_oneshot_request(
        "/crm/v3/objects/contacts", method="GET", headers=HUBSPOT_AUTH, query_string="limit=1"
    ).respond_with_json({"results": []})
    assert crm.crm_connection_test(connection=hubspot) == (True, "ok")
    hubspot.refresh_from_db()
    assert hubspot.last_success_at is not None


def test_it_reports_a_failing_pipedrive_connection(org_a, pipedrive, httpserver):
    httpserver.expect_oneshot_request(
        PERSONS, method="GET", headers=PIPEDRIVE_AUTH, query_string="limit=1"
    ).respond_with_json(load_fixture("pipedrive_401.json"), status=401)
    ok, message = crm.crm_connection_test(connection=pipedrive)
    assert not ok
    assert "401" in message
    assert CRM_TOKEN not in message
    pipedrive.refresh_from_db()
    assert "401" in pipedrive.last_error
