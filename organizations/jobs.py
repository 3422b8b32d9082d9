"""Background jobs of the organizations app (thin: they call organizations services).

- `prune_sync_deletions` (daily): tombstones older than the sync retention are dropped.
"""

from __future__ import annotations

from config.jobs import PeriodicJob, job_logged
from organizations import sync

PERIODIC_JOBS = [
    PeriodicJob(
        id="organizations.prune_sync_deletions",
        func="organizations.jobs.prune_sync_deletions",
        cron="40 6 * * *",
        queue="low",
        timeout=600,
    ),
]


@job_logged
def prune_sync_deletions() -> int:
    return sync.deletions_prune()
