"""Background jobs of the mentorados app (thin: they call mentorados.services)."""

from __future__ import annotations

import logging

from config.jobs import PeriodicJob, job_logged
from mentorados import services
from mentorados.models import Mentorado, MentoradoFeedback, MentoradoStatus
from organizations.models import Organization, OrganizationNps

logger = logging.getLogger(__name__)


@job_logged
def engagement_recalculate_all() -> dict[str, int]:
    """Daily: engagement of every active mentee of every organization ("today" per org tz).

    Idempotent: the scores are a function of the data and the organization's date, and only
    rows whose score changes are written.
    """
    totals = {"organizations": 0, "checked": 0, "changed": 0}
    organization_ids = (
        Mentorado.objects.filter(status=MentoradoStatus.ATIVO)
        .order_by()
        .values_list("organization_id", flat=True)
        .distinct()
    )
    for organization in Organization.objects.filter(pk__in=list(organization_ids)):
        run = services.engagement_recalculate(organization=organization)
        logger.info(
            "engagement recalculated",
            extra={
                "organization_id": str(organization.pk),
                "checked": run.checked,
                "changed": run.changed,
            },
        )
        totals["organizations"] += 1
        totals["checked"] += run.checked
        totals["changed"] += run.changed
    return totals


@job_logged
def engagement_recalculate_org(*, organization_id: str) -> dict[str, int]:
    """One organization's daily recalculation (for operators: enqueue it by hand)."""
    organization = Organization.objects.filter(pk=organization_id).first()
    if organization is None:
        return {"checked": 0, "changed": 0}
    run = services.engagement_recalculate(organization=organization)
    return {"checked": run.checked, "changed": run.changed}


@job_logged
def organization_nps_refresh_all() -> dict[str, int]:
    """Daily: every organization's 90-day NPS, so feedbacks age out of it without new ones.

    Idempotent: the stored figure is a function of the data and the organization's date.
    """
    organization_ids = set(
        MentoradoFeedback.objects.order_by().values_list("organization_id", flat=True).distinct()
    ) | set(OrganizationNps.objects.values_list("organization_id", flat=True))
    count = 0
    for organization in Organization.objects.filter(pk__in=organization_ids):
        services.organization_nps_refresh(organization=organization)
        count += 1
    return {"organizations": count}


PERIODIC_JOBS = [
    # 03:20 in São Paulo: after midnight in every Brazilian time zone, so "today" has turned.
    PeriodicJob(
        id="mentorados.engagement_daily",
        func="mentorados.jobs.engagement_recalculate_all",
        cron="20 6 * * *",
        queue="low",
        timeout=3600,
    ),
    PeriodicJob(
        id="mentorados.organization_nps_daily",
        func="mentorados.jobs.organization_nps_refresh_all",
        cron="25 6 * * *",
        queue="low",
        timeout=3600,
    ),
]
