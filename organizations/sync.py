"""Tombstones for delta sync: which synced rows were deleted, and when.

Apps register their synced models (`track_deletions`) from `AppConfig.ready`; a post_delete
receiver then writes one `Deletion` per deleted row in the deleting transaction, cascades
included (a lead's interactions and tasks), whichever path deleted it (API, admin, shell).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.db import models
from django.db.models.signals import post_delete
from django.utils import timezone

from organizations.models import Deletion, Membership

# Clients whose last sync is older than this must sync in full (documented in docs/api.md).
RETENTION = timedelta(days=90)


def track_deletions(model: type[models.Model], tipo: str) -> None:
    def record(sender: Any, instance: Any, **kwargs: Any) -> None:
        Deletion.objects.create(
            organization_id=instance.organization_id, tipo=tipo, object_id=instance.pk
        )

    # weak=False: the closure is the only reference to the receiver.
    post_delete.connect(record, sender=model, weak=False, dispatch_uid=f"tombstone:{tipo}")


def deletions_since(*, membership: Membership, since: datetime) -> models.QuerySet[Deletion]:
    return Deletion.objects.for_org(membership.organization_id).filter(deleted_at__gte=since)


def deletions_prune(*, now: datetime | None = None) -> int:
    """Drops tombstones older than the retention; returns how many."""
    cutoff = (now or timezone.now()) - RETENTION
    deleted, _ = Deletion.objects.filter(deleted_at__lt=cutoff).delete()
    return deleted
