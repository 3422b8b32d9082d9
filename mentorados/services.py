"""Writes for mentees, their monthly results and their feedback (one transaction each).

The derived figures of a mentee (faturamento_atual, crescimento_percentual, engagement_score;
see mentorados.figures) are recomputed synchronously, in the same transaction, after every
evolution or feedback write, and engagement once a day for every active mentee
(`engagement_recalculate`, run by mentorados.jobs).

Locking: a write first touches its own row (insert/update of the month or the feedback), then
takes FOR NO KEY UPDATE on the mentee row to recompute the figures. NO KEY UPDATE does not
conflict with the KEY SHARE lock that inserting a child row takes on the mentee, so two
concurrent writers for the same mentee queue up instead of deadlocking, and the second one
reads the first one's committed month before computing.
"""

from __future__ import annotations

import calendar
import uuid
import zoneinfo
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, cast

from django.db import IntegrityError, transaction
from django.db.models import F, Q, QuerySet, Window
from django.db.models.functions import RowNumber
from django.utils import timezone
from django.utils.translation import gettext as _

from config import events
from config.errors import ValidationError
from leads.models import Lead
from mentorados import figures
from mentorados.models import (
    FEEDBACK_RATING_FIELDS,
    FINISHED_STATUSES,
    EvolucaoFinanceira,
    Mentorado,
    MentoradoFeedback,
    MentoradoStatus,
)
from organizations.models import Membership, NotificationTipo, Organization, OrganizationNps, Role
from organizations.notifications import managers_of, notify
from organizations.services import NpsFigure, NpsSnapshot, organization_nps_update

# Who may be a mentee's mentor: mentors, and managers who mentor themselves.
MENTOR_ROLES = frozenset({Role.MENTOR, Role.ADMIN, Role.GESTOR})
# nota_geral at or below this raises a low_satisfaction notification.
LOW_SATISFACTION_MAX = 5
ENGAGEMENT_BATCH = 1000


def organization_today(organization: Organization, at: datetime | None = None) -> date:
    """The calendar date in the organization's time zone (default: now)."""
    moment = at or timezone.now()
    return timezone.localtime(moment, zoneinfo.ZoneInfo(organization.timezone)).date()


def eligible_mentors(organization: Organization | Any) -> QuerySet[Membership]:
    return Membership.objects.for_org(organization).filter(ativo=True, role__in=MENTOR_ROLES)


def validate_mentor(organization: Organization, mentor: Membership | None) -> None:
    """A mentor must be an active member of the same organization with an eligible role."""
    if mentor is None:
        return
    if not eligible_mentors(organization).filter(pk=mentor.pk).exists():
        raise ValidationError(
            details={
                "mentor_id": [
                    _(
                        "O mentor deve ser um membro ativo desta organização com papel mentor, "
                        "admin ou gestor."
                    )
                ]
            }
        )


def _apply_end_date(mentorado: Mentorado, *, entering_finished: bool, today: date) -> None:
    """A mentee that finishes or cancels without an explicit data_fim ends today.

    A planned data_fim in the future is moved back to the actual end; one already in the past
    is kept (the mentee ended then and is only now being marked).
    """
    if not entering_finished:
        return
    if mentorado.data_fim is None or mentorado.data_fim > today:
        mentorado.data_fim = max(today, mentorado.data_inicio)


@transaction.atomic
def mentorado_create(
    *, organization: Organization, actor: Membership | None, data: dict[str, Any]
) -> Mentorado:
    data = dict(data)
    today = organization_today(organization)
    data.setdefault("data_inicio", today)
    validate_mentor(organization, data.get("mentor"))
    mentorado = Mentorado(organization=organization, **data)
    _apply_end_date(
        mentorado,
        entering_finished=mentorado.status in FINISHED_STATUSES and "data_fim" not in data,
        today=today,
    )
    mentorado.save(force_insert=True)
    _publish_mentorado_created(mentorado)
    return mentorado


def _publish_mentorado_created(mentorado: Mentorado) -> None:
    events.publish(
        organization_id=mentorado.organization_id,
        event_type="mentorado.created",
        data={
            name: getattr(mentorado, name)
            for name in (
                "id",
                "lead_id",
                "mentor_id",
                "nome_completo",
                "email",
                "telefone",
                "programa",
                "data_inicio",
                "status",
                "created_at",
            )
        },
    )


@transaction.atomic
def mentorado_update(
    *, mentorado: Mentorado, actor: Membership | None, data: dict[str, Any]
) -> Mentorado:
    locked = (
        Mentorado.objects.select_for_update(no_key=True)
        .select_related("organization")
        .get(pk=mentorado.pk)
    )
    if "mentor" in data:
        validate_mentor(locked.organization, data["mentor"])
    previous_status = locked.status
    for field, value in data.items():
        setattr(locked, field, value)
    today = organization_today(locked.organization)
    was_finished = previous_status in FINISHED_STATUSES
    is_finished = locked.status in FINISHED_STATUSES
    _apply_end_date(
        locked,
        entering_finished=is_finished and not was_finished and "data_fim" not in data,
        today=today,
    )
    if (
        was_finished
        and not is_finished
        and "data_fim" not in data
        and locked.data_fim is not None
        and locked.data_fim <= today
    ):
        # Reactivated: the past end date was the cancellation/conclusion, no longer true.
        locked.data_fim = None
    if locked.data_fim is not None and locked.data_fim < locked.data_inicio:
        raise ValidationError(
            details={"data_fim": [_("A data de término não pode ser anterior à data de início.")]}
        )
    locked.save()
    return cast("Mentorado", locked)


@transaction.atomic
def mentorado_delete(*, mentorado: Mentorado, actor: Membership | None) -> None:
    mentorado.delete()


@transaction.atomic
def mentorado_from_lead(*, lead: Lead) -> tuple[Mentorado, bool]:
    """The mentee of a converted lead, created once: (mentorado, created).

    Repeated conversions (reopened and won again, the same signal twice) find the existing
    row; concurrent ones race on the unique `lead` column and the loser reads the winner's row.
    """
    existing = Mentorado.objects.filter(lead=lead).first()
    if existing is not None:
        return existing, False
    organization = lead.organization
    converted_at = lead.converted_at or timezone.now()
    mentorado = Mentorado(
        organization=organization,
        lead=lead,
        nome_completo=lead.nome_completo,
        email=lead.email,
        telefone=lead.telefone,
        data_inicio=organization_today(organization, converted_at),
        status=MentoradoStatus.ATIVO,
        faturamento_inicial=None,
    )
    try:
        with transaction.atomic():
            mentorado.save(force_insert=True)
    except IntegrityError:
        existing = Mentorado.objects.filter(lead=lead).first()
        if existing is None:
            raise
        return existing, False
    _publish_mentorado_created(mentorado)
    return mentorado, True


# --- figures ----------------------------------------------------------------------------------


def _month_rows(rows: Iterable[tuple[int, int, Any]]) -> list[figures.MonthRevenue]:
    return [figures.MonthRevenue(ano=a, mes=m, faturamento=f) for a, m, f in rows]


@transaction.atomic
def mentorado_refresh_figures(*, mentorado: Mentorado, today: date | None = None) -> Mentorado:
    """Recompute faturamento_atual, crescimento_percentual and engagement_score of one mentee."""
    locked = (
        Mentorado.objects.select_for_update(no_key=True)
        .select_related("organization")
        .get(pk=mentorado.pk)
    )
    today = today or organization_today(locked.organization)
    months = _month_rows(
        EvolucaoFinanceira.objects.filter(mentorado_id=locked.pk).values_list(
            "ano", "mes", "faturamento"
        )
    )
    # Only the latest feedback up to today matters: it carries the greatest date, so it alone
    # decides both "a feedback in the last 60 days" and "the latest nota_geral".
    latest = (
        MentoradoFeedback.objects.filter(mentorado_id=locked.pk, data_feedback__lte=today)
        .order_by("-data_feedback", "-created_at")
        .values_list("data_feedback", "nota_geral", "created_at")
        .first()
    )
    notes = [figures.FeedbackNote(*latest)] if latest else []
    values = {
        "faturamento_atual": figures.faturamento_atual(months),
        "crescimento_percentual": figures.crescimento_percentual(months),
        "engagement_score": figures.engagement_score(months, notes, today),
    }
    if any(getattr(locked, field) != value for field, value in values.items()):
        # .update() skips auto_now; delta sync needs the bump.
        Mentorado.objects.filter(pk=locked.pk).update(**values, updated_at=timezone.now())
    for field, value in values.items():
        setattr(mentorado, field, value)
    return mentorado


# --- financial evolution ----------------------------------------------------------------------


@transaction.atomic
def evolucao_upsert(
    *, mentorado: Mentorado, actor: Membership | None, data: dict[str, Any]
) -> tuple[EvolucaoFinanceira, bool]:
    """Creates the month (True) or updates the fields given of the existing month (False).

    INSERT ... ON CONFLICT DO NOTHING on the unique (mentorado, ano, mes), then the row that
    won is read back: if it carries our pre-generated id we created it, otherwise another
    request did (possibly a concurrent one, whose insert we waited for) and we update it.
    Exactly one row per month, whatever the interleaving.
    """
    data = dict(data)
    ano, mes = data.pop("ano"), data.pop("mes")
    candidate = EvolucaoFinanceira(
        id=uuid.uuid4(),
        organization_id=mentorado.organization_id,
        mentorado=mentorado,
        ano=ano,
        mes=mes,
        **data,
    )
    EvolucaoFinanceira.objects.bulk_create([candidate], ignore_conflicts=True)
    row = EvolucaoFinanceira.objects.select_for_update().get(
        mentorado_id=mentorado.pk, ano=ano, mes=mes
    )
    created = row.pk == candidate.pk
    if not created and data:
        for field, value in data.items():
            setattr(row, field, value)
        row.save(update_fields=[*data, "updated_at"])
    mentorado_refresh_figures(mentorado=mentorado)
    return row, created


@transaction.atomic
def evolucao_update(
    *, evolucao: EvolucaoFinanceira, actor: Membership | None, data: dict[str, Any]
) -> EvolucaoFinanceira:
    """Back-office edit of a month (which may move it to another, free, month)."""
    for field, value in data.items():
        setattr(evolucao, field, value)
    evolucao.save()
    mentorado_refresh_figures(mentorado=evolucao.mentorado)
    return evolucao


@transaction.atomic
def evolucao_delete(*, evolucao: EvolucaoFinanceira, actor: Membership | None) -> None:
    mentorado = evolucao.mentorado
    evolucao.delete()
    mentorado_refresh_figures(mentorado=mentorado)


# --- feedback ---------------------------------------------------------------------------------


@transaction.atomic
def feedback_create(
    *, mentorado: Mentorado, actor: Membership | None, data: dict[str, Any]
) -> MentoradoFeedback:
    """Records a feedback, refreshes the figures and flags low satisfaction."""
    organization = Organization.objects.get(pk=mentorado.organization_id)
    data = dict(data)
    data.setdefault("data_feedback", organization_today(organization))
    feedback = MentoradoFeedback(
        organization=organization, mentorado=mentorado, created_by=actor, **data
    )
    feedback.save(force_insert=True)
    events.publish(
        organization_id=organization.pk,
        event_type="feedback.created",
        data={
            name: getattr(feedback, name)
            for name in (
                "id",
                "mentorado_id",
                *FEEDBACK_RATING_FIELDS,
                "created_at",
            )
        },
    )
    mentorado_refresh_figures(mentorado=mentorado)
    organization_nps_refresh(organization=organization, months=[_month_of(feedback.data_feedback)])
    if feedback.nota_geral <= LOW_SATISFACTION_MAX:
        _notify_low_satisfaction(organization, mentorado, feedback)
    return feedback


def _notify_low_satisfaction(
    organization: Organization, mentorado: Mentorado, feedback: MentoradoFeedback
) -> None:
    mentor = (
        Membership.objects.filter(pk=mentorado.mentor_id).first() if mentorado.mentor_id else None
    )
    notify(
        organization=organization,
        recipients=[mentor, *managers_of(organization)],
        tipo=NotificationTipo.LOW_SATISFACTION,
        titulo=_("Satisfação baixa: %(nome)s deu nota %(nota)d")
        % {"nome": mentorado.nome_completo, "nota": feedback.nota_geral},
        payload={
            "mentorado_id": str(mentorado.pk),
            "feedback_id": str(feedback.pk),
            "nota_geral": feedback.nota_geral,
            "nota_nps": feedback.nota_nps,
        },
        # One notification per feedback and recipient even if this ever runs twice.
        chave=f"low_satisfaction:{feedback.pk}",
    )


@transaction.atomic
def feedback_update(
    *, feedback: MentoradoFeedback, actor: Membership | None, data: dict[str, Any]
) -> MentoradoFeedback:
    """Back-office correction of a feedback (no new notification: it was raised on creation)."""
    before = _month_of(feedback.data_feedback)
    for field, value in data.items():
        setattr(feedback, field, value)
    feedback.save()
    mentorado_refresh_figures(mentorado=feedback.mentorado)
    organization_nps_refresh(
        organization=feedback.mentorado.organization,
        months=[before, _month_of(feedback.data_feedback)],
    )
    return feedback


@transaction.atomic
def feedback_delete(*, feedback: MentoradoFeedback, actor: Membership | None) -> None:
    mentorado = feedback.mentorado
    month = _month_of(feedback.data_feedback)
    feedback.delete()
    mentorado_refresh_figures(mentorado=mentorado)
    organization_nps_refresh(organization=mentorado.organization, months=[month])


# --- organization NPS -------------------------------------------------------------------------

# The organization's current NPS covers the feedbacks dated in the last 90 days, today included
# (organization time zone).
NPS_WINDOW_DAYS = 90


def _month_of(day: date | Any) -> tuple[int, int]:
    if isinstance(day, str):
        day = date.fromisoformat(day)
    return (day.year, day.month)


def _nps_figure(counts: dict[str, Any]) -> NpsFigure:
    return NpsFigure(
        nps=figures.nps_from_counts(
            promotores=counts["promotores"], detratores=counts["detratores"], total=counts["total"]
        ),
        respostas=counts["total"],
        promotores=counts["promotores"],
        detratores=counts["detratores"],
    )


def organization_nps_refresh(
    *,
    organization: Organization,
    months: Iterable[tuple[int, int]] = (),
    today: date | None = None,
) -> OrganizationNps:
    """Recompute the organization's 90-day NPS and the given months of its series.

    Called in the transaction of every feedback write, and daily for every organization (so the
    90-day figure ages even without new feedback). Counts come from the dashboard's own
    selector, so the stored figure equals the dashboard's for the same window.
    """
    from mentorados.selectors import satisfaction_between

    def compute() -> NpsSnapshot:
        end = today or organization_today(organization)
        start = end - timedelta(days=NPS_WINDOW_DAYS - 1)
        meses = {}
        for ano, mes in sorted(set(months)):
            first = date(ano, mes, 1)
            last = date(ano, mes, calendar.monthrange(ano, mes)[1])
            meses[(ano, mes)] = _nps_figure(
                satisfaction_between(organization=organization, start=first, end=last)
            )
        atual = _nps_figure(satisfaction_between(organization=organization, start=start, end=end))
        return NpsSnapshot(inicio=start, fim=end, atual=atual, meses=meses)

    return organization_nps_update(organization=organization, compute=compute)


# --- daily engagement -------------------------------------------------------------------------


@dataclass
class EngagementRun:
    """Outcome of one organization's daily engagement recalculation."""

    checked: int = 0
    changed: int = 0


def _month_not_after(index: int) -> Q:
    ano, mes = figures.month_of_index(index)
    return Q(ano__lt=ano) | Q(ano=ano, mes__lte=mes)


def _closed_months_q(today: date) -> Q:
    condition = Q()
    for ano, mes in figures.last_closed_months(today):
        condition |= Q(ano=ano, mes=mes)
    return condition


def _engagement_batch(ids: list[uuid.UUID], today: date) -> dict[uuid.UUID, int]:
    """Engagement of a batch of mentees in three queries, whatever the batch size.

    engagement_score only looks at: which of the last 3 closed months are reported, the three
    latest reported months, and the latest feedback. Those rows alone are loaded, and the
    pure function gives the same result as on the full history.
    """
    current = figures.month_index(today.year, today.month)
    months: dict[uuid.UUID, dict[tuple[int, int], Any]] = {pk: {} for pk in ids}
    latest_three = (
        EvolucaoFinanceira.objects.filter(mentorado_id__in=ids)
        .filter(_month_not_after(current))
        .annotate(
            position=Window(
                RowNumber(),
                partition_by=[F("mentorado_id")],
                order_by=[F("ano").desc(), F("mes").desc()],
            )
        )
        .filter(position__lte=figures.GROWTH_MONTHS)
        .values_list("mentorado_id", "ano", "mes", "faturamento")
    )
    closed = (
        EvolucaoFinanceira.objects.filter(mentorado_id__in=ids)
        .filter(_closed_months_q(today))
        .values_list("mentorado_id", "ano", "mes", "faturamento")
    )
    for rows in (latest_three, closed):
        for mentorado_id, ano, mes, faturamento in rows:
            months[mentorado_id][(ano, mes)] = faturamento
    notes: dict[uuid.UUID, list[figures.FeedbackNote]] = {pk: [] for pk in ids}
    latest_feedback = (
        MentoradoFeedback.objects.filter(mentorado_id__in=ids, data_feedback__lte=today)
        .annotate(
            position=Window(
                RowNumber(),
                partition_by=[F("mentorado_id")],
                order_by=[F("data_feedback").desc(), F("created_at").desc()],
            )
        )
        .filter(position=1)
        .values_list("mentorado_id", "data_feedback", "nota_geral", "created_at")
    )
    for mentorado_id, data_feedback, nota_geral, created_at in latest_feedback:
        notes[mentorado_id].append(figures.FeedbackNote(data_feedback, nota_geral, created_at))
    return {
        pk: figures.engagement_score(
            [figures.MonthRevenue(a, m, f) for (a, m), f in months[pk].items()], notes[pk], today
        )
        for pk in ids
    }


def engagement_recalculate(
    *, organization: Organization, today: date | None = None
) -> EngagementRun:
    """Recompute engagement_score of every active mentee of the organization (daily decay).

    Batches of ENGAGEMENT_BATCH mentees, each in its own short transaction that first locks the
    batch's rows (in id order, so it cannot deadlock with single-mentee writers), then reads and
    bulk-updates only the rows whose score changed. Running it twice changes nothing.
    """
    today = today or organization_today(organization)
    run = EngagementRun()
    last_id: uuid.UUID | None = None
    while True:
        with transaction.atomic():
            queryset = Mentorado.objects.for_org(organization).filter(status=MentoradoStatus.ATIVO)
            if last_id is not None:
                queryset = queryset.filter(pk__gt=last_id)
            batch = list(
                queryset.select_for_update(no_key=True)
                .order_by("pk")
                .values_list("pk", "engagement_score")[:ENGAGEMENT_BATCH]
            )
            if not batch:
                return run
            ids = [pk for pk, _score in batch]
            scores = _engagement_batch(ids, today)
            # One UPDATE per distinct new score (at most 101) rather than bulk_update's CASE
            # over every row, which costs far more to build and to evaluate.
            by_score: dict[int, list[uuid.UUID]] = {}
            for pk, score in batch:
                if scores[pk] != score:
                    by_score.setdefault(scores[pk], []).append(pk)
            for score, pks in by_score.items():
                Mentorado.objects.filter(pk__in=pks).update(
                    engagement_score=score, updated_at=timezone.now()
                )
            run.checked += len(batch)
            run.changed += sum(len(pks) for pks in by_score.values())
            last_id = ids[-1]
