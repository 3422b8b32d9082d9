"""Sales dashboard (`GET /api/v1/leads/performance/`): selectors computed in the database.

Every figure is an aggregate over one *scope* and one *window*:

- The window is `[end - period days, end]`, `end` being the request's "now" (`period` 1-365).
- The scope is the organization's leads, narrowed to one member's leads when a closer is
  chosen (`closer_id`: leads whose closer is that member) or when the requester is a seller
  (a closer sees the leads where they are the closer, an SDR those where they are the SDR).
  Assignment is the lead's *current* closer/SDR: reassigning a lead moves its history along.

Three sets of leads recur below:

- **cohort**: leads of the scope created in the window (`created_at` in the window);
- **converted**: leads of the scope with `converted_at` in the window (status `convertido`;
  reopening a lead clears `converted_at`), whenever they were created;
- **entries of a stage**: leads of the scope with a move into that stage recorded in
  `LeadStatusChange` inside the window.

Interactions are counted by their author (`LeadInteraction.closer`, "the member who
interacted"): a member's figures count the interactions they logged.

Percentages have one decimal and are 0 (never an error) when their denominator is 0; means
over an empty set are null. Money is a Decimal (rendered as a string with 2 places).

No Python loop runs over leads: three aggregate queries compute everything (leads, funnel flow,
top closers with the interaction total; an SDR's total is a fourth), each served by
organization-first indexes (migration
`0004_dashboard_indexes`, chosen with EXPLAIN ANALYZE on 100,000 leads: `bench/dashboard.py`).
"""

from __future__ import annotations

import uuid
import zoneinfo
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, TypedDict

from django.db import DEFAULT_DB_ALIAS, connection, models, router, transaction
from django.db.models import Avg, Count, DurationField, ExpressionWrapper, F, Q
from django.db.models import Sum as SumAgg
from django.db.models.functions import TruncWeek
from django.utils import timezone

from config.transaction_settings import set_local
from leads import rollups
from leads.models import (
    CLOSED_STATUSES,
    FLOW_STAGES,
    PIPELINE_ORDER,
    QUALIFIED_OR_BEYOND,
    STAGE_NUMBER,
    Lead,
    LeadInteraction,
    LeadStatus,
    LeadStatusChange,
    Temperatura,
)
from organizations.models import Membership, Role

MIN_PERIOD_DAYS = 1
MAX_PERIOD_DAYS = 365
DEFAULT_PERIOD_DAYS = 30
TOP_CLOSERS_LIMIT = 10

# Stages with no next stage: advancement and time-in-stage are null for them.
TERMINAL_STAGES = CLOSED_STATUSES

_UUID_FIELD = models.UUIDField()
_DATETIME_FIELD = models.DateTimeField()

ONE_DECIMAL = Decimal("0.1")
CENTS = Decimal("0.01")
SECONDS_PER_DAY = Decimal(86400)


# --- pure formulas ---------------------------------------------------------------------------


def percent(part: int | Decimal, whole: int | Decimal) -> float:
    """`part / whole x 100` with one decimal (half up); 0.0 when `whole` is 0."""
    if not whole:
        return 0.0
    return float((Decimal(part) * 100 / Decimal(whole)).quantize(ONE_DECIMAL, ROUND_HALF_UP))


def one_decimal(value: Decimal | float | int | None) -> float | None:
    """A mean rounded to one decimal (half up); None stays None (empty set)."""
    if value is None:
        return None
    return float(Decimal(str(value)).quantize(ONE_DECIMAL, ROUND_HALF_UP))


def money(value: Decimal | None) -> Decimal | None:
    """Money rounded to cents (half up); None stays None."""
    if value is None:
        return None
    return Decimal(value).quantize(CENTS, ROUND_HALF_UP)


def days(value: timedelta | Decimal | float | None) -> float | None:
    """A duration (timedelta, or seconds) in days with one decimal; None stays None."""
    if value is None:
        return None
    seconds = (
        Decimal(str(value.total_seconds())) if isinstance(value, timedelta) else Decimal(value)
    )
    return one_decimal(seconds / SECONDS_PER_DAY)


# --- scope -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class DashboardScope:
    """Whose figures, over which window."""

    organization_id: uuid.UUID
    start: datetime
    end: datetime
    period_days: int
    closer_id: uuid.UUID | None = None
    sdr_id: uuid.UUID | None = None

    def lead_q(self, prefix: str = "") -> Q:
        """The scope as a lead filter (`prefix` reaches the lead from a related model)."""
        condition = Q(**{f"{prefix}organization_id": self.organization_id})
        if self.closer_id is not None:
            condition &= Q(**{f"{prefix}closer_id": self.closer_id})
        if self.sdr_id is not None:
            condition &= Q(**{f"{prefix}sdr_id": self.sdr_id})
        return condition

    def lead_sql(self, alias: str) -> tuple[str, list[Any]]:
        """The member narrowing as SQL on the `leads` table aliased `alias` (no org part)."""
        parts: list[str] = []
        params: list[Any] = []
        if self.closer_id is not None:
            parts.append(f"{alias}.closer_id = %s")
            params.append(self.closer_id)
        if self.sdr_id is not None:
            parts.append(f"{alias}.sdr_id = %s")
            params.append(self.sdr_id)
        return "".join(f" AND {part}" for part in parts), params

    @property
    def narrowed(self) -> bool:
        return self.closer_id is not None or self.sdr_id is not None


def dashboard_scope(
    *,
    membership: Membership,
    period_days: int = DEFAULT_PERIOD_DAYS,
    closer_id: uuid.UUID | None = None,
    now: datetime | None = None,
) -> DashboardScope:
    """The scope a member may see: managers choose (or not) a closer; sellers see their own.

    A closer's `closer_id` is forced to themselves; an SDR's figures are those of the leads
    where they are the SDR (any `closer_id` they pass is ignored). The caller validates that a
    manager's `closer_id` belongs to the organization.
    """
    if not MIN_PERIOD_DAYS <= period_days <= MAX_PERIOD_DAYS:
        raise ValueError(f"period_days must be within 1-365, got {period_days}")
    end = now or timezone.now()
    sdr_id: uuid.UUID | None = None
    if membership.role == Role.CLOSER:
        closer_id = membership.pk
    elif membership.role == Role.SDR:
        closer_id, sdr_id = None, membership.pk
    elif membership.role not in (Role.ADMIN, Role.GESTOR):
        raise PermissionError("role without access to the sales dashboard")
    return DashboardScope(
        organization_id=membership.organization_id,
        start=end - timedelta(days=period_days),
        end=end,
        period_days=period_days,
        closer_id=closer_id,
        sdr_id=sdr_id,
    )


# --- figures ---------------------------------------------------------------------------------


class Metrics(TypedDict):
    total_leads: int
    leads_qualificados: int
    leads_convertidos: int
    taxa_conversao: float
    valor_total_convertido: Decimal
    ticket_medio: Decimal | None
    tempo_medio_conversao_dias: float | None
    total_interacoes: int
    leads_quentes: int
    leads_mornos: int
    leads_frios: int
    score_medio: float | None


class FunnelStage(TypedDict):
    status: str
    count: int
    percentual: float
    entraram: int
    avancaram: int
    taxa_avanco: float | None
    tempo_medio_dias: float | None


class CloserFigures(TypedDict):
    closer_id: uuid.UUID
    nome_completo: str
    total_leads: int
    convertidos: int
    taxa_conversao: float
    valor_convertido: Decimal
    total_interacoes: int


class SalesDashboard(TypedDict):
    metrics: Metrics
    funnel: list[FunnelStage]
    topClosers: list[CloserFigures]
    atualizado_em: datetime


def _created(scope: DashboardScope) -> Q:
    return Q(created_at__gte=scope.start, created_at__lte=scope.end)


def _converted(scope: DashboardScope) -> Q:
    return Q(
        status=LeadStatus.CONVERTIDO,
        converted_at__gte=scope.start,
        converted_at__lte=scope.end,
    )


def _moved_into(scope: DashboardScope, stages: Any) -> Q:
    """Leads with a recorded move into one of `stages` inside the window."""
    moves = LeadStatusChange.objects.filter(
        organization_id=scope.organization_id,
        to_status__in=list(stages),
        changed_at__gte=scope.start,
        changed_at__lte=scope.end,
    ).values("lead_id")
    return Q(pk__in=moves)


def _reached_qualified(scope: DashboardScope) -> Q:
    # A cohort lead's moves all happen after its creation, hence inside the window: the
    # subquery is one range scan (hashed once), not a lookup per lead.
    return Q(status__in=QUALIFIED_OR_BEYOND) | _moved_into(scope, QUALIFIED_OR_BEYOND)


# The sets behind each figure, as lead filters (the back-office painel links every number to
# the admin list of exactly these leads; `leads.admin_painel.PainelSetFilter`).


def cohort_q(scope: DashboardScope) -> Q:
    """Leads of the scope created in the window (`total_leads`)."""
    return scope.lead_q() & _created(scope)


def converted_q(scope: DashboardScope) -> Q:
    """Leads of the scope converted in the window (`leads_convertidos`)."""
    return scope.lead_q() & _converted(scope)


def qualified_q(scope: DashboardScope) -> Q:
    """Cohort leads that reached qualificado or later (`leads_qualificados`)."""
    return cohort_q(scope) & _reached_qualified(scope)


def entered_q(scope: DashboardScope, stage: str) -> Q:
    """Leads of the scope that moved into `stage` in the window (the funnel's `entraram`)."""
    return scope.lead_q() & _moved_into(scope, [stage])


def _lead_aggregates(scope: DashboardScope) -> dict[str, Any]:
    """One pass over the cohort and the converted set: the metrics and the funnel counts."""
    created, converted = _created(scope), _converted(scope)
    reached_qualified = _reached_qualified(scope)
    cycle = ExpressionWrapper(F("converted_at") - F("created_at"), output_field=DurationField())
    by_status = {
        f"status_{status}": Count("pk", filter=created & Q(status=status))
        for status in PIPELINE_ORDER
    }
    return (
        Lead.objects.filter(scope.lead_q())
        .filter(created | converted)
        .aggregate(
            total_leads=Count("pk", filter=created),
            leads_qualificados=Count("pk", filter=created & reached_qualified),
            leads_convertidos=Count("pk", filter=converted),
            valor_total_convertido=SumAgg("valor_fechado", filter=converted),
            ticket_medio=Avg("valor_fechado", filter=converted),
            tempo_medio_conversao=Avg(cycle, filter=converted),
            leads_quentes=Count("pk", filter=created & Q(temperatura=Temperatura.QUENTE)),
            leads_mornos=Count("pk", filter=created & Q(temperatura=Temperatura.MORNO)),
            leads_frios=Count("pk", filter=created & Q(temperatura=Temperatura.FRIO)),
            score_medio=Avg("lead_score", filter=created),
            **by_status,
        )
    )


def _interaction_count(scope: DashboardScope) -> int:
    member = scope.closer_id or scope.sdr_id
    return LeadInteraction.objects.filter(
        Q(closer_id=member) if member is not None else Q(),
        organization_id=scope.organization_id,
        data_interacao__gte=scope.start,
        data_interacao__lte=scope.end,
    ).count()


def dashboard_metrics(
    scope: DashboardScope,
    leads: dict[str, Any] | None = None,
    interactions: int | None = None,
) -> Metrics:
    """The `metrics` object. Definitions (cohort/converted as in the module docstring):

    - total_leads: size of the cohort.
    - leads_qualificados: cohort leads that reached `qualificado` or a later stage of the
      forward path at any time (current status qualificado/agendado/negociacao/convertido, or
      a recorded move into one of them, so a lead lost after qualification still counts).
    - leads_convertidos: size of the converted set (includes leads created before the window).
    - taxa_conversao: leads_convertidos / total_leads x 100, one decimal, 0 when the cohort is
      empty. Because conversions are counted by conversion date and the cohort by creation
      date, it can exceed 100 in a window with few new leads (API.md's formula, kept as is).
    - valor_total_convertido: sum of valor_fechado over the converted set ("0.00" when none).
    - ticket_medio: mean valor_fechado over the converted leads that have one; null when none.
    - tempo_medio_conversao_dias: mean of converted_at - created_at over the converted set, in
      days, one decimal; null when none.
    - total_interacoes: interactions with data_interacao in the window: all of the
      organization's, or for one member (closer_id, a closer, an SDR) those the member logged.
    - leads_quentes / leads_mornos / leads_frios: cohort leads by *current* temperatura
      (they add up to total_leads).
    - score_medio: mean current lead_score over the cohort, one decimal; null when empty.
    """
    row = leads if leads is not None else _lead_aggregates(scope)
    return Metrics(
        total_leads=row["total_leads"],
        leads_qualificados=row["leads_qualificados"],
        leads_convertidos=row["leads_convertidos"],
        taxa_conversao=percent(row["leads_convertidos"], row["total_leads"]),
        valor_total_convertido=money(row["valor_total_convertido"]) or Decimal("0.00"),
        ticket_medio=money(row["ticket_medio"]),
        tempo_medio_conversao_dias=days(row["tempo_medio_conversao"]),
        total_interacoes=_interaction_count(scope) if interactions is None else interactions,
        leads_quentes=row["leads_quentes"],
        leads_mornos=row["leads_mornos"],
        leads_frios=row["leads_frios"],
        score_medio=one_decimal(row["score_medio"]),
    )


# One pass over the scope's moves inside the window, in (lead, time) order, in three steps:
# each move gets the lead's next move (`LEAD`, the end of that stay) and its stage as a
# number (its place on the forward path, 0 for `perdido`); one row per lead then gives, per
# stage, the lead's first entry into it, its last move beyond it on the forward path (the
# lead advanced past S after entering it iff that last move is later than the entry) and the
# sum and number of its ended stays in it; the outer level adds the leads up (the mean stay
# is the sum of the stays over their number, as AVG computes it). Every move after one
# inside the window is itself inside it (the window ends now), so the window bounds the scan
# without losing later moves. Only the one narrow `LEAD` window and plain grouped aggregates:
# no per-stage window frames.
_FLOW_SQL = """
SELECT {outputs}
FROM (
    SELECT {per_lead}
    FROM (
        SELECT c.lead_id,
               c.changed_at,
               {stage_number} AS stage,
               LEAD(c.changed_at) OVER (
                   PARTITION BY c.lead_id ORDER BY c.changed_at, c.to_status
               ) AS next_at
        FROM lead_status_changes c
        {join}
        WHERE c.organization_id = %s AND c.changed_at >= %s AND c.changed_at <= %s {scope}
    ) moves
    GROUP BY lead_id
) lead_flow
"""
# A stage's number in the SQL above: its place on the forward path (1-6), `perdido` 0.


Flow = dict[str, tuple[int, int, Decimal | None]]


def dashboard_funnel(
    scope: DashboardScope, leads: dict[str, Any] | None = None, flow: Flow | None = None
) -> list[FunnelStage]:
    """The `funnel` list: every status in pipeline order. Per stage:

    - count: cohort leads whose *current* status is the stage; percentual: count /
      total_leads x 100 (one decimal, 0 for an empty cohort). The counts add up to total_leads.
    - entraram: leads of the scope that moved into the stage inside the window (a lead
      created in a stage enters it; a lead entering twice counts once).
    - avancaram: those of them that, after entering, moved to a stage further along the
      forward path (novo, em_contato, qualificado, agendado, negociacao, convertido), skipping
      stages included; moving to `perdido` is not advancing.
    - taxa_avanco: avancaram / entraram x 100 (0 when nobody entered); null for the terminal
      stages `convertido` and `perdido`, which have no next stage.
    - tempo_medio_dias: mean length of the stays in the stage that began in the window and
      have ended (from a move into the stage to the lead's next move), in days, one decimal;
      null when none has ended, and for the terminal stages.
    """
    row = leads if leads is not None else _lead_aggregates(scope)
    counts = {status: row[f"status_{status}"] for status in PIPELINE_ORDER}
    total = row["total_leads"]
    flow = _funnel_flow(scope) if flow is None else flow
    stages: list[FunnelStage] = []
    for status in PIPELINE_ORDER:
        entered, advanced, mean_seconds = flow.get(status, (0, 0, None))
        terminal = status in TERMINAL_STAGES
        stages.append(
            FunnelStage(
                status=status,
                count=counts[status],
                percentual=percent(counts[status], total),
                entraram=entered,
                avancaram=0 if terminal else advanced,
                taxa_avanco=None if terminal else percent(advanced, entered),
                tempo_medio_dias=None if terminal else days(mean_seconds),
            )
        )
    return stages


def _funnel_flow(scope: DashboardScope) -> Flow:
    """Per stage: (leads that entered it, of them advanced, mean stay in seconds or None)."""
    scope_sql, scope_params = scope.lead_sql("l")
    join = "JOIN leads l ON l.id = c.lead_id" if scope.narrowed else ""
    if connection.vendor == "postgresql":
        seconds = "EXTRACT(EPOCH FROM next_at - changed_at)"
    else:  # SQLite (development default) stores datetimes as text
        seconds = "(julianday(next_at) - julianday(changed_at)) * 86400"
    # Stage names and numbers are this module's constants (checked at import), never input.
    stage_number = (
        "CASE c.to_status "
        + " ".join(f"WHEN '{stage}' THEN {number}" for stage, number in STAGE_NUMBER.items())
        + " END"
    )
    per_lead: list[str] = []
    outputs: list[str] = []
    for stage in PIPELINE_ORDER:
        number = STAGE_NUMBER[stage]
        per_lead.append(f"MIN(changed_at) FILTER (WHERE stage = {number}) AS first_{stage}")
        outputs.append(f"COUNT(first_{stage}) AS entered_{stage}")
        if stage in TERMINAL_STAGES:
            continue
        # The forward stages after this one are the numbers above it (perdido is 0).
        per_lead.append(f"MAX(changed_at) FILTER (WHERE stage > {number}) AS beyond_{stage}")
        per_lead.append(f"SUM({seconds}) FILTER (WHERE stage = {number}) AS stays_{stage}")
        per_lead.append(f"COUNT(next_at) FILTER (WHERE stage = {number}) AS ended_{stage}")
        outputs.append(
            f"COUNT(*) FILTER (WHERE beyond_{stage} > first_{stage}) AS advanced_{stage}"
        )
        outputs.append(f"SUM(stays_{stage}) / NULLIF(SUM(ended_{stage}), 0) AS stay_{stage}")
    sql = _FLOW_SQL.format(
        join=join,
        scope=scope_sql,
        stage_number=stage_number,
        per_lead=",\n           ".join(per_lead),
        outputs=", ".join(outputs),
    )
    params = _db_params([scope.organization_id, scope.start, scope.end, *scope_params])
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        columns = [column[0] for column in cursor.description]
        row = dict(zip(columns, cursor.fetchone(), strict=True))
    return {
        stage: (
            row[f"entered_{stage}"] or 0,
            row.get(f"advanced_{stage}") or 0,
            row.get(f"stay_{stage}"),
        )
        for stage in PIPELINE_ORDER
    }


def _db_params(values: list[Any]) -> list[Any]:
    """Raw-SQL parameters as the backend stores them (SQLite: UUID hex, naive UTC text)."""
    adapted: list[Any] = []
    for value in values:
        if isinstance(value, uuid.UUID):
            adapted.append(_UUID_FIELD.get_db_prep_value(value, connection))
        elif isinstance(value, datetime):
            adapted.append(_DATETIME_FIELD.get_db_prep_value(value, connection))
        else:
            adapted.append(value)
    return adapted


# Per member: the cohort and conversions of the scope's leads they are the closer of, and the
# interactions they logged (on the scope's leads when an SDR looks), each grouped before the
# join with the members. The interactions are grouped by author including "no author", so
# that their sum is the scope's `total_interacoes` (except for an SDR, whose total counts the
# interactions they logged, not those on their leads): one scan of the interactions serves
# both. The ranking is joined to that one-row total so that the total comes back even when
# nobody is ranked.
_TOP_CLOSERS_SQL = """
WITH by_lead AS (
    SELECT l.closer_id,
           COUNT(*) FILTER (WHERE l.created_at >= %s AND l.created_at <= %s) AS total_leads,
           COUNT(*) FILTER (WHERE {converted}) AS convertidos,
           COALESCE(SUM(l.valor_fechado) FILTER (WHERE {converted}), 0) AS valor_convertido
    FROM leads l
    WHERE l.organization_id = %s AND l.closer_id IS NOT NULL {scope}
      AND ((l.created_at >= %s AND l.created_at <= %s) OR ({converted}))
    GROUP BY l.closer_id
),
by_interaction AS (
    SELECT i.closer_id, COUNT(*) AS total_interacoes
    FROM lead_interactions i
    {interaction_join}
    WHERE i.organization_id = %s AND i.data_interacao >= %s AND i.data_interacao <= %s
      {interaction_scope}
    GROUP BY i.closer_id
),
ranked AS (
    SELECT m.id,
           m.nome_completo,
           COALESCE(bl.total_leads, 0) AS total_leads,
           COALESCE(bl.convertidos, 0) AS convertidos,
           COALESCE(bl.valor_convertido, 0) AS valor_convertido,
           COALESCE(bi.total_interacoes, 0) AS total_interacoes
    FROM organization_users m
    LEFT JOIN by_lead bl ON bl.closer_id = m.id
    LEFT JOIN by_interaction bi ON bi.closer_id = m.id
    WHERE m.organization_id = %s
      AND (bl.closer_id IS NOT NULL OR (bi.closer_id IS NOT NULL AND m.role = %s))
    ORDER BY valor_convertido DESC, convertidos DESC, total_leads DESC, m.nome_completo, m.id
    LIMIT %s
)
SELECT r.id, r.nome_completo, r.total_leads, r.convertidos, r.valor_convertido,
       r.total_interacoes, totals.all_interacoes
FROM (SELECT COALESCE(SUM(total_interacoes), 0) AS all_interacoes FROM by_interaction) totals
LEFT JOIN ranked r ON 1 = 1
ORDER BY r.valor_convertido DESC, r.convertidos DESC, r.total_leads DESC, r.nome_completo, r.id
"""

_CONVERTED_SQL = "l.status = %s AND l.converted_at >= %s AND l.converted_at <= %s"


def dashboard_top_closers(
    scope: DashboardScope,
) -> tuple[list[CloserFigures], int | None]:
    """The `topClosers` list, at most 10, ordered by valor_convertido, then convertidos (then
    total_leads and name, for a stable order). Per member, over the scope's leads whose closer
    they are: total_leads (cohort), convertidos and valor_convertido (converted set),
    taxa_conversao = convertidos / total_leads x 100 (one decimal, 0 without leads); and
    total_interacoes, the interactions in the window they logged (for an SDR's view, only
    those on the SDR's leads). Listed: the closers of scope leads created or converted in the
    window, and members with the closer role who logged interactions in it. With a closer in
    the scope the list holds that closer only; for an SDR it ranks the closers of the SDR's
    leads by those leads alone.

    Also returns the scope's `total_interacoes`, read off the same interactions (None for an
    SDR's scope, whose total is the interactions they logged).
    """
    sql, params = _top_closers_query(scope)
    with connection.cursor() as cursor:
        cursor.execute(sql, _db_params(params))
        rows = cursor.fetchall()
    # An SDR's total counts the interactions they logged, not those on their leads.
    scope_interactions = None if scope.sdr_id is not None else int(rows[0][-1])
    # (the lone total row when nobody is ranked has no closer)
    closers = [_closer_figures(row[:-1]) for row in rows if row[0] is not None]
    return closers, scope_interactions


def _closer_figures(row: tuple[Any, ...]) -> CloserFigures:
    """A ranked row (id, name, total_leads, convertidos, valor, total_interacoes)."""
    closer_id, nome, total_leads, convertidos, valor, total_interacoes = row
    return CloserFigures(
        closer_id=uuid.UUID(str(closer_id)),
        nome_completo=nome,
        total_leads=total_leads,
        convertidos=convertidos,
        taxa_conversao=percent(convertidos, total_leads),
        valor_convertido=money(valor) or Decimal("0.00"),
        total_interacoes=total_interacoes,
    )


def _top_closers_query(scope: DashboardScope) -> tuple[str, list[Any]]:
    """The `topClosers` statement for the scope and its parameters, in placeholder order."""
    scope_sql, scope_params = scope.lead_sql("l")
    interaction_join = ""
    interaction_scope, interaction_params = "", []
    if scope.closer_id is not None:
        interaction_scope, interaction_params = " AND i.closer_id = %s", [scope.closer_id]
    elif scope.sdr_id is not None:
        interaction_join = "JOIN leads l ON l.id = i.lead_id"
        interaction_scope, interaction_params = scope_sql, scope_params
    sql = _TOP_CLOSERS_SQL.format(
        converted=_CONVERTED_SQL,
        scope=scope_sql,
        interaction_join=interaction_join,
        interaction_scope=interaction_scope,
    )
    converted = [LeadStatus.CONVERTIDO.value, scope.start, scope.end]
    params: list[Any] = [
        # by_lead select list
        scope.start,
        scope.end,
        *converted,
        *converted,
        # by_lead where
        scope.organization_id,
        *scope_params,
        scope.start,
        scope.end,
        *converted,
        # by_interaction
        scope.organization_id,
        scope.start,
        scope.end,
        *interaction_params,
        # members
        scope.organization_id,
        Role.CLOSER.value,
        TOP_CLOSERS_LIMIT,
    ]
    return sql, params


class WeekFigures(TypedDict):
    semana: date
    leads: int
    convertidos: int


def weekly_series(scope: DashboardScope, *, tz: str) -> list[WeekFigures]:
    """Per week (Monday to Sunday in the organization's time zone `tz`) overlapping the window,
    oldest first, every week listed: `leads`, the cohort leads created that week, and
    `convertidos`, the converted-set leads converted that week. The weeks' sums are the
    dashboard's `total_leads` and `leads_convertidos`. On PostgreSQL from the daily rollups
    (leads/rollups.py `read_weeks`, one query); elsewhere, and for a scope narrowed to both a
    closer and an SDR (which no rollup grain read here holds), `reference_weekly_series`."""
    if connection.vendor != "postgresql" or (scope.closer_id and scope.sdr_id):
        return reference_weekly_series(scope, tz=tz)
    figures = rollups.read_weeks(
        organization_id=scope.organization_id,
        start=scope.start,
        end=scope.end,
        tz=tz,
        closer_id=scope.closer_id,
        sdr_id=scope.sdr_id,
    )
    return _every_week(scope, tz, figures)


def reference_weekly_series(scope: DashboardScope, *, tz: str) -> list[WeekFigures]:
    """`weekly_series` from the raw rows (the definition): two grouped queries."""
    zone = zoneinfo.ZoneInfo(tz)
    created = {
        _as_date(row["week"]): row["n"]
        for row in Lead.objects.filter(cohort_q(scope))
        .annotate(week=TruncWeek("created_at", tzinfo=zone))
        .order_by()
        .values("week")
        .annotate(n=Count("pk"))
    }
    converted = {
        _as_date(row["week"]): row["n"]
        for row in Lead.objects.filter(converted_q(scope))
        .annotate(week=TruncWeek("converted_at", tzinfo=zone))
        .order_by()
        .values("week")
        .annotate(n=Count("pk"))
    }
    weeks = created.keys() | converted.keys()
    return _every_week(
        scope, tz, {week: (created.get(week, 0), converted.get(week, 0)) for week in weeks}
    )


def _every_week(
    scope: DashboardScope, tz: str, figures: dict[date, tuple[int, int]]
) -> list[WeekFigures]:
    """Every week overlapping the window, oldest first, with `figures`' (leads, convertidos)
    of its Monday (none: zeros)."""
    zone = zoneinfo.ZoneInfo(tz)
    first = scope.start.astimezone(zone).date()
    week = first - timedelta(days=first.weekday())
    last = scope.end.astimezone(zone).date()
    weeks: list[WeekFigures] = []
    while week <= last:
        leads, won = figures.get(week, (0, 0))
        weeks.append(WeekFigures(semana=week, leads=leads, convertidos=won))
        week += timedelta(days=7)
    return weeks


def _as_date(value: datetime | date) -> date:
    return value.date() if isinstance(value, datetime) else value


class OrigemFigures(TypedDict):
    origem: str
    leads: int
    convertidos: int
    taxa_conversao: float


def origem_breakdown(scope: DashboardScope) -> list[OrigemFigures]:
    """The cohort by `origem`, most leads first: `leads` (they add up to `total_leads`),
    `convertidos` (of those leads, the ones whose status is now convertido) and
    `taxa_conversao` (convertidos / leads x 100, one decimal). For a whole organization on
    PostgreSQL, the clean full days from `lead_origin_days` and the edge days from the leads
    (one query); otherwise `reference_origem_breakdown`."""
    if connection.vendor != "postgresql" or scope.narrowed:
        return reference_origem_breakdown(scope)
    edges = rollups.edge_ranges(scope.start, scope.end)
    params: dict[str, Any] = {
        "org": scope.organization_id,
        "first_day": scope.start.astimezone(UTC).date(),
        "last_day": scope.end.astimezone(UTC).date(),
        "lo": [lo for lo, _ in edges],
        "hi": [hi for _, hi in edges],
        "convertido": LeadStatus.CONVERTIDO.value,
    }
    with connection.cursor() as cursor:
        cursor.execute(_ORIGIN_DAYS_SQL, params)
        rows = cursor.fetchall()
    return [_origem_figures(origem, int(leads), int(won)) for origem, leads, won in rows]


# The window's clean full UTC days from the kept counts, its partial edges (rollups.edge_ranges)
# from the leads: the created-order index carries origem and status (lead_org_created_cover).
_ORIGIN_DAYS_SQL = """
SELECT origem, SUM(leads), SUM(convertidos) FROM (
    SELECT origem, leads, convertidos FROM lead_origin_days
    WHERE organization_id = %(org)s AND day > %(first_day)s AND day < %(last_day)s
    UNION ALL
    SELECT l.origem, 1, CASE WHEN l.status = %(convertido)s THEN 1 ELSE 0 END
    FROM unnest(%(lo)s::timestamptz[], %(hi)s::timestamptz[]) AS r(lo, hi)
    CROSS JOIN LATERAL (
        SELECT l.origem, l.status FROM leads l
        WHERE l.organization_id = %(org)s AND l.created_at >= r.lo AND l.created_at < r.hi
        OFFSET 0) l
) counted
GROUP BY origem HAVING SUM(leads) <> 0
ORDER BY SUM(leads) DESC, origem
"""


def reference_origem_breakdown(scope: DashboardScope) -> list[OrigemFigures]:
    """`origem_breakdown` from the cohort's leads (the definition): one grouped query."""
    rows = (
        Lead.objects.filter(cohort_q(scope))
        .order_by()
        .values("origem")
        .annotate(n=Count("pk"), won=Count("pk", filter=Q(status=LeadStatus.CONVERTIDO)))
        .order_by("-n", "origem")
    )
    return [_origem_figures(row["origem"], row["n"], row["won"]) for row in rows]


def _origem_figures(origem: str, leads: int, won: int) -> OrigemFigures:
    return OrigemFigures(
        origem=origem, leads=leads, convertidos=won, taxa_conversao=percent(won, leads)
    )


def sales_dashboard(scope: DashboardScope) -> SalesDashboard:
    """The whole `GET /api/v1/leads/performance/` body for a scope: on PostgreSQL from the
    daily rollups (leads/rollups.py, the same figures in two queries whatever the data size),
    elsewhere (SQLite, development) from the raw rows (`reference_sales_dashboard`). The
    rollups are read where the request reads (config/replica.py: the replica, unless the
    requester has just written)."""
    if connection.vendor != "postgresql":
        return reference_sales_dashboard(scope)
    using = router.db_for_read(Lead)
    with transaction.atomic(using=using):
        _tune_for_aggregates(using)
        return rollup_sales_dashboard(scope, using=using)


def reference_sales_dashboard(scope: DashboardScope) -> SalesDashboard:
    """The dashboard computed from the raw rows by the queries above (the definitions; the
    rollups must give exactly these figures: tests/leads/test_rollups_property.py)."""
    with transaction.atomic():
        _tune_for_aggregates()
        read_at = timezone.now()
        leads = _lead_aggregates(scope)
        top_closers, interactions = dashboard_top_closers(scope)
        return SalesDashboard(
            metrics=dashboard_metrics(scope, leads, interactions),
            funnel=dashboard_funnel(scope, leads),
            topClosers=top_closers,
            atualizado_em=read_at,
        )


# --- the same figures from the daily rollups (PostgreSQL) -------------------------------------


def rollup_sales_dashboard(
    scope: DashboardScope, *, using: str = DEFAULT_DB_ALIAS
) -> SalesDashboard:
    """`sales_dashboard` from the rollups: one query for the sums and the closers' ranking
    (leads/rollups.py `read_window`, on the database `using`). Exact whatever the rollup
    job's lag, as of `atualizado_em` (the moment the sums were read)."""
    figures = rollups.read_window(
        organization_id=scope.organization_id,
        start=scope.start,
        end=scope.end,
        closer_id=scope.closer_id,
        sdr_id=scope.sdr_id,
        rank_role=Role.CLOSER.value,
        rank_limit=TOP_CLOSERS_LIMIT,
        using=using,
    )
    leads = _leads_from_rollups(figures.scope)
    return SalesDashboard(
        metrics=dashboard_metrics(scope, leads, figures.interactions),
        funnel=dashboard_funnel(scope, leads, _flow_from_rollups(figures)),
        topClosers=[_closer_figures(ranked) for ranked in figures.ranking],
        atualizado_em=figures.as_of or timezone.now(),
    )


def _ratio(total: Any, count: Any) -> Decimal | None:
    return Decimal(total) / Decimal(count) if count else None


def _leads_from_rollups(row: rollups.Figures) -> dict[str, Any]:
    """The `_lead_aggregates` row from summed rollup measures."""
    leads: dict[str, Any] = {
        "total_leads": int(row["created"]),
        "leads_qualificados": int(row["qualified"]),
        "leads_convertidos": int(row["converted"]),
        "valor_total_convertido": Decimal(row["valor_sum"]) if row["converted"] else None,
        "ticket_medio": _ratio(row["valor_sum"], row["valor_count"]),
        "tempo_medio_conversao": _ratio(row["cycle_seconds"], row["converted"]),
        "leads_quentes": int(row[f"temperatura_{Temperatura.QUENTE}"]),
        "leads_mornos": int(row[f"temperatura_{Temperatura.MORNO}"]),
        "leads_frios": int(row[f"temperatura_{Temperatura.FRIO}"]),
        "score_medio": _ratio(row["score_sum"], row["created"]),
    }
    for status in PIPELINE_ORDER:
        leads[f"status_{status}"] = int(row[f"status_{status}"])
    return leads


def _flow_from_rollups(figures: rollups.WindowFigures) -> Flow:
    """Per stage: entries minus re-entries (every lead once), the same for the entries that
    advanced (a lead's first entry in the window advanced iff it is counted and its later
    entries' are subtracted), and the mean ended stay."""
    row, again = figures.scope, figures.reentries
    flow: Flow = {}
    for stage in PIPELINE_ORDER:
        entered = int(row[f"entered_{stage}"]) - int(again[f"entered_{stage}"])
        if stage not in FLOW_STAGES:
            flow[stage] = (entered, 0, None)
            continue
        advanced = int(row[f"advanced_{stage}"]) - int(again[f"advanced_{stage}"])
        mean = _ratio(row[f"stay_seconds_{stage}"], row[f"ended_{stage}"])
        flow[stage] = (entered, advanced, mean)
    return flow


def _tune_for_aggregates(using: str = DEFAULT_DB_ALIAS) -> None:
    """Per-transaction settings for these few aggregate queries (PostgreSQL only).

    JIT compilation kicks in on large cost estimates and costs more (bench/README.md) than
    these sub-second queries gain; the funnel's window sort over a
    year of moves needs a few MB to stay in memory instead of spilling to disk. Both in one
    statement (config.transaction_settings), in the transaction of the database `using`.
    """
    set_local(using=using, jit="off", work_mem="32MB")
