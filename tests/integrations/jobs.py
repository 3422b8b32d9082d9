"""Running queued RQ jobs inside a test: a real burst worker, in this process and transaction."""

from __future__ import annotations

from typing import Any

import django_rq
from rq import SimpleWorker
from rq.registry import FailedJobRegistry

from config.jobs import QUEUES


def queues() -> list[Any]:
    return [django_rq.get_queue(name) for name in QUEUES]


def scheduled_jobs() -> list[Any]:
    """Jobs waiting in the scheduled registries (enqueue_at), every queue."""
    found: list[Any] = []
    for queue in queues():
        registry = queue.scheduled_job_registry
        found.extend(queue.fetch_job(job_id) for job_id in registry.get_job_ids())
    return [job for job in found if job is not None]


def queued_jobs() -> list[Any]:
    return [job for queue in queues() for job in queue.jobs]


def promote_scheduled() -> int:
    """Move every scheduled job to its queue now, as RQ's scheduler does when they fall due."""
    moved = 0
    for queue in queues():
        registry = queue.scheduled_job_registry
        for job_id in registry.get_job_ids():
            job = queue.fetch_job(job_id)
            registry.remove(job_id)
            if job is not None:
                queue.enqueue_job(job)
                moved += 1
    return moved


def run_jobs(*, scheduled: bool = False, allow_failures: bool = False) -> None:
    """Work every queued job (and, with `scheduled`, the scheduled ones) until queues are empty."""
    if scheduled:
        promote_scheduled()
    all_queues = queues()
    SimpleWorker(all_queues, connection=all_queues[0].connection).work(burst=True)
    if not allow_failures:
        failed = [
            job_id
            for queue in all_queues
            for job_id in FailedJobRegistry(queue=queue).get_job_ids()
        ]
        assert not failed, f"jobs failed: {failed}"
