"""Background jobs of the leads app (thin: they call leads.scoring / leads.reminders).

- `recalculate_lead_scores` (queue `high`: small and visible to the user who just logged an
  interaction): after an interaction, a qualification change, a new lead or an edit that
  moves the score (leads.receivers -> `request_score_recalculation`, coalesced per
  organization).
- `decay_all_lead_scores` (daily, periodic) fans out one `decay_lead_scores` per organization
  so each run is logged with its organization id and retried on its own.
- `notify_due_tasks` (periodic, every few minutes): `task_due` notifications.

All of them are idempotent: running one twice writes nothing the second time.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

import django_rq
from django.db import transaction

from config.context import bind_request_id, current_request_id
from config.jobs import SAFE_RETRY, PeriodicJob, enqueue, job_logged
from leads import reminders, scoring
from organizations.models import Organization

logger = logging.getLogger("jobs")

# Leads waiting for a recalculation, per organization (a Redis set), and a flag set while a
# job that will drain the set is queued: a burst of writes (a CSV import, several signals of
# one write, many interactions) gives one waiting job per organization, not one per lead.
PENDING_KEY = "leads:score-pending:{organization_id}"
QUEUED_FLAG_TTL = 600  # bounds the harm of a lost job: after it, the next change enqueues again
PENDING_CHUNK = 500

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

    Coalesced per organization: the ids join the organization's pending set, and a job is
    enqueued only if none is already waiting; that job reads the database when it starts,
    after every write that added to the set.
    """
    ids = [str(lead_id) for lead_id in lead_ids]
    if not ids:
        return
    org = str(organization_id)
    # push() runs at commit, possibly outside the request (tests, nested services): keep the
    # request id so that the job's logs name the request that caused it.
    request_id = current_request_id()

    def push() -> None:
        connection = _redis()
        key = PENDING_KEY.format(organization_id=org)
        connection.sadd(key, *ids)
        if connection.set(f"{key}:queued", "1", nx=True, ex=QUEUED_FLAG_TTL):
            try:
                with bind_request_id(request_id):
                    enqueue(
                        recalculate_lead_scores,
                        organization_id=org,
                        queue="high",
                        retry=SAFE_RETRY,
                    )
            except Exception:
                connection.delete(f"{key}:queued")  # no job is waiting after all
                raise

    # robust: the write has committed; a Redis hiccup must not turn it into a 500 (the daily
    # decay recomputes every open lead anyway).
    transaction.on_commit(push, robust=True)


@job_logged
def recalculate_lead_scores(*, organization_id: str, lead_ids: list[str] | None = None) -> int:
    """Recomputes lead_score and temperatura of `lead_ids` and of the organization's pending
    leads; returns how many changed."""
    changed = 0
    if lead_ids:
        changed += len(
            scoring.lead_scores_recalculate(organization_id=organization_id, lead_ids=lead_ids)
        )
    connection = _redis()
    key = PENDING_KEY.format(organization_id=organization_id)
    # Cleared first: a change committed from now on enqueues another job and is never lost.
    connection.delete(f"{key}:queued")
    while True:
        # SPOP takes the ids out before the database is read: a lead changed again meanwhile
        # is added back (with a new job) rather than removed after a stale read.
        popped = connection.spop(key, PENDING_CHUNK)
        if not popped:
            return changed
        ids = [i.decode() if isinstance(i, bytes) else str(i) for i in popped]
        try:
            changed += len(
                scoring.lead_scores_recalculate(organization_id=organization_id, lead_ids=ids)
            )
        except Exception:
            connection.sadd(key, *ids)  # for the retry (SAFE_RETRY) or the next job
            raise


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
