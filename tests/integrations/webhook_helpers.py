"""Posting signed WhatsApp notifications to /webhooks/whatsapp/ the way Meta does."""

from __future__ import annotations

import json
from typing import Any

from django.test import Client

from integrations.whatsapp.signature import sign
from tests.integrations.factories import APP_SECRET

URL = "/webhooks/whatsapp/"
PNID = "106540352242922"  # metadata.phone_number_id of most Meta samples
PNID_BR = "208771239087612"  # the Brazilian number of the accented and multi-entry samples


def compact(data: Any) -> bytes:
    """Meta's serialization: compact, non-ASCII escaped as \\uXXXX."""
    return json.dumps(data, separators=(",", ":"), ensure_ascii=True).encode("ascii")


def post_signed(
    body: bytes | dict[str, Any],
    *,
    secret: str = APP_SECRET,
    signature: str | None = "sign",
    client: Client | None = None,
) -> Any:
    raw = body if isinstance(body, bytes) else compact(body)
    extra: dict[str, Any] = {}
    if signature == "sign":
        extra["HTTP_X_HUB_SIGNATURE_256"] = sign(raw, secret)
    elif signature is not None:
        extra["HTTP_X_HUB_SIGNATURE_256"] = signature
    return (client or Client()).post(URL, data=raw, content_type="application/json", **extra)


def notification(
    *,
    pnid: str = PNID,
    messages: list[dict[str, Any]] | None = None,
    statuses: list[dict[str, Any]] | None = None,
    contacts: list[dict[str, Any]] | None = None,
    display: str = "15550783881",
) -> dict[str, Any]:
    value: dict[str, Any] = {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": display, "phone_number_id": pnid},
    }
    if contacts is not None:
        value["contacts"] = contacts
    if messages is not None:
        value["messages"] = messages
    if statuses is not None:
        value["statuses"] = statuses
    return {
        "object": "whatsapp_business_account",
        "entry": [{"id": "102290129340398", "changes": [{"value": value, "field": "messages"}]}],
    }


def text_message(wamid: str, sender: str, body: str, timestamp: int = 1749416383) -> dict[str, Any]:
    return {
        "from": sender,
        "id": wamid,
        "timestamp": str(timestamp),
        "type": "text",
        "text": {"body": body},
    }


def status_entry(wamid: str, status: str, timestamp: int, **extra: Any) -> dict[str, Any]:
    return {
        "id": wamid,
        "status": status,
        "timestamp": str(timestamp),
        "recipient_id": "5511987654321",
        **extra,
    }
