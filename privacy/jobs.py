"""Privacy jobs (thin: load by id, call a service) and the daily retention run."""

from __future__ import annotations

from typing import Any

from config.context import bind_via
from config.jobs import PeriodicJob, job_logged
from privacy import requests, retention

PERIODIC_JOBS = [
    # 06:30 UTC = 03:30 in Brasília, after the score decay.
    PeriodicJob(
        id="privacy-retention",
        func="privacy.jobs.retention_all",
        cron="30 6 * * *",
        queue="low",
        timeout=3600,
    ),
]


@job_logged
def run_data_subject_request(*, request_id: str, organization_id: str) -> None:
    """Runs (or resumes) one export or anonymisation request."""
    with bind_via("job"):
        requests.request_run(request_id=request_id)


@job_logged
def retention_all() -> dict[str, Any]:
    """Applies every organization's retention settings, in batches; returns the counts."""
    with bind_via("job"):
        return retention.retention_run_all()
