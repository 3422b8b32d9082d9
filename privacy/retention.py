"""Retention: each organization says how long it keeps lost leads, raw webhook bodies and
send logs; a daily job anonymises or deletes what is past it, in batches, and reports counts.

Lost leads are anonymised (not deleted): their rows still count in the dashboards. Their own
rows and audit rows are reset as in a data subject request, without the CRM call and without
the residue sweep over every table (too costly for batches; see privacy.requests). Raw
WhatsApp webhook bodies are never kept more than 30 days whatever the setting
(integrations' own sweep); the setting can shorten that.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any, cast

from django.db import models, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from config.errors import ValidationError
from followup.models import FINISHED_STATUSES, FollowupExecutionLog, FollowupStepRun
from followup.services import followup_cancel_for_lead
from integrations.models import WebhookNotification
from integrations.outbound.models import DeliveryStatus, WebhookDelivery
from leads.models import Lead, LeadStatus
from mentorados.models import Mentorado
from organizations.models import Organization
from privacy.models import DataSubjectExport, RetentionSettings
from privacy.subjects import ANONYMOUS_NAME

DELETE_BATCH = 1000
# Each batch of leads is one transaction with one residue sweep over the organization.
LEAD_BATCH = 50
MAX_DAYS = 3650
WEBHOOK_MAX_DAYS = 30
FIELDS = ("leads_perdidos_dias", "webhooks_dias", "envios_dias")


def retention_settings_get(*, organization: Organization) -> RetentionSettings:
    """The organization's settings (defaults, unsaved, when never changed)."""
    found = RetentionSettings.objects.filter(organization=organization).first()
    return found or RetentionSettings(organization=organization)


@transaction.atomic
def retention_settings_update(
    *, organization: Organization, data: dict[str, Any]
) -> RetentionSettings:
    """Change some of the three periods (days; null = keep for leads and send logs)."""
    validate(data=data)
    settings, _created = RetentionSettings.objects.select_for_update().get_or_create(
        organization=organization
    )
    for name in FIELDS:
        if name in data:
            setattr(settings, name, data[name])
    settings.save()
    return cast("RetentionSettings", settings)


def validate(*, data: dict[str, Any]) -> None:
    """400 (ValidationError) for unknown fields or periods out of range."""
    unknown = set(data) - set(FIELDS)
    errors: dict[str, list[Any]] = {k: [_("Campo desconhecido.")] for k in sorted(unknown)}
    for name in FIELDS:
        if name in data:
            errors.update(_check_days(name, data[name]))
    if errors:
        raise ValidationError(details=errors)


def _check_days(name: str, value: Any) -> dict[str, list[Any]]:
    if value is None:
        if name == "webhooks_dias":
            return {name: [_("Informe um número de dias.")]}
        return {}
    top = WEBHOOK_MAX_DAYS if name == "webhooks_dias" else MAX_DAYS
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= top:
        return {name: [_("Informe um número inteiro de dias entre 1 e %(max)s.") % {"max": top}]}
    return {}


def retention_run(*, organization_id: Any) -> dict[str, int]:
    """Apply one organization's settings now; records and returns the counts."""
    organization = Organization.objects.get(pk=organization_id)
    settings = retention_settings_get(organization=organization)
    now = timezone.now()
    counts = {
        "leads_anonimizados": _lost_leads(organization.pk, settings.leads_perdidos_dias, now),
        "webhooks_apagados": _webhook_bodies(organization.pk, settings.webhooks_dias, now),
        **_send_logs(organization.pk, settings.envios_dias, now),
        "exportacoes_expiradas": _delete_in_batches(
            DataSubjectExport.objects.filter(
                organization_id=organization.pk, request__expira_em__lte=now
            )
        ),
    }
    RetentionSettings.objects.update_or_create(
        organization=organization, defaults={"ultima_execucao": now, "ultimo_resultado": counts}
    )
    return counts


def retention_run_all() -> dict[str, Any]:
    totals: dict[str, int] = {}
    organizations = 0
    for organization_id in Organization.objects.order_by("pk").values_list("pk", flat=True):
        for key, value in retention_run(organization_id=organization_id).items():
            totals[key] = totals.get(key, 0) + value
        organizations += 1
    return {"organizacoes": organizations, **totals}


def _delete_in_batches(queryset: models.QuerySet[Any]) -> int:
    deleted = 0
    while True:
        ids = list(queryset.values_list("pk", flat=True)[:DELETE_BATCH])
        if not ids:
            return deleted
        queryset.model._default_manager.filter(pk__in=ids).delete()
        deleted += len(ids)


def _lost_leads(organization_id: Any, days: int | None, now: Any) -> int:
    from privacy.requests import anonymise_person

    if days is None:
        return 0
    due = (
        Lead.objects.filter(
            organization_id=organization_id,
            status=LeadStatus.PERDIDO,
            updated_at__lt=now - timedelta(days=days),
        )
        .exclude(nome_completo=ANONYMOUS_NAME)
        .order_by("pk")
    )
    done = 0
    while batch := [str(pk) for pk in due.values_list("pk", flat=True)[:LEAD_BATCH]]:
        mentees = [
            str(pk)
            for pk in Mentorado.objects.filter(lead_id__in=batch).values_list("pk", flat=True)
        ]
        with transaction.atomic():
            for lead_id in batch:
                followup_cancel_for_lead(
                    lead_id=lead_id, reason="Retenção: lead perdido anonimizado."
                )
            anonymise_person(
                organization_id=organization_id,
                lead_ids=batch,
                mentorado_ids=mentees,
                crm_provider="",
                sweep=False,
            )
        done += len(batch)
    return done


def _webhook_bodies(organization_id: Any, days: int, now: Any) -> int:
    return _delete_in_batches(
        WebhookNotification.objects.filter(
            organization_id=organization_id,
            processed_at__isnull=False,
            received_at__lt=now - timedelta(days=days),
        )
    )


def _send_logs(organization_id: Any, days: int | None, now: Any) -> dict[str, int]:
    if days is None:
        return {}
    cutoff = now - timedelta(days=days)
    finished = {"execution__status__in": list(FINISHED_STATUSES)}
    return {
        "registros_followup_apagados": _delete_in_batches(
            FollowupExecutionLog.objects.filter(
                organization_id=organization_id, created_at__lt=cutoff, **finished
            )
        ),
        "passos_followup_apagados": _delete_in_batches(
            FollowupStepRun.objects.filter(
                execution__organization_id=organization_id, updated_at__lt=cutoff, **finished
            )
        ),
        "entregas_webhook_apagadas": _delete_in_batches(
            WebhookDelivery.objects.filter(
                organization_id=organization_id, created_at__lt=cutoff
            ).exclude(status=DeliveryStatus.PENDENTE)
        ),
    }
