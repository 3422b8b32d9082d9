"""Background jobs of the organizations app (thin: they call organizations services).

- `prune_sync_deletions` (daily): tombstones older than the sync retention are dropped.
- `send_notification_digests` (daily, 08:00 in Brasília): one email per member who chose the
  digest, listing their unread notifications (fans out one job per member).
"""

from __future__ import annotations

from config.jobs import SAFE_RETRY, PeriodicJob, enqueue, job_logged
from organizations import notifications, sync
from organizations.models import Membership

PERIODIC_JOBS = [
    PeriodicJob(
        id="organizations.prune_sync_deletions",
        func="organizations.jobs.prune_sync_deletions",
        cron="40 6 * * *",
        queue="low",
        timeout=600,
    ),
    PeriodicJob(
        id="organizations.notification_digests",
        func="organizations.jobs.send_notification_digests",
        cron="0 11 * * *",
        queue="low",
        timeout=600,
    ),
]


@job_logged
def prune_sync_deletions() -> int:
    return sync.deletions_prune()


@job_logged
def send_notification_digests() -> int:
    """Fans out one digest job per member who chose email for some tipo."""
    count = 0
    for pk, organization_id in notifications.digest_recipients().values_list(
        "pk", "organization_id"
    ):
        enqueue(
            send_notification_digest,
            membership_id=str(pk),
            organization_id=str(organization_id),
            queue="low",
            retry=SAFE_RETRY,
        )
        count += 1
    return count


@job_logged
def send_notification_digest(*, membership_id: str, organization_id: str) -> int:
    membership = (
        Membership.objects.select_related("user", "organization").filter(pk=membership_id).first()
    )
    if membership is None:
        return 0
    return notifications.digest_send(membership=membership)
