"""Background jobs of the leads app (thin: they call leads.scoring / leads.reminders).

- `recalculate_lead_scores`: after an interaction, a qualification change or a lead edit that
  moves the score (enqueued by leads.receivers through `request_score_recalculation`).
- `decay_all_lead_scores` (daily, periodic) fans out one `decay_lead_scores` per organization
  so each run is logged with its organization id and retried on its own.
- `notify_due_tasks` (periodic, every few minutes): `task_due` notifications.

All of them are idempotent: running one twice writes nothing the second time.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable
from typing import Any

import django_rq
from django.db import transaction

from config.jobs import SAFE_RETRY, PeriodicJob, enqueue, job_logged
from leads import reminders, scoring
from organizations.models import Organization

logger = logging.getLogger("jobs")

# While a recalculation of a lead waits in the queue, further changes to that lead need no
# job of their own: the waiting job reads the database when it starts, after they committed.
# The marker is dropped when the job starts; its TTL only bounds the harm if a job is lost.
PENDING_KEY = "leads:score-pending:{}"
PENDING_TTL = 600

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
]


def _redis() -> Any:
    return django_rq.get_connection("default")


def request_score_recalculation(*, organization_id: Any, lead_ids: Iterable[Any]) -> None:
    """Recalculate these leads' scores in a job, after the current transaction commits.

    Coalesced per lead: a lead whose recalculation is already waiting is not enqueued again
    (several signals of one write, or a burst of interactions, give one job).
    """
    ids = [str(lead_id) for lead_id in lead_ids]
    if not ids:
        return
    org = str(organization_id)
    # robust: the write has committed; a Redis hiccup must not turn it into a 500 (the daily
    # decay recomputes every open lead anyway).
    transaction.on_commit(lambda: _enqueue_recalculation(org, ids), robust=True)


def _enqueue_recalculation(organization_id: str, lead_ids: list[str]) -> None:
    job_id = f"lead-scores-{uuid.uuid4().hex}"
    connection = _redis()
    pipe = connection.pipeline()
    for lead_id in lead_ids:
        pipe.set(PENDING_KEY.format(lead_id), job_id, nx=True, ex=PENDING_TTL)
    fresh = [lead_id for lead_id, ok in zip(lead_ids, pipe.execute(), strict=True) if ok]
    if not fresh:
        return
    try:
        enqueue(
            recalculate_lead_scores,
            lead_ids=fresh,
            organization_id=organization_id,
            queue="default",
            job_id=job_id,
            retry=SAFE_RETRY,
        )
    except Exception:
        # No job carries these leads: release them so the next change enqueues one.
        connection.delete(*[PENDING_KEY.format(lead_id) for lead_id in fresh])
        raise


@job_logged
def recalculate_lead_scores(*, lead_ids: list[str], organization_id: str) -> int:
    """Recomputes lead_score and temperatura of these leads; returns how many changed."""
    # Drop the markers before reading: a change committed from now on enqueues a new job.
    _redis().delete(*[PENDING_KEY.format(lead_id) for lead_id in lead_ids])
    return len(scoring.lead_scores_recalculate(organization_id=organization_id, lead_ids=lead_ids))


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
