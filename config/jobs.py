"""Background jobs: one way to enqueue, one way to log, one registry of periodic jobs.

- `enqueue()` puts a job on an RQ queue (`high`, `default`, `low`) once the current database
  transaction commits, durably: inside a transaction it writes an outbox row (config.models.
  OutboxEntry) in that transaction and pushes it to Redis on commit; a rolled-back write
  enqueues nothing, and a commit that Redis misses (down, restarting) leaves the row for the
  outbox drain (`drain_outbox`, every minute, and on the next successful push).
- `Coalesced` is the "pending set + queued flag" pattern: many requests (a burst of writes,
  a CSV import) give one waiting job per key (organization) that drains the set. Same
  durability: the request is an outbox row until Redis has it.
- `deferred_jobs()` holds back the jobs of coalesced requests until the block exits (an
  import enqueues one CRM sync, one score recalculation and one enrollment, not one per batch).
- `@job_logged` wraps every job function: start, end, duration and outcome, with the
  organization id when the job has one (keyword argument `organization_id`).
- Each app lists its periodic jobs in `<app>/jobs.py` as `PERIODIC_JOBS`; `rqscheduler`
  (config/management/commands/rqscheduler.py) registers them idempotently at start.

Jobs must be idempotent: they load rows by id and call a service that checks state first, so
running one twice never repeats its effect (the outbox delivers at least once). docs/jobs.md
has the whole story (Redis down, worker deaths, the numbers).
"""

from __future__ import annotations

import contextlib
import functools
import importlib
import logging
import re
import time
import warnings
from collections.abc import Callable, Iterable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

import django_rq
from django.conf import settings
from django.core.signals import setting_changed
from django.db import transaction
from django.dispatch import receiver
from django.utils import timezone
from django.utils.module_loading import import_string
from prometheus_client import Counter
from rq import Callback, Retry
from rq.job import Job

logger = logging.getLogger("jobs")

# rq-scheduler computes cron times with crontab from the naive local time, and crontab warns
# that it will switch to UTC. Django sets the process time zone to TIME_ZONE (UTC), so local
# time is UTC and the switch changes nothing: silence it rather than print it at every start.
warnings.filterwarnings("ignore", message=r"Version 0\.22\.0\+ of crontab", category=FutureWarning)

QUEUES = ("high", "default", "low")
# Retries for jobs whose effect is safe to repeat (about 1, 5 and 30 minutes apart). RQ also
# uses them for a job whose worker died (abandoned): it is retried instead of failed.
SAFE_RETRY = Retry(max=3, interval=[60, 300, 1800])

ENQUEUE_FAILED = Counter(
    "jobs_enqueue_failed_total",
    "Pushes to Redis that failed after commit; the work stays in the outbox (kind: job, coalesced)",
    ["kind"],
)
OUTBOX_DELIVERED = Counter(
    "jobs_outbox_delivered_total", "Outbox rows pushed to Redis by the outbox drain", ["kind"]
)

P = ParamSpec("P")
R = TypeVar("R")

# config.models.OutboxKind values (not imported here: this module loads before the app registry).
KIND_JOB = "job"
KIND_COALESCED = "coalesced"


def enqueue(
    func: Callable[..., Any] | str,
    *args: Any,
    queue: str = "default",
    job_id: str | None = None,
    retry: Retry | None = None,
    at: datetime | None = None,
    timeout: int | None = None,
    on_failure: str | None = None,
    **kwargs: Any,
) -> None:
    """Enqueue `func(*args, **kwargs)` after the current transaction commits, durably.

    Inside a transaction: an outbox row is written now and pushed when the transaction commits
    (robust: a Redis failure then is logged and counted, never raised into the committed
    request; the outbox drain pushes the row later). Outside one (a job, a command): pushed at
    once, and a Redis failure raises. Arguments must be JSON values (they are stored).

    `job_id` names the job (letters, digits, `_` and `-` only: rq 3 refuses anything else); it
    does not deduplicate: enqueuing an id that is already waiting overwrites the job and queues
    it twice, so coalescing needs its own marker (see `Coalesced`).
    `at` delays the job (RQ's scheduled registry, moved by a worker running its scheduler).
    `on_failure` is the dotted path of an RQ failure callback `(job, connection, type, value,
    traceback)`, also called when the job's worker died (RQ's AbandonedJobError), before a
    retry: the place to record the failure on the job's rows.
    """
    if queue not in QUEUES:
        raise ValueError(f"unknown queue {queue!r}")
    payload: dict[str, Any] = {
        "args": list(args),
        "kwargs": kwargs,
        "queue": queue,
        "job_id": job_id,
        "retry": [retry.max, list(retry.intervals)] if retry is not None else None,
        "at": at.isoformat() if at is not None else None,
        "timeout": timeout,
        "on_failure": on_failure,
    }
    _submit(KIND_JOB, _func_path(func), payload)


def _func_path(func: Callable[..., Any] | str) -> str:
    if isinstance(func, str):
        return func
    return f"{func.__module__}.{func.__qualname__}"


def _submit(kind: str, name: str, payload: dict[str, Any]) -> None:
    """Push now (autocommit) or write an outbox row and push it on commit."""
    from config.context import current_request_id
    from config.models import OutboxEntry

    request_id = current_request_id()
    if not transaction.get_connection().in_atomic_block:
        _push(kind, name, payload, request_id)
        return
    batch = _batch.get()
    if batch is not None and kind == KIND_COALESCED:
        batch.add(name, payload)
        return
    entry = OutboxEntry.objects.create(
        kind=kind, name=name, payload=payload, request_id=request_id or ""
    )
    # robust: the write has committed; a Redis failure must not turn it into a 500.
    transaction.on_commit(
        functools.partial(_deliver, entry.pk, kind, name, payload, request_id), robust=True
    )


# Queue name -> its Redis client, for the life of the process (`queue_connection`).
_CLIENTS: dict[str, Any] = {}


def queue_connection(name: str = "default") -> Any:
    """The Redis client of queue `name`, kept for the life of the process.

    django-rq's `get_connection` builds a new client, with a connection pool of its own, on
    every call (`Redis.from_url`): each call opened a TCP connection and ran redis-py's
    handshake, which reads the library's version from its installed metadata, ~1.5 ms of CPU
    a connection, and a write that enqueues a job did it twice (bench/README.md, "A write's
    Redis connections"). The client's pool hands each thread a connection of its own and
    starts afresh in a forked process (a work horse). A change of `RQ_QUEUES` (a test
    pointing the queues at another server) drops the kept clients (`_forget_queue_clients`).
    """
    client = _CLIENTS.get(name)
    if client is None:
        client = _CLIENTS[name] = django_rq.get_connection(name)
    return client


@receiver(setting_changed)
def _forget_queue_clients(*, setting: str, **kwargs: Any) -> None:
    """Django's signal for a changed setting (`override_settings`, pytest-django's `settings`),
    as its own cache handler resets on `CACHES`: the kept clients' connections are closed, not
    left open to a server no longer used, and the next push makes a client of the new ones."""
    if setting == "RQ_QUEUES":
        for client in _CLIENTS.values():
            client.connection_pool.disconnect()
        _CLIENTS.clear()


_backlog = False  # this process failed a push since its last successful one


def _deliver(
    entry_id: int, kind: str, name: str, payload: dict[str, Any], request_id: str | None
) -> None:
    """After commit: push one outbox row to Redis and delete it; keep it when Redis fails."""
    global _backlog
    from config.models import OutboxEntry

    try:
        _push(kind, name, payload, request_id)
    except Exception as exc:
        _backlog = True
        ENQUEUE_FAILED.labels(kind=kind).inc()
        logger.warning(
            "enqueue failed after commit; kept in the outbox",
            extra={
                "event": "jobs.outbox.kept",
                "outbox_id": entry_id,
                "job": name,
                "error": f"{type(exc).__name__}: {exc}"[:500],
            },
        )
        return
    OutboxEntry.objects.filter(pk=entry_id).delete()
    if _backlog:
        # Redis is back: drain what earlier failures left behind now, not at the next tick.
        _backlog = False
        with contextlib.suppress(Exception):
            request_outbox_drain()


def _push(kind: str, name: str, payload: dict[str, Any], request_id: str | None) -> None:
    if kind == KIND_COALESCED:
        _coalesced(name).push(payload, request_id)
    else:
        _push_job(name, payload, request_id)


def _push_job(func: str, payload: dict[str, Any], request_id: str | None) -> None:
    # commit_mode="auto": we are past the commit already (or in autocommit); django-rq must not
    # defer again to an on_commit of its own, which is not robust.
    queue = payload["queue"]
    rq_queue = django_rq.get_queue(queue, commit_mode="auto", connection=queue_connection(queue))
    options: dict[str, Any] = {"meta": {"request_id": request_id} if request_id else {}}
    if payload.get("job_id"):
        options["job_id"] = payload["job_id"]
    if payload.get("retry"):
        max_retries, intervals = payload["retry"]
        options["retry"] = Retry(max=max_retries, interval=intervals)
    if payload.get("timeout") is not None:
        options["job_timeout"] = payload["timeout"]
    if payload.get("on_failure"):
        options["on_failure"] = Callback(payload["on_failure"])
    args, kwargs = payload.get("args", []), payload.get("kwargs", {})
    if payload.get("at"):
        at = datetime.fromisoformat(payload["at"])
        rq_queue.enqueue_at(at, func, *args, **kwargs, **options)
    else:
        rq_queue.enqueue_call(
            func,
            args=args,
            kwargs=kwargs,
            timeout=options.pop("job_timeout", None),
            **options,
        )


def job_meta() -> dict[str, Any]:
    """Context carried from the enqueuing request into the job (request id for the logs)."""
    from config.context import current_request_id

    request_id = current_request_id()
    return {"request_id": request_id} if request_id else {}


# --- coalesced requests ------------------------------------------------------------------------

_COALESCED: dict[str, Coalesced] = {}
# Every "<name>|<key>" that received ids, so the outbox drain can find a pending set whose job
# was lost (a deferred block that never exited, a flag that expired with its job).
PENDING_INDEX = "jobs:pending-index"
ADD_CHUNK = 2000
HELD_TTL = 300  # refreshed by every batch a deferred block pushes


def _coalesced(name: str) -> Coalesced:
    if name not in _COALESCED:
        # Defined at import of the module that owns it; a worker may not have imported it yet.
        module, _sep, _rest = name.rpartition(":")
        importlib.import_module(module)
    return _COALESCED[name]


@dataclass(frozen=True)
class Coalesced:
    """Ids to process in one waiting job per key: `request()` adds ids, the job `drain()`s.

    `name` is "<module>:<label>" (the module defines this object, so a worker can find it).
    `func` is the job, called with `organization_id=<key>`. `delay` (seconds, or a callable)
    postpones the job so that a burst of writes lands in one run.

    Redis keys: `<prefix>` (pending ids), `<prefix>:queued` (a job is waiting; cleared when it
    starts, so a request during the run enqueues the next one) and `<prefix>:processing` (ids
    a running job took; removed per chunk only once processed, so a killed job's retry, or the
    next job, processes them).
    """

    name: str
    func: str
    queue: str = "default"
    delay: float | Callable[[], float] = 0.0
    retry: Retry | None = field(default=SAFE_RETRY, compare=False)
    flag_ttl: int = 600  # bounds the harm of a lost job: after it, the next request enqueues
    on_failure: str | None = None  # see enqueue()

    def __post_init__(self) -> None:
        if self.queue not in QUEUES:
            raise ValueError(f"coalesced {self.name}: unknown queue {self.queue!r}")
        if ":" not in self.name:
            raise ValueError(f"coalesced {self.name}: name must be '<module>:<label>'")
        _COALESCED[self.name] = self

    # -- keys ------------------------------------------------------------------------------

    def pending_key(self, key: Any) -> str:
        return f"jobs:{self.name}:{key}"

    def _redis(self) -> Any:
        return queue_connection(self.queue)

    # -- requesting ------------------------------------------------------------------------

    def request(self, *, key: Any, ids: Iterable[Any]) -> None:
        """Process `ids` under `key` in a job, after the current transaction commits."""
        members = sorted({str(i) for i in ids})
        if members:
            _submit(KIND_COALESCED, self.name, {"key": str(key), "ids": members})

    def push(self, payload: dict[str, Any], request_id: str | None) -> None:
        """Add the ids to the pending set and make sure one job is waiting (or deferred)."""
        key, ids = payload["key"], payload["ids"]
        redis = self._redis()
        pending = self.pending_key(key)
        deferred = _deferred.get()
        with redis.pipeline(transaction=False) as pipe:
            for start in range(0, len(ids), ADD_CHUNK):
                pipe.sadd(pending, *ids[start : start + ADD_CHUNK])
            pipe.sadd(PENDING_INDEX, f"{self.name}|{key}")
            if deferred is not None:
                # Tells kick_pending that a live deferred block will enqueue the job; expires
                # if the block's process dies, and the kick takes over.
                pipe.set(f"{pending}:held", "1", ex=HELD_TTL)
            pipe.execute()
        if deferred is not None:
            deferred.add((self.name, key))
            return
        self.ensure_job(key, request_id=request_id)

    def ensure_job(self, key: Any, *, request_id: str | None = None) -> bool:
        """Enqueue the job unless one is waiting; True when this call enqueued it."""
        redis = self._redis()
        flag = f"{self.pending_key(key)}:queued"
        if not redis.set(flag, "1", nx=True, ex=self.flag_ttl):
            return False
        delay = self.delay() if callable(self.delay) else self.delay
        payload: dict[str, Any] = {
            "kwargs": {"organization_id": str(key)},
            "queue": self.queue,
            "retry": [self.retry.max, list(self.retry.intervals)] if self.retry else None,
            "at": (timezone.now() + timedelta(seconds=delay)).isoformat() if delay > 0 else None,
            "on_failure": self.on_failure,
        }
        try:
            _push_job(self.func, payload, request_id)
        except Exception:
            with contextlib.suppress(Exception):
                redis.delete(flag)  # no job is waiting after all
            raise
        return True

    # -- the job's side --------------------------------------------------------------------

    def drain(self, key: Any, chunk: int) -> Iterator[list[str]]:
        """Yield the pending ids in chunks of at most `chunk`, for the job to process.

        The queued flag is cleared first: a request committed from now on enqueues another
        job, so nothing requested during the run is lost. Ids move to the processing set,
        and a chunk leaves it only when the loop asks for the next one: if processing raises
        or the worker dies, they stay for the retry (or the next job).
        """
        redis = self._redis()
        pending = self.pending_key(key)
        processing = f"{pending}:processing"
        with redis.pipeline(transaction=True) as pipe:
            pipe.delete(f"{pending}:queued")
            pipe.sunionstore(processing, [processing, pending])
            pipe.delete(pending)
            pipe.execute()
        while True:
            members = redis.srandmember(processing, chunk)
            if not members:
                return
            ids = sorted(m.decode() if isinstance(m, bytes) else str(m) for m in members)
            yield ids
            redis.srem(processing, *members)

    def pending(self, key: Any) -> set[str]:
        """Ids waiting or being processed under `key` (for tests and operators)."""
        redis = self._redis()
        pending = self.pending_key(key)
        members = redis.sunion([pending, f"{pending}:processing"])
        return {m.decode() if isinstance(m, bytes) else str(m) for m in members}


_deferred: ContextVar[set[tuple[str, str]] | None] = ContextVar("jobs_deferred", default=None)


@contextlib.contextmanager
def deferred_jobs() -> Iterator[None]:
    """Inside: coalesced requests still reach their pending sets when their transaction
    commits, but no job is enqueued for them until the block exits; then one per name and
    key. For a long job that commits in batches (the CSV import): one CRM sync of all its
    leads at the end, instead of one per batch racing the import.

    If the process dies inside, the ids are safe in their pending sets and the outbox drain
    enqueues their jobs (`kick_pending`)."""
    if _deferred.get() is not None:  # nested: the outer block enqueues
        yield
        return
    held: set[tuple[str, str]] = set()
    token = _deferred.set(held)
    try:
        yield
    finally:
        _deferred.reset(token)
        for name, key in sorted(held):
            try:
                coalesced = _coalesced(name)
                coalesced._redis().delete(f"{coalesced.pending_key(key)}:held")
                coalesced.ensure_job(key)
            except Exception:
                logger.warning(
                    "deferred job not enqueued; the outbox drain will",
                    extra={"event": "jobs.deferred.failed", "job": name},
                    exc_info=True,
                )


class _Batch:
    def __init__(self) -> None:
        self.requests: dict[tuple[str, str], set[str]] = {}

    def add(self, name: str, payload: dict[str, Any]) -> None:
        self.requests.setdefault((name, payload["key"]), set()).update(payload["ids"])


_batch: ContextVar[_Batch | None] = ContextVar("jobs_batch", default=None)


@contextlib.contextmanager
def batched_requests() -> Iterator[None]:
    """Merge the coalesced requests made inside into one outbox row per name and key,
    written when the block exits. Enter it inside the transaction that covers the requests
    (a bulk write sending one signal per row), so the rows are still part of that
    transaction; an exception discards them with the transaction."""
    if _batch.get() is not None:
        yield
        return
    batch = _Batch()
    token = _batch.set(batch)
    try:
        yield
    finally:
        _batch.reset(token)
    for (name, key), ids in batch.requests.items():
        _submit(KIND_COALESCED, name, {"key": key, "ids": sorted(ids)})


# --- the outbox drain --------------------------------------------------------------------------

DRAIN_JOB_ID = "jobs-outbox-drain"
DRAIN_FLAG = "jobs:outbox-drain:queued"
DRAIN_BATCH = 200


def outbox_grace() -> timedelta:
    """Rows younger than this are left to their own on-commit push (in flight right now)."""
    return timedelta(seconds=float(getattr(settings, "JOBS_OUTBOX_GRACE_SECONDS", 10)))


def request_outbox_drain() -> None:
    """Enqueue one drain job unless one is waiting (called once Redis answers again)."""
    redis = queue_connection("default")
    if redis.set(DRAIN_FLAG, "1", nx=True, ex=300):
        payload = {"queue": "default", "job_id": DRAIN_JOB_ID}
        _push_job("config.jobs.drain_outbox", payload, None)


def outbox_drain(*, limit: int = 5000) -> int:
    """Push the outbox rows that their commit did not deliver; returns how many.

    Rows are locked (SKIP LOCKED: two drains never push the same row), pushed, then deleted
    in the same transaction; a push failure stops the drain (Redis is still down) and is
    recorded on the row. At least once: a row pushed just before its transaction fails to
    commit is pushed again next time, which idempotent jobs absorb.
    """
    from config.models import OutboxEntry

    delivered = 0
    while delivered < limit:
        with transaction.atomic():
            rows = list(
                OutboxEntry.objects.select_for_update(skip_locked=True)
                .filter(created_at__lt=timezone.now() - outbox_grace())
                .order_by("id")[:DRAIN_BATCH]
            )
            if not rows:
                return delivered
            done: list[int] = []
            failed = None
            for row in rows:
                try:
                    _push(row.kind, row.name, row.payload, row.request_id or None)
                except Exception as exc:
                    failed = (row, exc)
                    break
                done.append(row.pk)
                OUTBOX_DELIVERED.labels(kind=row.kind).inc()
            OutboxEntry.objects.filter(pk__in=done).delete()
            delivered += len(done)
            if failed is not None:
                stuck, error = failed
                OutboxEntry.objects.filter(pk=stuck.pk).update(
                    attempts=stuck.attempts + 1,
                    last_error=f"{type(error).__name__}: {error}"[:2000],
                )
                logger.warning(
                    "outbox drain stopped: %s", error, extra={"event": "jobs.outbox.stopped"}
                )
                return delivered
    return delivered


def kick_pending() -> int:
    """Enqueue the job of every pending set that has ids but no waiting job and no live
    deferred block holding it; returns how many."""
    redis = queue_connection("default")
    kicked = 0
    for raw in redis.smembers(PENDING_INDEX):
        entry = raw.decode() if isinstance(raw, bytes) else str(raw)
        name, _sep, key = entry.rpartition("|")
        try:
            coalesced = _coalesced(name)
        except (ImportError, KeyError):
            redis.srem(PENDING_INDEX, raw)
            continue
        pending = coalesced.pending_key(key)
        if not redis.exists(pending):
            # Ids being processed belong to a running job, or to a dead one that RQ retries.
            if not redis.exists(f"{pending}:processing"):
                redis.srem(PENDING_INDEX, raw)
            continue
        if redis.exists(f"{pending}:held"):
            continue  # a deferred block (a running import) enqueues it when it ends
        if coalesced.ensure_job(key):
            kicked += 1
    return kicked


def job_logged(func: Callable[P, R]) -> Callable[P, R]:
    """Log start, end, duration and outcome of a job, with its organization id."""

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        from config.context import bind_request_id

        name = f"{func.__module__}.{func.__qualname__}"
        org = kwargs.get("organization_id")
        current = _current_job()
        request_id = (current.meta or {}).get("request_id") if current else None
        base = {
            "job": name,
            "job_id": current.id if current else None,
            "organization_id": str(org) if org else None,
            "request_id": request_id,
        }
        started = time.monotonic()
        logger.info("job started", extra={**base, "event": "job.start"})
        with bind_request_id(request_id):
            try:
                result = func(*args, **kwargs)
            except Exception as exc:
                logger.exception(
                    "job failed",
                    extra={
                        **base,
                        "event": "job.end",
                        "outcome": "error",
                        "error": type(exc).__name__,
                        "duration_ms": round((time.monotonic() - started) * 1000, 1),
                    },
                )
                raise
        logger.info(
            "job finished",
            extra={
                **base,
                "event": "job.end",
                "outcome": "ok",
                "duration_ms": round((time.monotonic() - started) * 1000, 1),
            },
        )
        return result

    return wrapper


def _current_job() -> Job | None:
    from rq import get_current_job

    try:
        return get_current_job()
    except Exception:  # outside a worker (called synchronously)
        return None


_RQ_ID_FORBIDDEN = re.compile(r"[^A-Za-z0-9_-]")


@dataclass(frozen=True)
class PeriodicJob:
    """A job the scheduler enqueues every `interval` seconds (first run `first_delay` later),
    or on a `cron` schedule (UTC, e.g. "0 6 * * *" for 03:00 in São Paulo)."""

    id: str
    func: str
    interval: int | None = None
    cron: str | None = None
    queue: str = "default"
    timeout: int | None = None
    first_delay: int = 0
    kwargs: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if (self.interval is None) == (self.cron is None):
            raise ValueError(f"periodic job {self.id}: give exactly one of interval or cron")
        if self.queue not in QUEUES:
            raise ValueError(f"periodic job {self.id}: unknown queue {self.queue!r}")
        if self.interval is not None and self.interval <= 0:
            raise ValueError(f"periodic job {self.id}: interval must be positive")
        if self.cron is not None:
            import crontab

            crontab.CronTab(self.cron)  # raises ValueError on a malformed expression

    @property
    def rq_id(self) -> str:
        """The RQ job id: rq 3 accepts only letters, digits, `_` and `-` (a dotted name such
        as "app.sweep" made the scheduler's registration raise), so anything else becomes `-`."""
        return _RQ_ID_FORBIDDEN.sub("-", self.id)

    def effective_timeout(self) -> int:
        """The job's timeout, else its queue's (rq-scheduler would otherwise use RQ's 180 s)."""
        if self.timeout is not None:
            return self.timeout
        return int(settings.RQ_QUEUES[self.queue].get("DEFAULT_TIMEOUT", 180))


def discover_periodic_jobs() -> list[PeriodicJob]:
    """PERIODIC_JOBS of every project app's `jobs` module."""
    from django.apps import apps

    found: list[PeriodicJob] = []
    for config in apps.get_app_configs():
        path = Path(config.path)
        # Project apps only: a virtualenv may live inside BASE_DIR (./.venv), and a third-party
        # package with a `jobs` module (django_rq has one) must not be mistaken for ours.
        if not path.is_relative_to(settings.BASE_DIR) or "site-packages" in path.parts:
            continue
        try:
            module = importlib.import_module(f"{config.name}.jobs")
        except ModuleNotFoundError as exc:
            if exc.name != f"{config.name}.jobs":
                raise
            continue
        found.extend(getattr(module, "PERIODIC_JOBS", []))
    _check_unique(found)
    return found


def _check_unique(jobs: list[PeriodicJob]) -> None:
    ids = [job.rq_id for job in jobs]
    duplicates = {i for i in ids if ids.count(i) > 1}
    if duplicates:
        raise ValueError(f"duplicate periodic job ids: {sorted(duplicates)}")


PERIODIC_MARK = "periodic_job"


def register_periodic_jobs(scheduler: Any, jobs: list[PeriodicJob] | None = None) -> list[str]:
    """Make the scheduler hold exactly `jobs` (default: discovered), each once.

    Idempotent: a job keeps its stable id, so registering again replaces it instead of adding
    a second schedule; periodic jobs no longer declared are cancelled.
    """
    jobs = discover_periodic_jobs() if jobs is None else jobs
    _check_unique(jobs)
    for job in jobs:
        # Fail at start-up on a typo, not at 03:00 in the worker.
        import_string(job.func)
    wanted = {job.rq_id for job in jobs}
    for existing in scheduler.get_jobs():
        if (existing.meta or {}).get(PERIODIC_MARK) and existing.id not in wanted:
            scheduler.cancel(existing)
            existing.delete()  # periodic hashes never expire (result_ttl -1 below)
    now = datetime.now(UTC)
    for job in jobs:
        if job.rq_id in scheduler:
            scheduler.cancel(job.rq_id)
        common: dict[str, Any] = {
            "func": job.func,
            "kwargs": job.kwargs,
            "id": job.rq_id,
            "queue_name": job.queue,
            "timeout": job.effective_timeout(),
            # The same job hash is re-enqueued at every tick, so it must outlive the period:
            # with a finite result TTL (it was 3600) a daily job's hash expired an hour after
            # each run and rq-scheduler then silently dropped the schedule (get_jobs cancels
            # ids whose hash is gone). -1 keeps it; there is one hash per periodic job.
            "result_ttl": -1,
            "meta": {PERIODIC_MARK: True},
        }
        if job.cron is not None:
            scheduler.cron(job.cron, repeat=None, **common)
        else:
            scheduler.schedule(
                scheduled_time=now + timedelta(seconds=job.first_delay),
                interval=job.interval,
                repeat=None,
                **common,
            )
    return sorted(wanted)


@job_logged
def drain_outbox() -> dict[str, int]:
    """Every minute, and once Redis is back: push what commits could not, kick idle sets."""
    redis = queue_connection("default")
    redis.delete(DRAIN_FLAG)
    return {"delivered": outbox_drain(), "kicked": kick_pending()}


PERIODIC_JOBS = [
    PeriodicJob(
        id="jobs-outbox-drain",
        func="config.jobs.drain_outbox",
        interval=60,
        queue="default",
        timeout=300,
    ),
]


# The name before the glossary's job rule; queued jobs keep their function path (remove after
# the next release).
drain_outbox_job = drain_outbox
