"""Background jobs of the integrations app (thin: load by id, call a service)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from django.utils import timezone

from config.jobs import SAFE_RETRY, PeriodicJob, enqueue, job_logged
from integrations.crm import inbound as crm_inbound
from integrations.crm import services as crm
from integrations.models import WebhookNotification
from integrations.outbound import services as outbound
from integrations.push import services as push
from integrations.whatsapp import inbound

# A notification still unprocessed after this long lost its job (or the job kept failing).
WEBHOOK_STUCK_AFTER = timedelta(minutes=10)
WEBHOOK_MAX_ATTEMPTS = 8
# Processed raw bodies are kept this long for audit (messages themselves are kept for good).
WEBHOOK_RETENTION = timedelta(days=30)

# A push not done after this long lost its job; older than the window it is stale news.
PUSH_STUCK_AFTER = timedelta(minutes=3)
PUSH_WINDOW = timedelta(hours=12)

PERIODIC_JOBS = [
    PeriodicJob(
        id="integrations.push_sweep",
        func="integrations.jobs.push_sweep",
        interval=5 * 60,
        first_delay=90,
        queue="low",
    ),
    PeriodicJob(
        id="integrations.crm_sync_sweep",
        func="integrations.jobs.crm_sync_sweep",
        interval=15 * 60,
        first_delay=60,
        queue="low",
    ),
    PeriodicJob(
        id="integrations.webhook_deliveries_sweep",
        func="integrations.jobs.webhook_deliveries_sweep",
        interval=60,
        first_delay=30,
        queue="default",
    ),
    PeriodicJob(
        id="integrations.whatsapp_notifications_sweep",
        func="integrations.jobs.whatsapp_notifications_sweep",
        interval=10 * 60,
        first_delay=120,
        queue="low",
    ),
]


@job_logged
def process_whatsapp_notification(*, notification_id: str, organization_id: str) -> None:
    inbound.notification_process(notification_id=notification_id)


@job_logged
def whatsapp_notifications_sweep() -> int:
    """Re-enqueue stored notifications whose processing never finished; prune old ones."""
    now = timezone.now()
    WebhookNotification.objects.filter(
        processed_at__isnull=False, received_at__lt=now - WEBHOOK_RETENTION
    ).delete()
    stuck = WebhookNotification.objects.filter(
        processed_at__isnull=True,
        received_at__lt=now - WEBHOOK_STUCK_AFTER,
        attempts__lt=WEBHOOK_MAX_ATTEMPTS,
    ).values_list("pk", "organization_id")[:500]
    count = 0
    for pk, organization_id in stuck:
        enqueue(
            process_whatsapp_notification,
            notification_id=str(pk),
            organization_id=str(organization_id),
            queue="high",
            job_id=f"whatsapp-notification-{pk}",
        )
        count += 1
    return count


def _sync_counts(outcome: Any) -> dict[str, Any]:
    """What a CRM sync job records in its log: how many leads went which way."""
    return {
        "synced": len(outcome.synced),
        "failed": len(outcome.failed),
        "retrying": len(outcome.retrying),
        "skipped": outcome.skipped,
    }


@job_logged
def sync_crm_batch(*, organization_id: str, lead_ids: Sequence[str], attempt: int = 0) -> Any:
    outcome = crm.crm_sync_leads(
        organization_id=organization_id, lead_ids=lead_ids, attempt=attempt
    )
    return _sync_counts(outcome)


@job_logged
def crm_sync_pending(*, organization_id: str) -> Any:
    """The coalesced sync of an organization's pending leads (crm.SYNC)."""
    outcome = crm.crm_sync_pending(organization_id=organization_id)
    return _sync_counts(outcome)


@job_logged
def crm_inbound_pending(*, organization_id: str) -> dict[str, int]:
    """The coalesced application of an organization's inbound CRM events (crm inbound)."""
    return crm_inbound.crm_inbound_pending(organization_id=organization_id)


@job_logged
def crm_sync_sweep() -> int:
    return crm.crm_sync_sweep()


@job_logged
def deliver_webhook(*, delivery_id: str, organization_id: str) -> str | None:
    return outbound.webhook_delivery_attempt(delivery_id=delivery_id)


def webhook_attempt_failed(
    job: Any, connection: Any, exc_type: Any, exc_value: Any, traceback: Any
) -> None:
    """RQ failure callback of `deliver_webhook` (also when its worker died: AbandonedJobError)."""
    delivery_id = (job.kwargs or {}).get("delivery_id")
    if not delivery_id:
        return
    retrying = "retrying" if job.retries_left else "the sweep will retry"
    outbound.webhook_attempt_interrupted(
        delivery_id=delivery_id,
        error=f"attempt interrupted ({getattr(exc_type, '__name__', exc_type)}); {retrying}",
    )


@job_logged
def webhook_deliveries_sweep() -> int:
    """Attempt every pending delivery whose time has come (retries, and jobs lost on the way)."""
    due = outbound.webhook_deliveries_due()
    for pk, organization_id in due:
        enqueue(
            deliver_webhook,
            delivery_id=str(pk),
            organization_id=str(organization_id),
        )
    return len(due)


def enqueue_push(*, notification_id: Any, organization_id: Any) -> None:
    enqueue(
        push_notification,
        notification_id=str(notification_id),
        organization_id=str(organization_id),
        queue="high",
        job_id=f"push-{notification_id}",
        retry=SAFE_RETRY,
        on_failure="integrations.jobs.push_attempt_failed",
    )


@job_logged
def push_notification(*, notification_id: str, organization_id: str) -> None:
    push.notification_push(notification_id=notification_id)


def push_attempt_failed(
    job: Any, connection: Any, exc_type: Any, exc_value: Any, traceback: Any
) -> None:
    """RQ failure callback of `push_notification` (also when its worker died)."""
    notification_id = (job.kwargs or {}).get("notification_id")
    if not notification_id:
        return
    retrying = "retrying" if job.retries_left else "the sweep will retry"
    name = getattr(exc_type, "__name__", exc_type)
    push.notification_push_failed(
        notification_id=notification_id,
        error=f"push interrupted ({name}: {exc_value}); {retrying}",
    )


@job_logged
def push_sweep() -> int:
    """Re-enqueue pushes whose job was lost (Redis down at commit, worker killed)."""
    now = timezone.now()
    stuck = push.notifications_awaiting_push(
        older_than=now - PUSH_STUCK_AFTER, newer_than=now - PUSH_WINDOW
    ).values_list("pk", "organization_id")[:1000]
    count = 0
    for pk, organization_id in stuck:
        enqueue_push(notification_id=pk, organization_id=organization_id)
        count += 1
    return count


# The job's name before the glossary's rule (it shared `crm_sync_leads` with the service it
# calls); jobs queued by the previous release keep that path. Remove after the next release.
crm_sync_leads = sync_crm_batch
