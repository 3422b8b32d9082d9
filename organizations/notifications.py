"""Notifications: creating them (one row per recipient, idempotent when a key is given),
reading them, the member's delivery preferences and push devices.

Every creation path ends in `notifications_created(notifications)`: receivers deliver what
was created (integrations pushes through FCM, organizations.realtime streams to the app) on
commit. The rows passed may include some a unique key skipped (`bulk_create` with
`ignore_conflicts`); receivers reload by id, so those come to nothing.
"""

from __future__ import annotations

import zoneinfo
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import QuerySet
from django.dispatch import Signal
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from organizations.models import (
    MANAGER_ROLES,
    Device,
    Membership,
    Notification,
    NotificationPreference,
    NotificationTipo,
    Organization,
)

# Sent inside the creating transaction with `notifications=[Notification, ...]`.
notifications_created = Signal()

# What a member gets when they never chose: push and in-app on, the email digest off.
DEFAULT_PREFERENCE = {"push": True, "email": False, "in_app": True}
CHANNELS = tuple(DEFAULT_PREFERENCE)


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
    created = Notification.objects.bulk_create(rows, ignore_conflicts=chave is not None)
    notifications_created_announce(created)
    return created


def notifications_created_announce(notifications: list[Notification]) -> None:
    """Tell the delivery receivers (push, stream) about rows just written in this transaction."""
    if notifications:
        notifications_created.send(sender=Notification, notifications=notifications)


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


# --- preferences ---------------------------------------------------------------------------


def preferences_for(*, membership: Membership) -> dict[str, dict[str, bool]]:
    """Every tipo with the member's choice, or the default where they never chose."""
    chosen = {
        row.tipo: {channel: getattr(row, channel) for channel in CHANNELS}
        for row in NotificationPreference.objects.filter(membership=membership)
    }
    return {tipo: chosen.get(tipo, dict(DEFAULT_PREFERENCE)) for tipo in NotificationTipo.values}


@transaction.atomic
def preferences_update(
    *, membership: Membership, data: Mapping[str, Mapping[str, bool]]
) -> dict[str, dict[str, bool]]:
    """Sets the given tipos (each with all three channels); other tipos stay as they were."""
    for tipo, channels in data.items():
        NotificationPreference.objects.update_or_create(
            membership=membership,
            tipo=tipo,
            defaults={
                "organization_id": membership.organization_id,
                **{channel: bool(channels[channel]) for channel in CHANNELS},
            },
        )
    return preferences_for(membership=membership)


def recipients_wanting(*, channel: str, tipo: str, recipient_ids: Iterable[Any]) -> set[Any]:
    """Which of these members want `tipo` through `channel` (defaults included)."""
    ids = set(recipient_ids)
    chosen = dict(
        NotificationPreference.objects.filter(membership_id__in=ids, tipo=tipo).values_list(
            "membership_id", channel
        )
    )
    return {pk for pk in ids if chosen.get(pk, DEFAULT_PREFERENCE[channel])}


# --- devices ---------------------------------------------------------------------------------


@transaction.atomic
def device_register(
    *, membership: Membership, plataforma: str, token: str, app_versao: str = ""
) -> tuple[Device, bool]:
    """Registers an FCM token for the member: (device, created). The same token again (an app
    restart, a new version, another member on the same phone) updates the one row."""
    device, created = Device.objects.select_for_update().update_or_create(
        token=token,
        defaults={
            "organization_id": membership.organization_id,
            "membership": membership,
            "plataforma": plataforma,
            "app_versao": app_versao,
        },
    )
    return device, created


def device_delete(*, device: Device) -> None:
    device.delete()


def devices_prune(*, tokens: Iterable[str]) -> int:
    """Forgets tokens the push provider reported as no longer valid; returns how many."""
    deleted, _ = Device.objects.filter(token__in=list(tokens)).delete()
    return deleted


# --- daily email digest --------------------------------------------------------------------

# Unread notifications older than this are not mailed (a first digest is not an archive).
DIGEST_LOOKBACK = timedelta(days=7)


def digest_send(*, membership: Membership, now: datetime | None = None) -> int:
    """Mails the member one message listing their unread, not yet mailed notifications of the
    tipos they chose email for; returns how many were listed (0: nothing sent).

    Sent before `digested_at` is set: a crash in between mails them again next time (at least
    once), never loses them."""
    now = now or timezone.now()
    tipos = list(
        NotificationPreference.objects.filter(membership=membership, email=True).values_list(
            "tipo", flat=True
        )
    )
    if not tipos or not membership.ativo or not membership.user.email:
        return 0
    rows = list(
        Notification.objects.filter(
            recipient=membership,
            tipo__in=tipos,
            read_at__isnull=True,
            digested_at__isnull=True,
            created_at__gte=now - DIGEST_LOOKBACK,
        ).order_by("created_at")[:200]
    )
    if not rows:
        return 0
    zone = zoneinfo.ZoneInfo(membership.organization.timezone)
    with translation.override("pt-br"):
        subject = ngettext(
            "Resumo diário: %(n)d notificação não lida",
            "Resumo diário: %(n)d notificações não lidas",
            len(rows),
        ) % {"n": len(rows)}
        lines = [f"{row.created_at.astimezone(zone):%d/%m %H:%M} - {row.titulo}" for row in rows]
        intro = _("Olá, %(nome)s. Estas notificações ainda não foram lidas:") % {
            "nome": membership.nome_completo
        }
        body = "\n".join([intro, "", *lines, ""])
    send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, [membership.user.email])
    Notification.objects.filter(pk__in=[row.pk for row in rows]).update(digested_at=now)
    return len(rows)


def digest_recipients() -> QuerySet[Membership]:
    """Active members who chose the email digest for at least one tipo."""
    chose = NotificationPreference.objects.filter(email=True).values("membership_id")
    return Membership.objects.filter(pk__in=chose, ativo=True).select_related(
        "user", "organization"
    )
