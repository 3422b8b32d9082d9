"""The follow-up dispatcher: claims due executions, performs their current step, records it.

One pass (`dispatch_due`) repeats three phases per batch until nothing is due:

1. **Claim** (one short transaction). ``SELECT ... FOR UPDATE SKIP LOCKED`` takes up to
   ``batch_size`` active executions whose ``proxima_execucao`` has come and that no other
   dispatcher holds (``claimed_until`` empty or expired). Stop rules are applied right there:
   sequence inactive -> paused; lead `convertido`/`perdido` -> cancelled; lead opted out of the
   step's channel -> step skipped and logged. For every step to perform, a
   ``FollowupStepRun`` row (unique per execution and step index) is written in state
   ``claimed`` with a fresh fencing token, and the execution gets a lease
   (``claimed_until = now + LEASE``). The transaction commits: the record exists *before*
   anything is sent, and other dispatchers skip the leased rows without waiting for them.
2. **Perform** (no transaction held). Before calling the channels, a conditional UPDATE moves
   the records of the next ``SEND_CHUNK`` steps ``claimed -> sending``, only where the token
   is still ours and the execution is still active (a reply, pause or cancel that arrived
   meanwhile stops the step here). Then each step's channel is called.
3. **Finish** (one short transaction). The executions are locked again; for each step whose
   record still carries our token, the outcome is written: ``steps_executados`` and a log row,
   the record ``done``/``retry``/``failed``, the next ``proxima_execucao`` from the timing rule
   (or ``completed``; ``nothing_sent`` with the skip reasons when no step reached the lead,
   its sequence's owner told once per sequence and transaction), retries with backoff,
   ``failed`` plus a ``followup_failed`` notification after ``MAX_RETRIES``.

Why a step is never performed twice
    * Two dispatchers: the row lock (SKIP LOCKED) lets only one claim an execution, and the
      lease written in the same transaction keeps the others away after the lock is released.
      The unique (execution, step) record makes a second claim of the same step impossible to
      write as a new step, and the fencing token stops a dispatcher whose lease expired from
      finishing a step that another one took over.
    * A worker killed mid-step leaves the execution claimable again once its lease expires
      (``LEASE``; nothing else needs cleaning up), and the record says how far it got:
        - crash inside the claim transaction: it rolls back, nothing was recorded or sent, the
          execution is claimed afresh;
        - record ``claimed``: the channel was never called, so the step is performed normally;
        - record ``sending``: the channel may or may not have delivered (the worker died
          while sending its chunk, or after it). Idempotent channels
          (WhatsApp: ``idempotency_key``; tasks: ``Task.origem_ref`` unique) are called again
          with the same key and drop the duplicate. Email (SMTP has no idempotency) is *not*
          sent again: the step is recorded as ``uncertain`` with a warning log, so in that
          rare case up to ``SEND_CHUNK`` leads may miss one email, but none gets one twice.
        - crash inside the finish transaction: same as ``sending`` (it rolls back to it).

Permanent vs retryable errors
    A channel raises ``ChannelError(retryable=...)``. Retryable errors (timeouts, 429/5xx, SMTP
    4xx, unexpected exceptions) are retried after ``retry_delay(n)`` (about 1, 5, 30 min, or the
    provider's Retry-After when longer), moved into the send window, up to ``MAX_RETRIES``;
    the next failure fails the execution. Permanent errors (invalid recipient, rejected
    template, SMTP 5xx) fail the execution at once: the data or configuration needs a person,
    and later steps would arrive out of context. Both log the error and notify the closer (else
    the managers) with an idempotent ``followup_failed`` notification.

Speed: a batch costs a handful of set-based statements (claim with joins, step records,
`UPDATE ... FROM (VALUES ...)` bulk updates, bulk log inserts) plus one "sending" UPDATE per
``SEND_CHUNK`` steps (each is a commit, i.e. an fsync: per step they dominated the time);
email reuses one connection per pass (figures: bench/README.md, "Follow-up dispatch").
"""

from __future__ import annotations

import logging
import time
import uuid
from dataclasses import dataclass, field, fields
from datetime import datetime, timedelta
from typing import Any

from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from config import events
from config.metrics import FOLLOWUP_STEPS
from followup.bulk import bulk_update_values
from followup.channels import (
    OPT_OUT_FIELD,
    Channel,
    ChannelError,
    ChannelResult,
    Rendered,
    channel_for,
)
from followup.models import (
    EXECUTION_STATE_FIELDS,
    ExecutionStatus,
    FollowupExecution,
    FollowupExecutionLog,
    FollowupStepRun,
    LogEvent,
    LogLevel,
    PauseReason,
    SkipReason,
    StepRunState,
)
from followup.scheduling import build_policy, due_time, organization_holidays
from followup.templating import TemplateSyntaxProblem, render_template, template_context
from followup.timing import MAX_RETRIES, NoSendWindow, SendPolicy, retry_delay
from followup.variants import choose_variant, step_with_variant
from leads.models import CLOSED_STATUSES, Lead
from organizations.models import NotificationTipo
from organizations.notifications import managers_of, notify

logger = logging.getLogger(__name__)

#: How long a claimed step is reserved for the dispatcher that claimed it. After that another
#: dispatcher may take the execution over (the first one is presumed dead).
LEASE = timedelta(minutes=10)
DEFAULT_BATCH = 200

_EXECUTION_FIELDS = [
    *EXECUTION_STATE_FIELDS,
    "claimed_until",
    "finished_at",
    "updated_at",
    "motivos_sem_envio",
]
_RUN_FIELDS = ["state", "outcome", "reason", "variant", "token", "attempts", "detail", "updated_at"]


class Outcome:
    SENT = "sent"
    SKIPPED = "skipped"
    RETRY = "retry"
    FAILED = "failed"
    ABORTED = "aborted"


@dataclass
class DispatchStats:
    """Counts of one dispatch pass (printed by `manage.py dispatch_followups`)."""

    claimed: int = 0
    sent: int = 0
    skipped: int = 0
    retried: int = 0
    failed: int = 0
    uncertain: int = 0
    completed: int = 0
    nothing_sent: int = 0
    cancelled: int = 0
    paused: int = 0
    aborted: int = 0
    batches: int = 0

    def as_dict(self) -> dict[str, int]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


@dataclass
class _Work:
    execution: FollowupExecution
    run: FollowupStepRun
    step: dict[str, Any]
    channel: Channel
    outcome: str = ""
    detail: str = ""
    reason: str = ""
    error: str = ""
    retry_after: float | None = None


@dataclass
class _Pass:
    """State shared by the batches of one pass: channels (open connections), policies."""

    channels: dict[str, Channel] = field(default_factory=dict)
    holidays: dict[Any, frozenset[Any]] = field(default_factory=dict)
    policies: dict[Any, SendPolicy] = field(default_factory=dict)
    stats: DispatchStats = field(default_factory=DispatchStats)
    # Executions that ended with nothing sent in the current transaction; their sequences'
    # owners are told once per sequence when it is about to commit (`_tell_nothing_sent`).
    nothing_sent: list[FollowupExecution] = field(default_factory=list)

    def policy(self, execution: FollowupExecution) -> SendPolicy:
        sequence = execution.sequence
        key = (sequence.pk, sequence.updated_at)
        policy = self.policies.get(key)
        if policy is None:
            org_id = execution.organization_id
            if org_id not in self.holidays:
                self.holidays[org_id] = organization_holidays(org_id)
            policy = build_policy(sequence, execution.organization, self.holidays[org_id])
            self.policies[key] = policy
        return policy

    def close(self) -> None:
        for channel in self.channels.values():
            try:
                channel.close()
            except Exception:
                logger.exception("closing follow-up channel failed")
        self.channels.clear()


def _checkpoint(name: str) -> None:
    """A named point of the protocol; tests replace this to simulate a crash right there."""


def dispatch_due(
    *,
    batch_size: int = DEFAULT_BATCH,
    now: datetime | None = None,
    time_budget: float | None = None,
    max_batches: int | None = None,
) -> DispatchStats:
    """Perform every due step, batch after batch, until nothing is due (or the budget ends).

    ``now`` fixes the clock for the whole pass (tests); by default each batch uses the time it
    starts at. ``time_budget`` (seconds) stops starting new batches after that long.
    """
    state = _Pass()
    started = time.monotonic()
    try:
        while True:
            if max_batches is not None and state.stats.batches >= max_batches:
                break
            if time_budget is not None and time.monotonic() - started > time_budget:
                break
            moment = now or timezone.now()
            claimed = _claim(state, batch_size, moment)
            if claimed is None:
                break
            state.stats.batches += 1
            if claimed:
                _perform(state, claimed, moment)
                _checkpoint("performed")
                _finish(state, claimed, now or timezone.now())
    finally:
        state.close()
    return state.stats


# --- helpers shared by the phases -------------------------------------------------------------


def _log(
    execution: FollowupExecution,
    evento: str,
    message: str,
    *,
    level: str = LogLevel.INFO,
    tipo_acao: str = "",
    error: str = "",
    current_step: bool = True,
    variante: str = "",
) -> FollowupExecutionLog:
    return FollowupExecutionLog(
        organization_id=execution.organization_id,
        execution_id=execution.pk,
        step=execution.step_atual if current_step else None,
        tipo_acao=tipo_acao,
        evento=evento,
        level=level,
        message=message,
        error=error[:4000],
        variante=variante,
    )


def _advance(
    state: _Pass,
    execution: FollowupExecution,
    now: datetime,
    logs: list[FollowupExecutionLog],
    *,
    success: bool,
    detail: str,
    tipo: str,
    reason: str = "",
) -> None:
    """The current step is over: record it and schedule the next one, or complete."""
    record: dict[str, Any] = {
        "step": execution.step_atual,
        "tipo_acao": tipo,
        "executed_at": now.isoformat(),
        "success": success,
        "detail": detail,
    }
    if not success:
        record["motivo"] = reason or SkipReason.OUTRO
    execution.steps_executados = [*(execution.steps_executados or []), record]
    execution.step_atual += 1
    execution.tentativas = 0
    execution.claimed_until = None
    execution.updated_at = now
    if execution.status != ExecutionStatus.ACTIVE:
        return  # paused, answered or cancelled meanwhile: the record is kept, nothing scheduled
    steps = execution.versao.steps
    if execution.step_atual >= len(steps):
        _complete(state, execution, now, logs)
        return
    try:
        execution.proxima_execucao = due_time(
            steps[execution.step_atual], now, state.policy(execution)
        )
    except NoSendWindow:
        _fail(state, execution, now, logs, error=_("Nenhum horário de envio disponível."))


def _complete(
    state: _Pass, execution: FollowupExecution, now: datetime, logs: list[FollowupExecutionLog]
) -> None:
    """Every step is over: `completed`, or `nothing_sent` when no step reached the lead."""
    execution.proxima_execucao = None
    execution.finished_at = now
    done = execution.steps_executados or []
    if any(record.get("success") for record in done):
        execution.status = ExecutionStatus.COMPLETED
        logs.append(
            _log(execution, LogEvent.COMPLETED, _("Sequência concluída."), current_step=False)
        )
        state.stats.completed += 1
        return
    # Old records (before reasons were kept) count as "outro".
    motivos = sorted({str(record.get("motivo") or SkipReason.OUTRO) for record in done})
    execution.status = ExecutionStatus.NOTHING_SENT
    execution.motivos_sem_envio = motivos
    labels = ", ".join(str(SkipReason(code).label) for code in motivos if code in SkipReason)
    logs.append(
        _log(
            execution,
            LogEvent.COMPLETED,
            _("Sequência concluída sem nenhum envio: %(motivos)s.") % {"motivos": labels},
            level=LogLevel.WARNING,
            current_step=False,
        )
    )
    state.stats.nothing_sent += 1
    state.nothing_sent.append(execution)


def _tell_nothing_sent(state: _Pass) -> None:
    """One notification per sequence to its owner (else the managers) for the executions that
    ended with nothing sent in this transaction; written in it, so a rollback drops it too."""
    by_sequence: dict[Any, list[FollowupExecution]] = {}
    for execution in state.nothing_sent:
        by_sequence.setdefault(execution.sequence_id, []).append(execution)
    state.nothing_sent = []
    for executions in by_sequence.values():
        sequence = executions[0].sequence
        owner = sequence.created_by
        recipients = (
            [owner] if owner is not None and owner.ativo else managers_of(sequence.organization_id)
        )
        motivos: dict[str, int] = {}
        for execution in executions:
            for code in execution.motivos_sem_envio:
                motivos[code] = motivos.get(code, 0) + 1
        notify(
            organization=executions[0].organization,
            recipients=recipients,
            tipo=NotificationTipo.FOLLOWUP_NOTHING_SENT,
            titulo=_("%(n)s execução(ões) da sequência %(nome)s terminaram sem nenhum envio")
            % {"n": len(executions), "nome": sequence.nome},
            payload={
                "sequence_id": str(sequence.pk),
                "execution_ids": [str(e.pk) for e in executions[:100]],
                "lead_ids": [str(e.lead_id) for e in executions[:100]],
                "total": len(executions),
                "motivos": motivos,
            },
            chave=f"followup_nothing_sent:{min(str(e.pk) for e in executions)}",
        )


def _recipients_for_failure(execution: FollowupExecution) -> list[Any]:
    lead = execution.lead
    if lead.closer is not None and lead.closer.ativo:
        return [lead.closer]
    return list(managers_of(execution.organization))


def _fail(
    state: _Pass,
    execution: FollowupExecution,
    now: datetime,
    logs: list[FollowupExecutionLog],
    *,
    error: str,
    tipo: str = "",
    record_step: bool = False,
) -> None:
    if record_step:
        _record_failed_step(execution, now, error=error, tipo=tipo)
    execution.claimed_until = None
    execution.updated_at = now
    logs.append(
        _log(
            execution,
            LogEvent.FAILED,
            _("O passo falhou e a execução foi encerrada."),
            level=LogLevel.ERROR,
            tipo_acao=tipo,
            error=error,
        )
    )
    state.stats.failed += 1
    FOLLOWUP_STEPS.labels(channel=tipo or "none", outcome="failed").inc()
    if execution.status not in (ExecutionStatus.ACTIVE, ExecutionStatus.PAUSED):
        return
    execution.status = ExecutionStatus.FAILED
    execution.proxima_execucao = None
    execution.finished_at = now
    _announce_failure(execution, error=error)


def _record_failed_step(
    execution: FollowupExecution, now: datetime, *, error: str, tipo: str
) -> None:
    """Append the failed step to ``steps_executados`` (in memory; the caller saves it)."""
    execution.steps_executados = [
        *(execution.steps_executados or []),
        {
            "step": execution.step_atual,
            "tipo_acao": tipo,
            "executed_at": now.isoformat(),
            "success": False,
            "detail": error[:500],
        },
    ]


def _announce_failure(execution: FollowupExecution, *, error: str) -> None:
    """The execution failed: notify the closer (else the managers) and publish the event."""
    lead: Lead = execution.lead
    notify(
        organization=execution.organization,
        recipients=_recipients_for_failure(execution),
        tipo=NotificationTipo.FOLLOWUP_FAILED,
        titulo=_("Follow-up falhou para %(nome)s") % {"nome": lead.nome_completo},
        payload={
            "lead_id": str(lead.pk),
            "execution_id": str(execution.pk),
            "sequence_id": str(execution.sequence_id),
            "step": execution.step_atual,
            "error": error[:500],
        },
        chave=f"followup_failed:{execution.pk}",
    )
    events.publish(
        organization_id=execution.organization_id,
        event_type="followup.failed",
        data={
            "execution_id": execution.pk,
            "sequence_id": execution.sequence_id,
            "lead_id": lead.pk,
            "step": execution.step_atual,
            "error": error[:500],
        },
    )


def _render(step: dict[str, Any], lead: Lead) -> Rendered:
    closer = lead.closer
    context = template_context(
        nome_completo=lead.nome_completo,
        empresa=lead.empresa,
        closer_nome=closer.nome_completo if closer is not None else None,
    )
    return Rendered(
        assunto=render_template(step.get("assunto") or "", context),
        mensagem=render_template(step.get("mensagem") or "", context),
        titulo=render_template(step.get("titulo") or "", context),
        descricao=render_template(step.get("descricao") or "", context),
    )


# --- phase 1: claim ---------------------------------------------------------------------------


@dataclass
class _Claim:
    """What one claim transaction writes: step records, logs, and the steps to perform."""

    work: list[_Work] = field(default_factory=list)
    new_runs: list[FollowupStepRun] = field(default_factory=list)
    changed_runs: list[FollowupStepRun] = field(default_factory=list)
    logs: list[FollowupExecutionLog] = field(default_factory=list)


def _claim(state: _Pass, batch_size: int, now: datetime) -> list[_Work] | None:
    """Lock, apply stop rules, record the steps to perform; None when nothing was due."""
    with transaction.atomic():
        executions = _lock_due(batch_size, now)
        if not executions:
            return None
        state.stats.claimed += len(executions)
        runs = _current_runs(executions)
        claim = _Claim()
        for execution in executions:
            lead = execution.lead
            lead.organization = execution.organization  # the same row; saves a query per task
            execution.updated_at = now
            if _apply_stop_rules(state, execution, now, claim):
                continue
            _claim_step(state, execution, runs.get(execution.pk), now, claim)
        _save_claim(executions, claim)
        _tell_nothing_sent(state)
        _checkpoint("claimed")
    return claim.work


def _lock_due(batch_size: int, now: datetime) -> list[FollowupExecution]:
    """The due, unleased active executions, locked (skipping rows another dispatcher holds)."""
    return list(
        FollowupExecution.objects.select_for_update(skip_locked=True, of=("self",))
        .select_related(
            "organization",
            "sequence",
            "sequence__created_by",
            "versao",
            "lead",
            "lead__closer",
            "lead__sdr",
        )
        .filter(status=ExecutionStatus.ACTIVE, proxima_execucao__lte=now)
        .filter(Q(claimed_until__isnull=True) | Q(claimed_until__lte=now))
        .order_by("proxima_execucao")[:batch_size]
    )


def _current_runs(executions: list[FollowupExecution]) -> dict[Any, FollowupStepRun]:
    """Execution id -> the record of its current step, where one exists."""
    current = {(e.pk, e.step_atual) for e in executions}
    return {
        run.execution_id: run
        for run in FollowupStepRun.objects.filter(
            execution_id__in=[e.pk for e in executions],
            step__in={e.step_atual for e in executions},
        )
        if (run.execution_id, run.step) in current
    }


def _apply_stop_rules(
    state: _Pass, execution: FollowupExecution, now: datetime, claim: _Claim
) -> bool:
    """Pause, cancel or complete the execution when it must not go on; True when it stopped."""
    stats = state.stats
    lead = execution.lead
    if not execution.sequence.ativo:
        execution.status = ExecutionStatus.PAUSED
        execution.pause_reason = PauseReason.SEQUENCE
        stats.paused += 1
        return True
    if lead.status in CLOSED_STATUSES:
        execution.status = ExecutionStatus.CANCELLED
        execution.finished_at = now
        execution.proxima_execucao = None
        claim.logs.append(
            _log(
                execution,
                LogEvent.CANCELLED,
                _("Cancelada: o lead está %(status)s.") % {"status": lead.get_status_display()},
            )
        )
        stats.cancelled += 1
        return True
    if execution.step_atual >= len(execution.versao.steps):
        _complete(state, execution, now, claim.logs)
        return True
    return False


def _claim_step(
    state: _Pass,
    execution: FollowupExecution,
    run: FollowupStepRun | None,
    now: datetime,
    claim: _Claim,
) -> None:
    """Skip the current step (opt-out), settle it (uncertain, already final) or claim it."""
    step = execution.versao.steps[execution.step_atual]
    tipo = step["tipo_acao"]
    variant = choose_variant(step, execution.pk, execution.step_atual)
    opt_out = OPT_OUT_FIELD.get(tipo)
    if opt_out is not None and getattr(execution.lead, opt_out):
        _skip_opted_out(state, execution, run, tipo, now, claim)
        return
    channel = channel_for(tipo, state.channels)
    if run is not None and run.state == StepRunState.SENDING and not channel.idempotent:
        _settle_uncertain(state, execution, run, tipo, now, claim)
        return
    if run is not None and run.state in (StepRunState.DONE, StepRunState.FAILED):
        # Finished earlier but the execution did not move on (cannot happen through
        # this module; kept so a manual data fix never causes a second send).
        _advance(
            state,
            execution,
            now,
            claim.logs,
            success=run.outcome == "sent",
            detail=run.detail,
            tipo=tipo,
            reason=run.reason,
        )
        return
    claimed = _record_claim(execution, run, tipo, now, claim)
    claimed.variant = variant["id"] if variant is not None else ""
    execution.claimed_until = now + LEASE
    claim.work.append(
        _Work(
            execution=execution,
            run=claimed,
            step=step_with_variant(step, variant),
            channel=channel,
        )
    )


def _skip_opted_out(
    state: _Pass,
    execution: FollowupExecution,
    run: FollowupStepRun | None,
    tipo: str,
    now: datetime,
    claim: _Claim,
) -> None:
    # The opt-out flag is the consent ledger's current state (leads.consent): a revoked channel
    # leaves the step without a legal basis, so it is skipped and logged.
    detail = _("Sem base legal para %(canal)s: o lead revogou o consentimento deste canal.") % {
        "canal": tipo
    }
    reason = SkipReason.SEM_CONSENTIMENTO
    _finalize_run(run, claim, execution, tipo, now, "skipped", detail, reason=reason)
    claim.logs.append(
        _log(execution, LogEvent.SKIPPED, detail, level=LogLevel.WARNING, tipo_acao=tipo)
    )
    state.stats.skipped += 1
    FOLLOWUP_STEPS.labels(channel=tipo, outcome="skipped").inc()
    _advance(
        state, execution, now, claim.logs, success=False, detail=detail, tipo=tipo, reason=reason
    )


def _settle_uncertain(
    state: _Pass,
    execution: FollowupExecution,
    run: FollowupStepRun,
    tipo: str,
    now: datetime,
    claim: _Claim,
) -> None:
    """A non-idempotent send was interrupted: record it as uncertain, never send it again."""
    detail = _(
        "Envio incerto: o processo anterior parou durante o envio; "
        "o passo não foi reenviado para não duplicar."
    )
    _finalize_run(run, claim, execution, tipo, now, "uncertain", detail)
    claim.logs.append(
        _log(execution, LogEvent.UNCERTAIN, detail, level=LogLevel.WARNING, tipo_acao=tipo)
    )
    state.stats.uncertain += 1
    _advance(state, execution, now, claim.logs, success=True, detail=detail, tipo=tipo)


def _record_claim(
    execution: FollowupExecution,
    run: FollowupStepRun | None,
    tipo: str,
    now: datetime,
    claim: _Claim,
) -> FollowupStepRun:
    """The step's record in state "claimed" with a fresh token (new, or a retry of it)."""
    if run is None:
        run = FollowupStepRun(
            execution=execution,
            step=execution.step_atual,
            tipo_acao=tipo,
            state=StepRunState.CLAIMED,
            token=uuid.uuid4(),
            attempts=1,
            created_at=now,
            updated_at=now,
        )
        claim.new_runs.append(run)
    else:
        run.state = StepRunState.CLAIMED
        run.token = uuid.uuid4()
        run.attempts += 1
        run.updated_at = now
        claim.changed_runs.append(run)
    return run


def _save_claim(executions: list[FollowupExecution], claim: _Claim) -> None:
    FollowupStepRun.objects.bulk_create(claim.new_runs)
    if claim.changed_runs:
        bulk_update_values(FollowupStepRun, claim.changed_runs, _RUN_FIELDS)
    bulk_update_values(FollowupExecution, executions, _EXECUTION_FIELDS)
    if claim.logs:
        FollowupExecutionLog.objects.bulk_create(claim.logs)


def _finalize_run(
    run: FollowupStepRun | None,
    claim: _Claim,
    execution: FollowupExecution,
    tipo: str,
    now: datetime,
    outcome: str,
    detail: str,
    *,
    reason: str = "",
) -> None:
    """Mark a step's record final without performing it (skipped, uncertain)."""
    if run is None:
        claim.new_runs.append(
            FollowupStepRun(
                execution=execution,
                step=execution.step_atual,
                tipo_acao=tipo,
                state=StepRunState.DONE,
                outcome=outcome,
                reason=reason,
                detail=detail,
                created_at=now,
                updated_at=now,
            )
        )
    else:
        run.state = StepRunState.DONE
        run.outcome = outcome
        run.reason = reason
        run.detail = detail
        run.updated_at = now
        claim.changed_runs.append(run)


# --- phase 2: perform -------------------------------------------------------------------------


_TOKEN_FIELD = FollowupStepRun._meta.get_field("token")
#: Steps moved to "sending" per statement. Each statement is a commit (an fsync), so one per
#: step would dominate the dispatch time; the price is that a worker killed in the middle of a
#: chunk leaves at most this many unsent emails recorded as "uncertain" (never a duplicate).
SEND_CHUNK = 20


def _start_sending(runs: list[FollowupStepRun], now: datetime) -> set[int]:
    """claimed -> sending for the runs whose token is still ours and whose execution is still
    active; returns their ids. Plain SQL: the ORM cost more than the statement itself."""
    if not runs:
        return set()
    tokens = [_TOKEN_FIELD.get_db_prep_value(run.token, connection) for run in runs]
    placeholders = ", ".join(["%s"] * len(tokens))
    sql = (
        "UPDATE followup_step_runs SET state = %s, updated_at = %s "  # noqa: S608 - fixed SQL, values are parameters
        f"WHERE state = %s AND token IN ({placeholders}) AND EXISTS ("
        "SELECT 1 FROM lead_followup_executions e "
        "WHERE e.id = followup_step_runs.execution_id AND e.status = %s) "
        "RETURNING id"
    )
    params = [StepRunState.SENDING, now, StepRunState.CLAIMED, *tokens, ExecutionStatus.ACTIVE]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return {row[0] for row in cursor.fetchall()}


def _perform(state: _Pass, work: list[_Work], now: datetime) -> None:
    for start in range(0, len(work), SEND_CHUNK):
        chunk = work[start : start + SEND_CHUNK]
        _checkpoint("before_send")
        started = _start_sending([item.run for item in chunk], now)
        for item in chunk:
            if item.run.pk not in started:
                item.outcome = Outcome.ABORTED
                continue
            _send(item)
            _checkpoint("sent")


def _send(item: _Work) -> None:
    execution = item.execution
    try:
        rendered = _render(item.step, execution.lead)
        result: ChannelResult = item.channel.send(item.step, execution, execution.lead, rendered)
    except ChannelError as exc:
        item.outcome = Outcome.RETRY if exc.retryable else Outcome.FAILED
        item.error = exc.message
        item.retry_after = exc.retry_after
    except TemplateSyntaxProblem as exc:
        item.outcome = Outcome.FAILED
        item.error = f"{exc.placeholder}: {exc.reason}"
    except Exception as exc:
        # Unknown failures are treated as transient; the log keeps the type for diagnosis.
        logger.exception("follow-up channel raised", extra={"execution_id": str(execution.pk)})
        item.outcome = Outcome.RETRY
        item.error = f"{type(exc).__name__}: {exc}"
    else:
        item.outcome = Outcome.SENT if result.sent else Outcome.SKIPPED
        item.detail = result.detail
        item.reason = "" if result.sent else (result.reason or SkipReason.OUTRO)


# --- phase 3: finish --------------------------------------------------------------------------


def _finish(state: _Pass, work: list[_Work], now: datetime) -> None:
    with transaction.atomic():
        fresh, tokens = _lock_for_finish(work)
        executions: list[FollowupExecution] = []
        runs: list[FollowupStepRun] = []
        logs: list[FollowupExecutionLog] = []
        for item in work:
            current = fresh.get(item.execution.pk)
            run = item.run
            if current is None or tokens.get(run.pk) != run.token or current.step_atual != run.step:
                # Lead deleted, or another dispatcher took this step over after our lease.
                continue
            execution = item.execution
            _refresh_counters(execution, current, now)
            executions.append(execution)
            runs.append(run)
            run.updated_at = now
            _record_outcome(state, item, now, logs)
        if executions:
            bulk_update_values(FollowupExecution, executions, _EXECUTION_FIELDS)
            bulk_update_values(FollowupStepRun, runs, _RUN_FIELDS)
        if logs:
            FollowupExecutionLog.objects.bulk_create(logs)
        _tell_nothing_sent(state)
        _checkpoint("finished")


def _lock_for_finish(
    work: list[_Work],
) -> tuple[dict[Any, FollowupExecution], dict[Any, Any]]:
    """The executions as they are now (locked) and the current token of each step record."""
    fresh = {
        row.pk: row
        # Locked in primary-key order, like every other writer, so two never deadlock.
        for row in FollowupExecution.objects.select_for_update()
        .filter(pk__in=[item.execution.pk for item in work])
        .order_by("pk")
        .only("id", "status", "pause_reason", "step_atual", "steps_executados", "tentativas")
    }
    tokens = dict(
        FollowupStepRun.objects.filter(pk__in=[item.run.pk for item in work]).values_list(
            "pk", "token"
        )
    )
    return fresh, tokens


def _refresh_counters(
    execution: FollowupExecution, current: FollowupExecution, now: datetime
) -> None:
    """Take what others may have changed while we were sending (pause, counters)."""
    execution.status = current.status
    execution.pause_reason = current.pause_reason
    execution.steps_executados = current.steps_executados
    execution.tentativas = current.tentativas
    execution.updated_at = now


def _record_outcome(
    state: _Pass, item: _Work, now: datetime, logs: list[FollowupExecutionLog]
) -> None:
    """Record what the send did: aborted, done (sent or skipped), retry later, or failed."""
    execution, run = item.execution, item.run
    if item.outcome == Outcome.ABORTED:
        # The execution stopped being active before anything was sent.
        run.state = StepRunState.RETRY
        execution.claimed_until = None
        state.stats.aborted += 1
    elif item.outcome in (Outcome.SENT, Outcome.SKIPPED):
        _record_done(state, item, now, logs)
    elif item.outcome == Outcome.RETRY and execution.tentativas < MAX_RETRIES:
        _schedule_retry(state, item, now, logs)
    else:
        run.state = StepRunState.FAILED
        run.outcome = "failed"
        run.detail = item.error[:1000]
        _fail(state, execution, now, logs, error=item.error, tipo=run.tipo_acao, record_step=True)


def _record_done(
    state: _Pass, item: _Work, now: datetime, logs: list[FollowupExecutionLog]
) -> None:
    execution, run, tipo = item.execution, item.run, item.run.tipo_acao
    sent = item.outcome == Outcome.SENT
    run.state = StepRunState.DONE
    run.outcome = item.outcome
    run.reason = item.reason
    run.detail = item.detail[:1000]
    logs.append(
        _log(
            execution,
            LogEvent.EXECUTED if sent else LogEvent.SKIPPED,
            item.detail,
            level=LogLevel.INFO if sent else LogLevel.WARNING,
            tipo_acao=tipo,
            variante=run.variant,
        )
    )
    if sent:
        state.stats.sent += 1
    else:
        state.stats.skipped += 1
    FOLLOWUP_STEPS.labels(channel=tipo, outcome="executed" if sent else "skipped").inc()
    _advance(
        state,
        execution,
        now,
        logs,
        success=sent,
        detail=item.detail,
        tipo=tipo,
        reason=item.reason,
    )


def _schedule_retry(
    state: _Pass, item: _Work, now: datetime, logs: list[FollowupExecutionLog]
) -> None:
    """A transient failure: try again after the retry delay (or the provider's), in the window."""
    execution, run, tipo = item.execution, item.run, item.run.tipo_acao
    execution.tentativas += 1
    delay = retry_delay(execution.tentativas)
    if item.retry_after is not None:
        delay = max(delay, timedelta(seconds=min(item.retry_after, 86400)))
    run.state = StepRunState.RETRY
    run.detail = item.error[:1000]
    execution.claimed_until = None
    if execution.status == ExecutionStatus.ACTIVE:
        try:
            execution.proxima_execucao = due_time({}, now + delay, state.policy(execution))
        except NoSendWindow:
            execution.proxima_execucao = now + delay
    logs.append(
        _log(
            execution,
            LogEvent.RETRIED,
            _("Falha temporária; nova tentativa %(n)s de %(max)s às %(when)s.")
            % {
                "n": execution.tentativas,
                "max": MAX_RETRIES,
                "when": (execution.proxima_execucao or now).isoformat(),
            },
            level=LogLevel.WARNING,
            tipo_acao=tipo,
            error=item.error,
        )
    )
    state.stats.retried += 1
    FOLLOWUP_STEPS.labels(channel=tipo, outcome="retried").inc()
