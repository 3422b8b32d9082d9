"""RQ worker classes (settings.RQ["WORKER_CLASS"]): job context for Sentry and metrics.

- Every job runs in its own Sentry scope tagged with the enqueuing request's id and the job's
  organization (config.sentry.job_scope).
- A forked work horse announces itself to config.multiprocess, so the counters it increments
  land in its worker's metric files instead of a new file set per job.
"""

from __future__ import annotations

from typing import Any

from rq.job import Job
from rq.queue import Queue
from rq.worker import SimpleWorker as RQSimpleWorker
from rq.worker import Worker as RQWorker

from config import multiprocess
from config.sentry import job_scope


class JobContextMixin:
    def perform_job(self, job: Job, queue: Queue, *args: Any, **kwargs: Any) -> bool:
        with job_scope(job):
            return super().perform_job(job, queue, *args, **kwargs)  # type: ignore[misc]


class Worker(JobContextMixin, RQWorker):
    """The default: forks a work horse per job."""

    def main_work_horse(self, job: Job, queue: Queue) -> None:
        multiprocess.mark_rq_horse()
        super().main_work_horse(job, queue)


class SimpleWorker(JobContextMixin, RQSimpleWorker):
    """Runs jobs in the worker process itself (tests, debugging)."""
