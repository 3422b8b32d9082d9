"""Reactions to lead changes (connected in IntegrationsConfig.ready)."""

from __future__ import annotations

from typing import Any

from django.dispatch import receiver

from integrations.crm import services as crm
from leads import signals
from leads.models import Lead
from organizations.models import Device, Notification
from organizations.notifications import notifications_created


@receiver(signals.lead_created, dispatch_uid="integrations.crm.lead_created")
def sync_new_lead_to_crm(sender: Any, lead: Lead, **kwargs: Any) -> None:
    if crm.lead_needs_sync(organization_id=lead.organization_id, changed=None):
        crm.crm_schedule_lead_sync(lead=lead)


@receiver(signals.lead_updated, dispatch_uid="integrations.crm.lead_updated")
def sync_changed_lead_to_crm(
    sender: Any, lead: Lead, changed: set[str] | None = None, **kwargs: Any
) -> None:
    crm.crm_lead_changed(lead=lead, changed=changed or set())


@receiver(notifications_created, dispatch_uid="integrations.push.notifications_created")
def push_new_notifications(sender: Any, notifications: list[Notification], **kwargs: Any) -> None:
    """One push job per notification whose recipient has a device (enqueued on commit)."""
    from integrations.jobs import enqueue_push

    recipients = {n.recipient_id for n in notifications}
    with_devices = set(
        Device.objects.filter(membership_id__in=recipients).values_list("membership_id", flat=True)
    )
    for notification in notifications:
        if notification.recipient_id in with_devices:
            enqueue_push(
                notification_id=notification.pk, organization_id=notification.organization_id
            )
