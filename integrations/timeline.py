"""The lead timeline's WhatsApp entries: messages received from and sent to the lead."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from integrations.models import WhatsAppMessage
from leads.models import Lead
from leads.timeline import register_timeline_source, timeline_rows


def whatsapp_message_rows(lead: Lead) -> QuerySet[Any]:
    return timeline_rows(
        WhatsAppMessage.objects.filter(lead=lead),
        tipo="whatsapp_message",
        at="created_at",
        fields={
            "direction": "direction",
            "message_type": "message_type",
            "body": "body",
            "template_name": "template_name",
            "status": "status",
            "received_at": "received_at",
            "sent_at": "sent_at",
            "delivered_at": "delivered_at",
            "read_at": "read_at",
        },
    )


def register() -> None:
    register_timeline_source("whatsapp_message", whatsapp_message_rows)
