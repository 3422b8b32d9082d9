"""Bodies posted to a gateway webhook (`/webhooks/whatsapp/gateway/<token>/`), parsed into the
same ``InboundMessage`` as Meta's, and Twilio's request signature.

Two shapes are read:

* JSON ``{"from": "5511987654321", "body": "Oi", "timestamp": 1764950400}``, the simple body
  WhatsApp gateways popular in Brazil post. ``from`` is the sender's number (any punctuation, a
  leading ``+`` or a ``@c.us`` / ``@s.whatsapp.net`` suffix is tolerated); ``body`` a string
  (may be empty); ``timestamp`` Unix seconds (number or digit string) or ISO 8601 (without an
  offset it is read in the organization's time zone). Optional: ``id`` (or ``message_id``), the
  provider's message id, and ``name``, the sender's profile name.
* Twilio's form encoding (``application/x-www-form-urlencoded``): ``From``
  (``whatsapp:+5511...``), ``Body``, ``MessageSid``, optional ``ProfileName`` and ``NumMedia``.
  Twilio sends no timestamp: the time the body was received is used.

``parse_gateway_body`` raises ``PayloadError`` and nothing else. Twilio's signature
(https://www.twilio.com/docs/usage/security#validating-requests): base64 of HMAC-SHA1, keyed
with the account's auth token, over the full request URL followed by every POST parameter's
name and value, parameters sorted by name.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import zoneinfo
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl

from integrations.whatsapp.payloads import InboundMessage, PayloadError

FORM_CONTENT_TYPE = "application/x-www-form-urlencoded"
MAX_TEXT = 65536
_NON_DIGITS = re.compile(r"[^0-9]")
_DIGITS = re.compile(r"[0-9]{1,12}(\.[0-9]+)?")
# datetime cannot represent years past 9999; a gateway clock before 2000 is a bug, not a date.
_MIN_TIMESTAMP = int(datetime(2000, 1, 1, tzinfo=UTC).timestamp())
_MAX_TIMESTAMP = int(datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC).timestamp())


def is_form(content_type: str) -> bool:
    return content_type.split(";", 1)[0].strip().lower() == FORM_CONTENT_TYPE


def form_params(raw_body: bytes) -> list[tuple[str, str]]:
    try:
        return parse_qsl(raw_body.decode("utf-8"), keep_blank_values=True, strict_parsing=False)
    except (UnicodeDecodeError, ValueError) as exc:
        raise PayloadError(f"form body is not valid: {exc}") from None


def message_key(
    *, organization_id: Any, provider_id: str | None, sender: str, at: datetime, text: str
) -> str:
    """The stored message id (``wamid`` column): one row per message whatever the retries.

    The provider's id when it sends one, else a hash of sender, time and text. Prefixed with the
    organization so two organizations' gateways never collide on the unique column.
    """
    if provider_id:
        return f"gw:{organization_id}:{provider_id[:200]}"
    digest = hashlib.sha256(
        "\x1f".join([sender, at.astimezone(UTC).isoformat(), text]).encode("utf-8")
    ).hexdigest()
    return f"gw:{organization_id}:sha256:{digest}"


def parse_gateway_body(
    raw_body: bytes,
    *,
    content_type: str,
    organization_id: Any,
    timezone_name: str,
    received_at: datetime,
) -> tuple[InboundMessage, str]:
    """The message of one gateway POST and the sender's profile name ("" when not given)."""
    if is_form(content_type):
        return _parse_twilio(form_params(raw_body), organization_id, received_at)
    try:
        data = json.loads(raw_body)
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise PayloadError(
            "body must be JSON {from, body, timestamp} or Twilio form fields"
        ) from None
    if not isinstance(data, dict):
        raise PayloadError("body must be a JSON object")
    return _parse_json(data, organization_id, timezone_name)


def _sender(value: object, field: str) -> str:
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        raise PayloadError(f"{field} must be a phone number")
    digits = _NON_DIGITS.sub("", value.split("@", 1)[0])
    if not 8 <= len(digits) <= 15:
        raise PayloadError(f"{field} must be a phone number")
    return digits


def _text(value: object, field: str) -> str:
    if not isinstance(value, str):
        raise PayloadError(f"{field} must be a string")
    if len(value) > MAX_TEXT:
        raise PayloadError(f"{field} is too long")
    return value


def _optional_str(data: dict[str, Any], *names: str) -> str | None:
    for name in names:
        value = data.get(name)
        if isinstance(value, int) and not isinstance(value, bool):
            value = str(value)
        if isinstance(value, str) and value.strip():
            return value.strip()
    return None


def parse_timestamp(value: object, timezone_name: str) -> datetime:
    """Unix seconds (number or digit string) or ISO 8601; naive ISO in the given time zone."""
    if isinstance(value, bool) or value is None:
        raise PayloadError("timestamp is required (Unix seconds or ISO 8601)")
    seconds: float | None = None
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str) and _DIGITS.fullmatch(value.strip()):
        seconds = float(value.strip())
    if seconds is not None:
        if not _MIN_TIMESTAMP <= seconds <= _MAX_TIMESTAMP:
            raise PayloadError("timestamp is out of range")
        return datetime.fromtimestamp(seconds, tz=UTC)
    if not isinstance(value, str) or len(value) > 40:
        raise PayloadError("timestamp must be Unix seconds or ISO 8601")
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        raise PayloadError("timestamp must be Unix seconds or ISO 8601") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zoneinfo.ZoneInfo(timezone_name))
    if moment.year < 2000:
        raise PayloadError("timestamp is out of range")
    return moment.astimezone(UTC)


def _parse_json(
    data: dict[str, Any], organization_id: Any, timezone_name: str
) -> tuple[InboundMessage, str]:
    missing = [name for name in ("from", "body", "timestamp") if name not in data]
    if missing:
        raise PayloadError(f"missing field(s): {', '.join(missing)}")
    sender = _sender(data["from"], "from")
    text = _text(data["body"], "body")
    at = parse_timestamp(data["timestamp"], timezone_name)
    provider_id = _optional_str(data, "id", "message_id")
    name = _optional_str(data, "name") or ""
    message = InboundMessage(
        wamid=message_key(
            organization_id=organization_id,
            provider_id=provider_id,
            sender=sender,
            at=at,
            text=text,
        ),
        from_phone=sender,
        timestamp=at,
        type="text",
        text=text,
        context_wamid=None,
        raw=data,
    )
    return message, name[:200]


def _parse_twilio(
    params: list[tuple[str, str]], organization_id: Any, received_at: datetime
) -> tuple[InboundMessage, str]:
    fields = dict(params)
    missing = [name for name in ("From", "Body", "MessageSid") if name not in fields]
    if missing:
        raise PayloadError(f"missing field(s): {', '.join(missing)}")
    sender = _sender(fields["From"].removeprefix("whatsapp:"), "From")
    text = _text(fields["Body"], "Body")
    sid = fields["MessageSid"].strip()
    if not sid or len(sid) > 64:
        raise PayloadError("MessageSid must be a Twilio message id")
    has_media = fields.get("NumMedia", "0").strip() not in ("", "0")
    kind = "media" if has_media and not text else "text"
    message = InboundMessage(
        wamid=message_key(
            organization_id=organization_id,
            provider_id=f"twilio:{sid}",
            sender=sender,
            at=received_at,
            text=text,
        ),
        from_phone=sender,
        timestamp=received_at,
        type=kind,
        text=text or None,
        context_wamid=None,
        raw=fields,
    )
    return message, (fields.get("ProfileName") or "").strip()[:200]


# -- Twilio's request signature ---------------------------------------------------------------


def twilio_signature(url: str, params: Iterable[tuple[str, str]], auth_token: str) -> str:
    """Twilio's X-Twilio-Signature for a POST to `url` with these form parameters."""
    grouped: dict[str, list[str]] = {}
    for name, value in params:
        grouped.setdefault(name, []).append(value)
    payload = url + "".join(
        name + value for name in sorted(grouped) for value in sorted(grouped[name])
    )
    digest = hmac.new(auth_token.encode("utf-8"), payload.encode("utf-8"), hashlib.sha1).digest()
    return base64.b64encode(digest).decode("ascii")


def twilio_signature_valid(
    *, url: str, params: Iterable[tuple[str, str]], auth_token: str, signature: str | None
) -> bool:
    if not signature:
        return False
    expected = twilio_signature(url, params, auth_token)
    return hmac.compare_digest(
        expected.encode("ascii"), signature.strip().encode("ascii", "replace")
    )
