"""Redis down: the API keeps answering and committed work waits in the outbox (config/jobs.py).

Every test here runs its own `redis-server` (tests/redis_server.py) and really stops it: the
cache, the queues and /health/ point at it, and the requests run with real commits
(`transaction=True`), so the on-commit pushes meet a dead Redis exactly as in production.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import django_rq
import pytest
from django.db import transaction
from prometheus_client import REGISTRY
from rq import SimpleWorker

import config.cache
import config.jobs
from config.jobs import Coalesced, enqueue, outbox_drain
from config.models import OutboxEntry
from integrations.models import WebhookNotification, WhatsAppMessage
from leads.jobs import SCORES
from leads.models import Lead
from organizations.models import Organization
from tests.factories import PASSWORD, LeadFactory
from tests.integrations.factories import WhatsAppAccountFactory
from tests.integrations.webhook_helpers import PNID, notification, post_signed, text_message
from tests.redis_server import RedisServer, private_redis

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

APPEND = "tests.jobs_support.append_to_organization_name"


@pytest.fixture
def redis_server(settings: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[RedisServer]:
    settings.JOBS_OUTBOX_GRACE_SECONDS = 0
    settings.CRM_SYNC_DELAY_SECONDS = 0
    monkeypatch.setattr(config.cache, "_last_logged", 0.0)
    monkeypatch.setattr(config.jobs, "_backlog", False)
    with private_redis(settings) as server:
        yield server


def metric(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def work() -> None:
    """A burst worker in this process: runs every queued job, and the jobs those enqueue."""
    queues = [django_rq.get_queue(name) for name in config.jobs.QUEUES]
    SimpleWorker(queues, connection=queues[0].connection).work(burst=True)


def test_the_api_answers_while_redis_is_down_and_the_work_follows_when_it_is_back(
    org_a, client_for, anon, redis_server, caplog
):
    caplog.set_level(logging.WARNING)
    client = client_for(org_a.admin)
    redis_server.stop()
    cache_failures = metric("cache_unavailable_total", operation="count")
    kept = metric("jobs_enqueue_failed_total", kind="coalesced")

    assert client.get("/api/v1/me/").status_code == 200
    assert client.get("/api/v1/leads/").status_code == 200
    created = client.post(
        "/api/v1/leads/",
        {"nome_completo": "Sem Redis", "email": "sem.redis@cliente.com.br", "origem": "indicacao"},
        format="json",
    )
    assert created.status_code == 201, created.content
    token = anon.post(
        "/api/v1/auth/token/",
        {"email": org_a.closer.user.email, "password": PASSWORD},
        format="json",
    )
    assert token.status_code == 200

    # Throttling failed open, counted and logged.
    assert metric("cache_unavailable_total", operation="count") > cache_failures
    assert any("cache unavailable" in r.getMessage() for r in caplog.records)
    # The lead's follow-on work (score, enrollment) is in the outbox, counted and logged.
    lead = Lead.objects.get(pk=created.json()["id"])
    kept_rows = list(OutboxEntry.objects.filter(kind="coalesced"))
    assert {row.name for row in kept_rows} >= {"leads.jobs:scores", "followup.jobs:enrollment"}
    assert all(row.payload["ids"] == [str(lead.pk)] for row in kept_rows)
    assert metric("jobs_enqueue_failed_total", kind="coalesced") >= kept + 2
    assert any("kept in the outbox" in r.getMessage() for r in caplog.records)
    assert anon.get("/health/").json()["status"] == "degraded"

    # Redis comes back (empty). The next write's successful push asks for a drain.
    redis_server.start()
    second = client.post(
        "/api/v1/leads/", {"nome_completo": "Com Redis", "origem": "indicacao"}, format="json"
    )
    assert second.status_code == 201
    assert "jobs-outbox-drain" in django_rq.get_queue("default").job_ids
    work()

    assert not OutboxEntry.objects.exists()
    lead.refresh_from_db()
    other = Lead.objects.get(pk=second.json()["id"])
    assert (lead.lead_score, other.lead_score) == (5, 5)  # referral, computed by the jobs
    assert SCORES.pending(org_a.org.pk) == set()
    assert anon.get("/health/").json()["status"] == "ok"


def test_work_committed_while_redis_dies_runs_once_when_it_is_back(org_a, redis_server):
    org = org_a.org
    lead = LeadFactory(organization=org, origem="indicacao", lead_score=0)
    with transaction.atomic():
        # Registered first, so it runs first after the commit: Redis dies between the
        # commit and the pushes.
        transaction.on_commit(redis_server.stop)
        Organization.objects.filter(pk=org.pk).update(nome="Antes")
        enqueue(APPEND, organization_id=str(org.pk), suffix="!", queue="high")
        SCORES.request(key=org.pk, ids=[lead.pk])

    assert OutboxEntry.objects.count() == 2
    redis_server.start()
    assert outbox_drain() == 2  # what the periodic drain job does
    assert outbox_drain() == 0  # delivered rows are gone: never pushed twice
    work()

    org.refresh_from_db()
    assert org.nome == "Antes!"  # ran exactly once
    lead.refresh_from_db()
    assert lead.lead_score > 0  # the coalesced recalculation ran too
    assert SCORES.pending(org.pk) == set()
    work()  # nothing left to run
    org.refresh_from_db()
    assert org.nome == "Antes!"


def test_the_drain_stops_and_records_the_error_while_redis_is_still_down(org_a, redis_server):
    redis_server.stop()
    with transaction.atomic():
        enqueue(APPEND, organization_id=str(org_a.org.pk), suffix="!")
    assert outbox_drain() == 0
    row = OutboxEntry.objects.get()
    assert row.attempts == 1
    assert "ConnectionError" in row.last_error


def test_a_signed_webhook_is_accepted_and_processed_after_redis_returns(org_a, redis_server):
    WhatsAppAccountFactory(organization=org_a.org, phone_number_id=PNID)
    redis_server.stop()
    body = notification(messages=[text_message("wamid.REDIS1", "5511987654321", "Oi!")])

    response = post_signed(body)

    assert response.status_code == 200
    stored = WebhookNotification.objects.get()
    assert stored.processed_at is None
    [row] = OutboxEntry.objects.all()
    assert row.name == "integrations.jobs.process_whatsapp_notification"

    redis_server.start()
    assert outbox_drain() == 1
    work()
    stored.refresh_from_db()
    assert stored.processed_at is not None
    assert WhatsAppMessage.objects.filter(wamid="wamid.REDIS1").count() == 1


def test_a_failed_enqueue_releases_the_queued_flag(org_a, redis_server, monkeypatch):
    """Pending ids reach Redis but the job cannot be enqueued: the flag must not stay set, or
    no later request would enqueue the job for ten minutes."""
    probe = Coalesced(name="tests.test_redis_down:probe", func=APPEND, queue="low")

    def refuse(*args: Any, **kwargs: Any) -> None:
        raise ConnectionError("queue refused")

    monkeypatch.setattr(config.jobs, "_push_job", refuse)
    with transaction.atomic():
        probe.request(key=org_a.org.pk, ids=["a"])
    flag = f"{probe.pending_key(org_a.org.pk)}:queued"
    assert redis_server.client().exists(flag) == 0
    assert probe.pending(org_a.org.pk) == {"a"}
    assert OutboxEntry.objects.count() == 1  # the drain will push it again

    monkeypatch.undo()
    assert outbox_drain() == 1
    assert redis_server.client().exists(flag) == 1
