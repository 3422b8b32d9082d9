"""The mentee dashboard's rollups: what they hold, how the dashboard reads them, the backfill.

Four tables (mentorados.models, `MentoradoRollup*`) hold sums over the raw rows, kept by
PostgreSQL statement-level triggers in the writing transaction (created by
mentorados/migrations/0005_dashboard_rollups.py, which also defines the SQL function
`mentorado_rollups_rebuild` the backfill calls). So the figures are exact as of the read, on every
write path (services, bulk `QuerySet.update`/`delete`, cascades, the daily engagement job):

- state: per organization, counts per status, mentees with a data_fim, and over active mentees
  the sums and counts behind faturamento_total_atual, crescimento_medio_12m, the engagement mean
  and bands;
- days: per data_inicio / data_fim day, mentees starting, ending, and cancelled ending;
- months: per reported (ano, mes), the sum of faturamento and the number of reports;
- feedback days: per data_feedback, answers, promoters, detractors and the sum of nota_geral.

The readers below return exactly what the reference queries in mentorados.selectors return
(same keys, same values: means are divided by PostgreSQL, as AVG does, so they round alike). A
read touches at most the days and months of the period (and future start dates), however many
mentees, reports and feedbacks there are. SQLite (`make run`) has no triggers: the selectors
read the raw tables there (`available()` is false).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from datetime import date
from typing import Any

from django.db import OperationalError, connection, connections, router, transaction
from django.db.models import DecimalField, ExpressionWrapper, Q, QuerySet, Sum
from django.db.models.functions import Coalesce, ExtractMonth, ExtractYear, NullIf

from mentorados import figures
from mentorados.models import (
    MentoradoRollupDay,
    MentoradoRollupFeedbackDay,
    MentoradoRollupMonth,
    MentoradoRollupState,
)
from organizations.models import Organization

BANDS = [low for low, _high in figures.ENGAGEMENT_BANDS]


def available() -> bool:
    """Rollups are kept (PostgreSQL triggers) on the database the dashboard reads."""
    return connections[router.db_for_read(MentoradoRollupState)].vendor == "postgresql"


def _mean(total: str, count: str) -> ExpressionWrapper[Any]:
    """SUM(total) / SUM(count) in the database: the numeric division AVG itself ends with."""
    return ExpressionWrapper(
        Sum(total) / NullIf(Sum(count), 0), output_field=DecimalField(max_digits=40)
    )


def _total(field: str, **filters: Any) -> Coalesce:
    return Coalesce(Sum(field, filter=Q(**filters) if filters else None), 0)


def mentee_aggregates(organization_id: uuid.UUID, *, start: date, today: date) -> dict[str, Any]:
    """selectors._mentee_aggregates from the state and days rollups (two small queries).

    expostos (data_inicio <= today and (data_fim null or data_fim >= start)): data_fim >=
    data_inicio (a check constraint), so a mentee that ended before `start` also started before
    today, and expostos = (total - started after today) - (with data_fim - data_fim >= start).
    """
    counts = ("total", "ativos", "pausados", "concluidos", "cancelados", "com_fim")
    # Aggregates may not share a name with a column they read: `n_` prefixes the counts.
    state = MentoradoRollupState.objects.filter(organization_id=organization_id).aggregate(
        **{f"n_{name}": _total(name) for name in counts},
        faturamento_total_atual=Sum("faturamento_atual_soma"),
        crescimento_medio=_mean("crescimento_soma", "crescimento_contagem"),
        engagement_media=_mean("engagement_soma", "ativos"),
        **{f"band_{low}": _total(f"faixa_{low}") for low in BANDS},
    )
    state.update({name: state.pop(f"n_{name}") for name in counts})
    days = MentoradoRollupDay.objects.filter(organization_id=organization_id, dia__gte=start)
    counted = days.aggregate(
        novos=_total("inicios", dia__lte=today),
        futuros=_total("inicios", dia__gt=today),
        fins_desde=_total("fins"),
        churned=_total("cancelados_fim", dia__lte=today),
    )
    state["novos"] = counted["novos"]
    state["churned"] = counted["churned"]
    state["expostos"] = (state["total"] - counted["futuros"]) - (
        state.pop("com_fim") - counted["fins_desde"]
    )
    return state


def monthly_revenue(organization_id: uuid.UUID, month_filter: Q) -> QuerySet[Any]:
    """selectors._monthly_revenue's rows ((ano, mes) with reports) from the months rollup."""
    return (
        MentoradoRollupMonth.objects.filter(organization_id=organization_id)
        .filter(month_filter)
        .values("ano", "mes")
        .annotate(
            faturamento_total=Sum("faturamento_soma"),
            faturamento_medio=_mean("faturamento_soma", "relatorios"),
            mentorados_reportando=Sum("relatorios"),
        )
        .filter(mentorados_reportando__gt=0)
        .order_by()
    )


def _feedback_days(organization_id: uuid.UUID, start: date, end: date) -> QuerySet[Any]:
    return MentoradoRollupFeedbackDay.objects.filter(
        organization_id=organization_id, dia__gte=start, dia__lte=end
    )


def satisfaction_between(organization_id: uuid.UUID, *, start: date, end: date) -> dict[str, Any]:
    """selectors.satisfaction_between from the feedback days rollup."""
    return _feedback_days(organization_id, start, end).aggregate(
        total=_total("respostas"),
        promotores=_total("promotores"),
        detratores=_total("detratores"),
        nota_geral_media=_mean("nota_geral_soma", "respostas"),
    )


def nps_months(organization_id: uuid.UUID, *, start: date, end: date) -> QuerySet[Any]:
    """selectors.nps_by_month's rows ((ano, mes) with answers) from the feedback days rollup."""
    rows: QuerySet[Any] = (
        _feedback_days(organization_id, start, end)
        .annotate(ano=ExtractYear("dia"), mes=ExtractMonth("dia"))
        .values("ano", "mes")
        .annotate(
            total=Sum("respostas"), promotores=Sum("promotores"), detratores=Sum("detratores")
        )
        .filter(total__gt=0)
        .order_by()
    )
    return rows


# The rebuild waits at most this long for the raw tables' writers in flight, then gives up and
# retries: shorter than PostgreSQL's deadlock_timeout (1 s), so a writer that locked one raw
# table and then needs another the rebuild already holds (evolucao_upsert: the month, then the
# mentee's figures) is never the one a deadlock aborts.
LOCK_TIMEOUT_MS = 500
REBUILD_ATTEMPTS = 20
LOCK_NOT_AVAILABLE = "55P03"


def _rebuild(organization_id: uuid.UUID, log: Callable[[str], None]) -> int:
    for attempt in range(1, REBUILD_ATTEMPTS + 1):
        try:
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute(f"SET LOCAL lock_timeout = {LOCK_TIMEOUT_MS}")
                cursor.execute(
                    "SELECT mentorado_rollups_rebuild(ARRAY[%s]::uuid[])", [organization_id]
                )
                return int(cursor.fetchone()[0])
        except OperationalError as exc:
            if getattr(exc.__cause__, "sqlstate", None) != LOCK_NOT_AVAILABLE:
                raise
            if attempt == REBUILD_ATTEMPTS:
                raise
            log(f"mentorados: {organization_id} busy, rebuild retried ({attempt})")
            time.sleep(0.05 * attempt)
    raise AssertionError("unreachable")


def backfill(*, organization_ids: list[uuid.UUID] | None, log: Callable[[str], None]) -> int:
    """(Re)builds the rollups of the given organizations (all when None) from the raw rows.

    One transaction per organization: `mentorado_rollups_rebuild` locks the three raw tables
    against writers (SHARE ROW EXCLUSIVE: reads go on; writes of every organization wait for the
    rebuild of one, ~1 s for 50,000 mentees), replaces the organization's rollup rows (compacted
    to one shard) and returns how many it wrote. So a concurrent write is either in the raw rows
    it reads or added by its trigger after it, never both. A rerun writes the same rows. Nothing
    to do on SQLite.
    """
    if connection.vendor != "postgresql":
        log("mentorados: no rollups on this database (PostgreSQL only)")
        return 0
    if organization_ids is None:
        organization_ids = list(Organization.objects.order_by("pk").values_list("pk", flat=True))
    return sum(_rebuild(organization_id, log) for organization_id in organization_ids)
