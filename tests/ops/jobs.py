"""Job functions the ops tests enqueue (importable by real RQ worker processes)."""

from __future__ import annotations

import logging

from config.jobs import job_logged
from config.metrics import FOLLOWUP_STEPS

logger = logging.getLogger("tests.ops.jobs")


@job_logged
def touch_lead(*, lead_id: str, organization_id: str) -> None:
    logger.info("lead touched", extra={"lead_id": lead_id})


@job_logged
def fail_with_email(*, email: str, organization_id: str | None = None) -> None:
    raise ValueError(f"could not deliver the message to {email}")


@job_logged
def count_step() -> None:
    FOLLOWUP_STEPS.labels(channel="test", outcome="executed").inc()
