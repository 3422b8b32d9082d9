"""Job wiring (config/jobs.py): enqueue on commit, periodic jobs through a real scheduler tick
and a real worker process, idempotent registration, failed jobs, retries and job logs.

These tests also prove that the pinned rq 3.0.0, rq-scheduler 0.14.0 and django-rq 4.2.0 work
together: the scheduler moves a periodic job to its queue, a `manage.py rqworker` process runs
it against the test database, and the schedule survives the run.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import django_rq
import pytest
from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone
from django_rq.settings import get_queues_list
from redis.connection import ConnectionPool
from rq import SimpleWorker
from rq.job import Job, JobStatus
from rq.registry import FailedJobRegistry

from config.jobs import (
    PERIODIC_MARK,
    SAFE_RETRY,
    PeriodicJob,
    discover_periodic_jobs,
    enqueue,
    queue_connection,
    register_periodic_jobs,
)
from config.models import OutboxEntry
from config.redis_urls import redis_url_with_db
from organizations.models import Notification
from tests.factories import (
    InteractionFactory,
    LeadFactory,
    MembershipFactory,
    OrganizationFactory,
    QualificationFactory,
    TaskFactory,
    UserFactory,
)

RENAME = "tests.jobs_support.rename_organization"
FAILS = "tests.jobs_support.always_fails"


def queue(name: str = "default") -> Any:
    return django_rq.get_queue(name)


def scheduler() -> Any:
    return django_rq.get_scheduler("default")


def work_in_process() -> None:
    SimpleWorker(
        [queue(name) for name in ("high", "default", "low")],
        connection=django_rq.get_connection("default"),
    ).work(burst=True)


def subprocess_env() -> dict[str, str]:
    """The environment of a child `manage.py`: the test database and this test's Redis."""
    db = connection.settings_dict
    auth = db["USER"] + (f":{db['PASSWORD']}" if db.get("PASSWORD") else "")
    env = {key: value for key, value in os.environ.items() if key != "PYTEST_XDIST_WORKER"}
    env["DATABASE_URL"] = f"postgres://{auth}@{db['HOST']}:{db['PORT']}/{db['NAME']}"
    # Already moved to this xdist process's Redis database; the child must not move it again.
    env["REDIS_URL"] = settings.REDIS_URL
    return env


def manage(*args: str, timeout: int = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(settings.BASE_DIR / "manage.py"), *args],
        env=subprocess_env(),
        cwd=settings.BASE_DIR,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


# --- (a) enqueue on commit ------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_it_enqueues_nothing_when_the_transaction_rolls_back():
    later = timezone.now() + timedelta(hours=1)
    with pytest.raises(RuntimeError), transaction.atomic():  # noqa: PT012 - raising rolls back
        enqueue(RENAME, organization_id="x", nome="a")
        enqueue(RENAME, organization_id="x", nome="b", at=later)
        raise RuntimeError("rollback")
    assert queue().count == 0
    assert queue().scheduled_job_registry.count == 0


@pytest.mark.django_db(transaction=True)
def test_it_enqueues_once_when_the_transaction_commits():
    with transaction.atomic():
        enqueue(RENAME, organization_id="x", nome="a", queue="high")
        assert queue("high").count == 0  # nothing before the commit
    assert queue("high").count == 1
    assert [job.kwargs for job in queue("high").get_jobs()] == [
        {"organization_id": "x", "nome": "a"}
    ]


@pytest.mark.django_db(transaction=True)
def test_it_drops_the_jobs_of_a_rolled_back_savepoint():
    with transaction.atomic():
        enqueue(RENAME, organization_id="x", nome="kept")
        with pytest.raises(RuntimeError), transaction.atomic():  # noqa: PT012 - raising rolls back
            enqueue(RENAME, organization_id="x", nome="dropped")
            raise RuntimeError("inner rollback")
    assert [job.kwargs["nome"] for job in queue().get_jobs()] == ["kept"]


@pytest.mark.django_db(transaction=True)
def test_it_enqueues_at_once_outside_a_transaction_and_delays_with_at():
    enqueue(RENAME, organization_id="x", nome="now", queue="low")
    assert queue("low").count == 1
    with transaction.atomic():
        enqueue(RENAME, organization_id="x", nome="later", at=timezone.now() + timedelta(hours=1))
    assert queue().count == 0
    assert queue().scheduled_job_registry.count == 1


def test_it_refuses_an_unknown_queue():
    with pytest.raises(ValueError, match="unknown queue"):
        enqueue(RENAME, queue="urgent")


# --- (b) a real scheduler tick and a real worker process ---------------------------------------


def next_utc(hour: int) -> datetime:
    now = datetime.now(UTC).replace(tzinfo=None)
    candidate = now.replace(hour=hour, minute=0, second=0, microsecond=0)
    return candidate if candidate > now else candidate + timedelta(days=1)


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_it_runs_periodic_jobs_through_a_scheduler_tick_and_a_worker_process():
    org = OrganizationFactory()
    lead = LeadFactory(organization=org, valor_potencial=Decimal("15000"))
    QualificationFactory(lead=lead, organization=org, qualification_score=100)
    InteractionFactory(
        lead=lead, resultado="agendamento", data_interacao=timezone.now() - timedelta(days=1)
    )
    member = MembershipFactory(organization=org)
    task = TaskFactory(responsavel=member, vencimento=timezone.now() - timedelta(minutes=5))

    sched = scheduler()
    # The leads app's real periodic jobs (other apps' jobs would run in the worker too).
    register_periodic_jobs(
        sched, [job for job in discover_periodic_jobs() if job.rq_id.startswith("leads-")]
    )
    decay = Job.fetch("leads-score-decay", connection=sched.connection)
    # The daily decay is registered for the next 06:00 UTC; make it due now.
    scheduled = {job.id: at for job, at in sched.get_jobs(with_times=True)}
    assert scheduled["leads-score-decay"] == next_utc(6)
    sched.change_execution_time(decay, datetime.now(UTC) - timedelta(seconds=1))

    sched.enqueue_jobs()  # the scheduler's tick, as `manage.py rqscheduler` runs it

    assert "leads-score-decay" in queue("low").job_ids
    assert "leads-task-due" in queue("default").job_ids
    rescheduled = {job.id: at for job, at in sched.get_jobs(with_times=True)}
    assert rescheduled["leads-score-decay"] == next_utc(6)

    result = manage("rqworker", "high", "default", "low", "--burst")
    assert result.returncode == 0, result.stderr[-3000:]

    lead.refresh_from_db()
    # 0.6 x 100 + 5 + 10 (agendamento) + 10 (ticket) = 85, contacted yesterday.
    assert (lead.lead_score, lead.temperatura) == (85, "quente")
    assert Notification.objects.filter(recipient=member, chave__endswith=task.pk.hex).count() == 1
    assert not FailedJobRegistry(queue=queue("low")).get_job_ids()
    # The schedule survives the run: the job hash is kept (no TTL) and still scheduled, so
    # rq-scheduler will not drop it as a job whose hash vanished.
    assert sched.connection.ttl(decay.key) == -1
    assert "leads-score-decay" in sched


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_it_runs_the_scheduler_command_and_a_worker_process():
    member = MembershipFactory()
    task = TaskFactory(responsavel=member, vencimento=timezone.now() - timedelta(minutes=1))
    process = subprocess.Popen(
        [sys.executable, str(settings.BASE_DIR / "manage.py"), "rqscheduler", "--interval", "1"],
        env=subprocess_env(),
        cwd=settings.BASE_DIR,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while "leads-task-due" not in queue().job_ids:
            assert process.poll() is None, process.communicate()
            assert time.monotonic() < deadline, "the scheduler never enqueued the periodic job"
            time.sleep(0.2)
    finally:
        process.terminate()
        out, _err = process.communicate(timeout=30)
    registered = out.split("Registered periodic jobs: ", 1)[1].splitlines()[0].split(", ")
    assert {"leads-score-decay", "leads-task-due"} <= set(registered)

    result = manage("rqworker", "high", "default", "low", "--burst")
    assert result.returncode == 0, result.stderr[-3000:]
    notification = Notification.objects.get(recipient=member)
    assert notification.tipo == "task_due"
    assert notification.payload["task_id"] == str(task.pk)


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_it_runs_an_enqueued_job_in_a_worker_process():
    org = OrganizationFactory(nome="Antes")
    with transaction.atomic():
        enqueue(RENAME, organization_id=str(org.pk), nome="Depois", queue="high")
    result = manage("rqworker", "high", "default", "low", "--burst")
    assert result.returncode == 0, result.stderr[-3000:]
    org.refresh_from_db()
    assert org.nome == "Depois"
    assert queue("high").count == 0


@pytest.mark.slow
def test_a_work_horse_inherits_the_outbound_tls_context_from_its_worker():
    """The forking worker builds the TLS context once (settings.RQ_WORKER_WARM_UP); a job in
    its forked work horse finds it built instead of loading the CA bundle again."""
    job = queue("default").enqueue("tests.jobs_support.tls_context_was_inherited")
    result = manage("rqworker", "default", "--burst")
    assert result.returncode == 0, result.stderr[-3000:]
    job.refresh()
    assert job.get_status() == JobStatus.FINISHED
    assert job.return_value() is True


def test_a_worker_object_that_runs_no_job_builds_nothing():
    """RQ makes Worker objects to list the running workers (django-rq's queue pages): the
    warm-up waits for the worker to start working."""
    from config.worker import Worker
    from integrations import net

    net.tls_context.cache_clear()
    Worker([queue("default")], connection=queue("default").connection)
    assert net.tls_context.cache_info().currsize == 0


# --- (c) registration is idempotent ---------------------------------------------------------------


def scheduled_ids() -> list[str]:
    return sorted(job.id for job in scheduler().get_jobs())


def test_it_registers_each_periodic_job_once_however_often_it_runs():
    declared = sorted(job.rq_id for job in discover_periodic_jobs())
    assert {"leads-score-decay", "leads-task-due"} <= set(declared)
    register_periodic_jobs(scheduler())
    register_periodic_jobs(scheduler())
    assert scheduled_ids() == declared
    assert scheduler().count() == len(declared)


@pytest.mark.slow
def test_it_registers_once_when_the_command_runs_twice():
    for _ in range(2):
        result = manage("rqscheduler", "--register-only")
        assert result.returncode == 0, result.stderr[-3000:]
        assert "Registered periodic jobs" in result.stdout
    assert scheduled_ids() == sorted(job.rq_id for job in discover_periodic_jobs())


def test_it_cancels_periodic_jobs_no_longer_declared_and_keeps_other_scheduled_jobs():
    sched = scheduler()
    register_periodic_jobs(sched, [PeriodicJob(id="old-job", func=RENAME, interval=60)])
    other = sched.enqueue_in(timedelta(hours=1), RENAME, organization_id="x", nome="y")
    register_periodic_jobs(sched, [PeriodicJob(id="new-job", func=RENAME, cron="*/5 * * * *")])
    assert sorted(job.id for job in sched.get_jobs()) == sorted(["new-job", other.id])
    new = Job.fetch("new-job", connection=sched.connection)
    assert new.meta[PERIODIC_MARK] is True
    assert new.meta["cron_string"] == "*/5 * * * *"
    assert new.result_ttl == -1
    assert new.timeout == settings.RQ_QUEUES["default"]["DEFAULT_TIMEOUT"]


def test_it_registers_a_dotted_name_under_an_id_rq_accepts():
    # rq 3 refuses job ids outside [A-Za-z0-9_-]; "app.sweep" used to make registration raise.
    job = PeriodicJob(id="integrations.crm_sync_sweep", func=RENAME, interval=60)
    assert job.rq_id == "integrations-crm_sync_sweep"
    assert register_periodic_jobs(scheduler(), [job]) == ["integrations-crm_sync_sweep"]
    assert scheduled_ids() == ["integrations-crm_sync_sweep"]
    same = [PeriodicJob(id=name, func=RENAME, interval=60) for name in ("a.b", "a-b")]
    with pytest.raises(ValueError, match="duplicate periodic job ids"):
        register_periodic_jobs(scheduler(), same)


@pytest.mark.parametrize(
    "fields",
    [
        {"interval": 60, "cron": "* * * * *"},
        {},
        {"interval": 0},
        {"interval": 60, "queue": "urgent"},
        {"cron": "every day"},
    ],
)
def test_it_refuses_a_malformed_periodic_job(fields):
    with pytest.raises(ValueError):  # noqa: PT011 - the validators raise it with several messages
        PeriodicJob(id="bad", func=RENAME, **fields)


def test_it_refuses_to_register_a_job_that_does_not_import():
    with pytest.raises(ImportError):
        register_periodic_jobs(
            scheduler(), [PeriodicJob(id="typo", func="leads.jobs.no_such_job", interval=60)]
        )
    assert scheduled_ids() == []


# --- (d) failures are visible and safe jobs are retried ----------------------------------------


def queue_index(name: str) -> int:
    return [config["name"] for config in get_queues_list()].index(name)


@pytest.mark.django_db
def test_it_keeps_failed_jobs_visible_in_the_admin(client, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        enqueue(FAILS, organization_id="org-1")
    (job,) = queue().get_jobs()
    work_in_process()

    assert FailedJobRegistry(queue=queue()).get_job_ids() == [job.id]
    assert Job.fetch(job.id, connection=queue().connection).get_status() == JobStatus.FAILED

    index = queue_index("default")
    staff = UserFactory(is_staff=True, is_superuser=True)
    client.force_login(staff)
    listing = client.get(f"/admin/rq/queues/{index}/failed/")
    assert listing.status_code == 200
    assert job.id in listing.content.decode()
    detail = client.get(f"/admin/rq/queues/{index}/{job.id}/")
    assert detail.status_code == 200
    # rq 3 keeps the traceback in the job's results, one page each.
    result = Job.fetch(job.id, connection=queue().connection).latest_result()
    assert result is not None
    assert result.id in detail.content.decode()
    traceback = client.get(f"/admin/rq/queues/{index}/{job.id}/results/{result.id}/")
    assert traceback.status_code == 200
    assert "falhou de propósito" in traceback.content.decode()

    # Jobs carry every organization's data: staff who are not superusers are refused too.
    for user in (UserFactory(is_staff=False), UserFactory(is_staff=True)):
        client.force_login(user)
        refused = client.get(f"/admin/rq/queues/{index}/failed/")
        assert refused.status_code == 302
        assert "/admin/login/" in refused["Location"]


@pytest.mark.django_db
def test_it_retries_a_safe_job_later_instead_of_failing_it(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        enqueue(FAILS, organization_id="org-1", retry=SAFE_RETRY)
    (job,) = queue().get_jobs()
    assert (job.retries_left, job.retry_intervals) == (3, [60, 300, 1800])
    before = datetime.now(UTC)
    work_in_process()

    job = Job.fetch(job.id, connection=queue().connection)
    assert job.get_status() == JobStatus.SCHEDULED
    assert job.retries_left == 2
    assert FailedJobRegistry(queue=queue()).get_job_ids() == []
    registry = queue().scheduled_job_registry
    assert registry.get_job_ids() == [job.id]
    retry_at = registry.get_scheduled_time(job.id)
    assert timedelta(seconds=55) <= retry_at - before <= timedelta(seconds=70)


# --- job logs -----------------------------------------------------------------------------------


def job_records(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "jobs" and hasattr(r, "event")]


@pytest.mark.django_db
def test_it_logs_start_end_duration_and_outcome_with_the_organization(caplog):
    from tests.jobs_support import always_fails, rename_organization

    org = OrganizationFactory()
    caplog.set_level(logging.INFO, logger="jobs")
    rename_organization(organization_id=str(org.pk), nome="Novo")
    with pytest.raises(RuntimeError):
        always_fails(organization_id=str(org.pk))

    start, end, failed_start, failed_end = job_records(caplog)
    assert (vars(start)["event"], vars(start)["job"], vars(start)["organization_id"]) == (
        "job.start",
        RENAME,
        str(org.pk),
    )
    assert (vars(end)["event"], vars(end)["outcome"], vars(end)["organization_id"]) == (
        "job.end",
        "ok",
        str(org.pk),
    )
    assert vars(end)["duration_ms"] >= 0
    assert vars(failed_start)["event"] == "job.start"
    assert (vars(failed_end)["event"], vars(failed_end)["outcome"], vars(failed_end)["error"]) == (
        "job.end",
        "error",
        "RuntimeError",
    )
    assert failed_end.levelno == logging.ERROR
    assert failed_end.exc_info is not None
    assert vars(failed_end)["organization_id"] == str(org.pk)


@pytest.mark.django_db
def test_it_logs_the_rq_job_id_inside_a_worker(caplog, django_capture_on_commit_callbacks):
    org = OrganizationFactory()
    with django_capture_on_commit_callbacks(execute=True):
        enqueue(RENAME, organization_id=str(org.pk), nome="Z")
    (job,) = queue().get_jobs()
    caplog.set_level(logging.INFO, logger="jobs")
    work_in_process()
    records = job_records(caplog)
    assert [vars(r)["event"] for r in records] == ["job.start", "job.end"]
    assert {vars(r)["job_id"] for r in records} == {job.id}
    org.refresh_from_db()
    assert org.nome == "Z"


# --- coalesced requests: the drain's safety net -------------------------------------------------


def test_the_drain_kicks_a_pending_set_whose_job_was_lost_but_not_a_held_or_running_one():
    from config.jobs import PENDING_INDEX, Coalesced, deferred_jobs, kick_pending

    probe = Coalesced(name="tests.test_jobs:kick", func=RENAME, queue="low")
    redis = django_rq.get_connection("default")

    def low_jobs() -> list[str]:
        return [job.kwargs["organization_id"] for job in queue("low").get_jobs()]

    # A live deferred block (an import) holds its key: no job until the block ends.
    with deferred_jobs():
        probe.push({"key": "held", "ids": ["a"]}, None)
        assert kick_pending() == 0
        assert low_jobs() == []
    assert low_jobs() == ["held"]
    # Ids whose job was lost (its flag expired with it): the kick enqueues one, once.
    redis.sadd(probe.pending_key("lost"), "b")
    redis.sadd(PENDING_INDEX, "tests.test_jobs:kick|lost")
    assert kick_pending() == 1
    assert kick_pending() == 0
    assert sorted(low_jobs()) == ["held", "lost"]
    # Ids a running (or dead, hence retried) job took are left to that job.
    redis.sadd(f"{probe.pending_key('running')}:processing", "c")
    redis.sadd(PENDING_INDEX, "tests.test_jobs:kick|running")
    assert kick_pending() == 0
    assert sorted(low_jobs()) == ["held", "lost"]


@pytest.mark.django_db
def test_writes_that_enqueue_jobs_reuse_the_processs_redis_connection(
    org_a, client_for, django_capture_on_commit_callbacks, monkeypatch
):
    """An interaction's create enqueues its follow-on work after commit (the outbox push and
    the coalesced jobs); those pushes reuse the process's Redis client (config.jobs
    `queue_connection`) rather than django-rq's `get_connection`, which opens a connection
    (and runs redis-py's handshake) on every call: two a write before."""
    made: list[Any] = []
    make_connection = ConnectionPool.make_connection

    def counted(pool: Any) -> Any:
        made.append(pool)
        return make_connection(pool)

    monkeypatch.setattr(ConnectionPool, "make_connection", counted)
    client = client_for(org_a.closer)
    body = {"tipo_interacao": "ligacao", "resultado": "contato_realizado", "resumo": "Retorno"}
    leads = [LeadFactory(organization=org_a.org, closer=org_a.closer) for _ in range(6)]
    pushed: list[Any] = []
    for index, lead in enumerate(leads):
        if index == 1:  # the first write may open the process's connections
            made.clear()
        with django_capture_on_commit_callbacks(execute=True) as callbacks:
            response = client.post(f"/api/v1/leads/{lead.pk}/interactions/", body, format="json")
        assert response.status_code == 201, response.json()
        pushed += callbacks
    assert len(pushed) >= len(leads)  # each write had follow-on work to push
    assert OutboxEntry.objects.count() == 0  # and every push reached Redis
    assert made == []


def test_the_kept_queue_client_follows_the_queues_connection_settings(settings):
    """One client per queue while its settings stay; a changed URL gets a new client, and the
    old one's connections are closed rather than left open to a server no longer used."""
    first = queue_connection("default")
    first.ping()
    assert queue_connection("default") is first
    settings.RQ_QUEUES = {
        name: {**config, "URL": redis_url_with_db(config["URL"], 1)}
        for name, config in settings.RQ_QUEUES.items()
    }
    second = queue_connection("default")
    assert second is not first
    assert (
        second.connection_pool.connection_kwargs["db"]
        != (first.connection_pool.connection_kwargs["db"])
    )
    assert second.ping()
    assert all(
        connection._sock is None for connection in first.connection_pool._available_connections
    )
