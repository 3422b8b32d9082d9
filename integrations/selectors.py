"""Reads for other apps: a lead's WhatsApp messages (the lead timeline's "messages" source)."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from integrations.models import WhatsAppMessage
from leads.models import Lead


def lead_whatsapp_messages(*, lead: Lead) -> QuerySet[WhatsAppMessage]:
    """Messages exchanged with the lead, newest first."""
    return WhatsAppMessage.objects.filter(
        organization_id=lead.organization_id, lead_id=lead.pk
    ).order_by("-created_at", "-id")


def whatsapp_timeline_entries(*, lead: Lead, limit: int = 200) -> list[dict[str, Any]]:
    """One timeline entry per message: when it happened and what a salesperson needs to see.

    `at` is when the lead wrote (inbound) or when we sent (outbound); no payloads or errors
    beyond Meta's error title, so nothing internal leaks into the timeline.
    """
    entries = []
    for message in lead_whatsapp_messages(lead=lead)[:limit]:
        errors = (message.error or {}).get("errors") or []
        entries.append(
            {
                "tipo": "whatsapp",
                "id": str(message.pk),
                "at": message.received_at or message.sent_at or message.created_at,
                "direction": message.direction,
                "message_type": message.message_type,
                "body": message.body or message.template_name,
                "status": message.status,
                "error": (
                    errors[0].get("title") if errors and isinstance(errors[0], dict) else None
                )
                or (message.error or {}).get("message"),
            }
        )
    return entries
