"""Inbound CRM change webhooks: /webhooks/crm/hubspot/<id>/ and /webhooks/crm/pipedrive/<id>/.

Requests are built as the providers document them (HubSpot's v3 signature computed here
independently, Pipedrive's v2/v1 bodies with HTTP basic auth); the outbound half runs over real
HTTP against the HubSpot stub.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import django_rq
import pytest
from django.db.models import F
from django.test import Client, TestCase
from django.utils import timezone
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from integrations.crm import mapping
from integrations.crm import services as crm
from integrations.models import CRMConnection, CrmFieldClock, CrmWebhookEvent
from leads import services as lead_services
from leads.models import Lead, LeadStatusChange
from tests.factories import LeadFactory
from tests.integrations.crm_stubs import HubSpotPropertiesStub, pipedrive_key
from tests.integrations.factories import CRM_TOKEN, CRMConnectionFactory
from tests.integrations.jobs import queued_jobs, run_jobs, scheduled_jobs

pytestmark = pytest.mark.django_db

HS_SECRET = "hs-app-client-secret-0001"
PD_USER, PD_PASSWORD = "leadtracker", "pd-basic-password-0001"


@pytest.fixture
def hubspot(org_a) -> CRMConnection:
    return CRMConnectionFactory(
        organization=org_a.org, provider="hubspot", webhook_secret=HS_SECRET
    )


@pytest.fixture
def pipedrive(org_a) -> CRMConnection:
    wanted = mapping.effective_mapping("pipedrive", {})
    return CRMConnectionFactory(
        organization=org_a.org,
        provider="pipedrive",
        webhook_secret=PD_PASSWORD,
        webhook_user=PD_USER,
        field_keys={field: pipedrive_key(name) for field, name in wanted.items()},
        fields_ready_for=mapping.mapping_digest("pipedrive", wanted),
    )


def synced_lead(org, provider: str = "hubspot", crm_id: str = "5101", **fields: Any) -> Lead:
    lead = LeadFactory(organization=org, crm_provider=provider, crm_id=crm_id, **fields)
    # In sync with the CRM, as after a successful push.
    Lead.objects.filter(pk=lead.pk).update(crm_synced_at=timezone.now() + timedelta(seconds=1))
    lead.refresh_from_db()
    return lead


def ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def hs_event(event_id: int, object_id: str, name: str, value: Any, at: datetime) -> dict:
    """One contact.propertyChange as HubSpot posts it."""
    return {
        "eventId": event_id,
        "subscriptionId": 2881778,
        "portalId": 62515,
        "appId": 1160452,
        "occurredAt": ms(at),
        "subscriptionType": "contact.propertyChange",
        "attemptNumber": 0,
        "objectId": int(object_id),
        "propertyName": name,
        "propertyValue": value,
        "changeSource": "CRM_UI",
        "sourceId": "userId:215482",
    }


def deliver(send: Callable[[], Any]) -> Any:
    """Send a webhook, run the jobs its commit queued, and attach ``outcomes``: the outcome of
    each event this request stored, plus ``duplicate`` as the answer counted them."""
    before = set(CrmWebhookEvent.objects.values_list("pk", flat=True))
    with TestCase.captureOnCommitCallbacks(execute=True):
        response = send()
    run_jobs()
    outcomes = Counter(
        CrmWebhookEvent.objects.exclude(pk__in=before).values_list("outcome", flat=True)
    )
    if response.status_code == 200:
        assert response.json()["status"] == "accepted"
        assert response.json()["received"] == sum(outcomes.values())
        if response.json()["duplicate"]:
            outcomes["duplicate"] = response.json()["duplicate"]
    response.outcomes = dict(outcomes)
    return response


def post_hubspot(connection: CRMConnection, events: Any, **kwargs: Any) -> Any:
    return deliver(lambda: _post_hubspot(connection, events, **kwargs))


def _post_hubspot(
    connection: CRMConnection,
    events: Any,
    *,
    secret: str = HS_SECRET,
    timestamp: int | None = None,
    raw: bytes | None = None,
) -> Any:
    path = f"/webhooks/crm/hubspot/{connection.pk}/"
    body = raw if raw is not None else json.dumps(events).encode()
    stamp = str(timestamp if timestamp is not None else int(time.time() * 1000))
    source = b"POST" + f"http://testserver{path}".encode() + body + stamp.encode()
    signature = base64.b64encode(hmac.new(secret.encode(), source, hashlib.sha256).digest())
    return Client().post(
        path,
        data=body,
        content_type="application/json",
        headers={
            "X-HubSpot-Signature-v3": signature.decode(),
            "X-HubSpot-Request-Timestamp": stamp,
        },
    )


def crm_sync_jobs() -> list[Any]:
    return [
        job
        for job in [*scheduled_jobs(), *queued_jobs()]
        if job.func_name.startswith("integrations.jobs.crm_sync")
    ]


# -- HubSpot -----------------------------------------------------------------------------------


def test_hubspot_changes_update_the_lead_through_the_service_without_echo(
    org_a, hubspot, django_capture_on_commit_callbacks
):
    lead = synced_lead(org_a.org, status="novo", lead_score=10, temperatura="frio")
    now = timezone.now()
    events = [
        hs_event(1, "5101", "lead_score", "72", now),
        hs_event(2, "5101", "temperatura", "quente", now),
        hs_event(3, "5101", "hs_lead_status", "IN_PROGRESS", now),
        hs_event(4, "5101", "closer", org_a.closer.user.email, now),
        hs_event(5, "5101", "notes_last_updated", "x", now),  # not mapped: recorded, ignored
    ]
    response = post_hubspot(hubspot, events)

    assert response.status_code == 200, response.content
    assert response.outcomes == {"applied": 4, "ignored": 1}
    lead.refresh_from_db()
    assert (lead.lead_score, lead.temperatura, lead.status, lead.closer) == (
        72,
        "quente",
        "em_contato",
        org_a.closer,
    )
    # Through the lead service: the status move is in the history.
    assert LeadStatusChange.objects.filter(lead=lead, to_status="em_contato").exists()
    clocks = dict(CrmFieldClock.objects.filter(lead=lead).values_list("campo", "source"))
    assert clocks == {"lead_score": "crm", "temperatura": "crm", "status": "crm", "closer": "crm"}
    # No echo: nothing scheduled back to the CRM, and the sweep finds the lead in sync.
    assert crm_sync_jobs() == []
    assert crm.SYNC.pending(org_a.org.pk) == set()
    assert lead.crm_synced_at is not None
    assert lead.crm_synced_at >= lead.updated_at

    # The same kind of change made here is scheduled (the check above can fail).
    with django_capture_on_commit_callbacks(execute=True):
        lead_services.lead_update(lead=lead, actor=None, data={"lead_score": 73})
    assert crm.SYNC.pending(org_a.org.pk) == {str(lead.pk)}
    assert CrmFieldClock.objects.get(lead=lead, campo="lead_score").source == "local"


def test_a_redelivered_event_is_a_duplicate_and_changes_nothing(org_a, hubspot):
    lead = synced_lead(org_a.org, lead_score=10)
    event = hs_event(77, "5101", "lead_score", "50", timezone.now())
    assert post_hubspot(hubspot, [event]).outcomes == {"applied": 1}
    Lead.objects.filter(pk=lead.pk).update(lead_score=20)

    again = post_hubspot(hubspot, [event])

    assert again.outcomes == {"duplicate": 1}
    lead.refresh_from_db()
    assert lead.lead_score == 20
    assert CrmWebhookEvent.objects.filter(event_id="77").count() == 1


def test_the_latest_change_wins_by_the_providers_timestamp(org_a, hubspot):
    lead = synced_lead(org_a.org, lead_score=10, empresa="Antiga")
    local_at = timezone.now()
    lead_services.lead_update(lead=lead, actor=None, data={"lead_score": 30})
    older = local_at - timedelta(minutes=1)
    newer = timezone.now() + timedelta(seconds=1)

    response = post_hubspot(
        hubspot,
        [
            hs_event(10, "5101", "lead_score", "99", older),  # made in HubSpot before ours
            hs_event(11, "5101", "company", "Nova", newer),
        ],
    )

    assert response.outcomes == {"stale": 1, "applied": 1}
    lead.refresh_from_db()
    assert (lead.lead_score, lead.empresa) == (30, "Nova")
    # Out of order between themselves too: an older CRM change after a newer one is stale.
    post_hubspot(hubspot, [hs_event(12, "5101", "company", "Velha", newer - timedelta(1))])
    lead.refresh_from_db()
    assert lead.empresa == "Nova"


def test_values_the_lead_cannot_take_are_skipped_and_the_rest_applies(org_a, hubspot):
    lead = synced_lead(org_a.org, lead_score=10, origem="site")
    now = timezone.now()
    response = post_hubspot(
        hubspot,
        [
            hs_event(20, "5101", "lead_score", "150", now),
            hs_event(21, "5101", "closer", "ninguem@exemplo.com", now),
            hs_event(22, "5101", "hs_lead_status", "BAD_TIMING", now),
            hs_event(23, "5101", "origem", "evento", now),
        ],
    )
    assert response.outcomes == {"invalid": 3, "applied": 1}
    lead.refresh_from_db()
    assert (lead.lead_score, lead.origem, lead.closer_id) == (10, "evento", lead.closer_id)


def test_unqualified_in_hubspot_marks_the_lead_lost_with_a_reason(org_a, hubspot):
    lead = synced_lead(org_a.org, status="em_contato")
    post_hubspot(hubspot, [hs_event(30, "5101", "hs_lead_status", "UNQUALIFIED", timezone.now())])
    lead.refresh_from_db()
    assert (lead.status, lead.motivo_perda) == ("perdido", "Marcado como perdido no CRM")


def test_another_organizations_contact_is_never_touched(org_a, org_b, hubspot):
    theirs = synced_lead(org_b.org, lead_score=10)  # same HubSpot id, other organization
    CRMConnectionFactory(organization=org_b.org, provider="hubspot", webhook_secret="other")
    response = post_hubspot(hubspot, [hs_event(40, "5101", "lead_score", "90", timezone.now())])
    assert response.outcomes == {"unknown_contact": 1}
    theirs.refresh_from_db()
    assert theirs.lead_score == 10


@pytest.mark.parametrize(
    ("case", "status"),
    [
        ("wrong secret", 401),
        ("old timestamp", 401),
        ("future timestamp", 401),
        ("no signature", 401),
        ("not json", 400),
        ("not a list", 400),
        ("event without eventId", 400),
        ("unknown connection", 404),
        ("connection without secret", 404),
        ("inactive connection", 404),
        ("pipedrive route", 404),
    ],
)
def test_refused_hubspot_requests_write_nothing(org_a, hubspot, case, status):
    lead = synced_lead(org_a.org, lead_score=10)
    event = hs_event(50, "5101", "lead_score", "90", timezone.now())
    now_ms = int(time.time() * 1000)
    kwargs: dict[str, Any] = {}
    if case == "wrong secret":
        kwargs["secret"] = "not-the-secret"
    elif case == "old timestamp":
        kwargs["timestamp"] = now_ms - 6 * 60 * 1000
    elif case == "future timestamp":
        kwargs["timestamp"] = now_ms + 6 * 60 * 1000
    elif case == "not json":
        kwargs["raw"] = b"{nope"
    elif case == "not a list":
        kwargs["raw"] = json.dumps(event).encode()
    elif case == "event without eventId":
        kwargs["raw"] = json.dumps([{k: v for k, v in event.items() if k != "eventId"}]).encode()
    elif case == "connection without secret":
        CRMConnection.objects.filter(pk=hubspot.pk).update(webhook_secret="")
    elif case == "inactive connection":
        CRMConnection.objects.filter(pk=hubspot.pk).update(ativo=False)

    if case == "no signature":
        response = Client().post(
            f"/webhooks/crm/hubspot/{hubspot.pk}/", data=[event], content_type="application/json"
        )
    elif case == "unknown connection":
        response = Client().post(
            f"/webhooks/crm/hubspot/{org_a.org.pk}/", data=[event], content_type="application/json"
        )
    elif case == "pipedrive route":
        response = Client().post(
            f"/webhooks/crm/pipedrive/{hubspot.pk}/", data=[event], content_type="application/json"
        )
    else:
        response = post_hubspot(hubspot, [event], **kwargs)

    assert response.status_code == status, response.content
    assert set(response.json()) == {"error", "details"}
    lead.refresh_from_db()
    assert lead.lead_score == 10
    assert not CrmWebhookEvent.objects.exists()
    assert not CrmFieldClock.objects.exists()


def test_a_get_is_not_allowed(hubspot):
    assert Client().get(f"/webhooks/crm/hubspot/{hubspot.pk}/").status_code == 405


def test_round_trip_push_then_crm_change_then_sweep_sends_nothing_back(
    org_a, httpserver: HTTPServer, django_capture_on_commit_callbacks
):
    """Over real HTTP: the lead is pushed to the HubSpot stub, HubSpot reports a change, and
    neither the coalesced sync nor the sweep pushes it back."""
    connection = CRMConnectionFactory(
        organization=org_a.org,
        provider="hubspot",
        api_base_url=httpserver.url_for(""),
        webhook_secret=HS_SECRET,
    )
    HubSpotPropertiesStub(httpserver, CRM_TOKEN)

    def upsert(request: Request) -> Response:
        results = [
            {"id": "5101", "new": True, "objectWriteTraceId": item["objectWriteTraceId"]}
            for item in json.loads(request.data)["inputs"]
        ]
        body = {"status": "COMPLETE", "results": results}
        return Response(json.dumps(body), content_type="application/json")

    httpserver.expect_oneshot_request(
        "/crm/v3/objects/contacts/batch/upsert", method="POST"
    ).respond_with_handler(upsert)
    lead = LeadFactory(organization=org_a.org, email="maria@cliente.com.br", lead_score=10)
    crm.crm_sync_leads(organization_id=org_a.org.pk, lead_ids=[lead.pk])
    lead.refresh_from_db()
    assert lead.crm_id == "5101"

    later = timezone.now() + timedelta(seconds=1)
    post_hubspot(connection, [hs_event(60, "5101", "lead_score", "64", later)])
    lead.refresh_from_db()
    assert lead.lead_score == 64
    assert crm_sync_jobs() == []
    # Ten minutes on, the sweep looks for stale leads: this one is in sync.
    Lead.objects.filter(pk=lead.pk).update(
        updated_at=F("updated_at") - timedelta(minutes=10),
        crm_synced_at=F("crm_synced_at") - timedelta(minutes=10),
    )
    assert crm.leads_to_resync(connection) == []
    # (A local change at that point would be found: the check above can fail.)
    Lead.objects.filter(pk=lead.pk).update(crm_synced_at=F("updated_at") - timedelta(seconds=1))
    assert crm.leads_to_resync(connection) == [str(lead.pk)]


# -- Pipedrive ---------------------------------------------------------------------------------


def pd_body(person_id: int, custom_now: dict, custom_before: dict, stamp: Any) -> dict:
    """A webhooks v2 person change as Pipedrive posts it."""
    return {
        "meta": {
            "action": "change",
            "entity": "person",
            "entity_id": str(person_id),
            "version": "2.0",
            "company_id": "12882925",
            "user_id": "18487521",
            "id": "7e0c9b5a-9b1c-4c2e-8d4f-1d2f3a4b5c6d",
            "correlation_id": "5a1b3c0e-2222-4c2e-8d4f-aaaaaaaaaaaa",
            "webhook_id": "99",
            "attempt": 1,
            "host": "empresa.pipedrive.com",
            "timestamp": stamp,
            "change_source": "app",
            "is_bulk_edit": False,
        },
        "data": {
            "id": person_id,
            "name": "Maria da Silva",
            "emails": [{"value": "maria@cliente.com.br", "primary": True, "label": "work"}],
            "custom_fields": custom_now,
            "update_time": "2026-12-04T21:30:00Z",
        },
        "previous": {"custom_fields": custom_before},
    }


def post_pipedrive(connection: CRMConnection, body: Any, **kwargs: Any) -> Any:
    return deliver(lambda: _post_pipedrive(connection, body, **kwargs))


def _post_pipedrive(connection: CRMConnection, body: Any, user=PD_USER, password=PD_PASSWORD):
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return Client().post(
        f"/webhooks/crm/pipedrive/{connection.pk}/",
        data=json.dumps(body),
        content_type="application/json",
        headers={"Authorization": f"Basic {token}"},
    )


def test_pipedrive_v2_person_change_updates_the_mapped_fields(org_a, pipedrive):
    lead = synced_lead(org_a.org, provider="pipedrive", crm_id="42", lead_score=10)
    score, temp = pipedrive_key("Lead score"), pipedrive_key("Temperatura")
    stamp = (timezone.now() + timedelta(seconds=1)).astimezone(UTC).isoformat()
    body = pd_body(
        42,
        {score: 55, temp: "morno", pipedrive_key("Origem"): "site"},
        {score: 10, temp: None},  # origem did not change in this event
        stamp.replace("+00:00", "Z"),
    )
    response = post_pipedrive(pipedrive, body)
    assert response.status_code == 200, response.content
    assert response.outcomes == {"applied": 1}
    lead.refresh_from_db()
    assert (lead.lead_score, lead.temperatura) == (55, "morno")
    assert lead.origem != "site"
    # Redelivered (attempt 2): the same event.
    body["meta"]["attempt"] = 2
    assert post_pipedrive(pipedrive, body).outcomes == {"duplicate": 1}


def test_pipedrive_v1_updated_person_is_understood(org_a, pipedrive):
    lead = synced_lead(org_a.org, provider="pipedrive", crm_id="43", empresa="Antiga")
    key = pipedrive_key("Empresa")
    stamp = int(time.time()) + 1
    body = {
        "v": 1,
        "event": "updated.person",
        "meta": {"v": 1, "action": "updated", "object": "person", "id": 43, "timestamp": stamp},
        "current": {"id": 43, "name": "Maria", key: "Nova Ltda"},
        "previous": {"id": 43, "name": "Maria", key: "Antiga"},
    }
    assert post_pipedrive(pipedrive, body).outcomes == {"applied": 1}
    lead.refresh_from_db()
    assert lead.empresa == "Nova Ltda"


@pytest.mark.parametrize(
    ("case", "status"),
    [
        ("wrong password", 401),
        ("wrong user", 401),
        ("no auth", 401),
        ("no meta", 400),
        ("bad timestamp", 400),
    ],
)
def test_refused_pipedrive_requests_write_nothing(org_a, pipedrive, case, status):
    lead = synced_lead(org_a.org, provider="pipedrive", crm_id="42", lead_score=10)
    score = pipedrive_key("Lead score")
    body: Any = pd_body(42, {score: 55}, {score: 10}, int(time.time()))
    kwargs: dict[str, Any] = {}
    if case == "wrong password":
        kwargs["password"] = "nope"
    elif case == "wrong user":
        kwargs["user"] = "someone"
    elif case == "no meta":
        body = {"data": body["data"]}
    elif case == "bad timestamp":
        body["meta"]["timestamp"] = "ontem"
    if case == "no auth":
        response = Client().post(
            f"/webhooks/crm/pipedrive/{pipedrive.pk}/",
            data=body,
            content_type="application/json",
        )
    else:
        response = post_pipedrive(pipedrive, body, **kwargs)
    assert response.status_code == status, response.content
    if status == 401:
        assert response.headers["WWW-Authenticate"].startswith("Basic")
    lead.refresh_from_db()
    assert lead.lead_score == 10
    assert not CrmWebhookEvent.objects.exists()


def test_hubspot_reporting_the_value_we_pushed_changes_nothing(
    org_a, hubspot, django_capture_on_commit_callbacks
):
    lead = synced_lead(org_a.org, lead_score=40)
    before = lead.updated_at
    response = post_hubspot(hubspot, [hs_event(70, "5101", "lead_score", "40", timezone.now())])
    assert response.outcomes == {"unchanged": 1}
    lead.refresh_from_db()
    assert lead.updated_at == before
    assert crm_sync_jobs() == []


def test_pipedrive_fields_are_not_read_under_keys_of_an_older_mapping(org_a, pipedrive):
    lead = synced_lead(org_a.org, provider="pipedrive", crm_id="42", lead_score=10)
    # The mapping changed and no sync prepared it yet: the stored keys may be stale.
    CRMConnection.objects.filter(pk=pipedrive.pk).update(field_mapping={"lead_score": "Pontos"})
    pipedrive.refresh_from_db()
    score = pipedrive_key("Lead score")
    body = pd_body(42, {score: 55}, {score: 10}, int(time.time()) + 1)
    assert post_pipedrive(pipedrive, body).outcomes == {"ignored": 1}
    lead.refresh_from_db()
    assert lead.lead_score == 10


def test_the_sweep_forgets_old_webhook_events(org_a, hubspot):
    old = CrmWebhookEvent.objects.create(
        organization=org_a.org,
        connection=hubspot,
        event_id="old",
        outcome="applied",
        received_at=timezone.now() - timedelta(days=31),
        processed_at=timezone.now() - timedelta(days=31),
    )
    recent = CrmWebhookEvent.objects.create(
        organization=org_a.org, connection=hubspot, event_id="recent", processed_at=timezone.now()
    )
    crm.crm_sync_sweep()
    assert list(CrmWebhookEvent.objects.values_list("pk", flat=True)) == [recent.pk]
    assert not CrmWebhookEvent.objects.filter(pk=old.pk).exists()


def test_the_answer_comes_before_the_work_and_a_lost_job_is_picked_up_by_the_sweep(org_a, hubspot):
    lead = synced_lead(org_a.org, lead_score=10)
    with TestCase.captureOnCommitCallbacks(execute=True):
        response = _post_hubspot(
            hubspot, [hs_event(80, "5101", "lead_score", "66", timezone.now())]
        )
    assert response.json() == {"status": "accepted", "received": 1, "duplicate": 0}
    lead.refresh_from_db()
    assert lead.lead_score == 10  # not applied yet: a job on the high queue does it
    [row] = CrmWebhookEvent.objects.all()
    assert (row.outcome, row.processed_at) == ("", None)
    assert [job.func_name for job in queued_jobs()] == ["integrations.jobs.crm_inbound_pending"]

    # The job is lost (Redis flushed); ten minutes later the sweep queues the event again.
    django_rq.get_connection("high").flushdb()
    CrmWebhookEvent.objects.filter(pk=row.pk).update(
        received_at=timezone.now() - timedelta(minutes=10)
    )
    with TestCase.captureOnCommitCallbacks(execute=True):
        crm.crm_sync_sweep()
    run_jobs()
    lead.refresh_from_db()
    row.refresh_from_db()
    assert lead.lead_score == 66
    assert row.outcome == "applied"
    assert row.processed_at is not None
