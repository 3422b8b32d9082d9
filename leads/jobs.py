"""Background jobs of the leads app (thin: they call leads.scoring / leads.reminders).

- `recalculate_lead_scores` (queue `high`: small and visible to the user who just logged an
  interaction): after an interaction, a qualification change, a new lead or an edit that
  moves the score (leads.receivers -> `request_score_recalculation`, coalesced per
  organization).
- `decay_all_lead_scores` (daily, periodic) fans out one `decay_lead_scores` per organization
  so each run is logged with its organization id and retried on its own.
- `notify_due_tasks` (periodic, every few minutes): `task_due` notifications.
- `refresh_rollups` (periodic, every minute): recomputes the sales dashboard's daily rollups
  the writes marked stale (leads/rollups.py); a run that finds another running does nothing.

All of them are idempotent: running one twice writes nothing the second time.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from django.db import connection

from config.jobs import SAFE_RETRY, Coalesced, PeriodicJob, enqueue, job_logged
from leads import reminders, rollups, scoring
from organizations.models import Organization

logger = logging.getLogger("jobs")

PENDING_CHUNK = 500
# Leads waiting for a recalculation, per organization: a burst of writes (a CSV import,
# several signals of one write, many interactions) gives one waiting job per organization.
SCORES = Coalesced(
    name="leads.jobs:scores",
    func="leads.jobs.recalculate_lead_scores",
    # high: small and visible to the user who just logged an interaction.
    queue="high",
)

PERIODIC_JOBS = [
    # 06:00 UTC = 03:00 in Brasília time, the quietest hour for Brazilian businesses.
    PeriodicJob(
        id="leads-score-decay",
        func="leads.jobs.decay_all_lead_scores",
        cron="0 6 * * *",
        queue="low",
        timeout=600,
    ),
    PeriodicJob(
        id="leads-task-due",
        func="leads.jobs.notify_due_tasks",
        interval=120,
        queue="default",
        timeout=300,
    ),
    PeriodicJob(
        id="leads-rollups",
        func="leads.jobs.refresh_rollups",
        interval=60,
        queue="low",
        timeout=300,
    ),
]


def request_score_recalculation(*, organization_id: Any, lead_ids: Iterable[Any]) -> None:
    """Recalculate these leads' scores in a job, after the current transaction commits
    (coalesced per organization; durable through the outbox, see config.jobs)."""
    SCORES.request(key=organization_id, ids=lead_ids)


@job_logged
def recalculate_lead_scores(*, organization_id: str, lead_ids: list[str] | None = None) -> int:
    """Recomputes lead_score and temperatura of `lead_ids` and of the organization's pending
    leads; returns how many changed."""
    changed = 0
    if lead_ids:
        changed += len(
            scoring.lead_scores_recalculate(organization_id=organization_id, lead_ids=lead_ids)
        )
    for ids in SCORES.drain(organization_id, PENDING_CHUNK):
        changed += len(
            scoring.lead_scores_recalculate(organization_id=organization_id, lead_ids=ids)
        )
    return changed


@job_logged
def decay_all_lead_scores() -> int:
    """Daily: one decay job per organization (low queue); returns how many were enqueued."""
    ids = [str(pk) for pk in Organization.objects.order_by("pk").values_list("pk", flat=True)]
    for organization_id in ids:
        enqueue(decay_lead_scores, organization_id=organization_id, queue="low", retry=SAFE_RETRY)
    return len(ids)


@job_logged
def decay_lead_scores(*, organization_id: str) -> dict[str, int]:
    """Recomputes every open lead of the organization, writing only those that change."""
    result = scoring.lead_scores_decay(organization_id=organization_id)
    logger.info(
        "lead score decay",
        extra={
            "event": "scores.decay",
            "organization_id": organization_id,
            "leads_seen": result.leads_seen,
            "leads_updated": result.leads_updated,
            "batches": result.batches,
        },
    )
    return {"leads_seen": result.leads_seen, "leads_updated": result.leads_updated}


@job_logged
def notify_due_tasks() -> int:
    """`task_due` notifications for tasks whose vencimento passed; returns how many."""
    created = reminders.tasks_notify_due()
    for organization_id, count in sorted(created.items()):
        logger.info(
            "task_due notifications",
            extra={"event": "tasks.due", "organization_id": organization_id, "count": count},
        )
    return sum(created.values())


@job_logged
def refresh_rollups() -> int:
    """Every minute: recompute the dashboard rollup buckets marked stale, then build the hour
    rows of the days the preset windows start on; returns how many days it (re)computed."""
    if connection.vendor != "postgresql":
        return 0
    return rollups.refresh_marked() + rollups.refresh_edge_hours()
