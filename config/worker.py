"""RQ worker classes (settings.RQ["WORKER_CLASS"]): job context for Sentry and metrics.

- Every job runs in its own Sentry scope tagged with the enqueuing request's id and the job's
  organization (config.sentry.job_scope).
- A forked work horse announces itself to config.multiprocess, so the counters it increments
  land in its worker's metric files instead of a new file set per job.
- What every job would otherwise build again (`RQ_WORKER_WARM_UP`: the TLS context of the
  outbound HTTP clients, ~20-50 ms of CPU) is built once by the forking worker before its
  first job: each work horse starts as a copy of the worker and finds it made.
- Worker deaths are noticed within a minute instead of ~13 (docs/jobs.md): a running job's
  entry in RQ's started registry lives `job_monitoring_interval` (heartbeat period) +
  `RQ_HEARTBEAT_GRACE` seconds past each heartbeat (RQ hard-codes 60 s of grace), and every
  worker runs RQ's maintenance (which turns expired entries into AbandonedJobError: failure
  callback, then retry) every `RQ_MAINTENANCE_INTERVAL` seconds (RQ's default is 600). The
  same maintenance restarts a worker's scheduler when the scheduler lock of a dead worker
  has expired, so delayed jobs and retries move again.
"""

from __future__ import annotations

from typing import Any, cast

from django.conf import settings
from django.utils.module_loading import import_string
from rq.job import Job
from rq.queue import Queue
from rq.worker import SimpleWorker as RQSimpleWorker
from rq.worker import Worker as RQWorker

from config import multiprocess
from config.sentry import job_scope


class JobContextMixin:
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("job_monitoring_interval", settings.RQ_JOB_MONITORING_INTERVAL)
        kwargs.setdefault("maintenance_interval", settings.RQ_MAINTENANCE_INTERVAL)
        super().__init__(*args, **kwargs)

    def perform_job(self, job: Job, queue: Queue, *args: Any, **kwargs: Any) -> bool:
        with job_scope(job):
            return cast("bool", super().perform_job(job, queue, *args, **kwargs))  # type: ignore[misc]


class Worker(JobContextMixin, RQWorker):
    """The default: forks a work horse per job."""

    def bootstrap(self, *args: Any, **kwargs: Any) -> None:
        # When the worker starts working, not in __init__: RQ also makes Worker objects to list
        # the running workers (django-rq's queue pages), which run no job.
        super().bootstrap(*args, **kwargs)
        for path in settings.RQ_WORKER_WARM_UP:
            import_string(path)()

    def get_heartbeat_ttl(self, job: Job, working_time: float = 0.0) -> int:
        # RQ: min(time left, monitoring interval) + 60. Our grace is shorter, so a job whose
        # worker died is abandoned (and retried) sooner.
        interval = self.job_monitoring_interval
        if job.timeout and job.timeout > 0:
            interval = min(job.timeout - working_time, interval)
        return int(interval) + int(settings.RQ_HEARTBEAT_GRACE)

    def main_work_horse(self, job: Job, queue: Queue) -> None:
        multiprocess.mark_rq_horse()
        super().main_work_horse(job, queue)


class SimpleWorker(JobContextMixin, RQSimpleWorker):
    """Runs jobs in the worker process itself (tests, debugging)."""
