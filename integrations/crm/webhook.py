"""Inbound CRM change webhooks: ``/webhooks/crm/hubspot/<connection id>/`` and
``/webhooks/crm/pipedrive/<connection id>/``.

Plain Django views (no JWT; the raw bytes are what HubSpot signs). The connection must exist,
be active, be of that provider and have a webhook secret: otherwise 404. Then:

* HubSpot: ``X-HubSpot-Signature-v3`` = base64(HMAC-SHA256(app client secret, method + URI +
  body + ``X-HubSpot-Request-Timestamp``)); a timestamp more than 5 minutes away is refused
  (replay). Body: a JSON array of events ``{eventId, subscriptionType, objectId,
  propertyName, propertyValue, occurredAt (ms), ...}``; ``contact.propertyChange`` of a mapped
  property becomes a change, other events are recorded and ignored.
  https://developers.hubspot.com/docs/apps/legacy-apps/authentication/validating-requests
* Pipedrive (webhooks v2, v1 accepted): HTTP basic auth with the connection's ``webhook_user``
  and secret. Body ``{meta: {action, entity|object, entity_id|id, timestamp}, data|current,
  previous}``; a ``change``/``updated`` of a person whose mapped custom fields appear in
  ``previous`` becomes changes (values from ``data.custom_fields``, v1: top-level keys).
  https://pipedrive.readme.io/docs/guide-for-webhooks-v2

Refused requests write nothing: 401 bad signature / credentials / stale timestamp, 400 a body
that is not the provider's format, 413 too large.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import logging
import time
from datetime import UTC, datetime
from typing import Any

from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, JsonResponse
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from config.responses import error_response
from integrations.crm import inbound
from integrations.crm.inbound import FieldChange, InboundEvent
from integrations.models import CRMConnection, CrmProvider

logger = logging.getLogger(__name__)

MAX_BODY_BYTES = 1024 * 1024
MAX_SKEW_MS = 5 * 60 * 1000  # HubSpot: reject timestamps older than 5 minutes


class BadBody(Exception):
    """The body is not the provider's documented format."""


def _connection(connection_id: Any, provider: str) -> CRMConnection | None:
    return CRMConnection.objects.filter(pk=connection_id, provider=provider, ativo=True).first()


def _read(request: HttpRequest) -> bytes | None:
    try:
        body = request.body
    except RequestDataTooBig:
        return None
    return body if len(body) <= MAX_BODY_BYTES else None


def _receive(
    request: HttpRequest, connection_id: Any, provider: str
) -> tuple[CRMConnection | None, bytes | None, JsonResponse | None]:
    connection = _connection(connection_id, provider)
    if connection is None or not connection.webhook_secret:
        return None, None, error_response(404, _("Webhook de CRM não encontrado."))
    body = _read(request)
    if body is None:
        return None, None, error_response(413, _("O corpo da requisição é grande demais."))
    return connection, body, None


def _accepted(connection: CRMConnection, events: list[InboundEvent]) -> JsonResponse:
    counts = inbound.receive_events(connection, events)
    return JsonResponse({"status": "accepted", **counts})


# -- HubSpot ----------------------------------------------------------------------------------


def hubspot_signature(secret: str, method: str, uri: str, body: bytes, timestamp: str) -> str:
    message = method.encode() + uri.encode() + body + timestamp.encode()
    digest = hmac.new(secret.encode(), message, hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def hubspot_verified(request: HttpRequest, secret: str, body: bytes) -> bool:
    signature = request.headers.get("X-HubSpot-Signature-v3", "")
    timestamp = request.headers.get("X-HubSpot-Request-Timestamp", "")
    if not signature or not timestamp.isdigit():
        return False
    if abs(time.time() * 1000 - int(timestamp)) > MAX_SKEW_MS:
        return False
    uri = request.build_absolute_uri()
    expected = hubspot_signature(secret, request.method or "POST", uri, body, timestamp)
    return hmac.compare_digest(expected, signature)


def parse_hubspot(connection: CRMConnection, body: bytes) -> list[InboundEvent]:
    try:
        payload = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadBody(_("O corpo não é JSON.")) from exc
    if not isinstance(payload, list) or not payload:
        raise BadBody(_("Esperada uma lista de eventos."))
    fields = inbound.reverse_mapping(connection)
    return [_hubspot_event(item, fields) for item in payload]


def _hubspot_event(item: Any, fields: dict[str, str]) -> InboundEvent:
    required = ("eventId", "subscriptionType", "objectId", "occurredAt")
    if not isinstance(item, dict) or any(item.get(k) in (None, "") for k in required):
        raise BadBody(_("Cada evento precisa de eventId, subscriptionType, objectId e occurredAt."))
    occurred = item["occurredAt"]
    if not isinstance(occurred, int) or isinstance(occurred, bool):
        raise BadBody(_("occurredAt deve ser um número (milissegundos)."))
    event_id, crm_id = str(item["eventId"]), str(item["objectId"])
    field = fields.get(str(item.get("propertyName", "")))
    if item["subscriptionType"] != "contact.propertyChange" or field is None:
        return InboundEvent(event_id, crm_id)
    at = datetime.fromtimestamp(occurred / 1000, tz=UTC)
    return InboundEvent(event_id, crm_id, (FieldChange(field, item.get("propertyValue"), at),))


@csrf_exempt
@require_POST
def hubspot_webhook(request: HttpRequest, connection_id: Any) -> JsonResponse:
    connection, body, refused = _receive(request, connection_id, CrmProvider.HUBSPOT)
    if refused is not None or connection is None or body is None:
        return refused or error_response(404, _("Webhook de CRM não encontrado."))
    if not hubspot_verified(request, connection.webhook_secret, body):
        logger.warning("hubspot webhook for %s: bad signature or timestamp", connection.pk)
        return error_response(401, _("Assinatura inválida."))
    try:
        events = parse_hubspot(connection, body)
    except BadBody as exc:
        return error_response(400, _("Corpo inválido."), {"body": [str(exc)]})
    return _accepted(connection, events)


# -- Pipedrive --------------------------------------------------------------------------------


def pipedrive_authorized(request: HttpRequest, connection: CRMConnection) -> bool:
    header = request.headers.get("Authorization", "")
    scheme, _sep, encoded = header.partition(" ")
    if scheme.lower() != "basic" or not encoded:
        return False
    try:
        user, _colon, password = base64.b64decode(encoded, validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return False
    user_ok = hmac.compare_digest(user.encode(), connection.webhook_user.encode())
    password_ok = hmac.compare_digest(password.encode(), connection.webhook_secret.encode())
    return user_ok and password_ok


def _timestamp(raw: Any) -> datetime:
    if isinstance(raw, int | float) and not isinstance(raw, bool):
        seconds = raw / 1000 if raw > 10**11 else raw
        return datetime.fromtimestamp(seconds, tz=UTC)
    if isinstance(raw, str) and raw.strip():
        text = raw.strip()
        if text.isdigit():
            return _timestamp(int(text))
        try:
            parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            parsed = None
        if parsed is not None and parsed.tzinfo is not None:
            return parsed
    raise BadBody(_("meta.timestamp inválido."))


def _custom(record: Any) -> dict[str, Any]:
    if not isinstance(record, dict):
        return {}
    custom = record.get("custom_fields")
    return custom if isinstance(custom, dict) else record  # v1: custom keys at the top


def _unwrap(value: Any) -> Any:
    return value.get("value") if isinstance(value, dict) else value


def parse_pipedrive(connection: CRMConnection, body: bytes) -> InboundEvent:
    try:
        payload = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadBody(_("O corpo não é JSON.")) from exc
    meta = payload.get("meta") if isinstance(payload, dict) else None
    if not isinstance(meta, dict) or not meta.get("action"):
        raise BadBody(_("Esperado um objeto com meta.action."))
    current = payload.get("data", payload.get("current"))
    entity = meta.get("entity") or meta.get("object")
    entity_id = meta.get("entity_id") or (current or {}).get("id") or meta.get("id")
    if entity_id in (None, ""):
        raise BadBody(_("Evento sem o id do registro."))
    at = _timestamp(meta.get("timestamp"))
    event_id = f"{entity}:{entity_id}:{meta['action']}:{meta.get('timestamp')}"
    if entity != "person" or meta["action"] not in ("change", "updated"):
        return InboundEvent(event_id, str(entity_id))
    now, before = _custom(current), _custom(payload.get("previous"))
    changes = tuple(
        FieldChange(field, _unwrap(now.get(key)), at)
        for key, field in inbound.reverse_mapping(connection).items()
        if key in before and _unwrap(before.get(key)) != _unwrap(now.get(key))
    )
    return InboundEvent(event_id, str(entity_id), changes)


@csrf_exempt
@require_POST
def pipedrive_webhook(request: HttpRequest, connection_id: Any) -> JsonResponse:
    connection, body, refused = _receive(request, connection_id, CrmProvider.PIPEDRIVE)
    if refused is not None or connection is None or body is None:
        return refused or error_response(404, _("Webhook de CRM não encontrado."))
    if not pipedrive_authorized(request, connection):
        response = error_response(401, _("Credenciais inválidas."))
        response["WWW-Authenticate"] = 'Basic realm="crm-webhook"'
        return response
    try:
        event = parse_pipedrive(connection, body)
    except BadBody as exc:
        return error_response(400, _("Corpo inválido."), {"body": [str(exc)]})
    return _accepted(connection, [event])
