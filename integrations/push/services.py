"""Pushing notifications to the recipient's devices (FCM), pruning the tokens FCM rejects.

Delivery is at least once: `pushed_at` is set only after every device was tried, so a lost or
failed job is retried (or picked up by the sweep) and may push a device twice; the collapse key
(the notification id) makes the phone replace the first copy rather than show two.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Exists, OuterRef, QuerySet
from django.utils import timezone, translation

from integrations.errors import PermanentError, RetryableError
from integrations.push.fcm import FCMClient, SendOutcome, configured_account
from organizations.models import Device, Notification
from organizations.notifications import devices_prune, recipients_wanting

logger = logging.getLogger("integrations.push")


@dataclass
class PushResult:
    sent: int = 0
    pruned: int = 0
    failed: list[str] = field(default_factory=list)


def fcm_message(notification: Notification) -> dict[str, Any]:
    """The FCM `message` (without `token`): title, body, string-only data, collapse keys."""
    with translation.override("pt-br"):
        body = str(notification.get_tipo_display())
    data = {"notification_id": str(notification.pk), "tipo": notification.tipo}
    for key, value in (notification.payload or {}).items():
        if value is not None and key not in data:
            data[str(key)] = str(value)  # FCM data values must be strings
    collapse = str(notification.pk)
    return {
        "notification": {"title": notification.titulo, "body": body},
        "data": data,
        "android": {"collapse_key": collapse, "priority": "high"},
        "apns": {"headers": {"apns-collapse-id": collapse}},
    }


def _done(notification: Notification, *, error: str | None = None) -> None:
    """The push is over: `pushed_at` set, `push_error` the permanent refusals (or cleared)."""
    Notification.objects.filter(pk=notification.pk, pushed_at__isnull=True).update(
        pushed_at=timezone.now(), push_error=error[:1000] if error else None
    )


def notification_push_failed(*, notification_id: Any, error: str) -> None:
    """A push job failed or its worker died: the row says why until a push completes."""
    Notification.objects.filter(pk=notification_id, pushed_at__isnull=True).update(
        push_error=error[:1000]
    )


def notification_push(*, notification_id: Any, client: FCMClient | None = None) -> PushResult:
    """Push one notification to every device of its recipient (if they want push)."""
    result = PushResult()
    notification = (
        Notification.objects.select_related("recipient").filter(pk=notification_id).first()
    )
    if notification is None or notification.pushed_at is not None:
        return result
    wanted = recipients_wanting(
        channel="push", tipo=notification.tipo, recipient_ids=[notification.recipient_id]
    )
    devices = list(Device.objects.filter(membership_id=notification.recipient_id))
    if not wanted or not notification.recipient.ativo or not devices:
        _done(notification)
        return result
    if client is None:
        account = configured_account()
        if account is None:
            logger.info("push skipped: FCM_SERVICE_ACCOUNT is not set")
            _done(notification)
            return result
        client = FCMClient(account)
    message = fcm_message(notification)
    dead: list[str] = []
    refused: list[str] = []
    retry: RetryableError | None = None
    for device in devices:
        try:
            outcome = client.send(token=device.token, message=message)
        except RetryableError as exc:
            retry = exc
            result.failed.append(str(device.pk))
            continue
        except PermanentError as exc:
            logger.warning("push to device %s refused: %s", device.pk, exc)
            result.failed.append(str(device.pk))
            refused.append(f"device {device.pk}: {exc}")
            continue
        if outcome is SendOutcome.INVALID:
            dead.append(device.token)
        else:
            result.sent += 1
    if dead:
        result.pruned = devices_prune(tokens=dead)
    if retry is not None:
        raise retry  # the job retries; devices already reached get the same collapse key
    _done(notification, error="; ".join(refused) or None)
    return result


def notifications_awaiting_push(*, older_than: Any, newer_than: Any) -> QuerySet[Notification]:
    """Notifications whose push never completed (lost or failing job), recipients with devices."""
    return Notification.objects.filter(
        pushed_at__isnull=True, created_at__lt=older_than, created_at__gte=newer_than
    ).filter(Exists(Device.objects.filter(membership_id=OuterRef("recipient_id"))))
