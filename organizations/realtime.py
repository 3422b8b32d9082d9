"""Live notifications: Server-Sent Events at `GET /api/v1/notifications/stream/`.

django-eventstream does the streaming (ASGI only: see docs/deploy.md, "Realtime"). Each active
membership has one channel, `notifications-<membership id>`; the view subscribes the requester
to their own channels only (all their organizations, or the one `X-Organization-Id` names), and
the channel manager refuses any other channel (the only other way to name channels, eventstream's
`es-meta`, is signed with SECRET_KEY). Events are published on commit through Redis, so the web
process that served the write, a worker or the scheduler all reach every ASGI process, and kept
in Redis for replay: a client reconnecting with `Last-Event-ID` gets what it missed (within
django-eventstream's retention, then a `stream-reset`; the list API with `updated_since` covers
anything older).
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

from django.db import transaction
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET
from django_eventstream import send_event
from django_eventstream.channelmanager import DefaultChannelManager
from django_eventstream.views import events
from rest_framework import exceptions
from rest_framework.request import Request
from rest_framework_simplejwt.authentication import JWTAuthentication

from config.responses import error_response
from organizations.models import Membership, Notification
from organizations.notifications import notifications_created, recipients_wanting

logger = logging.getLogger("organizations.realtime")

CHANNEL_PREFIX = "notifications-"
EVENT_NOTIFICATION = "notification"


def channel_for(membership_id: Any) -> str:
    return f"{CHANNEL_PREFIX}{membership_id}"


class MemberChannelManager(DefaultChannelManager):
    """Only a member's own channel is readable, and only by that member's user."""

    def get_channels_for_request(self, request: Any, view_kwargs: dict[str, Any]) -> set[str]:
        return set(view_kwargs.get("channels", ()))

    def can_read_channel(self, user: Any, channel: str) -> bool:
        if user is None or not channel.startswith(CHANNEL_PREFIX):
            return False
        try:
            membership_id = uuid.UUID(channel.removeprefix(CHANNEL_PREFIX))
        except ValueError:
            return False
        return Membership.objects.filter(pk=membership_id, user_id=user.pk, ativo=True).exists()

    def is_channel_reliable(self, channel: str) -> bool:
        return True


def _authenticated_user(request: HttpRequest) -> Any:
    """`Authorization: Bearer <access token>` (mobile) or the session (admin, browsable API)."""
    if request.headers.get("Authorization"):
        result = JWTAuthentication().authenticate(Request(request))
        return result[0] if result else None
    user = getattr(request, "user", None)
    return user if user is not None and user.is_authenticated else None


@require_GET
def notification_stream(request: HttpRequest) -> HttpResponse:
    try:
        user = _authenticated_user(request)
    except exceptions.AuthenticationFailed:
        user = None
    if user is None or not user.is_active:
        return error_response(401, _("As credenciais de autenticação não foram fornecidas."))
    memberships = Membership.objects.filter(user_id=user.pk, ativo=True)
    header = request.headers.get("X-Organization-Id", "").strip()
    if header:
        try:
            memberships = memberships.filter(organization_id=uuid.UUID(header))
        except ValueError:
            return error_response(
                400, _("Cabeçalho X-Organization-Id inválido: use o id da organização.")
            )
    channels = [channel_for(pk) for pk in memberships.values_list("pk", flat=True)]
    if not channels:
        return error_response(403, _("Você não tem acesso ativo a esta organização."))
    request.user = user
    response: HttpResponse = events(request, channels=channels)
    # Proxies (nginx) must not buffer the stream.
    response["X-Accel-Buffering"] = "no"
    response["Cache-Control"] = "no-cache, no-store"
    return response


def notification_event(notification: Notification, *, unread: int) -> dict[str, Any]:
    return {
        "id": str(notification.pk),
        "organization_id": str(notification.organization_id),
        "recipient_id": str(notification.recipient_id),
        "tipo": notification.tipo,
        "titulo": notification.titulo,
        "payload": notification.payload,
        "read_at": notification.read_at.isoformat() if notification.read_at else None,
        "created_at": notification.created_at.isoformat(),
        "unread": unread,
    }


def publish(notification_ids: list[Any]) -> int:
    """Streams the notifications that exist (a unique key may have skipped some) to their
    recipients who want them in the app; returns how many events were sent."""
    rows = list(Notification.objects.filter(pk__in=notification_ids).order_by("created_at"))
    sent = 0
    by_tipo: dict[str, set[Any]] = {}
    for row in rows:
        by_tipo.setdefault(row.tipo, set()).add(row.recipient_id)
    wanted = {
        tipo: recipients_wanting(channel="in_app", tipo=tipo, recipient_ids=ids)
        for tipo, ids in by_tipo.items()
    }
    for row in rows:
        if row.recipient_id not in wanted[row.tipo]:
            continue
        unread = Notification.objects.filter(
            recipient_id=row.recipient_id, read_at__isnull=True
        ).count()
        send_event(
            channel_for(row.recipient_id),
            EVENT_NOTIFICATION,
            notification_event(row, unread=unread),
        )
        sent += 1
    return sent


def _publish_safely(notification_ids: list[Any]) -> None:
    # Best effort after the commit: a Redis outage must not fail the request that wrote the
    # notification (it is in the inbox; clients catch up with the list API).
    try:
        publish(notification_ids)
    except Exception:
        logger.exception("notification stream publish failed")


@receiver(notifications_created, dispatch_uid="organizations.realtime.notifications_created")
def stream_new_notifications(sender: Any, notifications: list[Notification], **kwargs: Any) -> None:
    ids = [n.pk for n in notifications]
    transaction.on_commit(lambda: _publish_safely(ids))
