"""Background jobs of the follow-up engine (thin: load by id, call a service or the engine).

- `dispatch_followups`: every minute, performs every due step (see `followup.engine`).
- `enroll_activated_sequence`: a sequence was created active or switched on: resume the
  executions its deactivation paused, then enroll every matching lead in bulk.
- `enroll_pending_leads`: leads created or changed (status, temperature, score, tags,
  origin) are collected in a Redis set per organization and enrolled together, so a burst (a
  CSV import, the daily score decay) becomes one job with set-based queries, not one per lead.
- `enrollment_sweep`: hourly, re-runs the activation enrollment of every active sequence so
  time-based criteria (`dias_sem_interacao`) and leads written without signals are picked up;
  leads already enrolled once are skipped in SQL, so it is cheap when nothing changed.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from config.jobs import Coalesced, PeriodicJob, job_logged
from followup import services
from followup.engine import dispatch_due
from followup.models import FollowupSequence

PERIODIC_JOBS = [
    PeriodicJob(
        id="followup-dispatch",
        func="followup.jobs.dispatch_followups",
        interval=60,
        queue="high",
        timeout=600,
    ),
    PeriodicJob(
        id="followup-enrollment-sweep",
        func="followup.jobs.enrollment_sweep",
        interval=3600,
        queue="low",
        timeout=3600,
        first_delay=300,
    ),
]

# A dispatch run stops starting new batches after this long, so runs scheduled a minute apart
# do not pile up; the next run continues where it stopped.
DISPATCH_BUDGET_SECONDS = 50
PENDING_CHUNK = 2000
# Leads created or changed, per organization: a burst (a CSV import, the daily score decay)
# becomes one job with set-based queries, not one per lead.
ENROLLMENT = Coalesced(name="followup.jobs:enrollment", func="followup.jobs.enroll_pending_leads")


@job_logged
def dispatch_followups() -> dict[str, int]:
    return dispatch_due(time_budget=DISPATCH_BUDGET_SECONDS).as_dict()


@job_logged
def enroll_activated_sequence(*, sequence_id: str, organization_id: str) -> dict[str, int]:
    sequence = (
        FollowupSequence.objects.filter(pk=sequence_id, organization_id=organization_id)
        .select_related("organization")
        .first()
    )
    if sequence is None or not sequence.ativo:
        return {"resumed": 0, "enrolled": 0}
    resumed = services.sequence_resume_executions(sequence=sequence)
    enrolled = services.followup_enroll_sequence(sequence=sequence)
    return {"resumed": resumed, "enrolled": enrolled}


@job_logged
def enrollment_sweep() -> int:
    total = 0
    for sequence in FollowupSequence.objects.filter(ativo=True).select_related("organization"):
        total += services.followup_enroll_sequence(sequence=sequence)
    return total


def schedule_lead_enrollment(*, organization_id: Any, lead_ids: Iterable[Any]) -> None:
    """After the current transaction commits, queue these leads for enrollment (coalesced per
    organization; durable through the outbox, see config.jobs)."""
    ENROLLMENT.request(key=organization_id, ids=lead_ids)


@job_logged
def enroll_pending_leads(*, organization_id: str) -> int:
    total = 0
    for ids in ENROLLMENT.drain(organization_id, PENDING_CHUNK):
        total += services.followup_enroll_matching_leads(
            organization_id=organization_id, lead_ids=ids
        )
    return total


# Names before the glossary's job rule (no `_job` suffix). RQ stores a job's function path, so
# jobs queued or scheduled by the previous release still run; remove after the next release.
dispatch_followups_job = dispatch_followups
sequence_activated_job = enroll_activated_sequence
enrollment_sweep_job = enrollment_sweep
enroll_pending_leads_job = enroll_pending_leads
