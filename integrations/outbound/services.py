"""Outbound webhooks: subscriptions, durable deliveries, signed attempts with backoff, replay.

How nothing is lost and nothing is hammered:
- an event writes one `WebhookDelivery` row per subscribed endpoint inside the write's own
  transaction; a job is queued on commit for the first attempt, and a sweep every minute picks
  up whatever is due (a lost job, Redis down at commit, a retry whose time has come);
- an attempt claims its row with `SELECT ... FOR UPDATE SKIP LOCKED` and pushes
  `proxima_tentativa` past the request timeout before sending, so two workers never send the
  same attempt at once;
- a non-2xx answer or a transport error schedules the next attempt by `RETRY_SCHEDULE`
  (about 24 hours in all), then the delivery `falhou`; if the endpoint had no success since that
  delivery was created, the endpoint is disabled and the organization's admins are notified.
Deliveries are at least once (a worker killed after the receiver answered repeats the attempt):
receivers deduplicate by `webhook-id`, as the Standard Webhooks spec asks.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from datetime import datetime, timedelta
from typing import Any, cast

import httpx
from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from config.events import EVENT_TYPES
from config.jobs import SAFE_RETRY, enqueue
from integrations.outbound import signing
from integrations.outbound.models import (
    DeliveryStatus,
    WebhookDelivery,
    WebhookEndpoint,
    new_signing_secret,
)
from organizations.models import NotificationTipo, Organization, Role
from organizations.notifications import notify

logger = logging.getLogger("integrations.webhooks")

# Seconds to wait after attempt n (1-based) fails before attempt n + 1: 8 attempts over ~24 h.
RETRY_SCHEDULE = (5, 300, 1800, 7200, 18000, 28800, 30300)
# Lease taken on a delivery while one attempt is in flight (longer than the request timeout).
ATTEMPT_LEASE = timedelta(seconds=60)
SWEEP_BATCH = 200
RESPONSE_EXCERPT = 300


def _timeout() -> float:
    return float(getattr(settings, "WEBHOOK_TIMEOUT", 10.0))


def _retry_schedule() -> tuple[int, ...]:
    return tuple(getattr(settings, "WEBHOOK_RETRY_SCHEDULE", RETRY_SCHEDULE))


# --- subscriptions ----------------------------------------------------------------------------


@transaction.atomic
def webhook_endpoint_create(
    *, organization: Organization, data: dict[str, Any]
) -> tuple[WebhookEndpoint, str]:
    """Create an endpoint; returns it and its signing secret (shown to the admin once)."""
    secret = new_signing_secret()
    endpoint = WebhookEndpoint.objects.create(organization=organization, secret=secret, **data)
    return endpoint, secret


@transaction.atomic
def webhook_endpoint_update(*, endpoint: WebhookEndpoint, data: dict[str, Any]) -> WebhookEndpoint:
    """Change only the given fields, under a row lock (a concurrent edit is never undone).

    Switching an automatically disabled endpoint back on clears the reason.
    """
    locked = WebhookEndpoint.objects.select_for_update().get(pk=endpoint.pk)
    for name, value in data.items():
        setattr(locked, name, value)
    fields = list(data)
    if data.get("ativo") is True and locked.desativado_em is not None:
        locked.desativado_em = None
        locked.motivo_desativacao = ""
        fields += ["desativado_em", "motivo_desativacao"]
    locked.save(update_fields=[*fields, "updated_at"])
    return cast("WebhookEndpoint", locked)


@transaction.atomic
def webhook_endpoint_rotate_secret(*, endpoint: WebhookEndpoint) -> str:
    secret = new_signing_secret()
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(secret=secret, updated_at=timezone.now())
    return secret


# --- events -----------------------------------------------------------------------------------


def json_safe(data: dict[str, Any]) -> dict[str, Any]:
    """Decimals, dates and UUIDs as the API writes them (strings)."""
    result: dict[str, Any] = json.loads(json.dumps(data, cls=DjangoJSONEncoder))
    return result


def subscribed_endpoints(organization_id: Any, event_type: str) -> list[WebhookEndpoint]:
    endpoints = WebhookEndpoint.objects.filter(organization_id=organization_id, ativo=True).only(
        "id", "organization_id", "eventos"
    )
    return [endpoint for endpoint in endpoints if event_type in (endpoint.eventos or [])]


def webhook_event_record(
    *, organization_id: Any, event_type: str, data: dict[str, Any]
) -> list[WebhookDelivery]:
    """Record one delivery per subscribed endpoint (in the caller's transaction) and queue them."""
    if event_type not in EVENT_TYPES:
        raise ValueError(f"unknown event type {event_type!r}")
    endpoints = subscribed_endpoints(organization_id, event_type)
    if not endpoints:
        return []
    now = timezone.now()
    payload = {"type": event_type, "timestamp": now.isoformat(), "data": json_safe(data)}
    message_id = f"msg_{uuid.uuid4().hex}"
    deliveries = WebhookDelivery.objects.bulk_create(
        WebhookDelivery(
            organization_id=organization_id,
            endpoint=endpoint,
            evento=event_type,
            mensagem_id=message_id,
            payload=payload,
            proxima_tentativa=now,
        )
        for endpoint in endpoints
    )
    for delivery in deliveries:
        _queue_attempt(delivery)
    return deliveries


def _queue_attempt(delivery: WebhookDelivery) -> None:
    from integrations.jobs import deliver_webhook

    enqueue(
        deliver_webhook,
        delivery_id=str(delivery.pk),
        organization_id=str(delivery.organization_id),
        queue="default",
        # A worker killed mid-attempt: RQ notices the abandoned job, the callback records it
        # on the row and releases the lease, and the job is retried (the sweep is the backstop).
        retry=SAFE_RETRY,
        on_failure="integrations.jobs.webhook_attempt_failed",
    )


def webhook_attempt_interrupted(*, delivery_id: Any, error: str) -> None:
    """An attempt's job failed or its worker died: the row says so (`ultimo_erro`) and its
    lease is released so the retry attempts it at once (the receiver may have got the first
    try: deliveries are at least once, deduplicated by `webhook-id`)."""
    WebhookDelivery.objects.filter(pk=delivery_id, status=DeliveryStatus.PENDENTE).update(
        ultimo_erro=error[:500], proxima_tentativa=timezone.now()
    )


@transaction.atomic
def webhook_delivery_replay(*, delivery: WebhookDelivery) -> WebhookDelivery:
    """Send the same event again (same `webhook-id`) as a new delivery row."""
    replay = WebhookDelivery.objects.create(
        organization_id=delivery.organization_id,
        endpoint_id=delivery.endpoint_id,
        evento=delivery.evento,
        mensagem_id=delivery.mensagem_id,
        payload=delivery.payload,
        proxima_tentativa=timezone.now(),
        replay_of=delivery,
    )
    _queue_attempt(replay)
    return replay


# --- attempts ---------------------------------------------------------------------------------


def _claim(delivery_id: Any, now: datetime) -> WebhookDelivery | None:
    """Take the delivery for one attempt if it is due and nobody else holds it."""
    with transaction.atomic():
        delivery = (
            WebhookDelivery.objects.select_for_update(skip_locked=True)
            .select_related("endpoint")
            .filter(
                pk=delivery_id,
                status=DeliveryStatus.PENDENTE,
                proxima_tentativa__lte=now,
            )
            .first()
        )
        if delivery is None:
            return None
        delivery.tentativas += 1
        delivery.proxima_tentativa = now + ATTEMPT_LEASE
        delivery.save(update_fields=["tentativas", "proxima_tentativa"])
        return cast("WebhookDelivery | None", delivery)


def webhook_delivery_attempt(*, delivery_id: Any) -> str | None:
    """Make one attempt of a due delivery; returns its new status (None: not due or taken)."""
    now = timezone.now()
    delivery = _claim(delivery_id, now)
    if delivery is None:
        return None
    endpoint = delivery.endpoint
    if not endpoint.ativo:
        _record_failure(delivery, status_code=None, error=_("Webhook desativado."), final=True)
        return DeliveryStatus.FALHOU
    status_code, error = _send(endpoint, delivery)
    if error is None:
        _record_success(delivery, status_code)
        return DeliveryStatus.ENTREGUE
    final = delivery.tentativas > len(_retry_schedule())
    _record_failure(delivery, status_code=status_code, error=error, final=final)
    return DeliveryStatus.FALHOU if final else DeliveryStatus.PENDENTE


def _send(endpoint: WebhookEndpoint, delivery: WebhookDelivery) -> tuple[int | None, str | None]:
    from integrations.net import OutboundURLError, guarded_client, outbound_target, refusal

    body = json.dumps(delivery.payload, separators=(",", ":"), ensure_ascii=False).encode()
    headers = signing.headers(
        secret=endpoint.secret,
        message_id=delivery.mensagem_id,
        timestamp=int(time.time()),
        body=body,
    )
    try:
        outbound_target(endpoint.url)  # https and a well-formed host, still
        # The guarded client resolves the host as it connects and refuses an inward address (a
        # name re-pointed since the URL was saved); it follows no redirect: a 3xx is a failed
        # attempt.
        with guarded_client(timeout=_timeout()) as http:
            response = http.post(endpoint.url, content=body, headers=headers)
    except OutboundURLError as exc:
        return None, str(exc)
    except httpx.HTTPError as exc:
        refused = refusal(exc)
        return None, str(refused) if refused is not None else type(exc).__name__
    if 200 <= response.status_code < 300:
        return response.status_code, None
    excerpt = response.text[:RESPONSE_EXCERPT]
    return response.status_code, f"HTTP {response.status_code}: {excerpt}".strip()


def _record_success(delivery: WebhookDelivery, status_code: int | None) -> None:
    now = timezone.now()
    with transaction.atomic():
        WebhookDelivery.objects.filter(pk=delivery.pk).update(
            status=DeliveryStatus.ENTREGUE,
            entregue_em=now,
            ultimo_status_http=status_code,
            ultimo_erro="",
            proxima_tentativa=None,
        )
        WebhookEndpoint.objects.filter(pk=delivery.endpoint_id).update(ultimo_sucesso_em=now)


def _record_failure(
    delivery: WebhookDelivery, *, status_code: int | None, error: str, final: bool
) -> None:
    now = timezone.now()
    schedule = _retry_schedule()
    with transaction.atomic():
        if final:
            updates: dict[str, Any] = {"status": DeliveryStatus.FALHOU, "proxima_tentativa": None}
        else:
            delay = schedule[min(delivery.tentativas, len(schedule)) - 1]
            updates = {"proxima_tentativa": now + timedelta(seconds=delay)}
        WebhookDelivery.objects.filter(pk=delivery.pk).update(
            ultimo_status_http=status_code, ultimo_erro=error[:500], **updates
        )
        if final:
            _disable_if_dead(delivery)
    logger.warning(
        "webhook attempt failed",
        extra={
            "event": "webhook.attempt_failed",
            "delivery_id": str(delivery.pk),
            "organization_id": str(delivery.organization_id),
            "attempt": delivery.tentativas,
            "final": final,
            "status_code": status_code,
        },
    )


def _disable_if_dead(delivery: WebhookDelivery) -> None:
    """A delivery gave up after its whole retry schedule: with no success to the endpoint since
    the delivery was created, the endpoint is dead for a day; disable it and tell the admins."""
    endpoint = WebhookEndpoint.objects.select_for_update().get(pk=delivery.endpoint_id)
    if not endpoint.ativo:
        return
    if endpoint.ultimo_sucesso_em is not None and endpoint.ultimo_sucesso_em >= delivery.created_at:
        return
    endpoint.ativo = False
    endpoint.desativado_em = timezone.now()
    endpoint.motivo_desativacao = _("Desativado após falhas seguidas nas entregas por 24 horas.")
    endpoint.save(update_fields=["ativo", "desativado_em", "motivo_desativacao", "updated_at"])
    organization = endpoint.organization
    notify(
        organization=organization,
        recipients=organization.memberships.filter(role=Role.ADMIN, ativo=True),
        tipo=NotificationTipo.WEBHOOK_DISABLED,
        titulo=_("Webhook desativado: %(url)s") % {"url": endpoint.url},
        payload={"webhook_endpoint_id": str(endpoint.pk), "url": endpoint.url},
        chave=f"webhook_disabled:{endpoint.pk}:{endpoint.desativado_em.isoformat()}",
    )


def webhook_deliveries_due(*, limit: int = SWEEP_BATCH) -> list[tuple[Any, Any]]:
    """Ids of pending deliveries whose attempt time has come (for the sweep)."""
    return list(
        WebhookDelivery.objects.filter(
            status=DeliveryStatus.PENDENTE, proxima_tentativa__lte=timezone.now()
        )
        .order_by("proxima_tentativa")
        .values_list("pk", "organization_id")[:limit]
    )
