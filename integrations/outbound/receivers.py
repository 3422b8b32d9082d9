"""Domain events to outbound webhook deliveries (connected in IntegrationsConfig.ready).

Lead events come from `leads.signals`; the apps above leads publish theirs through
`config.events`. Each receiver runs inside the write's transaction, so a delivery row exists
exactly when the change it reports was committed.
"""

from __future__ import annotations

from typing import Any

from django.dispatch import receiver

from config import events
from integrations.outbound.services import webhook_event_record
from leads import signals
from leads.models import LEAD_DATA_FIELDS, Lead, LeadInteraction

LEAD_FIELDS = (
    "id",
    *LEAD_DATA_FIELDS,
    "motivo_perda",
    "closer_id",
    "sdr_id",
    "tags",
    "converted_at",
    "created_at",
    "updated_at",
)
INTERACTION_FIELDS = (
    "id",
    "lead_id",
    "closer_id",
    "tipo_interacao",
    "resumo",
    "resultado",
    "data_interacao",
    "duracao_minutos",
    "proximo_passo",
    "created_at",
)


def lead_data(lead: Lead) -> dict[str, Any]:
    return {name: getattr(lead, name) for name in LEAD_FIELDS}


def interaction_data(interaction: LeadInteraction) -> dict[str, Any]:
    return {name: getattr(interaction, name) for name in INTERACTION_FIELDS}


@receiver(signals.lead_created, dispatch_uid="integrations.webhooks.lead_created")
def lead_created(sender: Any, lead: Lead, **kwargs: Any) -> None:
    webhook_event_record(
        organization_id=lead.organization_id, event_type="lead.created", data=lead_data(lead)
    )


@receiver(signals.lead_updated, dispatch_uid="integrations.webhooks.lead_updated")
def lead_updated(sender: Any, lead: Lead, changed: set[str] | None = None, **kwargs: Any) -> None:
    webhook_event_record(
        organization_id=lead.organization_id,
        event_type="lead.updated",
        data={**lead_data(lead), "campos_alterados": sorted(changed or ())},
    )


@receiver(signals.lead_status_changed, dispatch_uid="integrations.webhooks.lead_status")
def lead_status_changed(
    sender: Any, lead: Lead, from_status: str, to_status: str, **kwargs: Any
) -> None:
    webhook_event_record(
        organization_id=lead.organization_id,
        event_type="lead.status_changed",
        data={**lead_data(lead), "status_anterior": from_status, "status_novo": to_status},
    )


@receiver(signals.lead_converted, dispatch_uid="integrations.webhooks.lead_converted")
def lead_converted(sender: Any, lead: Lead, **kwargs: Any) -> None:
    webhook_event_record(
        organization_id=lead.organization_id, event_type="lead.converted", data=lead_data(lead)
    )


@receiver(signals.interaction_created, dispatch_uid="integrations.webhooks.interaction")
def interaction_created(sender: Any, interaction: LeadInteraction, **kwargs: Any) -> None:
    webhook_event_record(
        organization_id=interaction.organization_id,
        event_type="interaction.created",
        data=interaction_data(interaction),
    )


@receiver(events.domain_event, dispatch_uid="integrations.webhooks.domain_event")
def domain_event(
    sender: Any, organization_id: Any, event_type: str, data: dict[str, Any], **kwargs: Any
) -> None:
    webhook_event_record(organization_id=organization_id, event_type=event_type, data=data)
