"""Anonymisation: a person's rows keep what aggregates need and lose every personal value.

Two parts. The person's own rows (leads, mentees, their interactions, tasks, messages, audit
rows...) get fixed replacements: names become "Titular anonimizado", contact values null,
free text cleared, WhatsApp bodies removed. Then a residue sweep looks for copies of the
person's values anywhere else (notification titles, JSON payloads of outbound webhooks and
jobs, CSV import files, merge records, admin log entries, other rows' notes) and replaces
them. Everything here is a plain UPDATE: no signal fires, so nothing is re-synced to the CRM
or re-recorded in the audit trail. Running it twice changes nothing the second time.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Any

from django.apps import apps
from django.db import models
from django.db.models import Q, TextField, Value
from django.db.models.functions import Cast, Coalesce
from django.utils import timezone

from followup.models import FollowupExecution, FollowupExecutionLog, FollowupStepRun
from integrations.fields import EncryptedTextField
from integrations.models import CrmWebhookEvent, WebhookNotification, WhatsAppMessage
from leads.models import (
    ConsentRecord,
    Lead,
    LeadImport,
    LeadInteraction,
    LeadMerge,
    LeadQualification,
    LeadStatusChange,
    Task,
)
from leads.phones import phone_match_key
from mentorados.models import EvolucaoFinanceira, Mentorado, MentoradoFeedback
from organizations.models import Membership, User
from privacy.subjects import ANONYMOUS_NAME

SCRUBBED = "[anonimizado]"
ANONYMOUS_TASK = "Tarefa de titular anonimizado"

LEAD_RESET: dict[str, Any] = {
    "nome_completo": ANONYMOUS_NAME,
    "email": None,
    "telefone": None,
    "telefone_chave": None,
    "empresa": "",
    "cargo": "",
    "motivo_perda": "",
    "observacoes": "",
    "tags": [],
    "crm_id": "",
    "crm_sync_error": "",
}
MENTEE_RESET: dict[str, Any] = {"nome_completo": ANONYMOUS_NAME, "email": None, "telefone": None}

# Columns that name *a* person: never rewritten by the residue sweep (another lead called the
# same is another person); the subject's own are reset explicitly above.
IDENTITY = frozenset({"nome_completo", "email", "telefone", "telefone_chave", "password"})


def _history(model: type[models.Model]) -> Any:
    return model.history  # type: ignore[attr-defined]


def anonymise_leads(*, lead_ids: list[str], crm_provider: str) -> dict[str, int]:
    """Reset the leads, their audit rows and the personal columns of their child rows."""
    now = timezone.now()
    keys = [
        k
        for k in (
            phone_match_key(t)
            for t in Lead.objects.filter(pk__in=lead_ids).values_list("telefone", flat=True)
        )
        if k
    ]
    crm_records = list(
        Lead.objects.filter(pk__in=lead_ids)
        .exclude(crm_id="")
        .values_list("organization_id", "crm_id")
    )
    crm_events = CrmWebhookEvent.objects.none()
    for organization_id, crm_id in crm_records:
        crm_events |= CrmWebhookEvent.objects.filter(organization_id=organization_id, crm_id=crm_id)
    counts = {
        # The CRM's own copy of the values, in the change events it sent us.
        "eventos_crm": crm_events.update(changes=[]) if crm_records else 0,
        # Marked synced (with the organization's CRM, after the CRM delete) so that no sync
        # sweep pushes the anonymous row back; updated_at moves so offline clients refresh.
        "leads": Lead.objects.filter(pk__in=lead_ids).update(
            **LEAD_RESET, crm_provider=crm_provider, crm_synced_at=now, updated_at=now
        ),
        "historico_leads": _history(Lead).filter(id__in=lead_ids).update(**LEAD_RESET),
        "interacoes": LeadInteraction.objects.filter(lead_id__in=lead_ids).update(
            resumo="", detalhes_completos="", proximo_passo="", updated_at=now
        ),
        "qualificacoes": LeadQualification.objects.filter(lead_id__in=lead_ids).update(
            dor_principal=""
        ),
        "tarefas": Task.objects.filter(lead_id__in=lead_ids).update(
            titulo=ANONYMOUS_TASK, descricao="", updated_at=now
        ),
        "mudancas_de_status": LeadStatusChange.objects.filter(lead_id__in=lead_ids).update(
            motivo=""
        ),
        "consentimentos": ConsentRecord.objects.filter(lead_id__in=lead_ids).update(evidencia={}),
        "mesclagens": LeadMerge.objects.filter(
            Q(target_id__in=lead_ids) | Q(merged_lead_id__in=lead_ids)
        ).update(campos={}, valores_descartados={}, valores_do_outro={}),
        **_followup_rows(lead_ids),
        "mensagens_whatsapp": _whatsapp_messages(lead_ids, keys),
    }
    return counts


def _followup_rows(lead_ids: list[str]) -> dict[str, int]:
    executions = FollowupExecution.objects.filter(lead_id__in=lead_ids)
    return {
        "followup_registros": FollowupExecutionLog.objects.filter(execution__in=executions).update(
            message="", error=""
        ),
        "followup_passos": FollowupStepRun.objects.filter(execution__in=executions).update(
            detail=""
        ),
    }


def _whatsapp_messages(lead_ids: list[str], keys: list[str]) -> int:
    q = Q(lead_id__in=lead_ids)
    if keys:
        q |= Q(phone_key__in=keys)
    return WhatsAppMessage.objects.filter(q).update(
        body="", from_phone="", to_phone="", phone_key="", payload={}, error={}
    )


def anonymise_mentees(*, mentorado_ids: list[str]) -> dict[str, int]:
    now = timezone.now()
    return {
        "mentorados": Mentorado.objects.filter(pk__in=mentorado_ids).update(
            **MENTEE_RESET, updated_at=now
        ),
        "historico_mentorados": _history(Mentorado)
        .filter(id__in=mentorado_ids)
        .update(**MENTEE_RESET),
        "evolucoes": EvolucaoFinanceira.objects.filter(mentorado_id__in=mentorado_ids).update(
            observacoes="", updated_at=now
        ),
        "feedbacks": MentoradoFeedback.objects.filter(mentorado_id__in=mentorado_ids).update(
            comentario="", pontos_positivos="", pontos_melhoria=""
        ),
    }


# --- the residue sweep ------------------------------------------------------------------------


def search_forms(values: Iterable[str]) -> list[str]:
    """The values, plus their JSON-escaped form where it differs (SQLite stores JSON with
    non-ASCII characters escaped)."""
    forms: set[str] = set()
    for value in values:
        forms.add(value)
        forms.add(json.dumps(value)[1:-1])
    return sorted(forms, key=len, reverse=True)


def scrub(value: Any, pattern: re.Pattern[str]) -> Any:
    """The value with every occurrence of the person's values replaced (JSON walked)."""
    if isinstance(value, str):
        return pattern.sub(SCRUBBED, value)
    if isinstance(value, list):
        return [scrub(v, pattern) for v in value]
    if isinstance(value, dict):
        return {k: scrub(v, pattern) for k, v in value.items()}
    return value


def _drop_lines(text: str, pattern: re.Pattern[str]) -> str:
    """A CSV file loses the lines (rows) that hold the person's values."""
    return "".join(line for line in text.splitlines(True) if not pattern.search(line))


def _text_fields(model: type[models.Model]) -> list[models.Field[Any, Any]]:
    return [
        f
        for f in model._meta.concrete_fields
        if isinstance(f, models.CharField | models.TextField | models.JSONField)
        and not isinstance(f, EncryptedTextField)
        and not f.primary_key
        and f.name not in IDENTITY
    ]


def sweepable_models() -> list[type[models.Model]]:
    """Every installed model with text or JSON columns, the members' accounts aside."""
    skip = {User, Membership, _history(Membership).model}
    return [m for m in apps.get_models() if m not in skip and not m._meta.proxy and _text_fields(m)]


def residue_sweep(*, organization_id: Any, values: set[str]) -> int:
    """Replace the person's values wherever a copy of them is stored; returns rows changed."""
    if not values:
        return 0
    forms = search_forms(values)
    pattern = re.compile("|".join(re.escape(v) for v in forms), re.IGNORECASE)
    changed = 0
    for model in sweepable_models():
        changed += _sweep_model(model, organization_id, forms, pattern)
    return changed


def _sweep_model(
    model: type[models.Model], organization_id: Any, forms: list[str], pattern: re.Pattern[str]
) -> int:
    fields = _text_fields(model)
    queryset = model._default_manager.all()
    if any(f.name == "organization" for f in model._meta.concrete_fields):
        queryset = queryset.filter(organization_id=organization_id)
    annotations = {f"_t_{f.attname}": Cast(f.attname, TextField()) for f in fields}
    match = Q()
    for name in annotations:
        for form in forms:
            match |= Q(**{f"{name}__icontains": form})
    changed = 0
    for obj in queryset.annotate(**annotations).filter(match).iterator(chunk_size=500):
        updates = {}
        for f in fields:
            old = getattr(obj, f.attname)
            if model is LeadImport and f.name == "content":
                new = _drop_lines(old, pattern)
            else:
                new = scrub(old, pattern)
            if new != old:
                updates[f.attname] = new
        if updates:
            model._default_manager.filter(pk=obj.pk).update(**updates)
            changed += 1
    return changed


def purge_webhook_bodies(*, organization_id: Any, values: set[str]) -> int:
    """Raw WhatsApp webhook bodies (bytes) holding the person's values are emptied."""
    needles = [form.encode() for form in search_forms(values)]
    if not needles:
        return 0
    hits = [
        pk
        for pk, body in WebhookNotification.objects.filter(organization_id=organization_id)
        .values_list("pk", "raw_body")
        .iterator(chunk_size=500)
        if any(needle in bytes(body) for needle in needles)
    ]
    return WebhookNotification.objects.filter(pk__in=hits).update(
        raw_body=b"",
        summary={},
        error="",
        processed_at=Coalesce("processed_at", Value(timezone.now())),
    )
