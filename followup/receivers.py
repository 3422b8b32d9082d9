"""Reactions to lead events (connected in FollowupConfig.ready()).

- created, or changed in a field the activation criteria look at -> enrollment (coalesced job);
- scores recalculated for a batch of leads -> enrollment of that batch;
- status moved to `convertido`/`perdido` -> unfinished executions cancelled now (the dispatcher
  also checks before every step);
- a reply (WhatsApp webhook or the responses endpoint) -> `followup_register_reply`.

Deleting a lead deletes its executions through the foreign key (CASCADE).
"""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _

from followup import services
from followup.jobs import schedule_lead_enrollment
from leads.models import CLOSED_STATUSES, Lead

ENROLLMENT_FIELDS = frozenset({"status", "temperatura", "lead_score", "tags", "origem"})


def on_lead_created(sender: Any, lead: Lead, **kwargs: Any) -> None:
    schedule_lead_enrollment(organization_id=lead.organization_id, lead_ids=[lead.pk])


def on_lead_updated(sender: Any, lead: Lead, changed: set[str], **kwargs: Any) -> None:
    if set(changed) & ENROLLMENT_FIELDS and lead.status not in CLOSED_STATUSES:
        schedule_lead_enrollment(organization_id=lead.organization_id, lead_ids=[lead.pk])


def on_lead_scores_changed(
    sender: Any, organization_id: Any, lead_ids: list[Any], **kwargs: Any
) -> None:
    schedule_lead_enrollment(organization_id=organization_id, lead_ids=lead_ids)


def on_lead_status_changed(sender: Any, lead: Lead, to_status: str, **kwargs: Any) -> None:
    if to_status in CLOSED_STATUSES:
        services.followup_cancel_for_lead(
            lead_id=lead.pk,
            reason=_("Cancelada: o lead está %(status)s.") % {"status": lead.get_status_display()},
        )


def on_lead_replied(
    sender: Any,
    lead: Lead,
    channel: str,
    message: str,
    received_at: Any = None,
    **kwargs: Any,
) -> services.ReplyResult:
    return services.followup_register_reply(
        lead=lead, channel=channel, message=message or "", received_at=received_at
    )
