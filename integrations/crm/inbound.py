"""Changes made in the CRM, applied to our leads (the inbound half of "CRM both ways").

The webhook views (``integrations.crm.webhook``) verify the request and parse it into
``InboundEvent`` values; ``receive_events`` stores them and queues their processing (``INBOUND``,
coalesced per organization on the ``high`` queue, durable through the outbox), so the CRM gets
its answer at once; the job (``crm_inbound_pending``) applies them:

* **Deduplicated**: each event id is stored once per connection (``CrmWebhookEvent``); a
  redelivery is counted as a duplicate and changes nothing. A stored event not applied after
  ``STUCK_AFTER`` (its job lost) is queued again by the CRM sweep.
* **Conflict rule, latest change wins**: every synced field of a lead has a clock
  (``CrmFieldClock``): local changes set it to our time, CRM changes to the provider's
  timestamp. A CRM change not newer than the field's clock is stale and ignored.
* **Through the lead service**: ``leads.services.lead_update`` (status rules, history,
  signals); a value the lead cannot take (unknown status, score over 100, a closer email that is
  no member) is skipped, the other fields of the event still apply.
* **No echo**: the update runs inside ``from_crm()``; the CRM receiver sees it and neither
  schedules a sync back nor moves the clock to our time. A lead that was in sync keeps
  ``crm_synced_at`` ahead of the change, so the sweep does not send it back either.
"""

from __future__ import annotations

import contextvars
import logging
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import transaction
from django.utils import timezone

from config.errors import ApplicationError
from config.jobs import Coalesced
from integrations.crm import mapping
from integrations.models import CRMConnection, CrmFieldClock, CrmFieldSource, CrmWebhookEvent
from leads import services as lead_services
from leads import validation
from leads.models import Lead, LeadStatus, Temperatura

logger = logging.getLogger(__name__)

_FROM_CRM: contextvars.ContextVar[bool] = contextvars.ContextVar("crm_inbound", default=False)

# hs_lead_status -> our status (None: no equivalent, the change is skipped).
HUBSPOT_STATUS_IN = {
    "NEW": LeadStatus.NOVO,
    "ATTEMPTED_TO_CONTACT": LeadStatus.EM_CONTATO,
    "CONNECTED": LeadStatus.EM_CONTATO,
    "IN_PROGRESS": LeadStatus.EM_CONTATO,
    "OPEN_DEAL": LeadStatus.QUALIFICADO,
    "UNQUALIFIED": LeadStatus.PERDIDO,
}
# Statuses HubSpot shows as OPEN_DEAL: an OPEN_DEAL event leaves them as they are.
_OPEN_DEAL = {LeadStatus.QUALIFICADO, LeadStatus.AGENDADO, LeadStatus.NEGOCIACAO}
LOST_IN_CRM = "Marcado como perdido no CRM"
_TEXT_LIMITS = {"empresa": 200, "cargo": 120, "origem": 40}  # the Lead columns' max_length


class InvalidValue(Exception):
    """A CRM value our lead cannot take."""


@dataclass(frozen=True)
class FieldChange:
    campo: str  # our field (integrations.crm.mapping)
    value: Any  # as the CRM sent it
    at: datetime  # the provider's timestamp of the change


@dataclass(frozen=True)
class InboundEvent:
    event_id: str
    crm_id: str
    changes: tuple[FieldChange, ...] = ()


@contextmanager
def from_crm() -> Iterator[None]:
    """Marks the lead writes inside as coming from the CRM (no sync back)."""
    token = _FROM_CRM.set(True)
    try:
        yield
    finally:
        _FROM_CRM.reset(token)


def is_from_crm() -> bool:
    return _FROM_CRM.get()


def reverse_mapping(connection: CRMConnection) -> dict[str, str]:
    """CRM property name / Pipedrive field key -> our field.

    Pipedrive's keys are known once the current mapping was prepared (the first sync after it
    changed); until then no custom field is read, rather than one read under a stale key."""
    targets = mapping.effective_mapping(connection.provider, connection.field_mapping)
    if connection.provider != mapping.HUBSPOT:
        if connection.fields_ready_for != mapping.mapping_digest(connection.provider, targets):
            return {}
        targets = {f: k for f, k in connection.field_keys.items() if f in targets}
    return {target: field for field, target in targets.items()}


# -- receiving and queuing --------------------------------------------------------------------

INBOUND = Coalesced(
    name="integrations.crm.inbound:apply",
    func="integrations.jobs.crm_inbound_pending",
    queue="high",
)
CHUNK = 100
STUCK_AFTER = timedelta(minutes=5)


@transaction.atomic
def receive_events(connection: CRMConnection, events: list[InboundEvent]) -> dict[str, int]:
    """Store the events not seen before and queue their processing; counts received and
    duplicates. An event without a change for us is stored as ``ignored`` (for deduplication)."""
    ids = [event.event_id for event in events]
    known = set(
        CrmWebhookEvent.objects.filter(connection=connection, event_id__in=ids).values_list(
            "event_id", flat=True
        )
    )
    now = timezone.now()
    rows: dict[str, CrmWebhookEvent] = {}
    for event in events:
        if event.event_id in known or event.event_id in rows:
            continue
        rows[event.event_id] = CrmWebhookEvent(
            organization_id=connection.organization_id,
            connection=connection,
            event_id=event.event_id,
            crm_id=event.crm_id,
            changes=[
                {"campo": c.campo, "value": c.value, "at": c.at.isoformat()} for c in event.changes
            ],
            outcome="" if event.changes else "ignored",
            processed_at=None if event.changes else now,
        )
    # A concurrent delivery of the same events may insert first: its rows win, ours are dropped.
    CrmWebhookEvent.objects.bulk_create(rows.values(), ignore_conflicts=True)
    pending = CrmWebhookEvent.objects.filter(
        connection=connection, event_id__in=list(rows), processed_at__isnull=True
    ).values_list("pk", flat=True)
    INBOUND.request(key=connection.organization_id, ids=list(pending))
    return {"received": len(rows), "duplicate": len(events) - len(rows)}


def crm_inbound_pending(*, organization_id: Any) -> dict[str, int]:
    """The coalesced job's body: apply the organization's stored events, oldest first."""
    counts: Counter[str] = Counter()
    for ids in INBOUND.drain(organization_id, CHUNK):
        for pk in sorted(int(i) for i in ids):
            outcome = apply_stored_event(organization_id=organization_id, pk=pk)
            if outcome:
                counts[outcome] += 1
    return dict(counts)


def requeue_stuck_events() -> int:
    """Queue again the stored events whose job was lost (the CRM sweep calls this)."""
    stuck = CrmWebhookEvent.objects.filter(
        processed_at__isnull=True, received_at__lt=timezone.now() - STUCK_AFTER
    ).values_list("organization_id", "pk")
    by_org: dict[Any, list[int]] = {}
    for organization_id, pk in stuck:
        by_org.setdefault(organization_id, []).append(pk)
    for organization_id, pks in by_org.items():
        INBOUND.request(key=organization_id, ids=pks)
    return sum(len(pks) for pks in by_org.values())


@transaction.atomic
def apply_stored_event(*, organization_id: Any, pk: int) -> str:
    """Apply one stored event once (row locked; "" when already done)."""
    row = (
        CrmWebhookEvent.objects.for_org(organization_id)
        .select_for_update()
        .select_related("connection")
        .filter(pk=pk, processed_at__isnull=True)
        .first()
    )
    if row is None:
        return ""
    connection = row.connection
    changes = tuple(
        FieldChange(c["campo"], c["value"], datetime.fromisoformat(c["at"])) for c in row.changes
    )
    if connection.ativo:
        outcome = _apply_event(connection, InboundEvent(row.event_id, row.crm_id, changes))
    else:
        outcome = "inactive_connection"
    row.outcome, row.processed_at = outcome, timezone.now()
    row.save(update_fields=["outcome", "processed_at"])
    return outcome


# -- applying ---------------------------------------------------------------------------------


def _apply_event(connection: CRMConnection, event: InboundEvent) -> str:
    if not event.changes:
        return "ignored"
    lead = (
        Lead.objects.for_org(connection.organization_id)
        .filter(crm_provider=connection.provider, crm_id=event.crm_id)
        .first()
    )
    if lead is None:
        return "unknown_contact"
    in_sync = bool(
        lead.crm_synced_at and lead.crm_synced_at >= lead.updated_at and not lead.crm_sync_error
    )
    outcomes = []
    for change in event.changes:
        lead, outcome = _apply_change(connection, lead, change)
        outcomes.append(outcome)
    if "applied" in outcomes and in_sync:
        # The CRM already holds these values: nothing for the sweep to send back.
        Lead.objects.filter(pk=lead.pk).update(crm_synced_at=timezone.now())
    return "applied" if "applied" in outcomes else outcomes[0]


def _apply_change(connection: CRMConnection, lead: Lead, change: FieldChange) -> tuple[Lead, str]:
    """The lead as it is now and ("applied" | "unchanged" | "stale" | "invalid")."""
    clock = (
        CrmFieldClock.objects.select_for_update()
        .filter(lead=lead, campo=change.campo)
        .values_list("changed_at", flat=True)
        .first()
    )
    if clock is not None and clock >= change.at:
        logger.info(
            "crm change of %s.%s is stale (%s <= %s)", lead.pk, change.campo, change.at, clock
        )
        return lead, "stale"
    outcome = "unchanged"  # e.g. HubSpot reporting the value our own sync wrote
    try:
        data = lead_data(connection, lead, change)
        if any(getattr(lead, key) != value for key, value in data.items()):
            with transaction.atomic(), from_crm():
                lead = lead_services.lead_update(lead=lead, actor=None, data=data)
            outcome = "applied"
    except (InvalidValue, ApplicationError) as exc:
        logger.info("crm change of %s.%s skipped: %s", lead.pk, change.campo, exc)
        return lead, "invalid"
    CrmFieldClock.objects.update_or_create(
        lead=lead,
        campo=change.campo,
        defaults={
            "organization_id": lead.organization_id,
            "changed_at": change.at,
            "source": CrmFieldSource.CRM,
        },
    )
    return lead, outcome


def lead_data(connection: CRMConnection, lead: Lead, change: FieldChange) -> dict[str, Any]:
    """The lead_update data of one CRM change; InvalidValue when the lead cannot take it."""
    value = change.value
    text = "" if value is None else str(value).strip()
    field = change.campo
    if field == "status":
        return _status_data(connection, lead, text)
    if field == "temperatura":
        if text.lower() not in Temperatura.values:
            raise InvalidValue(f"temperatura {text!r}")
        return {"temperatura": text.lower()}
    if field == "lead_score":
        return {"lead_score": _score(text)}
    if field == "valor_potencial":
        return {"valor_potencial": _money(text)}
    if field == "closer":
        return {"closer": _closer(lead, text)}
    if field == "telefone":
        return {"telefone": text[:20] or None}
    if field in ("empresa", "cargo", "origem"):
        limit = _TEXT_LIMITS[field]
        if field == "origem" and not text:
            raise InvalidValue("empty origem")
        return {field: text[:limit]}
    raise InvalidValue(f"field {field!r} is not applied from the CRM")


def _status_data(connection: CRMConnection, lead: Lead, text: str) -> dict[str, Any]:
    target = mapping.effective_mapping(connection.provider, connection.field_mapping).get("status")
    if target == "hs_lead_status":
        if text.upper() == "OPEN_DEAL" and lead.status in _OPEN_DEAL:
            return {"status": lead.status}
        status = HUBSPOT_STATUS_IN.get(text.upper())
    else:
        status = LeadStatus(text.lower()) if text.lower() in LeadStatus.values else None
    if status is None:
        raise InvalidValue(f"status {text!r}")
    data: dict[str, Any] = {"status": status}
    if status == LeadStatus.PERDIDO and not lead.motivo_perda.strip():
        data["motivo_perda"] = LOST_IN_CRM
    return data


def _score(text: str) -> int:
    try:
        score = int(Decimal(text))
    except (InvalidOperation, ValueError) as exc:
        raise InvalidValue(f"lead_score {text!r}") from exc
    if not 0 <= score <= 100:
        raise InvalidValue(f"lead_score {score} out of 0..100")
    return score


def _money(text: str) -> Decimal | None:
    if not text:
        return None
    try:
        amount = Decimal(text).quantize(Decimal("0.01"))
    except (InvalidOperation, ValueError) as exc:
        raise InvalidValue(f"valor_potencial {text!r}") from exc
    if amount < 0 or amount >= Decimal("1e10"):
        raise InvalidValue(f"valor_potencial {amount} out of range")
    return amount


def _closer(lead: Lead, email: str) -> Any:
    if not email:
        return None
    member = (
        validation.members_for_seat(lead.organization_id, "closer")
        .filter(user__email__iexact=email)
        .first()
    )
    if member is None:
        raise InvalidValue(f"no closer with email {email!r}")
    return member
