"""Pushing leads to the organization's CRM (HubSpot or Pipedrive).

Flow: a lead is created or one of its mapped fields changes -> ``crm_schedule_lead_sync``
-> ``SYNC`` (config.jobs.Coalesced): the lead id joins its organization's pending set, durably
(outbox row in the write's transaction) -> one job per organization, ``SYNC_DELAY`` seconds
after the first request, drains the set in batches of ``SWEEP_BATCH`` (HubSpot's batch limit)
-> ``crm_sync_leads`` upserts through the provider client -> the lead's ``crm_provider``/
``crm_id``/``crm_synced_at`` (or ``crm_sync_error``) are written with a queryset ``update()``,
which sends no signal and so cannot schedule another sync. The job reads the leads when it
runs, so it sends their latest state; a change committed while it runs joins the set again
and enqueues the next job. A CSV import holds the job until it ends (config.jobs.
deferred_jobs): one bulk sync of all its leads.

Failures: 429 is retried after the provider's delay (Retry-After or its documented window),
other transient errors with backoff (``RETRY_DELAYS``); after that, and for permanent errors,
the message is stored on the lead (``crm_sync_error``) and on the connection (``last_error``).
Each lead is handled on its own: one bad lead never blocks the others. A job whose worker
died is retried (SAFE_RETRY; RQ notices the abandoned job, see docs/jobs.md) and its leads get
``crm_sync_error`` meanwhile (``record_sync_failure``, the jobs' failure callback). The sweep
(``crm_sync_sweep``, every 15 minutes) retries leads that failed, were never synced, or changed
after their last sync.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db.models import F, Q
from django.utils import timezone

from config.jobs import SAFE_RETRY, Coalesced, enqueue
from config.metrics import CRM_SYNC
from integrations.crm import inbound, mapping
from integrations.crm.base import (
    BaseCrmClient,
    CrmBatchInterrupted,
    CrmContact,
    CrmFieldSpec,
    CrmUpsertResult,
)
from integrations.crm.hubspot import HubSpotClient
from integrations.crm.pipedrive import PipedriveClient
from integrations.errors import IntegrationError, PermanentError, RetryableError
from integrations.models import (
    CRM_DEFAULT_BASE_URLS,
    CRMConnection,
    CrmFieldClock,
    CrmFieldSource,
    CrmProvider,
    CrmWebhookEvent,
)
from leads.models import Lead, LeadStatus

logger = logging.getLogger(__name__)

SYNC_JOB = "integrations.jobs.sync_crm_batch"
SYNC_QUEUE = "default"
FAILURE_CALLBACK = "integrations.crm.services.record_sync_failure"
# Backoff for transient errors without a provider hint (seconds), one entry per retry.
RETRY_DELAYS = (30, 120, 600, 1800)
# Waiting longer than this for a rate limit is the sweep's job, not a scheduled retry's.
MAX_RETRY_DELAY = 3600
SWEEP_BATCH = 100  # HubSpot's batch upsert limit
SWEEP_LIMIT = 500  # leads per connection per sweep
SWEEP_QUIET = timedelta(minutes=5)  # leave recently changed leads to their coalesced job
WEBHOOK_EVENT_TTL = timedelta(days=30)  # inbound event ids kept for deduplication

# HubSpot's default `hs_lead_status` options are NEW, OPEN, IN_PROGRESS, OPEN_DEAL, UNQUALIFIED,
# ATTEMPTED_TO_CONTACT, CONNECTED and BAD_TIMING. "Lead status" describes a contact's sales
# activity before it becomes a customer: `convertido` has no equivalent (winning is recorded on
# deals / lifecycle stage), so it is not sent and HubSpot keeps the previous value.
HUBSPOT_LEAD_STATUS_MAP: dict[str, str] = {
    LeadStatus.NOVO: "NEW",
    LeadStatus.EM_CONTATO: "IN_PROGRESS",
    LeadStatus.QUALIFICADO: "OPEN_DEAL",
    LeadStatus.AGENDADO: "OPEN_DEAL",
    LeadStatus.NEGOCIACAO: "OPEN_DEAL",
    LeadStatus.PERDIDO: "UNQUALIFIED",
}


def sync_delay() -> float:
    return float(getattr(settings, "CRM_SYNC_DELAY_SECONDS", 5))


def default_base_url(provider: str) -> str:
    return CRM_DEFAULT_BASE_URLS[CrmProvider(provider)]


def active_connection(organization_id: Any) -> CRMConnection | None:
    return CRMConnection.objects.filter(organization_id=organization_id, ativo=True).first()


# -- scheduling -------------------------------------------------------------------------------

SYNC = Coalesced(
    name="integrations.crm.services:sync",
    func="integrations.jobs.crm_sync_pending",
    queue=SYNC_QUEUE,
    delay=sync_delay,
    on_failure=FAILURE_CALLBACK,
)


def crm_schedule_lead_sync(*, lead: Lead) -> None:
    """One coalesced sync of `lead`, `sync_delay()` seconds after the current transaction
    commits (durable through the outbox)."""
    SYNC.request(key=lead.organization_id, ids=[lead.pk])


def crm_request_sync(*, lead: Lead) -> None:
    """Sync `lead` now (the sync-crm endpoint), after the current transaction commits."""
    enqueue(
        SYNC_JOB,
        organization_id=str(lead.organization_id),
        lead_ids=[str(lead.pk)],
        attempt=0,
        queue=SYNC_QUEUE,
        retry=SAFE_RETRY,
        on_failure=FAILURE_CALLBACK,
    )


def crm_sync_pending(*, organization_id: Any) -> SyncOutcome:
    """The coalesced job's body: sync the organization's pending leads, batch by batch."""
    total = SyncOutcome()
    for ids in SYNC.drain(organization_id, SWEEP_BATCH):
        outcome = crm_sync_leads(organization_id=organization_id, lead_ids=ids)
        total.synced += outcome.synced
        total.failed += outcome.failed
        total.retrying += outcome.retrying
        total.skipped = total.skipped or outcome.skipped
    return total


def record_sync_failure(
    job: Any, connection: Any, exc_type: Any, exc_value: Any, traceback: Any
) -> None:
    """RQ failure callback of the sync jobs (also called when the worker died mid-job): the
    leads of the job say so in ``crm_sync_error`` until a retry or the sweep syncs them."""
    kwargs = job.kwargs or {}
    organization_id = kwargs.get("organization_id")
    if not organization_id:
        return
    lead_ids = kwargs.get("lead_ids") or sorted(SYNC.pending(organization_id))
    retrying = bool(job.retries_left)
    message = f"sync interrupted ({getattr(exc_type, '__name__', exc_type)}); " + (
        "retrying" if retrying else "the sweep will retry"
    )
    Lead.objects.for_org(organization_id).filter(pk__in=list(lead_ids)).update(
        crm_sync_error=message
    )
    logger.warning("crm sync job %s failed for %d lead(s): %s", job.id, len(lead_ids), message)


def lead_needs_sync(*, organization_id: Any, changed: Iterable[str] | None) -> bool:
    """Whether a change (None: a new lead) matters to the organization's active CRM."""
    row = (
        CRMConnection.objects.filter(organization_id=organization_id, ativo=True)
        .values_list("provider", "field_mapping")
        .first()
    )
    if row is None:
        return False
    if changed is None:
        return True
    return bool(set(changed) & mapping.tracked_fields(row[0], row[1]))


def crm_lead_changed(*, lead: Lead, changed: Iterable[str]) -> None:
    """A lead was updated: stamp the synced fields' clocks with our time (the conflict rule)
    and schedule the sync. A change that came from the CRM does neither (no echo)."""
    if inbound.is_from_crm():
        return
    row = (
        CRMConnection.objects.filter(organization_id=lead.organization_id, ativo=True)
        .values_list("provider", "field_mapping")
        .first()
    )
    if row is None:
        return
    fields = set(changed) & mapping.tracked_fields(row[0], row[1])
    if not fields:
        return
    now = timezone.now()
    CrmFieldClock.objects.bulk_create(
        [
            CrmFieldClock(
                organization_id=lead.organization_id,
                lead_id=lead.pk,
                campo=mapping.OUR_FIELD.get(field, field),
                changed_at=now,
                source=CrmFieldSource.LOCAL,
            )
            for field in sorted(fields)
        ],
        update_conflicts=True,
        unique_fields=["lead", "campo"],
        update_fields=["changed_at", "source"],
    )
    crm_schedule_lead_sync(lead=lead)


# -- the sync itself --------------------------------------------------------------------------


def connection_mapping(connection: CRMConnection) -> dict[str, str]:
    """Our field -> CRM target, the connection's overrides over the provider's defaults."""
    return mapping.effective_mapping(connection.provider, connection.field_mapping)


def build_client(connection: CRMConnection) -> HubSpotClient | PipedriveClient:
    base_url = connection.api_base_url or default_base_url(connection.provider)
    if connection.provider == CrmProvider.HUBSPOT:
        return HubSpotClient(
            base_url=base_url,
            token=connection.token,
            lead_status_map=HUBSPOT_LEAD_STATUS_MAP,
            field_keys=connection_mapping(connection),
        )
    return PipedriveClient(
        base_url=base_url, api_token=connection.token, field_keys=connection.field_keys
    )


def prepare_fields(connection: CRMConnection, client: BaseCrmClient) -> dict[str, str]:
    """Create the mapped custom properties / fields the CRM lacks, once per mapping: the keys
    found are kept on the connection with the mapping's digest and reused until it changes."""
    wanted = connection_mapping(connection)
    digest = mapping.mapping_digest(connection.provider, wanted)
    if connection.fields_ready_for == digest:
        client.field_keys = dict(connection.field_keys)
        return client.field_keys
    specs = {
        field: CrmFieldSpec(
            target=target, label=mapping.LABELS[field], numeric=field in mapping.NUMERIC_FIELDS
        )
        for field, target in wanted.items()
    }
    keys = client.prepare(specs)
    CRMConnection.objects.filter(pk=connection.pk).update(field_keys=keys, fields_ready_for=digest)
    connection.field_keys, connection.fields_ready_for = keys, digest
    return keys


def lead_to_contact(lead: Lead, provider: str) -> CrmContact:
    # A crm_id from another provider (the organization switched CRMs) means nothing here.
    crm_id = lead.crm_id if lead.crm_id and lead.crm_provider == provider else None
    return CrmContact(
        lead_id=str(lead.pk),
        nome_completo=lead.nome_completo,
        email=lead.email or None,
        telefone=lead.telefone or None,
        empresa=lead.empresa or None,
        cargo=lead.cargo or None,
        status=lead.status,
        origem=lead.origem or None,
        valor_potencial=lead.valor_potencial,
        crm_id=crm_id,
        temperatura=lead.temperatura or None,
        lead_score=lead.lead_score,
        closer=(lead.closer.user.email or None) if lead.closer is not None else None,
    )


@dataclass
class SyncOutcome:
    synced: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    retrying: list[str] = field(default_factory=list)
    retry_delay: float | None = None
    skipped: str = ""


def _error_text(error: IntegrationError) -> str:
    return str(error)[:2000]


def crm_sync_leads(
    *, organization_id: Any, lead_ids: Sequence[Any], attempt: int = 0
) -> SyncOutcome:
    """Upsert the given leads of one organization into its active CRM (the job's body)."""
    outcome = SyncOutcome()
    connection = active_connection(organization_id)
    if connection is None:
        outcome.skipped = "no active connection"
        return outcome
    provider = connection.provider
    leads = list(
        Lead.objects.for_org(organization_id)
        .filter(pk__in=list(lead_ids))
        .select_related("closer__user")
    )
    if not leads:
        outcome.skipped = "no leads"
        return outcome

    results, interrupted = _upsert(connection, leads)

    now = timezone.now()
    last_error: IntegrationError | None = interrupted
    done: set[str] = set()
    for result in results:
        done.add(result.lead_id)
        if result.ok:
            Lead.objects.filter(pk=result.lead_id).update(
                crm_provider=provider,
                crm_id=result.crm_id or "",
                crm_synced_at=now,
                crm_sync_error="",
            )
            outcome.synced.append(result.lead_id)
            CRM_SYNC.labels(provider=provider, outcome="synced").inc()
        elif isinstance(result.error, RetryableError):
            # e.g. a contact missing from a batch answer: upserting again is safe.
            outcome.retrying.append(result.lead_id)
            last_error = result.error
        else:
            if result.error is None:
                raise RuntimeError("result.error is None")
            Lead.objects.filter(pk=result.lead_id).update(crm_sync_error=_error_text(result.error))
            outcome.failed.append(result.lead_id)
            last_error = result.error
            CRM_SYNC.labels(provider=provider, outcome="failed").inc()
            logger.info("crm sync of lead %s failed: %s", result.lead_id, result.error)
    outcome.retrying.extend(str(lead.pk) for lead in leads if str(lead.pk) not in done)

    if outcome.retrying:
        _retry_later(connection, outcome, interrupted or last_error, attempt)
    _record_on_connection(connection, outcome, last_error, now)
    return outcome


def _upsert(
    connection: CRMConnection, leads: list[Lead]
) -> tuple[list[CrmUpsertResult], RetryableError | None]:
    """The provider's answer per lead, and the transient error that cut the batch short."""
    client = build_client(connection)
    try:
        with client:
            prepare_fields(connection, client)
            contacts = [lead_to_contact(lead, connection.provider) for lead in leads]
            return client.upsert(contacts), None
    except CrmBatchInterrupted as exc:
        return exc.completed, exc
    except RetryableError as exc:
        return [], exc
    except PermanentError as exc:
        # Preparing the fields failed (e.g. no scope to create properties): every lead says so.
        return [CrmUpsertResult(str(lead.pk), None, exc) for lead in leads], None


def _retry_later(
    connection: CRMConnection,
    outcome: SyncOutcome,
    error: IntegrationError | None,
    attempt: int,
) -> None:
    provider = connection.provider
    hint = error.retry_after if isinstance(error, RetryableError) else None
    if attempt < len(RETRY_DELAYS) and (hint is None or hint <= MAX_RETRY_DELAY):
        delay = float(hint) if hint is not None else float(RETRY_DELAYS[attempt])
        outcome.retry_delay = delay
        enqueue(
            SYNC_JOB,
            organization_id=str(connection.organization_id),
            lead_ids=list(outcome.retrying),
            attempt=attempt + 1,
            queue=SYNC_QUEUE,
            at=timezone.now() + timedelta(seconds=delay),
            retry=SAFE_RETRY,
            on_failure=FAILURE_CALLBACK,
        )
        CRM_SYNC.labels(provider=provider, outcome="retry").inc(len(outcome.retrying))
        logger.info(
            "crm sync of %d lead(s) retried in %.0fs (attempt %d): %s",
            len(outcome.retrying),
            delay,
            attempt + 1,
            error,
        )
        return
    # Out of retries: record it on the leads; the sweep tries again later.
    message = _error_text(error) if error is not None else "temporary failure"
    Lead.objects.filter(pk__in=outcome.retrying).update(crm_sync_error=message)
    outcome.failed.extend(outcome.retrying)
    outcome.retrying = []
    CRM_SYNC.labels(provider=provider, outcome="gave_up").inc()


def _record_on_connection(
    connection: CRMConnection, outcome: SyncOutcome, error: IntegrationError | None, now: Any
) -> None:
    update: dict[str, Any] = {}
    if outcome.synced:
        update["last_success_at"] = now
    if error is not None:
        update["last_error"] = _error_text(error)
        update["last_error_at"] = now
    elif outcome.synced:
        update["last_error"] = ""
    if update:
        CRMConnection.objects.filter(pk=connection.pk).update(**update)


# -- sweep ------------------------------------------------------------------------------------


def leads_to_resync(connection: CRMConnection, *, limit: int = SWEEP_LIMIT) -> list[str]:
    """Leads of the connection's organization that failed, were never synced, or changed."""
    quiet = timezone.now() - SWEEP_QUIET
    ids = (
        Lead.objects.for_org(connection.organization_id)
        .filter(updated_at__lt=quiet)
        .filter(
            ~Q(crm_sync_error="")
            | Q(crm_synced_at__isnull=True)
            | Q(crm_synced_at__lt=F("updated_at"))
            | ~Q(crm_provider=connection.provider)
        )
        .order_by("updated_at")
        .values_list("pk", flat=True)[:limit]
    )
    return [str(pk) for pk in ids]


def crm_sync_sweep(*, limit: int = SWEEP_LIMIT) -> int:
    """Schedule batch syncs for every active connection's stale leads; returns how many.

    Also queues again inbound events whose job was lost, and forgets applied ones older than
    ``WEBHOOK_EVENT_TTL`` (providers stop redelivering long before: HubSpot retries for 3
    days)."""
    CrmWebhookEvent.objects.filter(
        received_at__lt=timezone.now() - WEBHOOK_EVENT_TTL, processed_at__isnull=False
    ).delete()
    inbound.requeue_stuck_events()
    scheduled = 0
    for connection in CRMConnection.objects.filter(ativo=True).order_by("created_at"):
        waiting = SYNC.pending(connection.organization_id)
        ids = [i for i in leads_to_resync(connection, limit=limit) if i not in waiting]
        SYNC.request(key=connection.organization_id, ids=ids)
        scheduled += len(ids)
    if scheduled:
        logger.info("crm sweep scheduled %d lead(s)", scheduled)
    return scheduled


# -- connection management --------------------------------------------------------------------


def crm_connection_test(*, connection: CRMConnection) -> tuple[bool, str]:
    """Call the CRM with the stored token; (ok, message). Records the outcome on the row."""
    client = build_client(connection)
    now = timezone.now()
    try:
        with client:
            client.check_credentials()
    except IntegrationError as exc:
        CRMConnection.objects.filter(pk=connection.pk).update(
            last_error=_error_text(exc), last_error_at=now
        )
        return False, str(exc)
    CRMConnection.objects.filter(pk=connection.pk).update(last_success_at=now, last_error="")
    return True, "ok"


def crm_delete_contact(
    *, organization_id: Any, crm_provider: str, crm_id: str, email: str | None
) -> str:
    """Ask the organization's CRM to delete a person (data subject anonymisation).

    Returns what happened: `deleted`, `not_found` (already gone), `no_connection` (no active
    CRM), `not_synced` (nothing identifies the person there). Raises the client's
    IntegrationError otherwise (a retryable one for 429/5xx/timeouts)."""
    connection = active_connection(organization_id)
    if connection is None:
        return "no_connection"
    # A crm_id from another provider means nothing to this one.
    own_id = crm_id if crm_provider in ("", connection.provider) else ""
    client = build_client(connection)
    with client:
        if isinstance(client, HubSpotClient):
            if not own_id and not email:
                return "not_synced"
            found = client.gdpr_delete(crm_id=own_id or None, email=None if own_id else email)
        else:
            if not own_id:
                return "not_synced"
            found = client.delete_person(own_id)
    return "deleted" if found else "not_found"
