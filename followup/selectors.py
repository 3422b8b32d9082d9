"""Reads for follow-up: which leads match a sequence, lists for the API, timeline entries."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta
from typing import Any

from django.db import connection
from django.db.models import Count, Exists, OuterRef, Q, QuerySet
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext as _

from followup.models import (
    ExecutionStatus,
    FollowupExecution,
    FollowupExecutionLog,
    FollowupSequence,
    LogEvent,
    LogLevel,
    TipoAcao,
)
from followup.validation import sequence_channels
from leads.models import CLOSED_STATUSES, Lead
from organizations.models import Membership, Organization


def _tags_any_of(tags: list[str]) -> Q:
    condition = Q()
    for tag in tags:
        if connection.vendor == "postgresql":
            condition |= Q(tags__contains=[tag])
        else:  # SQLite has no JSON containment; match the quoted element instead.
            condition |= Q(tags__icontains=f'"{tag}"')
    return condition


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
        leads = leads.filter(_tags_any_of(criteria["tags"]))
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
    return FollowupSequence.objects.for_org(organization).annotate(**counts)


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
