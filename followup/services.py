"""Writes for follow-up: sequences (with step versions), enrollment, execution state, replies.

Decisions (see also docs/followup.md):

- Step versions: creating a sequence stores version 1 of its steps; an edit that changes the
  steps stores a new version. An execution keeps the version it was enrolled with, so editing
  never changes what an enrolled lead receives mid-way; new enrollments get the latest version.
  Window, weekend and holiday settings are read live (they say *when*, not *what*).
- Automatic enrollment (activation, lead created/changed, hourly sweep) enrolls a lead in a
  sequence at most once: any earlier execution of that sequence, whatever its status, skips
  it, so a lead who finished or answered a sequence is not sent it again on every change.
  Manual enrollment only skips leads with an unfinished execution (re-running is deliberate).
- The database's partial unique constraint (one active/paused execution per sequence and lead)
  is the final arbiter: every insert is `ON CONFLICT DO NOTHING`, so concurrent enrollments
  of the same lead produce one execution.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from config.errors import ConflictError, PermissionDenied
from config.jobs import enqueue
from followup.models import (
    UNFINISHED_STATUSES,
    ExecutionStatus,
    FollowupExecution,
    FollowupExecutionLog,
    FollowupSequence,
    FollowupSequenceVersion,
    LogEvent,
    LogLevel,
    PauseReason,
)
from followup.scheduling import build_policy, due_time
from followup.selectors import eligible_leads, never_enrolled
from followup.timing import NoSendWindow
from leads.models import CLOSED_STATUSES, Lead, LeadInteraction, Resultado, TipoInteracao
from organizations.models import Membership, NotificationTipo, Organization
from organizations.notifications import notify

logger = logging.getLogger(__name__)

INSERT_BATCH = 1000


# --- sequences ----------------------------------------------------------------------------------


def _activation_job(sequence: FollowupSequence) -> None:
    enqueue(
        "followup.jobs.enroll_activated_sequence",
        sequence_id=str(sequence.pk),
        organization_id=str(sequence.organization_id),
        # The low queue's one-hour timeout fits a bulk enrollment of 100,000 leads.
        queue="low",
        job_id=f"followup-activate-{sequence.pk}",
    )


@transaction.atomic
def sequence_create(
    *, organization: Organization, actor: Membership | None, data: dict[str, Any]
) -> FollowupSequence:
    """Creates a sequence and version 1 of its steps; an active one enrolls in the background."""
    sequence = FollowupSequence.objects.create(
        organization=organization, created_by=actor, versao=1, **data
    )
    FollowupSequenceVersion.objects.create(sequence=sequence, numero=1, steps=sequence.steps)
    if sequence.ativo:
        _activation_job(sequence)
    return sequence


@transaction.atomic
def sequence_update(
    *, sequence: FollowupSequence, actor: Membership | None, data: dict[str, Any]
) -> FollowupSequence:
    """Updates a sequence; new steps make a new version; (de)activation pauses or resumes."""
    sequence = FollowupSequence.objects.select_for_update().get(pk=sequence.pk)
    was_active = sequence.ativo
    old_steps = sequence.steps
    old_criteria = sequence.criterios_ativacao
    for name, value in data.items():
        setattr(sequence, name, value)
    if "steps" in data and data["steps"] != old_steps:
        sequence.versao += 1
        FollowupSequenceVersion.objects.create(
            sequence=sequence, numero=sequence.versao, steps=sequence.steps
        )
    sequence.save()
    if was_active and not sequence.ativo:
        sequence_pause_executions(sequence=sequence)
    elif sequence.ativo and (not was_active or sequence.criterios_ativacao != old_criteria):
        # Switched on, or its criteria widened/changed: enroll whoever matches now.
        _activation_job(sequence)
    return sequence


@transaction.atomic
def sequence_delete(*, sequence: FollowupSequence) -> None:
    """Deletes the sequence with its versions, executions and logs (deactivate to keep them)."""
    sequence.delete()


def sequence_pause_executions(*, sequence: FollowupSequence) -> int:
    """Deactivation: every active execution of the sequence is paused (one UPDATE)."""
    now = timezone.now()
    return FollowupExecution.objects.filter(
        sequence_id=sequence.pk, status=ExecutionStatus.ACTIVE
    ).update(
        status=ExecutionStatus.PAUSED,
        pause_reason=PauseReason.SEQUENCE,
        claimed_until=None,
        updated_at=now,
    )


def sequence_resume_executions(*, sequence: FollowupSequence) -> int:
    """Reactivation: executions paused by the deactivation become active again with their next
    step's time recomputed under the current window and holidays (never in the past)."""
    policy = build_policy(sequence, sequence.organization)
    now = timezone.now()
    resumed = 0
    cache: dict[Any, datetime | None] = {}
    while True:
        with transaction.atomic():
            batch = list(
                FollowupExecution.objects.select_for_update(skip_locked=True)
                .filter(
                    sequence_id=sequence.pk,
                    status=ExecutionStatus.PAUSED,
                    pause_reason=PauseReason.SEQUENCE,
                )
                .only("id", "proxima_execucao", "status", "pause_reason")[:INSERT_BATCH]
            )
            if not batch:
                return resumed
            for execution in batch:
                start = max(execution.proxima_execucao or now, now)
                # Bulk-enrolled executions share due times: compute each distinct one once.
                if start not in cache:
                    try:
                        cache[start] = due_time({}, start, policy)
                    except NoSendWindow:
                        cache[start] = None
                execution.proxima_execucao = cache[start] or start
                execution.status = ExecutionStatus.ACTIVE
                execution.pause_reason = ""
                execution.updated_at = now
            FollowupExecution.objects.bulk_update(
                batch, ["proxima_execucao", "status", "pause_reason", "updated_at"]
            )
            resumed += len(batch)


# --- enrollment ---------------------------------------------------------------------------------


def _current_version(sequence: FollowupSequence) -> FollowupSequenceVersion:
    return FollowupSequenceVersion.objects.get(sequence_id=sequence.pk, numero=sequence.versao)


def _first_due(
    sequence: FollowupSequence, version: FollowupSequenceVersion, now: datetime
) -> datetime:
    policy = build_policy(sequence, sequence.organization)
    try:
        return due_time(version.steps[0], now, policy)
    except NoSendWindow:
        # Every day of the next year is paused: keep the execution, the dispatcher fails it
        # with a clear log instead of losing the enrollment silently.
        return now


def _insert_executions(
    *,
    sequence: FollowupSequence,
    version: FollowupSequenceVersion,
    lead_ids: Sequence[Any],
    due: datetime,
    actor: Membership | None,
) -> list[uuid.UUID]:
    """Bulk insert, skipping conflicts with the unfinished-execution constraint; returns the
    ids of the rows offered (callers that need to know which were inserted check them)."""
    now = timezone.now()
    offered: list[uuid.UUID] = []
    for start in range(0, len(lead_ids), INSERT_BATCH):
        rows = [
            FollowupExecution(
                id=uuid.uuid4(),
                organization_id=sequence.organization_id,
                sequence_id=sequence.pk,
                versao_id=version.pk,
                lead_id=lead_id,
                status=ExecutionStatus.ACTIVE,
                step_atual=0,
                proxima_execucao=due,
                enrolled_by=actor,
                created_at=now,
                updated_at=now,
            )
            for lead_id in lead_ids[start : start + INSERT_BATCH]
        ]
        FollowupExecution.objects.bulk_create(rows, ignore_conflicts=True)
        offered.extend(row.id for row in rows)
    return offered


def followup_enroll_sequence(*, sequence: FollowupSequence) -> int:
    """Activation: enroll every matching, never-enrolled lead in bulk; returns rows offered.

    One SELECT for the candidates (criteria, closed status, opt-outs and earlier executions all
    in SQL) and one INSERT per thousand leads: 100,000 candidates are a hundred statements.
    """
    sequence = FollowupSequence.objects.select_related("organization").get(pk=sequence.pk)
    if not sequence.ativo:
        return 0
    version = _current_version(sequence)
    candidates = never_enrolled(eligible_leads(sequence=sequence, steps=version.steps), sequence)
    lead_ids = list(candidates.order_by().values_list("pk", flat=True))
    if not lead_ids:
        return 0
    due = _first_due(sequence, version, timezone.now())
    offered = _insert_executions(
        sequence=sequence, version=version, lead_ids=lead_ids, due=due, actor=None
    )
    logger.info(
        "followup enrollment",
        extra={"sequence_id": str(sequence.pk), "candidates": len(lead_ids)},
    )
    return len(offered)


def followup_enroll_matching_leads(*, organization_id: Any, lead_ids: Iterable[Any]) -> int:
    """Lead created or changed: enroll these leads in every active sequence they now match."""
    ids = list(dict.fromkeys(str(lead_id) for lead_id in lead_ids))
    if not ids:
        return 0
    total = 0
    sequences = FollowupSequence.objects.filter(
        organization_id=organization_id, ativo=True
    ).select_related("organization")
    for sequence in sequences:
        version = _current_version(sequence)
        candidates = never_enrolled(
            eligible_leads(sequence=sequence, steps=version.steps), sequence
        ).filter(pk__in=ids)
        matched = list(candidates.order_by().values_list("pk", flat=True))
        if matched:
            due = _first_due(sequence, version, timezone.now())
            total += len(
                _insert_executions(
                    sequence=sequence, version=version, lead_ids=matched, due=due, actor=None
                )
            )
    return total


class SkipReason:
    ALREADY_ENROLLED = "already_enrolled"
    LEAD_CLOSED = "lead_closed"
    OPTED_OUT = "opted_out"


@dataclass
class EnrollResult:
    enrolled: list[dict[str, str]] = field(default_factory=list)
    skipped: list[dict[str, str]] = field(default_factory=list)


def followup_enroll_leads(
    *, sequence: FollowupSequence, leads: Sequence[Lead], actor: Membership | None
) -> EnrollResult:
    """Manual enrollment of chosen leads (criteria are not applied: the choice is explicit).

    Skips, with a reason, leads that are closed, opted out of every channel of the sequence,
    or already in an unfinished execution of it. Safe under concurrency: the same lead
    enrolled twice at once yields one execution, the other call reports it as already enrolled.
    """
    sequence = FollowupSequence.objects.select_related("organization").get(pk=sequence.pk)
    if not sequence.ativo:
        raise ConflictError(
            _("A sequência está inativa: ative-a antes de inscrever leads."),
            details={"sequence_id": str(sequence.pk)},
        )
    version = _current_version(sequence)
    result = EnrollResult()
    by_id = {str(lead.pk): lead for lead in leads}
    eligible = {
        str(pk)
        for pk in eligible_leads(sequence=sequence, steps=version.steps, apply_criteria=False)
        .filter(pk__in=list(by_id))
        .values_list("pk", flat=True)
    }
    enrolled_already = {
        str(pk)
        for pk in FollowupExecution.objects.filter(
            sequence_id=sequence.pk, lead_id__in=list(by_id), status__in=UNFINISHED_STATUSES
        ).values_list("lead_id", flat=True)
    }
    to_insert: list[str] = []
    for lead_id, lead in by_id.items():
        if lead_id in enrolled_already:
            result.skipped.append({"lead_id": lead_id, "reason": SkipReason.ALREADY_ENROLLED})
        elif lead_id not in eligible:
            reason = (
                SkipReason.LEAD_CLOSED if lead.status in CLOSED_STATUSES else SkipReason.OPTED_OUT
            )
            result.skipped.append({"lead_id": lead_id, "reason": reason})
        else:
            to_insert.append(lead_id)
    if to_insert:
        due = _first_due(sequence, version, timezone.now())
        offered = _insert_executions(
            sequence=sequence, version=version, lead_ids=to_insert, due=due, actor=actor
        )
        inserted = {
            str(lead_id): str(pk)
            for pk, lead_id in FollowupExecution.objects.filter(pk__in=offered).values_list(
                "pk", "lead_id"
            )
        }
        for lead_id in to_insert:
            if lead_id in inserted:
                result.enrolled.append({"lead_id": lead_id, "execution_id": inserted[lead_id]})
            else:  # lost a race with a concurrent enrollment of the same lead
                result.skipped.append({"lead_id": lead_id, "reason": SkipReason.ALREADY_ENROLLED})
    return result


# --- execution state ----------------------------------------------------------------------------


def _log(
    execution: FollowupExecution,
    evento: str,
    message: str,
    *,
    level: str = LogLevel.INFO,
    step: int | None = None,
    tipo_acao: str = "",
    error: str = "",
) -> FollowupExecutionLog:
    return FollowupExecutionLog(
        organization_id=execution.organization_id,
        execution_id=execution.pk,
        step=step,
        tipo_acao=tipo_acao,
        evento=evento,
        level=level,
        message=message,
        error=error,
    )


def _locked(execution: FollowupExecution) -> FollowupExecution:
    return cast(
        "FollowupExecution",
        FollowupExecution.objects.select_for_update()
        .select_related("sequence")
        .get(pk=execution.pk),
    )


def execution_may_change(*, execution: FollowupExecution, actor: Membership) -> bool:
    """Managers change any execution of their organization; closers and SDRs those of the
    leads they may write (the leads visible to them); mentors none."""
    if actor.organization_id != execution.organization_id or not actor.ativo:
        return False
    if actor.is_manager:
        return True
    if not actor.is_seller:
        return False
    return (
        Lead.objects.for_org(actor.organization_id)
        .visible_to(actor)
        .filter(pk=execution.lead_id)
        .exists()
    )


def _ensure_may_change(execution: FollowupExecution, actor: Membership | None) -> None:
    # actor None: the system (engine, signals) acting on its own.
    if actor is not None and not execution_may_change(execution=execution, actor=actor):
        raise PermissionDenied(_("Você só pode alterar o follow-up de leads que você pode editar."))


def _conflict_if_finished(execution: FollowupExecution) -> None:
    if execution.is_finished:
        raise ConflictError(
            _("A execução já terminou (%(status)s).") % {"status": execution.get_status_display()},
            details={"status": execution.status, "id": str(execution.pk)},
        )


@transaction.atomic
def execution_pause(*, execution: FollowupExecution, actor: Membership | None) -> FollowupExecution:
    """Pauses an unfinished execution (409 when finished; pausing a paused one is a no-op)."""
    execution = _locked(execution)
    _ensure_may_change(execution, actor)
    _conflict_if_finished(execution)
    if execution.status == ExecutionStatus.ACTIVE:
        execution.status = ExecutionStatus.PAUSED
        execution.pause_reason = PauseReason.MANUAL
        execution.claimed_until = None
        execution.updated_at = timezone.now()
        execution.save(update_fields=["status", "pause_reason", "claimed_until", "updated_at"])
        _log(
            execution,
            LogEvent.PAUSED,
            _("Pausada por %(who)s.") % {"who": actor.nome_completo if actor else "sistema"},
        ).save()
    return execution


@transaction.atomic
def execution_resume(
    *, execution: FollowupExecution, actor: Membership | None
) -> FollowupExecution:
    """Resumes a paused execution with its next time recomputed (409 if finished or the
    sequence is inactive; resuming an active one is a no-op)."""
    execution = _locked(execution)
    _ensure_may_change(execution, actor)
    _conflict_if_finished(execution)
    if execution.status == ExecutionStatus.PAUSED:
        sequence = execution.sequence
        if not sequence.ativo:
            raise ConflictError(
                _("A sequência está inativa: ative-a para retomar as execuções."),
                details={"sequence_id": str(sequence.pk)},
            )
        now = timezone.now()
        policy = build_policy(sequence, sequence.organization)
        start = max(execution.proxima_execucao or now, now)
        try:
            execution.proxima_execucao = due_time({}, start, policy)
        except NoSendWindow:
            execution.proxima_execucao = start
        execution.status = ExecutionStatus.ACTIVE
        execution.pause_reason = ""
        execution.updated_at = now
        execution.save(update_fields=["status", "pause_reason", "proxima_execucao", "updated_at"])
        _log(
            execution,
            LogEvent.RESUMED,
            _("Retomada por %(who)s.") % {"who": actor.nome_completo if actor else "sistema"},
        ).save()
    return execution


@transaction.atomic
def execution_cancel(
    *, execution: FollowupExecution, actor: Membership | None, reason: str = ""
) -> FollowupExecution:
    """Cancels an unfinished execution (409 when it already finished)."""
    execution = _locked(execution)
    _ensure_may_change(execution, actor)
    _conflict_if_finished(execution)
    now = timezone.now()
    execution.status = ExecutionStatus.CANCELLED
    execution.pause_reason = ""
    execution.claimed_until = None
    execution.finished_at = now
    execution.updated_at = now
    execution.save(
        update_fields=["status", "pause_reason", "claimed_until", "finished_at", "updated_at"]
    )
    who = actor.nome_completo if actor else "sistema"
    _log(
        execution,
        LogEvent.CANCELLED,
        reason or _("Cancelada por %(who)s.") % {"who": who},
    ).save()
    return execution


@transaction.atomic
def followup_cancel_for_lead(*, lead_id: Any, reason: str) -> int:
    """Lead became `convertido`/`perdido`: its unfinished executions are cancelled."""
    executions = list(
        FollowupExecution.objects.select_for_update()
        .filter(lead_id=lead_id, status__in=UNFINISHED_STATUSES)
        .order_by("pk")
    )
    now = timezone.now()
    for execution in executions:
        execution.status = ExecutionStatus.CANCELLED
        execution.pause_reason = ""
        execution.claimed_until = None
        execution.finished_at = now
        execution.updated_at = now
    FollowupExecution.objects.bulk_update(
        executions, ["status", "pause_reason", "claimed_until", "finished_at", "updated_at"]
    )
    FollowupExecutionLog.objects.bulk_create(
        [_log(execution, LogEvent.CANCELLED, reason) for execution in executions]
    )
    return len(executions)


# --- replies ------------------------------------------------------------------------------------

REPLY_CHANNELS = frozenset(TipoInteracao.values)


@dataclass
class ReplyResult:
    responded: int
    interaction_id: str


def _reply_actor(lead: Lead) -> Membership | None:
    for member in (lead.closer, lead.sdr):
        if member is not None and member.ativo:
            return member
    return None


@transaction.atomic
def followup_register_reply(
    *, lead: Lead, channel: str, message: str, received_at: datetime | None = None
) -> ReplyResult:
    """A lead answered: unfinished executions -> responded, interaction, closer notified.

    The interaction is recorded in the name of the lead's closer (else its SDR); with neither,
    it has no author (`closer` null), which the timeline shows as the system.
    """
    from leads.services import interaction_create

    now = timezone.now()
    moment = min(received_at or now, now)
    lead = Lead.objects.select_related("closer", "sdr", "organization").get(pk=lead.pk)
    executions = _mark_executions_responded(lead, channel=channel, moment=moment, now=now)
    # Any step claimed by a dispatcher right now will not be sent: its conditional
    # "sending" transition requires the execution to be active.
    tipo = channel if channel in REPLY_CHANNELS else TipoInteracao.OUTRO
    actor = _reply_actor(lead)
    interaction = interaction_create(
        lead=lead,
        # A lead with neither closer nor SDR gets an authorless (system) interaction.
        actor=actor,
        data={
            "tipo_interacao": tipo,
            "resumo": _("Resposta recebida no follow-up automatizado"),
            "detalhes_completos": message,
            "resultado": Resultado.CONTATO_REALIZADO,
            "data_interacao": moment,
        },
    )
    _notify_reply(lead, channel=channel, executions=executions, interaction=interaction)
    return ReplyResult(responded=len(executions), interaction_id=str(interaction.pk))


def _mark_executions_responded(
    lead: Lead, *, channel: str, moment: datetime, now: datetime
) -> list[FollowupExecution]:
    """Lock the lead's unfinished executions, set them responded and log it; returns them."""
    executions = list(
        FollowupExecution.objects.select_for_update()
        .filter(lead_id=lead.pk, status__in=UNFINISHED_STATUSES)
        .order_by("pk")
    )
    for execution in executions:
        execution.status = ExecutionStatus.RESPONDED
        execution.pause_reason = ""
        execution.data_resposta = moment
        execution.claimed_until = None
        execution.finished_at = now
        execution.updated_at = now
    FollowupExecution.objects.bulk_update(
        executions,
        ["status", "pause_reason", "data_resposta", "claimed_until", "finished_at", "updated_at"],
    )
    FollowupExecutionLog.objects.bulk_create(
        [
            _log(
                execution,
                LogEvent.RESPONDED,
                _("O lead respondeu por %(canal)s.") % {"canal": channel},
            )
            for execution in executions
        ]
    )
    return executions


def _notify_reply(
    lead: Lead,
    *,
    channel: str,
    executions: list[FollowupExecution],
    interaction: LeadInteraction,
) -> None:
    """Tell the lead's closer that the lead answered (idempotent per interaction)."""
    notify(
        organization=lead.organization,
        recipients=[lead.closer],
        tipo=NotificationTipo.LEAD_RESPONDED,
        titulo=_("%(nome)s respondeu ao follow-up!") % {"nome": lead.nome_completo},
        payload={
            "lead_id": str(lead.pk),
            "channel": channel,
            "execution_ids": [str(execution.pk) for execution in executions],
        },
        chave=f"lead_responded:{interaction.pk}",
    )
