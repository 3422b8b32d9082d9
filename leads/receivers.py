"""Signal receivers of the leads app: scores follow the writes that move them.

Connected in `LeadsConfig.ready()`. Each receiver only asks for a recalculation job on commit
(`leads.jobs.request_score_recalculation`): the write's transaction is never slowed down and a
rolled-back write enqueues nothing.
"""

from __future__ import annotations

from typing import Any

from leads import signals
from leads.jobs import request_score_recalculation
from leads.models import Lead, LeadInteraction, LeadQualification

# Lead fields the score depends on (fit: valor_potencial, origem; convertido scores 100).
SCORE_FIELDS = frozenset({"valor_potencial", "origem", "status"})


def on_lead_created(sender: Any, lead: Lead, **kwargs: Any) -> None:
    request_score_recalculation(organization_id=lead.organization_id, lead_ids=[lead.pk])


def on_lead_updated(sender: Any, lead: Lead, changed: set[str], **kwargs: Any) -> None:
    if SCORE_FIELDS & set(changed):
        request_score_recalculation(organization_id=lead.organization_id, lead_ids=[lead.pk])


def on_interaction_created(sender: Any, interaction: LeadInteraction, **kwargs: Any) -> None:
    request_score_recalculation(
        organization_id=interaction.organization_id, lead_ids=[interaction.lead_id]
    )


def on_qualification_saved(sender: Any, qualification: LeadQualification, **kwargs: Any) -> None:
    request_score_recalculation(
        organization_id=qualification.organization_id, lead_ids=[qualification.lead_id]
    )


def connect() -> None:
    """Idempotent (dispatch_uid): safe if ready() runs more than once."""
    signals.lead_created.connect(on_lead_created, dispatch_uid="leads.scores.lead_created")
    signals.lead_updated.connect(on_lead_updated, dispatch_uid="leads.scores.lead_updated")
    signals.interaction_created.connect(
        on_interaction_created, dispatch_uid="leads.scores.interaction_created"
    )
    signals.qualification_saved.connect(
        on_qualification_saved, dispatch_uid="leads.scores.qualification_saved"
    )
