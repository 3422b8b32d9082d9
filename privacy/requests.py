"""Data subject requests (LGPD art. 18): create, run (as a job), retry, download.

A request runs as a list of steps; each step records itself as done in `etapas` together
with its effect, so a run that failed midway (worker death, CRM down) is run again from the
first step not done, and nothing is done twice. Only ids and a keyed hash of the identifier
are kept on the request.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from config.errors import ConflictError, NotFound, ValidationError
from config.jobs import SAFE_RETRY, enqueue
from followup.services import followup_cancel_for_lead
from integrations.crm.services import active_connection, crm_delete_contact
from leads.models import Lead
from organizations.models import Membership, Organization
from privacy import anonymize, services
from privacy.export import export_document
from privacy.models import (
    RUNNING_STATUSES,
    AccessTipo,
    DataSubjectExport,
    DataSubjectRequest,
    RequestStatus,
    RequestTipo,
)
from privacy.subjects import parse_identifier, personal_values, subject_find

DOWNLOAD_DAYS = 7
CANCEL_REASON = "Titular anonimizado (LGPD)."


def request_check(*, organization: Organization, data: dict[str, Any]) -> tuple[str, Any, Any]:
    """Validate a request and find the person; 400/404/409 as the API answers. Writes nothing
    (the admin's confirmation page shows what it found)."""
    tipo = data.get("tipo")
    if tipo not in RequestTipo.values:
        raise ValidationError(details={"tipo": [_("Use exportacao ou anonimizacao.")]})
    identifier = parse_identifier(data)
    subject = subject_find(organization=organization, identifier=identifier)
    for running in DataSubjectRequest.objects.filter(
        organization=organization, status__in=RUNNING_STATUSES
    ):
        if running.identificador_hash == identifier.hash or subject.overlaps(
            running.lead_ids, running.mentorado_ids
        ):
            raise ConflictError(
                _("Já existe uma solicitação em andamento para esse titular."),
                details={"request_id": str(running.pk)},
            )
    return tipo, identifier, subject


@transaction.atomic
def request_create(
    *, organization: Organization, actor: Membership | None, data: dict[str, Any]
) -> DataSubjectRequest:
    """Validate, find the person, refuse a second running request about them, enqueue."""
    # One creation at a time per organization, so two concurrent requests about the same
    # person cannot both pass the check.
    Organization.objects.select_for_update().filter(pk=organization.pk).first()
    tipo, identifier, subject = request_check(organization=organization, data=data)
    request = DataSubjectRequest.objects.create(
        organization=organization,
        tipo=tipo,
        identificador_tipo=identifier.kind,
        identificador_hash=identifier.hash,
        lead_ids=subject.lead_ids,
        mentorado_ids=subject.mentorado_ids,
        solicitado_por=actor,
    )
    _enqueue(request)
    return request


def _enqueue(request: DataSubjectRequest) -> None:
    enqueue(
        "privacy.jobs.run_data_subject_request",
        request_id=str(request.pk),
        organization_id=str(request.organization_id),
        queue="default",
        job_id=f"privacy-request-{request.pk}",
        retry=SAFE_RETRY,
        timeout=1800,
    )


@transaction.atomic
def request_retry(*, request: DataSubjectRequest) -> DataSubjectRequest:
    """Run a failed request again; it resumes at its first step not done."""
    request = DataSubjectRequest.objects.select_for_update().get(pk=request.pk)
    if request.status != RequestStatus.FALHOU:
        raise ConflictError(_("Só uma solicitação que falhou pode ser executada de novo."))
    request.status = RequestStatus.PENDENTE
    request.erro = ""
    request.save(update_fields=["status", "erro"])
    _enqueue(request)
    return request


# --- running ----------------------------------------------------------------------------------


# A step does its work and records itself done (`_step_done`), in one transaction where it can.
Step = Callable[[DataSubjectRequest, int], None]


def _steps(request: DataSubjectRequest) -> list[tuple[str, Step]]:
    if request.tipo == RequestTipo.EXPORTACAO:
        return [("exportacao", _step_export)]
    return [("followups", _step_followups), ("crm", _step_crm), ("dados", _step_data)]


def request_run(*, request_id: Any) -> DataSubjectRequest:
    """The job's body: run the steps not done yet; safe to call again at any time."""
    request = DataSubjectRequest.objects.get(pk=request_id)
    if request.status == RequestStatus.CONCLUIDA:
        return request
    DataSubjectRequest.objects.filter(pk=request.pk).update(
        status=RequestStatus.EXECUTANDO, iniciado_em=request.iniciado_em or timezone.now()
    )
    steps = _steps(request)
    try:
        for number, (name, step) in enumerate(steps, start=1):
            request.refresh_from_db()
            if name in request.etapas:
                continue
            step(request, round(100 * number / len(steps)))
    except Exception as exc:
        DataSubjectRequest.objects.filter(pk=request.pk).update(
            status=RequestStatus.FALHOU, erro=_error_text(exc)
        )
        raise
    DataSubjectRequest.objects.filter(pk=request.pk).update(
        status=RequestStatus.CONCLUIDA, progresso=100, concluido_em=timezone.now(), erro=""
    )
    request.refresh_from_db()
    return request


def _error_text(exc: Exception) -> str:
    """What failed, without any message text (a provider's message may quote the person)."""
    status = getattr(exc, "status_code", None)
    return f"{type(exc).__name__}" + (f" (HTTP {status})" if status else "")


def _step_done(request: DataSubjectRequest, name: str, *, progresso: int) -> None:
    request.etapas = [*request.etapas, name]
    request.progresso = progresso
    request.save(update_fields=["etapas", "progresso", "resultado"])


def _claimed(request: DataSubjectRequest, name: str) -> bool:
    """Inside a step's transaction: the request row locked and re-read. A duplicate run of the
    job (the outbox delivers at least once) waits here, then skips the step done meanwhile."""
    locked = DataSubjectRequest.objects.select_for_update().get(pk=request.pk)
    request.etapas, request.resultado = locked.etapas, locked.resultado
    return name not in locked.etapas


def _step_export(request: DataSubjectRequest, progresso: int) -> None:
    document = export_document(
        organization=request.organization,
        lead_ids=request.lead_ids,
        mentorado_ids=request.mentorado_ids,
    )
    size = len(json.dumps(document).encode())
    with transaction.atomic():
        if not _claimed(request, "exportacao"):
            return
        DataSubjectExport.objects.update_or_create(
            request=request,
            defaults={
                "organization_id": request.organization_id,
                "conteudo": document,
                "tamanho": size,
            },
        )
        request.expira_em = timezone.now() + timedelta(days=DOWNLOAD_DAYS)
        request.resultado = {
            "leads": len(document["leads"]),
            "mentorados": len(document["mentorados"]),
            "bytes": size,
        }
        request.save(update_fields=["expira_em"])
        _step_done(request, "exportacao", progresso=progresso)


def _step_followups(request: DataSubjectRequest, progresso: int) -> None:
    with transaction.atomic():
        if not _claimed(request, "followups"):
            return
        cancelled = sum(
            followup_cancel_for_lead(lead_id=lead_id, reason=CANCEL_REASON)
            for lead_id in request.lead_ids
        )
        request.resultado = {**request.resultado, "followups_cancelados": cancelled}
        _step_done(request, "followups", progresso=progresso)


def _step_crm(request: DataSubjectRequest, progresso: int) -> None:
    """Ask the CRM to delete each lead; each answer is saved before the next call, so a rerun
    after a failure does not ask again for the leads already done."""
    outcomes: dict[str, str] = dict(request.resultado.get("crm", {}))
    leads = Lead.objects.filter(pk__in=request.lead_ids).values(
        "pk", "crm_provider", "crm_id", "email"
    )
    for lead in leads:
        key = str(lead["pk"])
        if key in outcomes:
            continue
        outcomes[key] = crm_delete_contact(
            organization_id=request.organization_id,
            crm_provider=lead["crm_provider"],
            crm_id=lead["crm_id"],
            email=lead["email"],
        )
        request.resultado = {**request.resultado, "crm": outcomes}
        DataSubjectRequest.objects.filter(pk=request.pk).update(resultado=request.resultado)
    request.resultado = {**request.resultado, "crm": outcomes}
    _step_done(request, "crm", progresso=progresso)


def _step_data(request: DataSubjectRequest, progresso: int) -> None:
    """Every row in one transaction: the person's values are needed until the last of it."""
    connection = active_connection(request.organization_id)
    with transaction.atomic():
        if not _claimed(request, "dados"):
            return
        counts = anonymise_person(
            organization_id=request.organization_id,
            lead_ids=request.lead_ids,
            mentorado_ids=request.mentorado_ids,
            crm_provider=connection.provider if connection else "",
        )
        request.resultado = {**request.resultado, "anonimizados": counts}
        _step_done(request, "dados", progresso=progresso)


def anonymise_person(
    *,
    organization_id: Any,
    lead_ids: list[str],
    mentorado_ids: list[str],
    crm_provider: str,
    sweep: bool = True,
) -> dict[str, int]:
    """Anonymise the person's rows and every copy of their values.

    Retention passes `sweep=False`: for a batch of lost leads, a search of every text column of
    the organization for hundreds of values costs too much; their own rows, audit rows and
    follow-up texts are still reset, raw webhook bodies age out by their own setting."""
    values = personal_values(lead_ids=lead_ids, mentorado_ids=mentorado_ids) if sweep else set()
    counts = {
        "webhooks_brutos": anonymize.purge_webhook_bodies(
            organization_id=organization_id, values=values
        ),
        "residuos": anonymize.residue_sweep(organization_id=organization_id, values=values),
        **anonymize.anonymise_leads(lead_ids=lead_ids, crm_provider=crm_provider),
        **anonymize.anonymise_mentees(mentorado_ids=mentorado_ids),
        "exportacoes_apagadas": _purge_exports(organization_id, lead_ids, mentorado_ids),
    }
    return {k: v for k, v in counts.items() if v}


def _purge_exports(organization_id: Any, lead_ids: list[str], mentorado_ids: list[str]) -> int:
    """Earlier export files about the person are deleted (their requests say so)."""
    ids = set(lead_ids) | set(mentorado_ids)
    stale = [
        pk
        for pk, leads, mentees in DataSubjectRequest.objects.filter(
            organization_id=organization_id, arquivo__isnull=False
        ).values_list("pk", "lead_ids", "mentorado_ids")
        if ids & (set(leads) | set(mentees))
    ]
    deleted, _by_model = DataSubjectExport.objects.filter(request_id__in=stale).delete()
    DataSubjectRequest.objects.filter(pk__in=stale).update(expira_em=timezone.now())
    return deleted


# --- download ---------------------------------------------------------------------------------


def request_download(
    *, request: DataSubjectRequest, actor: Membership | None
) -> tuple[dict[str, Any], str]:
    """The export document and its file name; the download is logged. 404 once gone."""
    export = DataSubjectExport.objects.filter(request=request).first()
    expired = request.expira_em is None or request.expira_em <= timezone.now()
    if request.tipo != RequestTipo.EXPORTACAO or export is None or expired:
        raise NotFound(_("Não há arquivo disponível para esta solicitação."))
    services.access_log_record(
        organization=request.organization_id,
        actor=actor,
        tipo=AccessTipo.PRIVACY_DOWNLOAD,
        filtro={"request_id": str(request.pk)},
        linhas=len(export.conteudo.get("leads", [])) + len(export.conteudo.get("mentorados", [])),
    )
    return export.conteudo, f"titular-{request.pk}.json"
