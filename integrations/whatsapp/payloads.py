"""Parsing of WhatsApp Cloud API webhook notifications (``messages`` field).

Shapes follow Meta's webhook references:

* Envelope and incoming messages:
  https://developers.facebook.com/documentation/business-messaging/whatsapp/webhooks/reference/messages
  ``{"object": "whatsapp_business_account", "entry": [{"id", "changes": [{"field": "messages",
  "value": {"messaging_product", "metadata": {"display_phone_number", "phone_number_id"},
  "contacts": [{"profile": {"name"}, "wa_id"}], "messages": [...], "statuses": [...],
  "errors": [...]}}]}]}``
* Status updates (sent / delivered / read / failed with ``errors``):
  https://developers.facebook.com/documentation/business-messaging/whatsapp/webhooks/reference/messages/status/
* Per-type message payloads (``text.body``, ``image.caption``, ``button.text``,
  ``interactive.button_reply.title`` / ``interactive.list_reply.title``, ``reaction.emoji``,
  ``location.name`` / ``location.address``) and ``context.id`` for replies:
  https://developers.facebook.com/documentation/business-messaging/whatsapp/webhooks/reference/messages/image

Policy: the envelope and the identifying fields of each message/status (id, sender, timestamp,
type/status) are required, and their absence raises ``PayloadError``. Everything that only feeds
``text`` is read tolerantly: unknown message types, unknown status values and odd optional
fields are kept with ``text=None`` rather than rejected, because Meta adds types over time and
a webhook endpoint that rejects them would make Meta retry forever. ``parse_notification``
raises nothing but ``PayloadError``, whatever JSON value it is given.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

__all__ = [
    "ChangeValue",
    "InboundMessage",
    "PayloadError",
    "StatusUpdate",
    "parse_notification",
    "phone_number_ids",
]

OBJECT_TYPE = "whatsapp_business_account"
MESSAGES_FIELD = "messages"

_NON_DIGITS = re.compile(r"[^0-9]")
_TIMESTAMP = re.compile(r"[0-9]{1,12}")
# datetime cannot represent years past 9999.
_MAX_TIMESTAMP = int(datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC).timestamp())


class PayloadError(ValueError):
    """The body is not a structurally valid WhatsApp ``messages`` notification."""


@dataclass(frozen=True)
class InboundMessage:
    """A message sent by a WhatsApp user to the business number."""

    wamid: str
    from_phone: str
    timestamp: datetime
    type: str
    text: str | None
    context_wamid: str | None
    raw: dict[str, Any] = field(repr=False, compare=False)


@dataclass(frozen=True)
class StatusUpdate:
    """Delivery status of a message the business sent (``sent``/``delivered``/``read``/``failed``).

    ``status`` is kept verbatim so newer values (e.g. ``played``) are not lost.
    """

    wamid: str
    status: str
    timestamp: datetime
    recipient_id: str | None
    errors: list[dict[str, Any]]
    raw: dict[str, Any] = field(repr=False, compare=False)


@dataclass(frozen=True)
class ChangeValue:
    """One ``entry[].changes[].value`` of the ``messages`` field, for one business number."""

    phone_number_id: str
    display_phone_number: str | None
    contacts: dict[str, str]
    messages: list[InboundMessage]
    statuses: list[StatusUpdate]
    # Notification-level errors (e.g. 130429 reported asynchronously), kept verbatim.
    errors: list[dict[str, Any]] = field(default_factory=list)


def phone_number_ids(data: object) -> list[str]:
    """Business phone number ids mentioned in a notification, in order, without duplicates.

    Tolerant on purpose: it is used to route a request to a tenant *before* the signature can be
    checked (the app secret depends on the tenant), so junk yields ``[]`` instead of an error.
    """
    if not isinstance(data, dict) or data.get("object") != OBJECT_TYPE:
        return []
    found: list[str] = []
    entries = data.get("entry")
    for entry in entries if isinstance(entries, list) else []:
        changes = entry.get("changes") if isinstance(entry, dict) else None
        for change in changes if isinstance(changes, list) else []:
            value = change.get("value") if isinstance(change, dict) else None
            metadata = value.get("metadata") if isinstance(value, dict) else None
            pnid = metadata.get("phone_number_id") if isinstance(metadata, dict) else None
            if isinstance(pnid, str) and pnid and pnid not in found:
                found.append(pnid)
    return found


def parse_notification(data: object) -> list[ChangeValue]:
    """Parse a decoded webhook body into one ``ChangeValue`` per ``messages`` change.

    Changes for other webhook fields (``account_update``, template status, ...) are skipped.
    Raises ``PayloadError`` (and nothing else) when the structure is invalid.
    """
    if not isinstance(data, dict):
        raise PayloadError("notification must be a JSON object")
    if data.get("object") != OBJECT_TYPE:
        raise PayloadError(f"object must be {OBJECT_TYPE!r}")
    entries = _list(data, "entry", "notification", required=True)
    result: list[ChangeValue] = []
    for entry in entries:
        if not isinstance(entry, dict):
            raise PayloadError("entry items must be objects")
        for change in _list(entry, "changes", "entry", required=True):
            if not isinstance(change, dict):
                raise PayloadError("changes items must be objects")
            if change.get("field") != MESSAGES_FIELD:
                continue
            result.append(_parse_value(change.get("value")))
    return result


# -- internals ------------------------------------------------------------------------------


def _parse_value(value: object) -> ChangeValue:
    if not isinstance(value, dict):
        raise PayloadError("change value must be an object")
    metadata = value.get("metadata")
    if not isinstance(metadata, dict):
        raise PayloadError("value.metadata must be an object")
    pnid = metadata.get("phone_number_id")
    if not isinstance(pnid, str) or not pnid:
        raise PayloadError("metadata.phone_number_id must be a non-empty string")
    display = metadata.get("display_phone_number")

    contacts: dict[str, str] = {}
    for contact in _list(value, "contacts", "value"):
        if not isinstance(contact, dict):
            raise PayloadError("contacts items must be objects")
        wa_id = contact.get("wa_id")
        profile = contact.get("profile")
        name = profile.get("name") if isinstance(profile, dict) else None
        # wa_id is omitted when the user's phone number is hidden; nothing to key on then.
        if isinstance(wa_id, str) and wa_id and isinstance(name, str):
            contacts[wa_id] = name

    return ChangeValue(
        phone_number_id=pnid,
        display_phone_number=display if isinstance(display, str) else None,
        contacts=contacts,
        messages=[_parse_message(m) for m in _list(value, "messages", "value")],
        statuses=[_parse_status(s) for s in _list(value, "statuses", "value")],
        errors=_error_list(value, "value"),
    )


def _parse_message(message: object) -> InboundMessage:
    if not isinstance(message, dict):
        raise PayloadError("messages items must be objects")
    wamid = _required_str(message, "id", "message")
    sender = _required_str(message, "from", "message")
    from_phone = _NON_DIGITS.sub("", sender)
    if not from_phone:
        raise PayloadError("message.from must contain digits")
    msg_type = _required_str(message, "type", "message")
    context = message.get("context")
    context_id = context.get("id") if isinstance(context, dict) else None
    return InboundMessage(
        wamid=wamid,
        from_phone=from_phone,
        timestamp=_timestamp(message.get("timestamp"), "message"),
        type=msg_type,
        text=_human_text(msg_type, message),
        context_wamid=context_id if isinstance(context_id, str) and context_id else None,
        raw=message,
    )


def _parse_status(status: object) -> StatusUpdate:
    if not isinstance(status, dict):
        raise PayloadError("statuses items must be objects")
    recipient = status.get("recipient_id")
    return StatusUpdate(
        wamid=_required_str(status, "id", "status"),
        status=_required_str(status, "status", "status"),
        timestamp=_timestamp(status.get("timestamp"), "status"),
        recipient_id=recipient if isinstance(recipient, str) and recipient else None,
        errors=_error_list(status, "status"),
        raw=status,
    )


def _human_text(msg_type: str, message: dict[str, Any]) -> str | None:
    """The part of a message a salesperson would read; None when there is none."""
    content = message.get(msg_type)
    if not isinstance(content, dict):
        return None
    if msg_type == "text":
        return _opt_str(content.get("body"))
    if msg_type == "button":
        return _opt_str(content.get("text"))
    if msg_type == "interactive":
        reply_type = content.get("type")
        if reply_type in ("button_reply", "list_reply"):
            reply = content.get(reply_type)
            return _opt_str(reply.get("title")) if isinstance(reply, dict) else None
        return None
    if msg_type in ("image", "video", "document"):
        return _opt_str(content.get("caption"))
    if msg_type == "reaction":
        # An empty emoji means the reaction was removed.
        return _opt_str(content.get("emoji"))
    if msg_type == "location":
        parts = [_opt_str(content.get("name")), _opt_str(content.get("address"))]
        joined = ", ".join(p for p in parts if p)
        return joined or None
    return None


def _timestamp(value: object, where: str) -> datetime:
    # Meta sends Unix seconds as a string; plain integers are accepted too. bool is an int
    # subclass in Python and must not pass as a timestamp.
    if isinstance(value, int) and not isinstance(value, bool):
        seconds = value
    elif isinstance(value, str) and _TIMESTAMP.fullmatch(value):
        seconds = int(value)
    else:
        raise PayloadError(f"{where}.timestamp must be Unix seconds")
    if not 0 <= seconds <= _MAX_TIMESTAMP:
        raise PayloadError(f"{where}.timestamp is out of range")
    return datetime.fromtimestamp(seconds, tz=UTC)


def _list(container: dict[str, Any], key: str, where: str, *, required: bool = False) -> list[Any]:
    value = container.get(key)
    if value is None and not required:
        return []
    if not isinstance(value, list):
        raise PayloadError(f"{where}.{key} must be an array")
    return value


def _error_list(container: dict[str, Any], where: str) -> list[dict[str, Any]]:
    errors = _list(container, "errors", where)
    if not all(isinstance(e, dict) for e in errors):
        raise PayloadError(f"{where}.errors items must be objects")
    return errors


def _required_str(container: dict[str, Any], key: str, where: str) -> str:
    value = container.get(key)
    if not isinstance(value, str) or not value:
        raise PayloadError(f"{where}.{key} must be a non-empty string")
    return value


def _opt_str(value: object) -> str | None:
    return value if isinstance(value, str) and value else None
