"""Worker deaths: `kill -9` of real `manage.py rqworker` processes (worker, work horse and
scheduler) during a CSV import and during a CRM call; another worker notices the abandoned
job, RQ retries it, and the work finishes exactly once (config/worker.py, docs/jobs.md).

The workers run with the production code and test-sized timings (heartbeat every second,
two seconds of grace, maintenance every second): detection takes seconds here, under a
minute with the production values.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import django_rq
import pytest
from django.conf import settings
from django.db import transaction
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from config.jobs import SAFE_RETRY, outbox_drain
from config.models import OutboxEntry
from integrations.crm import services as crm
from leads.models import Lead, LeadImport
from leads.services import lead_create
from tests.integrations.crm_stubs import HubSpotPropertiesStub
from tests.integrations.factories import CRM_TOKEN, CRMConnectionFactory
from tests.test_jobs import subprocess_env

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow, pytest.mark.heavy]

UPSERT = "/crm/v3/objects/contacts/batch/upsert"
FAST = {
    "RQ_JOB_MONITORING_INTERVAL": "1",
    "RQ_HEARTBEAT_GRACE": "2",
    "RQ_MAINTENANCE_INTERVAL": "1",
    "RQ_WORKER_TTL": "16",  # an idle worker looks at its maintenance every second
    "CRM_SYNC_DELAY_SECONDS": "0",
}


class Workers:
    """`manage.py rqworker` processes started by this test (and only those are killed)."""

    def __init__(self) -> None:
        self.processes: list[subprocess.Popen[str]] = []

    def start(self, *extra: str) -> subprocess.Popen[str]:
        env = {**subprocess_env(), **FAST}
        process = subprocess.Popen(
            [
                sys.executable,
                str(settings.BASE_DIR / "manage.py"),
                "rqworker",
                "high",
                "default",
                "low",
                *extra,
            ],
            env=env,
            cwd=settings.BASE_DIR,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.processes.append(process)
        return process

    def kill_9(self, process: subprocess.Popen[str]) -> None:
        """SIGKILL the worker and every process it started (the work horse runs in its own
        process group, so killing the group would miss it): a machine losing the worker."""
        pids = [*descendants(process.pid), process.pid]
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        process.wait(timeout=10)

    def stop_all(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                self.kill_9(process)


def descendants(pid: int) -> list[int]:
    found: list[int] = []
    children = Path(f"/proc/{pid}/task/{pid}/children")
    if children.exists():
        for child in children.read_text().split():
            found.extend([*descendants(int(child)), int(child)])
    return found


def horse_running(worker: subprocess.Popen[str]) -> bool:
    return bool(descendants(worker.pid))


@pytest.fixture
def workers(monkeypatch: pytest.MonkeyPatch) -> Iterator[Workers]:
    # Retries of abandoned jobs two seconds apart instead of one minute.
    monkeypatch.setattr(SAFE_RETRY, "intervals", [2, 2, 2])
    started = Workers()
    yield started
    started.stop_all()


def wait_for(condition: Callable[[], Any], what: str, timeout: float = 60) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


@pytest.fixture
def crm_stub() -> Iterator[HTTPServer]:
    """A HubSpot stub serving requests in threads: the call the dead worker left hanging must
    not hold up the retry's."""
    server = HTTPServer(threaded=True)
    server.start()
    yield server
    server.clear()
    if server.is_running():
        server.stop()


def echo_upsert(received: list[list[str]], *, first_call_delay: float = 0.0) -> Any:
    """HubSpot's batch upsert answer; the first call can hang (the worker dies meanwhile)."""
    calls = {"n": 0}
    lock = threading.Lock()

    def handler(request: Request) -> Response:
        inputs = json.loads(request.data)["inputs"]
        with lock:
            calls["n"] += 1
            first = calls["n"] == 1
            received.append([item["objectWriteTraceId"] for item in inputs])
        if first and first_call_delay:
            time.sleep(first_call_delay)
        results = [
            {
                "id": f"hs-{item['objectWriteTraceId'][:8]}",
                "properties": {},
                "new": True,
                "objectWriteTraceId": item["objectWriteTraceId"],
            }
            for item in inputs
        ]
        body = {"status": "COMPLETE", "results": results}
        return Response(json.dumps(body), status=200, content_type="application/json")

    return handler


def test_a_crm_sync_killed_mid_request_records_the_error_and_is_retried_once(
    org_a, crm_stub: HTTPServer, workers: Workers, settings: Any
):
    httpserver = crm_stub
    settings.CRM_SYNC_DELAY_SECONDS = 0
    CRMConnectionFactory(
        organization=org_a.org, provider="hubspot", api_base_url=httpserver.url_for("")
    )
    HubSpotPropertiesStub(httpserver, CRM_TOKEN)  # the mapped custom properties get created
    received: list[list[str]] = []
    httpserver.expect_request(UPSERT, method="POST").respond_with_handler(
        echo_upsert(received, first_call_delay=30)
    )
    with transaction.atomic():
        lead = lead_create(
            organization=org_a.org,
            actor=None,
            data={"nome_completo": "Maria", "email": "maria@cliente.com.br"},
        )
    # The first worker has no scheduler: its death leaves no scheduler lock behind.
    first = workers.start("--without-scheduler")
    wait_for(lambda: received, "the CRM call")
    workers.kill_9(first)

    died_at = time.monotonic()
    workers.start()
    # The abandoned job is noticed, its failure is recorded on the lead...
    lead_row = Lead.objects.filter(pk=lead.pk)
    wait_for(lambda: lead_row.exclude(crm_sync_error="").exists(), "crm_sync_error")
    detected = time.monotonic() - died_at
    assert "AbandonedJobError" in lead_row.get().crm_sync_error
    # ...and the retry syncs it.
    wait_for(lambda: lead_row.filter(crm_synced_at__isnull=False).exists(), "the retry")
    lead.refresh_from_db()
    assert lead.crm_sync_error == ""
    assert lead.crm_id == f"hs-{str(lead.pk)[:8]}"
    assert received == [[str(lead.pk)], [str(lead.pk)]]  # the killed call and the retry
    time.sleep(3)  # another retry would have run by now
    assert len(received) == 2
    assert crm.SYNC.pending(org_a.org.pk) == set()
    print(f"abandoned CRM job detected {detected:.1f}s after the kill")


CSV_HEADER = "nome_completo,email,telefone,empresa,origem\n"


def test_an_import_killed_mid_way_finishes_once_with_one_bulk_crm_sync(
    org_a, httpserver: HTTPServer, workers: Workers, client_for
):
    CRMConnectionFactory(
        organization=org_a.org, provider="hubspot", api_base_url=httpserver.url_for("")
    )
    HubSpotPropertiesStub(httpserver, CRM_TOKEN)  # the mapped custom properties get created
    received: list[list[str]] = []
    httpserver.expect_request(UPSERT, method="POST").respond_with_handler(echo_upsert(received))
    rows = 1000
    content = CSV_HEADER + "".join(
        f"Lead {n},lead{n}@cliente.com.br,,Empresa {n},site\n" for n in range(rows)
    )
    upload = client_for(org_a.admin).post(
        "/api/v1/leads/import/", {"file": _file("leads.csv", content)}, format="multipart"
    )
    assert upload.status_code in (201, 202), upload.content
    lead_import = LeadImport.objects.get()

    first = workers.start("--without-scheduler")
    imported = LeadImport.objects.filter(pk=lead_import.pk)
    # Kill it once a batch committed and its follow-on work reached Redis (its outbox rows
    # are gone), while the import is not finished.
    wait_for(
        lambda: (
            (
                imported.filter(processed_rows__gt=0, finished_at__isnull=True).exists()
                and crm.SYNC.pending(org_a.org.pk)
                and not OutboxEntry.objects.exists()
            )
            or imported.filter(finished_at__isnull=False).exists()
        ),
        "the first committed batch",
    )
    workers.kill_9(first)
    progress = imported.get()
    assert progress.finished_at is None, "the import finished before the kill: make it longer"
    # The import's follow-on work of committed batches waits in the pending sets, no job yet.
    assert crm.SYNC.pending(org_a.org.pk)
    assert not crm_jobs()

    died_at = time.monotonic()
    workers.start()
    wait_for(lambda: imported.filter(status="done").exists(), "the retried import", timeout=120)
    finished = time.monotonic() - died_at
    assert Lead.objects.for_org(org_a.org).count() == rows  # no row imported twice
    done = imported.get()
    assert done.created_count == rows

    wait_for(
        lambda: Lead.objects.for_org(org_a.org).filter(crm_synced_at__isnull=True).count() == 0,
        "the CRM sync",
    )
    assert outbox_drain() == 0  # nothing was left behind
    assert len(crm_jobs()) == 1  # one bulk sync for the whole file
    synced = [lead_id for call in received for lead_id in call]
    assert len(synced) == rows
    assert len(set(synced)) == rows
    assert all(len(call) <= crm.SWEEP_BATCH for call in received)
    print(f"killed at row {progress.processed_rows}; import finished {finished:.1f}s later")


def crm_jobs() -> list[Any]:
    """CRM sync jobs waiting, running or finished on the default queue."""
    queue = django_rq.get_queue("default")
    ids = [
        *queue.job_ids,
        *queue.started_job_registry.get_job_ids(),
        *queue.finished_job_registry.get_job_ids(),
    ]
    jobs = [queue.fetch_job(job_id) for job_id in ids]
    return [job for job in jobs if job and job.func_name == "integrations.jobs.crm_sync_pending"]


def _file(name: str, content: str) -> Any:
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile(name, content.encode(), content_type="text/csv")


def test_a_dead_workers_scheduler_lock_is_taken_over_and_delayed_jobs_run(org_a, workers):
    """A worker that died holding RQ's scheduler lock: the lock expires (RQ: 61 s after its
    last heartbeat; 2 s left here) and a live worker's maintenance starts its own scheduler,
    so delayed jobs and retries move again (with RQ's defaults: up to ~10 minutes later)."""
    from datetime import timedelta

    from django.utils import timezone
    from rq.scheduler import RQScheduler

    from config.jobs import enqueue

    redis = django_rq.get_connection("default")
    for name in ("high", "default", "low"):
        redis.set(RQScheduler.get_locking_key(name), "dead-worker", ex=2)
    enqueue(
        "tests.jobs_support.rename_organization",
        organization_id=str(org_a.org.pk),
        nome="Depois",
        at=timezone.now() + timedelta(seconds=1),
    )
    lock_expires = time.monotonic() + 2
    workers.start()
    org = type(org_a.org).objects.filter(pk=org_a.org.pk)
    wait_for(lambda: org.filter(nome="Depois").exists(), "the delayed job")
    print(f"delayed job ran {time.monotonic() - lock_expires:.1f}s after the dead lock expired")


def test_an_outbound_webhook_killed_mid_request_records_the_error_and_is_delivered(
    org_a, crm_stub: HTTPServer, workers: Workers
):
    """A worker dies while an outbound webhook's receiver is answering: the delivery row says
    so, the job is retried at once (not after the attempt's lease and the next sweep), and the
    event arrives again with the same `webhook-id` (at least once, as documented)."""
    from integrations.outbound.models import DeliveryStatus, WebhookDelivery
    from integrations.outbound.services import webhook_endpoint_create

    receiver = crm_stub
    received: list[str] = []
    lock = threading.Lock()

    def handler(request: Request) -> Response:
        with lock:
            received.append(request.headers["webhook-id"])
            first = len(received) == 1
        if first:
            time.sleep(30)  # the worker is killed meanwhile
        return Response("", status=204)

    receiver.expect_request("/hook", method="POST").respond_with_handler(handler)
    webhook_endpoint_create(
        organization=org_a.org,
        data={"url": receiver.url_for("/hook"), "eventos": ["lead.created"]},
    )
    with transaction.atomic():
        lead_create(organization=org_a.org, actor=None, data={"nome_completo": "Maria"})
    delivery = WebhookDelivery.objects.filter(organization=org_a.org)
    assert delivery.count() == 1

    first = workers.start("--without-scheduler")
    wait_for(lambda: received, "the first attempt")
    workers.kill_9(first)
    workers.start()

    wait_for(lambda: delivery.filter(ultimo_erro__contains="AbandonedJobError").exists(), "error")
    wait_for(lambda: delivery.filter(status=DeliveryStatus.ENTREGUE).exists(), "the retry")
    done = delivery.get()
    assert done.ultimo_erro == ""
    assert done.tentativas == 2
    assert len(received) == 2
    assert len(set(received)) == 1  # the same webhook-id: the receiver deduplicates
    time.sleep(3)  # another retry would have run by now
    assert len(received) == 2


def test_a_followup_dispatch_killed_mid_whatsapp_send_never_sends_twice_and_says_so(
    org_a, crm_stub: HTTPServer, workers: Workers
):
    """The dispatcher's worker dies while Meta is answering a WhatsApp step: the step's record
    says `sending`, the execution stays leased to the dead dispatcher (followup.engine.LEASE);
    the next dispatch after the lease takes the execution over, does not send again (the
    outcome is unknown: WhatsApp's idempotency key refuses a second send) and records why on
    the execution (failed, with the reason in its log)."""
    from datetime import timedelta

    from django.utils import timezone
    from freezegun import freeze_time

    from config.jobs import enqueue
    from followup.engine import LEASE, dispatch_due
    from followup.models import ExecutionStatus, FollowupExecutionLog, FollowupStepRun
    from tests.factories import LeadFactory
    from tests.followup.factories import WHATSAPP_STEP, make_execution, make_sequence
    from tests.integrations.factories import WhatsAppAccountFactory, WhatsAppMessageFactory

    meta = crm_stub
    pnid = "106540352242922"
    calls: list[dict[str, Any]] = []

    def handler(request: Request) -> Response:
        calls.append(json.loads(request.data))
        time.sleep(30)  # the worker is killed meanwhile
        body = {"messaging_product": "whatsapp", "messages": [{"id": "wamid.killed"}]}
        return Response(json.dumps(body), status=200, content_type="application/json")

    meta.expect_request(f"/v25.0/{pnid}/messages", method="POST").respond_with_handler(handler)
    WhatsAppAccountFactory(
        organization=org_a.org, phone_number_id=pnid, api_base_url=meta.url_for("/v25.0")
    )
    lead = LeadFactory(organization=org_a.org, telefone="+5511987654321", closer=org_a.closer)
    WhatsAppMessageFactory(  # the lead wrote two hours ago: the 24-hour window is open
        organization=org_a.org,
        lead=lead,
        from_phone="5511987654321",
        phone_key="551187654321",
        received_at=timezone.now() - timedelta(hours=2),
    )
    execution = make_execution(make_sequence(org_a.org, steps=[WHATSAPP_STEP]), lead)

    enqueue("followup.jobs.dispatch_followups", queue="high")
    first = workers.start("--without-scheduler")
    wait_for(lambda: calls, "the WhatsApp call")
    workers.kill_9(first)
    assert FollowupStepRun.objects.get(execution=execution).state == "sending"
    execution.refresh_from_db()
    assert execution.status == ExecutionStatus.ACTIVE
    assert execution.claimed_until is not None

    # The next periodic dispatch before the lease expires leaves it alone...
    assert dispatch_due().claimed == 0
    # ...and after it, takes it over without sending again and records the outcome.
    with freeze_time(timezone.now() + LEASE + timedelta(minutes=1)):
        dispatch_due()
    assert len(calls) == 1
    execution.refresh_from_db()
    assert execution.status == ExecutionStatus.FAILED
    logged = FollowupExecutionLog.objects.filter(execution=execution).values_list(
        "message", "error"
    )
    text = " ".join(" ".join(row) for row in logged)
    assert "Resultado do envio anterior desconhecido" in text, text
