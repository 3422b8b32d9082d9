"""The export of a data subject request: every row about the person, in one JSON document."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.db.models import Q
from django.utils import timezone

from followup.models import FollowupExecution, FollowupExecutionLog, FollowupStepRun
from integrations.models import CrmFieldClock, CrmWebhookEvent, WhatsAppMessage
from leads.models import (
    ConsentRecord,
    Lead,
    LeadAssignment,
    LeadInteraction,
    LeadMerge,
    LeadQualification,
    LeadStatusChange,
    Task,
)
from leads.phones import phone_match_key
from mentorados.models import EvolucaoFinanceira, Mentorado, MentoradoFeedback
from organizations.models import Notification, Organization

FORMAT_VERSION = 1


def row(obj: models.Model) -> dict[str, Any]:
    """Every stored column of a row (foreign keys by id); binary columns left out."""
    return {
        f.attname: getattr(obj, f.attname)
        for f in obj._meta.concrete_fields
        if not isinstance(f, models.BinaryField)
    }


def rows(objects: Iterable[models.Model]) -> list[dict[str, Any]]:
    return [row(obj) for obj in objects]


def _history(model: type[models.Model], pk: Any) -> list[dict[str, Any]]:
    records = model.history.filter(id=pk).order_by("history_date", "history_id")  # type: ignore[attr-defined]
    return rows(records)


def notifications_about(
    *, organization_id: Any, lead_ids: list[str], mentorado_ids: list[str]
) -> models.QuerySet[Notification]:
    return Notification.objects.filter(organization_id=organization_id).filter(
        Q(payload__lead_id__in=lead_ids) | Q(payload__mentorado_id__in=mentorado_ids)
    )


def whatsapp_messages_of(*, lead: Lead) -> models.QuerySet[WhatsAppMessage]:
    """The lead's messages: linked to the lead, or to its phone before a lead existed."""
    q = Q(lead_id=lead.pk)
    key = phone_match_key(lead.telefone)
    if key:
        q |= Q(phone_key=key)
    return WhatsAppMessage.objects.filter(organization_id=lead.organization_id).filter(q)


def crm_events_of(*, lead: Lead) -> models.QuerySet[CrmWebhookEvent]:
    """Inbound CRM change events about the lead's CRM record."""
    if not lead.crm_id:
        return CrmWebhookEvent.objects.none()
    return CrmWebhookEvent.objects.filter(organization_id=lead.organization_id, crm_id=lead.crm_id)


def lead_section(lead: Lead) -> dict[str, Any]:
    executions = FollowupExecution.objects.filter(lead=lead).order_by("created_at")
    merges = LeadMerge.objects.filter(Q(target_id=lead.pk) | Q(merged_lead_id=lead.pk))
    return {
        "lead": row(lead),
        "interacoes": rows(LeadInteraction.objects.filter(lead=lead).order_by("data_interacao")),
        "qualificacao": rows(LeadQualification.objects.filter(lead=lead)),
        "tarefas": rows(Task.objects.filter(lead=lead).order_by("created_at")),
        "mudancas_de_status": rows(
            LeadStatusChange.objects.filter(lead=lead).order_by("changed_at")
        ),
        "atribuicoes": rows(LeadAssignment.objects.filter(lead=lead).order_by("at")),
        "consentimentos": rows(ConsentRecord.objects.filter(lead=lead).order_by("at")),
        "mesclagens": rows(merges.order_by("at")),
        "followups": [
            {
                "execucao": row(execution),
                "registros": rows(FollowupExecutionLog.objects.filter(execution=execution)),
                "passos": rows(
                    FollowupStepRun.objects.filter(execution=execution).order_by("step")
                ),
            }
            for execution in executions
        ],
        "mensagens_whatsapp": rows(whatsapp_messages_of(lead=lead).order_by("created_at")),
        "crm": {
            "provider": lead.crm_provider,
            "crm_id": lead.crm_id,
            "crm_synced_at": lead.crm_synced_at,
            "crm_sync_error": lead.crm_sync_error,
            "relogios_de_campo": rows(CrmFieldClock.objects.filter(lead=lead)),
            "eventos_recebidos": rows(crm_events_of(lead=lead).order_by("received_at")),
        },
        "historico": _history(Lead, lead.pk),
    }


def mentorado_section(mentee: Mentorado) -> dict[str, Any]:
    return {
        "mentorado": row(mentee),
        "evolucao_financeira": rows(
            EvolucaoFinanceira.objects.filter(mentorado=mentee).order_by("ano", "mes")
        ),
        "feedbacks": rows(
            MentoradoFeedback.objects.filter(mentorado=mentee).order_by("data_feedback")
        ),
        "historico": _history(Mentorado, mentee.pk),
    }


def export_document(
    *, organization: Organization, lead_ids: list[str], mentorado_ids: list[str]
) -> dict[str, Any]:
    """The whole document, as JSON values (dates ISO 8601, decimals as strings)."""
    leads = Lead.objects.filter(organization=organization, pk__in=lead_ids).order_by("created_at")
    mentees = Mentorado.objects.filter(organization=organization, pk__in=mentorado_ids).order_by(
        "created_at"
    )
    notifications = notifications_about(
        organization_id=organization.pk, lead_ids=lead_ids, mentorado_ids=mentorado_ids
    ).order_by("created_at")
    document = {
        "formato": FORMAT_VERSION,
        "gerado_em": timezone.now(),
        "organizacao": {"id": organization.pk, "nome": organization.nome},
        "leads": [lead_section(lead) for lead in leads],
        "mentorados": [mentorado_section(mentee) for mentee in mentees],
        "notificacoes": rows(notifications),
    }
    plain: dict[str, Any] = json.loads(json.dumps(document, cls=DjangoJSONEncoder))
    return plain
