"""Reads for follow-up: which leads match a sequence, lists for the API, timeline entries."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta
from typing import Any, cast

from django.db import transaction
from django.db.models import Count, Exists, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext as _

from config.transaction_settings import set_local
from followup.models import (
    ExecutionStatus,
    FollowupExecution,
    FollowupExecutionLog,
    FollowupSequence,
    FollowupStepRun,
    LogEvent,
    LogLevel,
    TipoAcao,
)
from followup.validation import sequence_channels
from leads.models import (
    CLOSED_STATUSES,
    ConsentEstado,
    ConsentRecord,
    Lead,
    LeadStatus,
    LeadStatusChange,
)
from leads.selectors import tags_any_q
from organizations.models import Membership, Organization


def opted_out_of_every_channel(steps: list[dict[str, Any]]) -> Q | None:
    """Leads who cannot receive any step of these steps (None: calls/tasks reach everyone)."""
    channels = sequence_channels(steps)
    if channels & {TipoAcao.LIGACAO, TipoAcao.TAREFA}:
        return None
    condition = Q()
    if TipoAcao.EMAIL in channels:
        condition &= Q(opt_out_email=True)
    if TipoAcao.WHATSAPP in channels:
        condition &= Q(opt_out_whatsapp=True)
    return condition if channels else None


def eligible_leads(
    *, sequence: FollowupSequence, steps: list[dict[str, Any]], apply_criteria: bool = True
) -> QuerySet[Lead]:
    """Open leads of the sequence's organization that may be enrolled, as one SQL query.

    Excludes `convertido`/`perdido` leads and leads opted out of every channel the steps use;
    with ``apply_criteria`` also filters by `criterios_ativacao`.
    """
    leads = Lead.objects.filter(organization_id=sequence.organization_id).exclude(
        status__in=CLOSED_STATUSES
    )
    opted_out = opted_out_of_every_channel(steps)
    if opted_out is not None:
        leads = leads.exclude(opted_out)
    if not apply_criteria:
        return leads
    criteria = sequence.criterios_ativacao or {}
    if criteria.get("status"):
        leads = leads.filter(status__in=criteria["status"])
    if criteria.get("temperatura"):
        leads = leads.filter(temperatura__in=criteria["temperatura"])
    if criteria.get("origem"):
        leads = leads.filter(origem__in=criteria["origem"])
    if criteria.get("tags"):
        leads = leads.filter(tags_any_q(criteria["tags"]))
    if criteria.get("score_min") is not None:
        leads = leads.filter(lead_score__gte=criteria["score_min"])
    if criteria.get("score_max") is not None:
        leads = leads.filter(lead_score__lte=criteria["score_max"])
    if criteria.get("dias_sem_interacao") is not None:
        # A lead never contacted counts from its creation.
        cutoff = timezone.now() - timedelta(days=criteria["dias_sem_interacao"])
        leads = leads.alias(last_touch=Coalesce("last_interaction_at", "created_at")).filter(
            last_touch__lte=cutoff
        )
    return leads


def never_enrolled(leads: QuerySet[Lead], sequence: FollowupSequence) -> QuerySet[Lead]:
    """Leads without any execution (whatever its status) of the sequence."""
    return leads.exclude(
        Exists(FollowupExecution.objects.filter(sequence_id=sequence.pk, lead_id=OuterRef("pk")))
    )


def sequence_list_queryset(*, organization: Any) -> QuerySet[FollowupSequence]:
    """Sequences with execution counts per status, in one query."""
    counts = {
        f"n_{status}": Count("executions", filter=Q(executions__status=status))
        for status in ExecutionStatus.values
    }
    return cast(
        "QuerySet[FollowupSequence]",
        FollowupSequence.objects.for_org(organization).annotate(**counts),
    )


def execution_list_queryset(*, membership: Membership) -> QuerySet[FollowupExecution]:
    """Executions the member may see (closers/SDRs: those of their visible leads)."""
    queryset = FollowupExecution.objects.for_org(membership.organization_id).select_related(
        "sequence", "lead", "versao"
    )
    organization = membership.organization
    if (
        membership.is_seller
        and organization.visibilidade_leads == Organization.LeadVisibility.ATRIBUIDOS
    ):
        queryset = queryset.filter(Q(lead__closer=membership) | Q(lead__sdr=membership))
    return queryset


def lead_timeline_entries(*, lead_ids: Iterable[Any]) -> list[dict[str, Any]]:
    """Follow-up events of these leads for the lead timeline (newest first): one "enrolled"
    entry per execution plus every log row (steps executed, skipped, retried, failed, ...).

    Each entry: ``{"tipo": "followup", "data", "lead_id", "execution_id", "sequence_id",
    "sequence_nome", "step", "tipo_acao", "evento", "level", "message"}``. Two queries.
    """
    ids = list(lead_ids)
    executions = {
        execution.pk: execution
        for execution in FollowupExecution.objects.filter(lead_id__in=ids).select_related(
            "sequence"
        )
    }
    entries: list[dict[str, Any]] = [
        {
            "tipo": "followup",
            "data": execution.created_at,
            "lead_id": execution.lead_id,
            "execution_id": execution.pk,
            "sequence_id": execution.sequence_id,
            "sequence_nome": execution.sequence.nome,
            "step": None,
            "tipo_acao": "",
            "evento": LogEvent.ENROLLED,
            "level": LogLevel.INFO,
            "message": _("Inscrito na sequência %(nome)s") % {"nome": execution.sequence.nome},
        }
        for execution in executions.values()
    ]
    for row in FollowupExecutionLog.objects.filter(execution_id__in=list(executions)):
        execution = executions[row.execution_id]
        entries.append(
            {
                "tipo": "followup",
                "data": row.created_at,
                "lead_id": execution.lead_id,
                "execution_id": row.execution_id,
                "sequence_id": execution.sequence_id,
                "sequence_nome": execution.sequence.nome,
                "step": row.step,
                "tipo_acao": row.tipo_acao,
                "evento": row.evento,
                "level": row.level,
                "message": row.message,
            }
        )
    # Newest first; on equal times, later rows (logs by id) first.
    entries.sort(key=lambda entry: entry["data"], reverse=True)
    return entries


# --- sequence results -------------------------------------------------------------------------

_SENT_OUTCOMES = ("sent", "uncertain")


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def _step_row(index: int, tipo: str) -> dict[str, Any]:
    return {
        "step": index,
        "tipo_acao": tipo,
        "inscritos": 0,
        "enviados": 0,
        "incertos": 0,
        "falhas": 0,
        "pulados": {"total": 0, "por_motivo": {}},
        "em_andamento": 0,
        "respondidos": 0,
        "convertidos": 0,
        "opt_outs": 0,
        "variantes": [],
    }


def _outcome_flags(executions: QuerySet[FollowupExecution]) -> QuerySet[FollowupExecution]:
    """Each execution with whether its lead converted / revoked a channel after enrolling."""
    since = {"lead_id": OuterRef("lead_id")}
    return executions.annotate(
        converted=Exists(
            LeadStatusChange.objects.filter(
                **since, to_status=LeadStatus.CONVERTIDO, changed_at__gte=OuterRef("created_at")
            )
        ),
        opted_out=Exists(
            ConsentRecord.objects.filter(
                **since, estado=ConsentEstado.REVOGADO, at__gte=OuterRef("created_at")
            )
        ),
    )


def _sequence_totals(sequence: FollowupSequence) -> dict[str, Any]:
    """One query: executions per status, replies, conversions and opt-outs."""
    per_status = {
        f"s_{status}": Count("id", filter=Q(status=status)) for status in ExecutionStatus.values
    }
    row = _outcome_flags(FollowupExecution.objects.filter(sequence_id=sequence.pk)).aggregate(
        inscritos=Count("id"),
        respondidos=Count("id", filter=Q(data_resposta__isnull=False)),
        convertidos=Count("id", filter=Q(converted=True)),
        opt_outs=Count("id", filter=Q(opted_out=True)),
        **per_status,
    )
    return {
        "inscritos": row["inscritos"],
        "por_status": {status: row[f"s_{status}"] for status in ExecutionStatus.values},
        "respondidos": row["respondidos"],
        "convertidos": row["convertidos"],
        "opt_outs": row["opt_outs"],
    }


def _add_run_counts(
    steps: dict[int, dict[str, Any]], variants: dict[tuple[int, str], dict[str, Any]], row: Any
) -> None:
    step = steps[row["step"]]
    n = row["n"]
    step["inscritos"] += n
    outcome = row["outcome"]
    if outcome == "sent":
        step["enviados"] += n
    elif outcome == "uncertain":
        step["incertos"] += n
    elif outcome == "failed":
        step["falhas"] += n
    elif outcome == "skipped":
        reason = row["reason"] or "outro"
        step["pulados"]["total"] += n
        step["pulados"]["por_motivo"][reason] = step["pulados"]["por_motivo"].get(reason, 0) + n
    else:
        step["em_andamento"] += n
    if row["variant"] and outcome in _SENT_OUTCOMES:
        variants[(row["step"], row["variant"])]["enviados"] += n


def _attributed_outcomes(sequence: FollowupSequence) -> QuerySet[Any]:
    """One query: replies, conversions and opt-outs per (last step sent, its variant)."""
    last_sent = FollowupStepRun.objects.filter(
        execution_id=OuterRef("pk"), outcome__in=_SENT_OUTCOMES
    ).order_by("-step")
    return (
        _outcome_flags(FollowupExecution.objects.filter(sequence_id=sequence.pk))
        .filter(Q(data_resposta__isnull=False) | Q(converted=True) | Q(opted_out=True))
        .annotate(
            last_step=Subquery(last_sent.values("step")[:1]),
            last_variant=Subquery(last_sent.values("variant")[:1]),
        )
        .values("last_step", "last_variant")
        .annotate(
            respondidos=Count("id", filter=Q(data_resposta__isnull=False)),
            convertidos=Count("id", filter=Q(converted=True)),
            opt_outs=Count("id", filter=Q(opted_out=True)),
        )
        .order_by()
    )


def _count_runs(
    sequence: FollowupSequence,
    steps: dict[int, dict[str, Any]],
    variants: dict[tuple[int, str], dict[str, Any]],
) -> None:
    """One query: the step records per (step, outcome, reason, variant)."""
    runs = (
        FollowupStepRun.objects.filter(execution__sequence_id=sequence.pk)
        .values("step", "tipo_acao", "outcome", "reason", "variant")
        .annotate(n=Count("id"))
        .order_by()
    )
    for row in runs:
        steps.setdefault(row["step"], _step_row(row["step"], row["tipo_acao"]))
        if row["variant"]:
            variants.setdefault(
                (row["step"], row["variant"]),
                {"id": row["variant"], "enviados": 0, "respondidos": 0},
            )
        _add_run_counts(steps, variants, row)


def _credit_outcomes(
    sequence: FollowupSequence,
    steps: dict[int, dict[str, Any]],
    variants: dict[tuple[int, str], dict[str, Any]],
) -> None:
    for row in _attributed_outcomes(sequence):
        step = steps.get(row["last_step"])
        if step is None:  # nothing was sent to these leads: sequence totals only
            continue
        for name in ("respondidos", "convertidos", "opt_outs"):
            step[name] += row[name]
        variant = variants.get((row["last_step"], row["last_variant"] or ""))
        if variant is not None:
            variant["respondidos"] += row["respondidos"]


def _collect(
    sequence: FollowupSequence,
) -> tuple[dict[str, Any], dict[int, dict[str, Any]], dict[tuple[int, str], dict[str, Any]]]:
    """The sequence totals, the step rows and the variant rows, filled from the database."""
    steps = {
        index: _step_row(index, str(step.get("tipo_acao", "")))
        for index, step in enumerate(sequence.steps or [])
    }
    variants: dict[tuple[int, str], dict[str, Any]] = {
        (index, variant["id"]): {"id": variant["id"], "enviados": 0, "respondidos": 0}
        for index, step in enumerate(sequence.steps or [])
        for variant in step.get("variantes") or []
    }
    with transaction.atomic():
        # JIT compilation kicks in on these queries' cost estimates (correlated EXISTS per
        # execution) and took longer than the queries themselves (bench/sequence_stats.py).
        set_local(jit="off")
        totals = _sequence_totals(sequence)
        _count_runs(sequence, steps, variants)
        _credit_outcomes(sequence, steps, variants)
    return totals, steps, variants


def sequence_stats(*, sequence: FollowupSequence) -> dict[str, Any]:
    """What a sequence achieved, overall and per step (and per A/B variant), in three queries.

    A reply, conversion or opt-out (a channel revoked) after enrollment is credited to the last
    step sent before it: the execution's highest step whose record is sent (or uncertain).
    Per-step ``inscritos`` counts the executions that reached the step (have a record of it).
    Steps are those of the current version plus any index an older version recorded.
    """
    totals, steps, variants = _collect(sequence)
    for (index, _id), variant in sorted(variants.items()):
        variant["taxa_resposta"] = _rate(variant["respondidos"], variant["enviados"])
        steps[index]["variantes"].append(variant)
    passos = [steps[index] for index in sorted(steps)]
    pulados: dict[str, int] = {}
    for step in passos:
        step["taxa_resposta"] = _rate(step["respondidos"], step["enviados"] + step["incertos"])
        for reason, n in step["pulados"]["por_motivo"].items():
            pulados[reason] = pulados.get(reason, 0) + n
    return {
        "sequence_id": str(sequence.pk),
        "nome": sequence.nome,
        **totals,
        "enviados": sum(step["enviados"] for step in passos),
        "incertos": sum(step["incertos"] for step in passos),
        "falhas": sum(step["falhas"] for step in passos),
        "pulados": {"total": sum(pulados.values()), "por_motivo": pulados},
        "taxa_resposta": _rate(totals["respondidos"], totals["inscritos"]),
        "passos": passos,
    }
