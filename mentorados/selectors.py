"""Reads for mentees: list querysets, the month list with growth, and the mentee dashboard."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, cast

from django.db.models import (
    Avg,
    Count,
    ExpressionWrapper,
    F,
    IntegerField,
    Q,
    QuerySet,
    Sum,
    Window,
)
from django.db.models.functions import ExtractMonth, ExtractYear, Lag
from django.utils import timezone

from config import search
from mentorados import figures, rollups
from mentorados.models import (
    EvolucaoFinanceira,
    Mentorado,
    MentoradoFeedback,
    MentoradoStatus,
)
from mentorados.services import organization_today
from organizations.models import Organization

DEFAULT_PERIOD = 12
MAX_PERIOD = 36
ONE_DECIMAL = Decimal("0.1")
# `search` (API and admin): accents and case ignored; the phone by its digits. The
# mentorado_org_search_fold index holds exactly this expression (same fields, same order).
SEARCH_TEXT_FIELDS = ("nome_completo", "email", "programa")
SEARCH_DIGITS_FIELD = "telefone"


def mentorado_search(queryset: QuerySet[Mentorado], value: str) -> QuerySet[Mentorado]:
    return search.search(
        queryset, value, text_fields=SEARCH_TEXT_FIELDS, digits_field=SEARCH_DIGITS_FIELD
    )


def mentorado_list_queryset(*, organization: Organization | Any) -> QuerySet[Mentorado]:
    return Mentorado.objects.for_org(organization).select_related("mentor")


def evolucao_list_queryset(*, mentorado: Mentorado) -> QuerySet[EvolucaoFinanceira]:
    """The mentee's months with the previous reported month's index and faturamento.

    Both come from LAG() over the mentee's months in chronological order, computed by the
    database before ordering/pagination, so the first month of a page still sees the last one
    of the previous page. `growth_of(row)` turns them into crescimento_mensal.
    """
    chronological = [F("ano").asc(), F("mes").asc()]
    index = ExpressionWrapper(F("ano") * 12 + F("mes") - 1, output_field=IntegerField())
    return cast(
        "QuerySet[EvolucaoFinanceira]",
        EvolucaoFinanceira.objects.filter(mentorado_id=mentorado.pk).annotate(
            previous_faturamento=Window(Lag("faturamento"), order_by=chronological),
            previous_index=Window(Lag(index), order_by=chronological),
        ),
    )


def growth_of(row: EvolucaoFinanceira) -> Decimal | None:
    """crescimento_mensal of a row from `evolucao_list_queryset` (figures.percent_change)."""
    previous_index = getattr(row, "previous_index", None)
    if previous_index is None or previous_index != figures.month_index(row.ano, row.mes) - 1:
        return None
    return figures.percent_change(row.faturamento, getattr(row, "previous_faturamento", None))


def previous_month_faturamento(row: EvolucaoFinanceira) -> Decimal | None:
    ano, mes = figures.month_of_index(figures.month_index(row.ano, row.mes) - 1)
    value: Decimal | None = (
        EvolucaoFinanceira.objects.filter(mentorado_id=row.mentorado_id, ano=ano, mes=mes)
        .values_list("faturamento", flat=True)
        .first()
    )
    return value


# --- dashboard --------------------------------------------------------------------------------


def satisfaction_between(
    *, organization: Organization | Any, start: date, end: date
) -> dict[str, Any]:
    """Feedback counts over data_feedback in [start, end]: the one definition of the NPS inputs.

    Used by the dashboard's `satisfaction` block and by the organization's stored NPS
    (services.organization_nps_refresh), so both give the same figure for the same window.
    """
    return (
        MentoradoFeedback.objects.for_org(organization)
        .filter(data_feedback__gte=start, data_feedback__lte=end)
        .aggregate(
            total=Count("pk"),
            promotores=Count("pk", filter=Q(nota_nps__gte=figures.PROMOTER_MIN)),
            detratores=Count("pk", filter=Q(nota_nps__lte=figures.DETRACTOR_MAX)),
            nota_geral_media=Avg("nota_geral"),
        )
    )


@dataclass(frozen=True)
class Period:
    """`months` calendar months ending with the current one (organization time zone).

    period=1 is the current month; period=12 on 2026-03-15 is 2025-04-01 .. 2026-03-15.
    """

    months: int
    today: date

    @property
    def last_index(self) -> int:
        return figures.month_index(self.today.year, self.today.month)

    @property
    def first_index(self) -> int:
        return self.last_index - self.months + 1

    @property
    def start(self) -> date:
        ano, mes = figures.month_of_index(self.first_index)
        return date(ano, mes, 1)

    def month_filter(self) -> Q:
        first_ano, first_mes = figures.month_of_index(self.first_index)
        last_ano, last_mes = figures.month_of_index(self.last_index)
        after_start = Q(ano__gt=first_ano) | Q(ano=first_ano, mes__gte=first_mes)
        before_end = Q(ano__lt=last_ano) | Q(ano=last_ano, mes__lte=last_mes)
        return after_start & before_end


def _one_decimal(value: Any) -> float | None:
    if value is None:
        return None
    return float(Decimal(str(value)).quantize(ONE_DECIMAL, rounding=ROUND_HALF_UP))


def _money(value: Any) -> str | None:
    if value is None:
        return None
    return str(Decimal(str(value)).quantize(figures.CENT, rounding=ROUND_HALF_UP))


def _percent(part: int, whole: int) -> float:
    if not whole:
        return 0.0
    return float(
        (Decimal(part) * figures.HUNDRED / Decimal(whole)).quantize(
            ONE_DECIMAL, rounding=ROUND_HALF_UP
        )
    )


def _use_rollups(from_rollups: bool | None) -> bool:
    return rollups.available() if from_rollups is None else from_rollups


def mentorado_dashboard(
    *,
    organization: Organization,
    period: int = DEFAULT_PERIOD,
    today: date | None = None,
    from_rollups: bool | None = None,
) -> dict[str, Any]:
    """The mentee dashboard of API.md, one selector a section.

    Period: `period` calendar months ending with the current month in the organization's time
    zone (see `Period`); its first day is `start`, its last day is today. Each section's
    figures are defined on its selector. On PostgreSQL the figures are read from the rollups
    kept by triggers in every writing transaction (mentorados/rollups.py: one statement whose
    cost does not grow with the data), elsewhere (or with from_rollups=False, the reference)
    from three aggregate queries over the raw rows: the same figures either way.
    `atualizado_em` is the moment the figures are exact as of (the read: nothing lags).
    """
    today = today or organization_today(organization)
    window = Period(months=period, today=today)
    start = window.start
    atualizado_em = timezone.now()
    reported: Iterable[dict[str, Any]]
    if _use_rollups(from_rollups):
        read = rollups.dashboard_figures(
            organization.pk,
            start=start,
            today=today,
            first_month=figures.month_of_index(window.first_index),
            last_month=figures.month_of_index(window.last_index),
        )
        mentees, answers, reported = read.mentees, read.answers, read.months
    else:
        mentees = _mentee_aggregates(organization, start=start, today=today)
        answers = satisfaction_between(organization=organization, start=start, end=today)
        reported = _reported_months(organization, window)
    return {
        "period": {"months": period, "start": start.isoformat(), "end": today.isoformat()},
        "atualizado_em": atualizado_em,
        "overview": dashboard_overview(mentees),
        "growth": dashboard_growth(mentees, window=window, reported=reported),
        "engagement": dashboard_engagement(mentees),
        "satisfaction": dashboard_satisfaction(answers),
    }


def _mentee_aggregates(organization: Organization, *, start: date, today: date) -> dict[str, Any]:
    """One aggregate query over the organization's mentees for overview, growth, engagement."""
    ativo = Q(status=MentoradoStatus.ATIVO)
    bands = {
        f"band_{low}": Count(
            "pk", filter=ativo & Q(engagement_score__gte=low, engagement_score__lte=high)
        )
        for low, high in figures.ENGAGEMENT_BANDS
    }
    return Mentorado.objects.for_org(organization).aggregate(
        total=Count("pk"),
        ativos=Count("pk", filter=ativo),
        pausados=Count("pk", filter=Q(status=MentoradoStatus.PAUSADO)),
        concluidos=Count("pk", filter=Q(status=MentoradoStatus.CONCLUIDO)),
        cancelados=Count("pk", filter=Q(status=MentoradoStatus.CANCELADO)),
        novos=Count("pk", filter=Q(data_inicio__gte=start, data_inicio__lte=today)),
        expostos=Count(
            "pk",
            filter=Q(data_inicio__lte=today) & (Q(data_fim__isnull=True) | Q(data_fim__gte=start)),
        ),
        churned=Count(
            "pk",
            filter=Q(status=MentoradoStatus.CANCELADO, data_fim__gte=start, data_fim__lte=today),
        ),
        faturamento_total_atual=Sum("faturamento_atual", filter=ativo),
        crescimento_medio=Avg("crescimento_percentual", filter=ativo),
        engagement_media=Avg("engagement_score", filter=ativo),
        **bands,
    )


def dashboard_overview(mentees: dict[str, Any]) -> dict[str, Any]:
    """All mentees of the organization, whatever their status.

    - total: every mentee; ativos/pausados/concluidos/cancelados: by current status.
    - novos_no_periodo: mentees whose data_inicio is within [start, today].
    - taxa_churn: cancelled in the period / exposed in the period x 100, one decimal, 0 when
      nobody was exposed. Cancelled in the period: status cancelado with data_fim within
      [start, today] (the services stamp data_fim when a mentee is cancelled). Exposed: mentees
      in the programme at some moment of the period, i.e. data_inicio <= today and (no
      data_fim or data_fim >= start). Every cancelled-in-period mentee is exposed, so the rate
      is within 0-100.
    """
    return {
        "total": mentees["total"],
        "ativos": mentees["ativos"],
        "pausados": mentees["pausados"],
        "concluidos": mentees["concluidos"],
        "cancelados": mentees["cancelados"],
        "novos_no_periodo": mentees["novos"],
        "taxa_churn": _percent(mentees["churned"], mentees["expostos"]),
    }


def dashboard_growth(
    mentees: dict[str, Any], *, window: Period, reported: Iterable[dict[str, Any]]
) -> dict[str, Any]:
    """Revenue growth.

    - crescimento_medio_12m: mean crescimento_percentual (the 12-month figure, independent of
      `period`) over active mentees that have one; one decimal; null when none has.
    - faturamento_total_atual: sum of faturamento_atual over active mentees ("0.00" if none).
    - meses: every month of the period, oldest first, over the reports of all mentees of the
      organization: faturamento_total (sum, "0.00" when nobody reported), faturamento_medio
      (mean per reporting mentee, 2 places; null when nobody reported), mentorados_reportando.
      `reported` has the period's months with reports (`_reported_months`).
    """
    return {
        "crescimento_medio_12m": _one_decimal(mentees["crescimento_medio"]),
        "faturamento_total_atual": _money(mentees["faturamento_total_atual"] or 0),
        "meses": _monthly_revenue(window, reported),
    }


def _reported_months(organization: Organization, window: Period) -> QuerySet[Any]:
    """The period's months with reports: (ano, mes), sum, mean and number of reports."""
    rows: QuerySet[Any] = (
        EvolucaoFinanceira.objects.for_org(organization)
        .filter(window.month_filter())
        .order_by()
        .values("ano", "mes")
        .annotate(
            faturamento_total=Sum("faturamento"),
            faturamento_medio=Avg("faturamento"),
            mentorados_reportando=Count("mentorado_id"),
        )
    )
    return rows


def _monthly_revenue(window: Period, rows: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    reported = {(row["ano"], row["mes"]): row for row in rows}
    meses = []
    for index in range(window.first_index, window.last_index + 1):
        ano, mes = figures.month_of_index(index)
        row = reported.get((ano, mes))
        meses.append(
            {
                "ano": ano,
                "mes": mes,
                "faturamento_total": _money(row["faturamento_total"]) if row else "0.00",
                "faturamento_medio": _money(row["faturamento_medio"]) if row else None,
                "mentorados_reportando": row["mentorados_reportando"] if row else 0,
            }
        )
    return meses


def dashboard_engagement(mentees: dict[str, Any]) -> dict[str, Any]:
    """Active mentees (the daily job keeps only their scores current).

    - media: mean engagement_score, one decimal; null with no active mentee.
    - faixas: counts per inclusive band 0-24, 25-49, 50-74, 75-100 (always the four bands).
    """
    return {
        "media": _one_decimal(mentees["engagement_media"]),
        "faixas": [
            {"faixa": f"{low}-{high}", "count": mentees[f"band_{low}"]}
            for low, high in figures.ENGAGEMENT_BANDS
        ],
    }


def dashboard_satisfaction(answers: dict[str, Any]) -> dict[str, Any]:
    """Feedbacks with data_feedback within [start, today] (`satisfaction_between`).

    - promotores (nota_nps 9-10), neutros (7-8), detratores (0-6), total_respostas;
    - nps = figures.nps_from_counts of those counts (null with no answer);
    - nota_geral_media: mean nota_geral, one decimal; null with no answer.
    """
    total_answers = answers["total"]
    return {
        "nps": figures.nps_from_counts(
            promotores=answers["promotores"],
            detratores=answers["detratores"],
            total=total_answers,
        ),
        "promotores": answers["promotores"],
        "neutros": total_answers - answers["promotores"] - answers["detratores"],
        "detratores": answers["detratores"],
        "total_respostas": total_answers,
        "nota_geral_media": _one_decimal(answers["nota_geral_media"]),
    }


def nps_by_month(
    *,
    organization: Organization,
    period: int = DEFAULT_PERIOD,
    today: date | None = None,
    from_rollups: bool | None = None,
) -> list[dict[str, Any]]:
    """The dashboard's satisfaction figures month by month, over the same `Period` and the same
    feedbacks (data_feedback within [start, today]): every month of the period, oldest first,
    with `nps` (null for a month without answers), `promotores`, `detratores` and `respostas`.
    The months' answers add up to the dashboard's `total_respostas`. One grouped query (over
    the feedback days rollup on PostgreSQL, like the dashboard)."""
    today = today or organization_today(organization)
    window = Period(months=period, today=today)
    grouped: Iterable[dict[str, Any]] = (
        rollups.nps_months(organization.pk, start=window.start, end=today)
        if _use_rollups(from_rollups)
        else _answers_by_month(organization, start=window.start, end=today)
    )
    rows = {(row["ano"], row["mes"]): row for row in grouped}
    months = []
    for index in range(window.first_index, window.last_index + 1):
        ano, mes = figures.month_of_index(index)
        row = rows.get((ano, mes))
        total = row["total"] if row else 0
        promotores = row["promotores"] if row else 0
        detratores = row["detratores"] if row else 0
        months.append(
            {
                "ano": ano,
                "mes": mes,
                "nps": figures.nps_from_counts(
                    promotores=promotores, detratores=detratores, total=total
                ),
                "promotores": promotores,
                "detratores": detratores,
                "respostas": total,
            }
        )
    return months


def _answers_by_month(organization: Organization | Any, *, start: date, end: date) -> QuerySet[Any]:
    """Answers, promoters and detractors per (ano, mes) of data_feedback within [start, end]."""
    rows: QuerySet[Any] = (
        MentoradoFeedback.objects.for_org(organization)
        .filter(data_feedback__gte=start, data_feedback__lte=end)
        .annotate(ano=ExtractYear("data_feedback"), mes=ExtractMonth("data_feedback"))
        .order_by()
        .values("ano", "mes")
        .annotate(
            total=Count("pk"),
            promotores=Count("pk", filter=Q(nota_nps__gte=figures.PROMOTER_MIN)),
            detratores=Count("pk", filter=Q(nota_nps__lte=figures.DETRACTOR_MAX)),
        )
    )
    return rows
