"""Writes for leads, interactions, qualification and tasks (one transaction each).

API views and admin actions call these; other apps react through `leads.signals`.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from config.context import current_via
from config.errors import ConflictError, PermissionDenied, ValidationError
from config.locking import lock_row, save_fields
from leads import consent, routing, signals, validation
from leads.models import (
    CLOSED_STATUSES,
    LEAD_CONTACT_FIELDS,
    LEAD_UTM_FIELDS,
    Lead,
    LeadInteraction,
    LeadQualification,
    LeadStatus,
    LeadStatusChange,
    Resultado,
    Task,
    TaskStatus,
    TaskTipo,
)
from leads.next_step import parse_due
from leads.phones import phone_match_key
from leads.scores import qualification_score
from organizations.models import (
    MANAGER_ROLES,
    Membership,
    NotificationTipo,
    Organization,
    Role,
)
from organizations.notifications import managers_of, notify

# Fields whose change other apps care about (follow-up enrollment criteria, CRM mapping).
TRACKED_FIELDS = (
    *LEAD_CONTACT_FIELDS,
    "status",
    "temperatura",
    "lead_score",
    "valor_potencial",
    "closer_id",
    "sdr_id",
    "tags",
    "opt_out_email",
    "opt_out_whatsapp",
)


def _duplicate_of(
    *, organization: Organization, email: str | None, telefone: str | None, exclude: Any = None
) -> Lead | None:
    """The existing lead of the organization sharing the email or the phone, if any."""
    condition = Q()
    if email:
        condition |= Q(email=email)
    if telefone:
        condition |= Q(telefone=telefone)
    if not condition:
        return None
    queryset = Lead.objects.for_org(organization).filter(condition)
    if exclude is not None:
        queryset = queryset.exclude(pk=exclude)
    return queryset.only("id").first()


def _raise_duplicate(existing: Lead, actor: Membership | None = None) -> None:
    """409; the existing lead's id only for a requester who may see that lead (a closer of an
    `atribuidos` organization must not learn the ids of other closers' leads)."""
    details: dict[str, Any] = {}
    if actor is None or Lead.objects.filter(pk=existing.pk).visible_to(actor).exists():
        details["existing_id"] = str(existing.pk)
    raise ConflictError(
        _("Já existe um lead com este email ou telefone nesta organização."), details=details
    )


# Statuses a reopened lead may go back to.
OPEN_STATUSES = tuple(status for status in LeadStatus.values if status not in CLOSED_STATUSES)


def check_status_rules(*, from_status: str, to_status: str, motivo_perda: str | None) -> None:
    """The pipeline's transition rules (DOMAIN.md, second round), for every writer.

    `from_status` is "" for a new lead. `perdido` needs a reason; `convertido` is final: only
    `lead_reopen` (managers, with a reason) takes a converted lead back to an open status.
    Raises ValidationError (400 / form error) or ConflictError (409).
    """
    if to_status == LeadStatus.PERDIDO and not (motivo_perda or "").strip():
        message = _("Informe o motivo da perda para marcar o lead como perdido.")
        raise ValidationError(message, details={"motivo_perda": [message]})
    if from_status == LeadStatus.CONVERTIDO and to_status != LeadStatus.CONVERTIDO:
        raise ConflictError(
            _(
                "Um lead convertido não muda de status por edição: um gestor pode reabri-lo "
                "(POST /api/v1/leads/{id}/reopen/) informando o motivo."
            ),
            details={"status": LeadStatus.CONVERTIDO},
        )


def _record_status_change(
    *,
    lead: Lead,
    from_status: str,
    to_status: str,
    actor: Membership | None,
    at: datetime,
    motivo: str = "",
) -> LeadStatusChange:
    return LeadStatusChange.objects.create(
        organization_id=lead.organization_id,
        lead=lead,
        from_status=from_status,
        to_status=to_status,
        changed_by=actor,
        changed_at=at,
        motivo=motivo,
    )


def _apply_status_side_effects(lead: Lead, from_status: str, now: datetime) -> None:
    """Keep converted_at/valor_fechado consistent with the status."""
    if lead.status == LeadStatus.CONVERTIDO and from_status != LeadStatus.CONVERTIDO:
        lead.converted_at = now
        if lead.valor_fechado is None:
            lead.valor_fechado = lead.valor_potencial
    elif lead.status != LeadStatus.CONVERTIDO and from_status == LeadStatus.CONVERTIDO:
        # Reopened: it no longer counts as a conversion (the mentee, if any, is kept).
        lead.converted_at = None
        lead.valor_fechado = None


def _after_status_change(lead: Lead, from_status: str, actor: Membership | None) -> None:
    signals.lead_status_changed.send(
        sender=Lead, lead=lead, actor=actor, from_status=from_status, to_status=lead.status
    )
    if lead.status == LeadStatus.CONVERTIDO:
        _notify_converted(lead, actor)
        signals.lead_converted.send(sender=Lead, lead=lead, actor=actor)


def _notify_converted(lead: Lead, actor: Membership | None) -> None:
    organization = lead.organization
    valor = lead.valor_fechado
    notify(
        organization=organization,
        recipients=[lead.closer, *managers_of(organization)],
        tipo=NotificationTipo.LEAD_CONVERTED,
        titulo=_("Lead convertido: %(nome)s") % {"nome": lead.nome_completo},
        payload={
            "lead_id": str(lead.pk),
            "valor_fechado": str(valor) if valor is not None else None,
            "by": str(actor.pk) if actor else None,
        },
    )


@transaction.atomic
def lead_create(
    *, organization: Organization, actor: Membership | None, data: dict[str, Any]
) -> Lead:
    """Creates a lead (email/phone already normalized by the caller's validation)."""
    email, telefone = data.get("email"), data.get("telefone")
    lead = Lead(organization=organization, **data)
    check_status_rules(from_status="", to_status=lead.status, motivo_perda=lead.motivo_perda)
    existing = _duplicate_of(organization=organization, email=email, telefone=telefone)
    if existing is not None:
        _raise_duplicate(existing, actor)
    now = timezone.now()
    lead.telefone_chave = phone_match_key(lead.telefone)
    _apply_status_side_effects(lead, "", now)
    assignments = routing.leads_route(organization=organization, leads=[lead])
    try:
        with transaction.atomic():
            lead.save()
    except IntegrityError:
        # A concurrent request created the same email/phone between our check and insert.
        existing = _duplicate_of(organization=organization, email=email, telefone=telefone)
        if existing is None:
            raise
        _raise_duplicate(existing, actor)
    _record_status_change(lead=lead, from_status="", to_status=lead.status, actor=actor, at=now)
    routing.leads_route_record(organization=organization, assignments=assignments)
    for flag in consent.CANAL_OF:
        if getattr(lead, flag):
            consent.record_flag_change(
                lead=lead, flag=flag, revoked=True, actor=actor, origem=current_via()
            )
    signals.lead_created.send(sender=Lead, lead=lead, actor=actor)
    if lead.status == LeadStatus.CONVERTIDO:
        _after_status_change(lead, "", actor)
    return lead


@transaction.atomic
def lead_update(
    *,
    lead: Lead,
    actor: Membership | None,
    data: dict[str, Any],
    consent_recorded: bool = False,
) -> Lead:
    """Updates a lead; a status change is recorded and its effects applied.

    An opt-out flag change appends its consent ledger entry (leads.consent), unless the
    caller is the ledger itself (`consent_recorded`).
    """
    lead = Lead.objects.select_for_update().select_related("organization").get(pk=lead.pk)
    if "status" in data or "motivo_perda" in data:
        check_status_rules(
            from_status=lead.status,
            to_status=data.get("status", lead.status),
            motivo_perda=data.get("motivo_perda", lead.motivo_perda),
        )
    return _update_locked(lead=lead, actor=actor, data=data, consent_recorded=consent_recorded)


def _update_locked(
    *,
    lead: Lead,
    actor: Membership | None,
    data: dict[str, Any],
    motivo: str = "",
    consent_recorded: bool = False,
) -> Lead:
    """Applies `data` to a lead locked by the caller (rules already checked)."""
    before = {field: getattr(lead, field) for field in TRACKED_FIELDS}
    email = data.get("email", lead.email)
    telefone = data.get("telefone", lead.telefone)
    if ("email" in data and email != lead.email) or (
        "telefone" in data and telefone != lead.telefone
    ):
        existing = _duplicate_of(
            organization=lead.organization, email=email, telefone=telefone, exclude=lead.pk
        )
        if existing is not None:
            _raise_duplicate(existing, actor)
    for field, value in data.items():
        setattr(lead, field, value)
    lead.telefone_chave = phone_match_key(lead.telefone)
    now = timezone.now()
    from_status = before["status"]
    status_changed = lead.status != from_status
    if status_changed:
        _apply_status_side_effects(lead, from_status, now)
    _save_or_raise_duplicate(lead, actor, email=email, telefone=telefone)
    changed = {field for field in TRACKED_FIELDS if getattr(lead, field) != before[field]}
    if not consent_recorded:
        _record_consent_flag_changes(lead, changed, actor)
    if status_changed:
        _record_status_change(
            lead=lead,
            from_status=from_status,
            to_status=lead.status,
            actor=actor,
            at=now,
            motivo=motivo,
        )
    if changed:
        signals.lead_updated.send(sender=Lead, lead=lead, actor=actor, changed=changed)
    if status_changed:
        _after_status_change(lead, from_status, actor)
    return lead


def _save_or_raise_duplicate(
    lead: Lead, actor: Membership | None, *, email: str | None, telefone: str | None
) -> None:
    """Saves the lead; a unique-constraint race with another lead's contact is a duplicate."""
    try:
        with transaction.atomic():
            lead.save()
    except IntegrityError:
        existing = _duplicate_of(
            organization=lead.organization, email=email, telefone=telefone, exclude=lead.pk
        )
        if existing is None:
            raise
        _raise_duplicate(existing, actor)


def _record_consent_flag_changes(lead: Lead, changed: set[str], actor: Membership | None) -> None:
    """One consent record per opt-out flag that this update changed."""
    for flag in consent.CANAL_OF:
        if flag in changed:
            consent.record_flag_change(
                lead=lead,
                flag=flag,
                revoked=getattr(lead, flag),
                actor=actor,
                origem=current_via(),
            )


@transaction.atomic
def lead_reopen(*, lead: Lead, actor: Membership | None, status: str, motivo: str) -> Lead:
    """Takes a converted lead back to an open status (managers only, with a reason).

    The status change is recorded with the reason; converted_at and valor_fechado are cleared
    (it no longer counts as a sale); the mentee, if any, is left as it is.
    """
    if actor is not None and actor.role not in MANAGER_ROLES:
        raise PermissionDenied(_("Somente gestores e administradores reabrem leads convertidos."))
    motivo = (motivo or "").strip()
    if not motivo:
        message = _("Informe o motivo da reabertura.")
        raise ValidationError(message, details={"motivo": [message]})
    if status not in OPEN_STATUSES:
        message = _("Escolha um status aberto do funil.")
        raise ValidationError(message, details={"status": [message]})
    lead = Lead.objects.select_for_update().select_related("organization").get(pk=lead.pk)
    if lead.status != LeadStatus.CONVERTIDO:
        raise ConflictError(
            _("Só um lead convertido pode ser reaberto."), details={"status": lead.status}
        )
    return _update_locked(lead=lead, actor=actor, data={"status": status}, motivo=motivo)


@transaction.atomic
def lead_delete(*, lead: Lead, actor: Membership | None) -> None:
    signals.lead_deleted.send(
        sender=Lead, lead_id=lead.pk, organization_id=lead.organization_id, actor=actor
    )
    lead.delete()


def _set_status(
    lead: Lead, to_status: str, actor: Membership | None, **fields: Any
) -> tuple[Lead, bool]:
    """Moves a locked lead to `to_status` (no-op if already there); returns (lead, moved)."""
    if lead.status == to_status:
        return lead, False
    return lead_update(lead=lead, actor=actor, data={"status": to_status, **fields}), True


@transaction.atomic
def lead_convert(*, lead: Lead, actor: Membership | None, valor: Decimal | None = None) -> Lead:
    """Marks the lead won: converted_at, valor_fechado, a Mentorado (via signal), notices.

    Idempotent and race-safe: the row lock serializes concurrent conversions and a lead that is
    already `convertido` is returned unchanged.
    """
    lead = Lead.objects.select_for_update().get(pk=lead.pk)
    fields: dict[str, Any] = {}
    if valor is not None:
        fields["valor_fechado"] = valor
    lead, _moved = _set_status(lead, LeadStatus.CONVERTIDO, actor, **fields)
    return lead


@transaction.atomic
def lead_mark_lost(*, lead: Lead, actor: Membership | None, motivo: str = "") -> Lead:
    lead = Lead.objects.select_for_update().get(pk=lead.pk)
    fields = {"motivo_perda": motivo} if motivo else {}
    lead, _moved = _set_status(lead, LeadStatus.PERDIDO, actor, **fields)
    return lead


@transaction.atomic
def interaction_create(
    *, lead: Lead, actor: Membership | None, data: dict[str, Any], motivo_perda: str = ""
) -> LeadInteraction:
    """Records an interaction by the requester (None: the system, e.g. an inbound reply with
    nobody assigned); closing results convert or lose the lead."""
    interaction = LeadInteraction.objects.create(
        organization_id=lead.organization_id, lead=lead, closer=actor, **data
    )
    # Conditional update: concurrent interactions never move last_interaction_at backwards.
    moment = interaction.data_interacao
    Lead.objects.filter(
        Q(last_interaction_at__isnull=True) | Q(last_interaction_at__lt=moment), pk=lead.pk
    ).update(last_interaction_at=moment, updated_at=timezone.now())  # auto_now skips .update()
    if interaction.resultado == Resultado.FECHAMENTO_POSITIVO:
        lead_convert(lead=lead, actor=actor, valor=interaction.valor)
    elif interaction.resultado == Resultado.FECHAMENTO_NEGATIVO:
        motivo = motivo_perda or interaction.resumo
        lead_mark_lost(lead=lead, actor=actor, motivo=motivo)
    _next_step_task(lead=lead, interaction=interaction, actor=actor)
    signals.interaction_created.send(sender=LeadInteraction, interaction=interaction, actor=actor)
    return interaction


def _next_step_task(*, lead: Lead, interaction: LeadInteraction, actor: Membership | None) -> None:
    """A `proximo_passo` naming a day (leads/next_step.py) becomes a pending task for the
    member who interacted (else the lead's closer, else its SDR), once per interaction."""
    organization = Organization.objects.only("timezone").get(pk=lead.organization_id)
    due = parse_due(
        interaction.proximo_passo, now=interaction.data_interacao, tz=organization.timezone
    )
    owner = actor or lead.closer or lead.sdr
    if due is None or owner is None:
        return
    Task.objects.get_or_create(
        origem_ref=f"interaction:{interaction.pk}",
        defaults={
            "organization_id": lead.organization_id,
            "lead": lead,
            "responsavel": owner,
            "tipo": TaskTipo.TAREFA,
            "titulo": interaction.proximo_passo[:200],
            "descricao": interaction.resumo,
            "vencimento": due,
            "created_by": actor,
        },
    )


@transaction.atomic
def qualification_save(
    *, lead: Lead, actor: Membership | None, data: dict[str, Any]
) -> tuple[LeadQualification, bool]:
    """Creates or replaces the lead's BANT details and recomputes qualification_score."""
    qualification, created = LeadQualification.objects.select_for_update().get_or_create(
        lead=lead, defaults={"organization_id": lead.organization_id}
    )
    for field, value in data.items():
        setattr(qualification, field, value)
    qualification.qualification_score = qualification_score(
        budget_confirmado=qualification.budget_confirmado,
        authority_nivel=qualification.authority_nivel,
        necessidade_identificada=qualification.necessidade_identificada,
        prazo_decisao=qualification.prazo_decisao,
    )
    qualification.save()
    signals.qualification_saved.send(
        sender=LeadQualification, qualification=qualification, actor=actor
    )
    return qualification, created


@transaction.atomic
def task_create(
    *, organization: Organization, actor: Membership | None, data: dict[str, Any]
) -> Task:
    task = Task(organization=organization, created_by=actor, **data)
    if task.status == TaskStatus.CONCLUIDA and task.concluida_em is None:
        task.concluida_em = timezone.now()
    task.save()
    return task


@transaction.atomic
def task_update(*, task: Task, actor: Membership | None, data: dict[str, Any]) -> Task:
    """Locked and re-read; only the given fields (and concluida_em) are written."""
    task = lock_row(task)
    previous_status = task.status
    for field, value in data.items():
        setattr(task, field, value)
    if task.status == TaskStatus.CONCLUIDA and previous_status != TaskStatus.CONCLUIDA:
        task.concluida_em = timezone.now()
    elif task.status != TaskStatus.CONCLUIDA:
        task.concluida_em = None
    save_fields(task, [*data, "concluida_em"])
    return task


# --- Lead fields from people and files (the CSV/XLSX import) --------------------------------

# The lead fields a file may set, each checked by the model field (type, length, choices) and
# then by its rule in leads.validation; closer and SDR are not importable (assigned by role).
IMPORTABLE_FIELDS = (
    *LEAD_CONTACT_FIELDS,
    "status",
    "valor_potencial",
    "valor_fechado",
    "tags",
    "observacoes",
    "motivo_perda",
    *LEAD_UTM_FIELDS,
)
_FIELD_RULES: dict[str, Any] = {
    "nome_completo": validation.clean_nome,
    "email": validation.clean_email,
    "telefone": validation.clean_telefone,
    "origem": validation.clean_origem,
    "utm_source": validation.clean_utm,
    "utm_medium": validation.clean_utm,
    "utm_campaign": validation.clean_utm,
}


def lead_clean(*, data: dict[str, Any]) -> dict[str, Any]:
    """Validates and normalizes lead fields as the API does, without the API layer.

    `data` holds only the fields given (blank cells left out: model defaults apply). Status
    and origem accept the labels users see (`Em contato`, `Indicação`). Raises
    ValidationError with one list of messages per field.
    """
    cleaned: dict[str, Any] = {}
    errors: dict[str, list[str]] = {}
    if not str(data.get("nome_completo") or "").strip():
        errors["nome_completo"] = [_("Informe o nome do lead.")]
    for name, value in data.items():
        if name not in IMPORTABLE_FIELDS or name in errors:
            continue
        try:
            if name == "tags":
                cleaned[name] = validation.clean_tags(value)
                continue
            # Values as users see them: `Em contato` -> em_contato, `Tráfego pago` ->
            # trafego_pago (the API's JSON takes the codes only).
            if name == "status":
                value = validation.choice_from_text(value, LeadStatus.choices) or value
            elif name == "origem":
                value = validation.slug_key(value) or value
            rule = _FIELD_RULES.get(name)
            if rule is not None:
                value = rule(value)
            if value is not None:
                value = Lead._meta.get_field(name).clean(value, None)  # type: ignore[union-attr]
            cleaned[name] = value
        except DjangoValidationError as exc:
            errors[name] = list(exc.messages)
    if "status" not in errors:
        try:
            check_status_rules(
                from_status="",
                to_status=cleaned.get("status", LeadStatus.NOVO),
                motivo_perda=cleaned.get("motivo_perda"),
            )
        except ValidationError as exc:
            errors.update(exc.details)
    if errors:
        raise DjangoValidationError(errors)
    return cleaned


def lead_build(
    *,
    organization: Organization,
    actor: Membership | None,
    data: dict[str, Any],
    now: datetime,
) -> Lead:
    """An unsaved lead exactly as `lead_create` would store it (for bulk inserts)."""
    lead = Lead(id=uuid.uuid4(), organization=organization, created_at=now, **data)
    # Same default assignment as an API create: a seller importing owns the leads.
    if actor is not None and actor.role == Role.CLOSER:
        lead.closer = actor
    elif actor is not None and actor.role == Role.SDR:
        lead.sdr = actor
    lead.telefone_chave = phone_match_key(lead.telefone)
    _apply_status_side_effects(lead, "", now)
    return lead
