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

The readers below (one statement for the dashboard, one for the NPS by month) return exactly
what the reference queries in mentorados.selectors return (same keys, same values and types:
means are divided by PostgreSQL, as AVG does, so they round alike). A read touches at most the
days and months of the period (and future start dates), however many mentees, reports and
feedbacks there are. SQLite (`make run`) has no triggers: the selectors read the raw tables
there (`available()` is false).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

from django.db import OperationalError, connection, connections, router, transaction

from config.transaction_settings import set_local
from mentorados import figures
from mentorados.models import (
    MentoradoRollupState,
)
from organizations.models import Organization

BANDS = [low for low, _high in figures.ENGAGEMENT_BANDS]


def available() -> bool:
    """Rollups are kept (PostgreSQL triggers) on the database the dashboard reads."""
    return connections[router.db_for_read(MentoradoRollupState)].vendor == "postgresql"


# The readers are hand-written SQL: building the same statements with the ORM (aggregate(),
# Coalesce, NullIf, ExpressionWrapper) cost several times what PostgreSQL takes to run them.
# Sums of bigint columns are numeric in PostgreSQL: `::bigint` gives the ints the reference's
# COUNTs give. A mean is SUM(total) / SUM(count) in the database, the numeric division AVG
# itself ends with, so both round alike.
_STATE_COUNTS = ("total", "ativos", "pausados", "concluidos", "cancelados", "com_fim")
_STATE_COLUMNS = ", ".join(
    [f"COALESCE(SUM({name}), 0)::bigint AS {name}" for name in _STATE_COUNTS]
    + [f"COALESCE(SUM(faixa_{low}), 0)::bigint AS band_{low}" for low in BANDS]
)

# The whole dashboard in one statement: four aggregates without GROUP BY (one row each, so
# their cross join is one row): the state, the days since `start`, the feedback days of the
# period and the reported months of the period (as arrays, oldest first; NULL when none).
#
# expostos (data_inicio <= today and (data_fim null or data_fim >= start)): data_fim >=
# data_inicio (a check constraint), so a mentee that ended before `start` also started before
# today, and expostos = (total - started after today) - (with data_fim - data_fim >= start).
DASHBOARD_SQL = f"""
SELECT * FROM (
    SELECT {_STATE_COLUMNS},
        SUM(faturamento_atual_soma) AS faturamento_total_atual,
        SUM(crescimento_soma) / NULLIF(SUM(crescimento_contagem), 0) AS crescimento_medio,
        SUM(engagement_soma) / NULLIF(SUM(ativos), 0) AS engagement_media
    FROM mentorado_rollup_state
    WHERE organization_id = %(organization)s
) state, (
    SELECT COALESCE(SUM(inicios) FILTER (WHERE dia <= %(today)s), 0)::bigint AS novos,
        COALESCE(SUM(inicios) FILTER (WHERE dia > %(today)s), 0)::bigint AS futuros,
        COALESCE(SUM(fins), 0)::bigint AS fins_desde,
        COALESCE(SUM(cancelados_fim) FILTER (WHERE dia <= %(today)s), 0)::bigint AS churned
    FROM mentorado_rollup_days
    WHERE organization_id = %(organization)s AND dia >= %(start)s
) days, (
    SELECT COALESCE(SUM(respostas), 0)::bigint AS respostas,
        COALESCE(SUM(promotores), 0)::bigint AS promotores,
        COALESCE(SUM(detratores), 0)::bigint AS detratores,
        SUM(nota_geral_soma) / NULLIF(SUM(respostas), 0) AS nota_geral_media
    FROM mentorado_rollup_feedback_days
    WHERE organization_id = %(organization)s AND dia >= %(start)s AND dia <= %(today)s
) feedback, (
    SELECT array_agg(ano ORDER BY ano, mes) AS meses_ano,
        array_agg(mes ORDER BY ano, mes) AS meses_mes,
        array_agg(faturamento_total ORDER BY ano, mes) AS meses_faturamento_total,
        array_agg(faturamento_medio ORDER BY ano, mes) AS meses_faturamento_medio,
        array_agg(mentorados_reportando ORDER BY ano, mes) AS meses_mentorados_reportando
    FROM (
        SELECT ano, mes, SUM(faturamento_soma) AS faturamento_total,
            SUM(faturamento_soma) / NULLIF(SUM(relatorios), 0) AS faturamento_medio,
            SUM(relatorios)::bigint AS mentorados_reportando
        FROM mentorado_rollup_months
        WHERE organization_id = %(organization)s
            AND (ano, mes) >= (%(first_ano)s, %(first_mes)s)
            AND (ano, mes) <= (%(last_ano)s, %(last_mes)s)
        GROUP BY ano, mes
        HAVING SUM(relatorios) > 0
    ) reported
) months
"""  # noqa: S608 (module constants only)
_MONTH_FIELDS = ("ano", "mes", "faturamento_total", "faturamento_medio", "mentorados_reportando")
_ANSWER_FIELDS = ("promotores", "detratores", "nota_geral_media")

NPS_MONTHS_SQL = """
SELECT EXTRACT(YEAR FROM dia)::integer AS ano, EXTRACT(MONTH FROM dia)::integer AS mes,
    SUM(respostas)::bigint AS total, SUM(promotores)::bigint AS promotores,
    SUM(detratores)::bigint AS detratores
FROM mentorado_rollup_feedback_days
WHERE organization_id = %(organization)s AND dia >= %(start)s AND dia <= %(end)s
GROUP BY 1, 2
HAVING SUM(respostas) > 0
"""


@dataclass(frozen=True)
class DashboardFigures:
    """What the dashboard reads, shaped as the reference queries of mentorados.selectors give
    it: `mentees` as `_mentee_aggregates`, `answers` as `satisfaction_between` and `months` as
    `_reported_months` (the period's months with reports, oldest first)."""

    mentees: dict[str, Any]
    answers: dict[str, Any]
    months: list[dict[str, Any]]


def _fetch(sql: str, params: dict[str, Any]) -> list[dict[str, Any]]:
    # The alias the ORM would read the rollups from (the replica inside an opted-in request).
    with connections[router.db_for_read(MentoradoRollupState)].cursor() as cursor:
        cursor.execute(sql, params)
        names = [column.name for column in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def dashboard_figures(
    organization_id: uuid.UUID,
    *,
    start: date,
    today: date,
    first_month: tuple[int, int],
    last_month: tuple[int, int],
) -> DashboardFigures:
    """The dashboard's figures from the four rollups, in one statement (`DASHBOARD_SQL`).

    `start`..`today` are the period's days, `first_month`..`last_month` its (ano, mes).
    """
    params = {
        "organization": organization_id,
        "start": start,
        "today": today,
        "first_ano": first_month[0],
        "first_mes": first_month[1],
        "last_ano": last_month[0],
        "last_mes": last_month[1],
    }
    row = _fetch(DASHBOARD_SQL, params)[0]
    mentees = {name: row[name] for name in _STATE_COUNTS[:-1]}
    mentees.update(
        (name, row[name])
        for name in ("faturamento_total_atual", "crescimento_medio", "engagement_media")
    )
    mentees.update((f"band_{low}", row[f"band_{low}"]) for low in BANDS)
    mentees["novos"] = row["novos"]
    mentees["churned"] = row["churned"]
    mentees["expostos"] = (row["total"] - row["futuros"]) - (row["com_fim"] - row["fins_desde"])
    answers = {"total": row["respostas"], **{name: row[name] for name in _ANSWER_FIELDS}}
    columns = [row[f"meses_{name}"] or [] for name in _MONTH_FIELDS]
    months = [
        dict(zip(_MONTH_FIELDS, values, strict=True)) for values in zip(*columns, strict=True)
    ]
    return DashboardFigures(mentees=mentees, answers=answers, months=months)


def nps_months(organization_id: uuid.UUID, *, start: date, end: date) -> list[dict[str, Any]]:
    """selectors.nps_by_month's rows ((ano, mes) with answers) from the feedback days rollup."""
    return _fetch(NPS_MONTHS_SQL, {"organization": organization_id, "start": start, "end": end})


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
                set_local(lock_timeout=f"{LOCK_TIMEOUT_MS}ms")
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
