"""Creating notifications: one row per recipient, idempotent when a key is given."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db.models import QuerySet
from django.utils import timezone

from organizations.models import MANAGER_ROLES, Membership, Notification, Organization


def managers_of(organization: Organization | Any) -> QuerySet[Membership]:
    return Membership.objects.for_org(organization).filter(role__in=MANAGER_ROLES, ativo=True)


def notify(
    *,
    organization: Organization,
    recipients: Iterable[Membership | None],
    tipo: str,
    titulo: str,
    payload: dict[str, Any] | None = None,
    chave: str | None = None,
) -> list[Notification]:
    """Notifies each distinct active recipient once. With `chave`, a repeated call (a job run
    twice) creates nothing new: the unique (recipient, chave) constraint absorbs it."""
    unique: dict[Any, Membership] = {}
    for member in recipients:
        if member is not None and member.ativo and member.organization_id == organization.pk:
            unique[member.pk] = member
    rows = [
        Notification(
            organization=organization,
            recipient=member,
            tipo=tipo,
            titulo=titulo[:200],
            payload=payload or {},
            chave=chave,
        )
        for member in unique.values()
    ]
    if not rows:
        return []
    return Notification.objects.bulk_create(rows, ignore_conflicts=chave is not None)


def notification_mark_read(*, notification: Notification) -> Notification:
    if notification.read_at is None:
        notification.read_at = timezone.now()
        notification.save(update_fields=["read_at", "updated_at"])
    return notification


def notifications_mark_all_read(*, recipient: Membership) -> int:
    moment = timezone.now()
    # .update() skips auto_now: updated_at is set by hand so delta sync sees the change.
    return Notification.objects.filter(recipient=recipient, read_at__isnull=True).update(
        read_at=moment, updated_at=moment
    )
