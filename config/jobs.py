"""Background jobs: one way to enqueue, one way to log, one registry of periodic jobs.

- `enqueue()` puts a job on an RQ queue (`high`, `default`, `low`) when the current database
  transaction commits (django-rq's `on_db_commit` mode): a rolled-back request enqueues nothing.
- `@job_logged` wraps every job function: start, end, duration and outcome, with the
  organization id when the job has one (keyword argument `organization_id`).
- Each app lists its periodic jobs in `<app>/jobs.py` as `PERIODIC_JOBS`; `rqscheduler`
  (config/management/commands/rqscheduler.py) registers them idempotently at start.

Jobs must be idempotent: they load rows by id and call a service that checks state first, so
running one twice never repeats its effect.
"""

from __future__ import annotations

import functools
import importlib
import logging
import re
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

import django_rq
from django.conf import settings
from django.utils.module_loading import import_string
from rq import Retry
from rq.job import Job

logger = logging.getLogger("jobs")

# rq-scheduler computes cron times with crontab from the naive local time, and crontab warns
# that it will switch to UTC. Django sets the process time zone to TIME_ZONE (UTC), so local
# time is UTC and the switch changes nothing: silence it rather than print it at every start.
warnings.filterwarnings("ignore", message=r"Version 0\.22\.0\+ of crontab", category=FutureWarning)

QUEUES = ("high", "default", "low")
# Retries for jobs whose effect is safe to repeat (about 1, 5 and 30 minutes apart).
SAFE_RETRY = Retry(max=3, interval=[60, 300, 1800])

P = ParamSpec("P")
R = TypeVar("R")


def enqueue(
    func: Callable[..., Any] | str,
    *args: Any,
    queue: str = "default",
    job_id: str | None = None,
    retry: Retry | None = None,
    at: datetime | None = None,
    timeout: int | None = None,
    **kwargs: Any,
) -> None:
    """Enqueue `func(*args, **kwargs)` after the current transaction commits.

    `job_id` names the job (letters, digits, `_` and `-` only: rq 3 refuses anything else); it
    does not deduplicate: enqueuing an id that is already waiting overwrites the job and queues
    it twice, so coalescing needs its own marker (see leads.jobs.request_score_recalculation).
    `at` delays the job (RQ's scheduled registry, moved by a worker running its scheduler).
    """
    if queue not in QUEUES:
        raise ValueError(f"unknown queue {queue!r}")
    rq_queue = django_rq.get_queue(queue)
    meta = job_meta()
    options: dict[str, Any] = {"job_id": job_id, "retry": retry, "meta": meta}
    if timeout is not None:
        options["job_timeout"] = timeout
    if at is not None:
        # Delayed jobs bypass DjangoRQ.enqueue_call, so defer them to commit explicitly.
        from django.db import transaction

        transaction.on_commit(
            lambda: rq_queue.enqueue_at(at, func, *args, **kwargs, **_at_options(options))
        )
        return
    target: Any = func
    rq_queue.enqueue_call(target, args=args, kwargs=kwargs, **options)


def _at_options(options: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in options.items() if value is not None}


def job_meta() -> dict[str, Any]:
    """Context carried from the enqueuing request into the job (request id for the logs)."""
    from config.context import current_request_id

    request_id = current_request_id()
    return {"request_id": request_id} if request_id else {}


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
