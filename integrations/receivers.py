"""Reactions to lead changes (connected in IntegrationsConfig.ready)."""

from __future__ import annotations

from typing import Any

from django.dispatch import receiver

from integrations.crm import services as crm
from leads import signals
from leads.models import Lead


@receiver(signals.lead_created, dispatch_uid="integrations.crm.lead_created")
def sync_new_lead_to_crm(sender: Any, lead: Lead, **kwargs: Any) -> None:
    if crm.lead_needs_sync(organization_id=lead.organization_id, changed=None):
        crm.crm_schedule_lead_sync(lead=lead)


@receiver(signals.lead_updated, dispatch_uid="integrations.crm.lead_updated")
def sync_changed_lead_to_crm(
    sender: Any, lead: Lead, changed: set[str] | None = None, **kwargs: Any
) -> None:
    if crm.lead_needs_sync(organization_id=lead.organization_id, changed=changed or set()):
        crm.crm_schedule_lead_sync(lead=lead)
