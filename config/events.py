"""Domain events that other systems subscribe to (outbound webhooks, see integrations.outbound).

Any app publishes with `publish()` inside the write's transaction, after its rows are saved;
receivers that reach outside (webhook deliveries) record durable rows in that same transaction
and do their network work in jobs. Lead events are also derived from `leads.signals` by the
integrations app, so only the apps above leads (mentorados, followup) call `publish()` directly.
"""

from __future__ import annotations

from typing import Any

from django.dispatch import Signal

# Keyword arguments: organization_id, event_type (one of EVENT_TYPES), data (JSON-safe dict).
domain_event = Signal()

EVENT_TYPES = (
    "lead.created",
    "lead.updated",
    "lead.status_changed",
    "lead.converted",
    "interaction.created",
    "mentorado.created",
    "feedback.created",
    "followup.failed",
)


def publish(*, organization_id: Any, event_type: str, data: dict[str, Any]) -> None:
    if event_type not in EVENT_TYPES:
        raise ValueError(f"unknown event type {event_type!r}")
    domain_event.send(
        sender=None, organization_id=organization_id, event_type=event_type, data=data
    )
