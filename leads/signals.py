"""Hooks other apps attach to (scores, mentees, follow-up enrollment, CRM sync).

Sent by leads.services inside the write's transaction, after the rows are saved. Receivers
that start background work must enqueue with `config.jobs.enqueue` (on commit); receivers
that write rows (a Mentorado on conversion) share the transaction, so a failure rolls back
the whole write.

Keyword arguments:
- lead_created: lead, actor (Membership | None)
- lead_updated: lead, actor, changed (set of field names)
- lead_status_changed: lead, actor, from_status, to_status
- lead_converted: lead, actor
- lead_deleted: lead_id, organization_id (sent before the row is deleted)
- interaction_created: interaction, actor
- qualification_saved: qualification, actor
- lead_scores_changed: organization_id, lead_ids (list) - sent by score recalculation (also the
  bulk daily decay) for the leads whose lead_score or temperatura changed; cheap per batch
- lead_replied: lead, channel ("whatsapp", "email", ...), message (text), received_at - an
  inbound reply from the lead (WhatsApp webhook, or POST /api/v1/followup/responses/)
- leads_exported: organization, actor, filtro (the query parameters), linhas (None when
  streamed) - personal data read in bulk (CSV export); the privacy app logs it
"""

from __future__ import annotations

from django.dispatch import Signal

lead_created = Signal()
lead_updated = Signal()
lead_status_changed = Signal()
lead_converted = Signal()
lead_deleted = Signal()
interaction_created = Signal()
qualification_saved = Signal()
lead_scores_changed = Signal()
lead_replied = Signal()
leads_exported = Signal()
