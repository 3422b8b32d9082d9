"""Daily rollups of the sales dashboard (issue 18, point 1), PostgreSQL only.

`lead_daily_rollups` (leads.models.LeadDailyRollup) holds, per organization and UTC day, the
dashboard's measures (leads.models.ROLLUP_MEASURES) at six grains (leads.models.RollupGrain):
the organization, each current closer, each current SDR, each (closer, SDR) pair, each
interaction author and each (author, lead's SDR) pair. A fact is filed under the day of the
date that defines its set (leads/dashboard_selectors.py): a lead under its creation day
(cohort counts by current status and temperatura, qualified, score), again under its conversion
day (conversions, value, cycle time), each move under its day (entries per stage, entries that
advanced later, ended stays and their length), each interaction under its day. Month and ISO
week rows (the sums of their day rows) let a long window read a few rows per member.

Freshness: triggers (migrations 0020 and 0024) append the (organization, day, hour) buckets a
write makes stale to `lead_rollup_marks` in the writing transaction. `refresh_marked` (the
`leads-rollups` job, every minute) recomputes the marked buckets from the raw rows and deletes
exactly the marks it read. The dashboard (`leads.dashboard_selectors.sales_dashboard`) reads
the rollups of the window's clean full days and computes the rest (the two partial edge days
and the marked days) from the raw rows with the same SQL (`bucket_sql`), so its figures are
exact whatever the job's lag. One statement computes every bucket of an organization over a
set of time ranges: the job (a few days), the backfill (all history at once) and the
dashboard's raw part share it.
"""

from __future__ import annotations

import functools
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock
from types import SimpleNamespace
from typing import Any
from zoneinfo import ZoneInfo

from django.db import DEFAULT_DB_ALIAS, connection, connections, transaction

from config.transaction_settings import set_local
from leads.models import (
    FLOW_STAGES,
    FORWARD_STAGES,
    PIPELINE_ORDER,
    PRESET_PERIOD_DAYS,
    QUALIFIED_OR_BEYOND,
    ROLLUP_HOUR_GRAINS,
    ROLLUP_HOURS_BUILT,
    ROLLUP_MEASURES,
    ROLLUP_SUMS,
    STAGE_NUMBER,
    LeadStatus,
    RollupGrain,
    Temperatura,
)

# Serializes the job and the backfill (two job runs at once: the second does nothing).
LOCK_KEY = 7_218_431_018
MARK_BATCH = 2_000
JOB_BUDGET_SECONDS = 50.0
# A recompute of more marked days than this rebuilds the organization's whole history in a
# few statements (faster than probing most of its leads one range at a time).
WHOLE_ABOVE_DAYS = 120


Range = tuple[datetime, datetime]  # [lo, hi)


def _quoted(names: Iterable[str]) -> str:
    return ", ".join(f"'{name}'" for name in names)


def _case(condition: str, value: str = "1") -> str:
    return f"CASE WHEN {condition} THEN {value} ELSE 0 END"


def _created_facts() -> dict[str, str]:
    facts = {"created": "1", "score_sum": "l.lead_score"}
    for stage in PIPELINE_ORDER:
        facts[f"status_{stage}"] = _case(f"l.status = '{stage}'")
    for temperatura in Temperatura.values:
        facts[f"temperatura_{temperatura}"] = _case(f"l.temperatura = '{temperatura}'")
    qualified = _quoted(QUALIFIED_OR_BEYOND)
    # A scalar subquery (LIMIT 1): probed per cohort lead by index, never a hash of every
    # qualifying move of the organization.
    facts["qualified"] = _case(
        f"l.status IN ({qualified}) OR (SELECT true FROM lead_status_changes q "  # noqa: S608
        f"WHERE q.lead_id = l.id AND q.to_status IN ({qualified}) LIMIT 1)"
    )
    return facts


def _converted_facts() -> dict[str, str]:
    return {
        "converted": "1",
        "valor_count": _case("l.valor_fechado IS NOT NULL"),
        "valor_sum": "COALESCE(l.valor_fechado, 0)",
        "cycle_seconds": "EXTRACT(EPOCH FROM l.converted_at - l.created_at)",
    }


def _move_facts() -> dict[str, str]:
    facts: dict[str, str] = {}
    for stage in PIPELINE_ORDER:
        number = STAGE_NUMBER[stage]
        facts[f"entered_{stage}"] = _case(f"m.stage = {number}")
        if stage not in FLOW_STAGES:
            continue
        # Advanced: the lead has a move further along the forward path after this entry.
        later = f"m.beyond_{number} > m.changed_at"
        facts[f"advanced_{stage}"] = _case(f"m.stage = {number} AND {later}")
        ended = f"m.stage = {number} AND m.next_at IS NOT NULL"
        facts[f"ended_{stage}"] = _case(ended)
        stay = "EXTRACT(EPOCH FROM m.next_at - m.changed_at)"
        facts[f"stay_seconds_{stage}"] = _case(ended, stay)
    return facts


_LEAD_MEASURES = [name for name in ROLLUP_MEASURES if name != "interactions"]


def _bucket_of(moment: str, unit: str) -> str:
    """The bucket a fact at `moment` is filed under: its UTC day (a date) or, for the hour
    rows, its UTC hour (a timestamp)."""
    if unit == "hour":
        return f"date_trunc('hour', {moment} AT TIME ZONE 'UTC')"
    return f"({moment} AT TIME ZONE 'UTC')::date"


def _fact_select(moment: str, facts: dict[str, str], unit: str) -> str:
    columns = ", ".join(f"{facts.get(name, '0')} AS {name}" for name in _LEAD_MEASURES)
    return f"SELECT {_bucket_of(moment, unit)} AS day, l.closer_id, l.sdr_id, {columns}"


def _in_ranges(column: str, whole: bool) -> str:
    return "" if whole else f"JOIN ranges r ON {column} >= r.lo AND {column} < r.hi"


def _rows_in_ranges(table: str, alias: str, column: str, whole: bool) -> str:
    """`table alias`, or (ranges) the organization's rows with `column` in a range: one index
    range scan per range (LATERAL: the planner cannot estimate the ranges, so it would
    otherwise scan the whole organization and join)."""
    if whole:
        return f"{table} {alias}"
    return (
        f"ranges r CROSS JOIN LATERAL (SELECT * FROM {table} {alias} "  # noqa: S608
        f"WHERE {alias}.organization_id = %(org)s "
        f"AND {alias}.{column} >= r.lo AND {alias}.{column} < r.hi OFFSET 0) {alias}"
    )


def _lead_of(alias: str, whole: bool) -> str:
    """The current closer and SDR of the lead of row `alias`: a hash join over all history,
    a probe by primary key per row in ranges (OFFSET 0 keeps the planner from flattening it)."""
    if whole:
        return f"JOIN leads l ON l.id = {alias}.lead_id"
    return (
        "CROSS JOIN LATERAL (SELECT l.closer_id, l.sdr_id FROM leads l "  # noqa: S608
        f"WHERE l.id = {alias}.lead_id OFFSET 0) l"
    )


def _stage_sql(alias: str) -> str:
    """A move's stage number in SQL (`alias` is the lead_status_changes row)."""
    cases = " ".join(f"WHEN '{name}' THEN {number}" for name, number in STAGE_NUMBER.items())
    return f"CASE {alias}.to_status {cases} END"


# Parts of the bucket statement that do not depend on its ranges.
_PARTS = {
    "stage": _stage_sql("c"),
    "beyond": ", ".join(
        f"MAX(c.changed_at) FILTER (WHERE c.stage > {n}) OVER lead AS beyond_{n}"
        for n in range(1, len(FORWARD_STAGES))
    ),
    "converted": LeadStatus.CONVERTIDO.value,
    "sums": ", ".join(f"SUM({name}) AS {name}" for name in _LEAD_MEASURES),
    "zeros": ", ".join(f"0 AS {name}" for name in _LEAD_MEASURES),
    "organization": str(RollupGrain.ORGANIZATION.value),
    "closer": str(RollupGrain.CLOSER.value),
    "sdr": str(RollupGrain.SDR.value),
    "closer_sdr": str(RollupGrain.CLOSER_SDR.value),
    "author": str(RollupGrain.AUTHOR.value),
    "author_sdr": str(RollupGrain.AUTHOR_SDR.value),
}
# Moves: each with the lead's next move (the end of that stay, in the reference's order) and,
# per forward stage number n, the lead's last move beyond n (an entry into n advanced iff that
# move is later than the entry), over all of the lead's moves (the job and the dashboard's raw
# part take every move of the leads with a move in the ranges). Facts: one row per cohort
# lead, per converted lead and per move in the ranges, grouped at the four lead grains;
# interactions at the two author grains.
_BUCKET_SQL = """
WITH moves AS (
    SELECT c.lead_id, c.changed_at, c.stage,
           LEAD(c.changed_at) OVER (PARTITION BY c.lead_id ORDER BY c.changed_at, c.to_status)
               AS next_at,
           {beyond}
    FROM (SELECT c.lead_id, c.changed_at, c.to_status, {stage} AS stage
          FROM {move_source}
          WHERE c.organization_id = %(org)s) c
    WINDOW lead AS (PARTITION BY c.lead_id)
),
facts AS (
    {created_facts}
    FROM {created_source}
    WHERE l.organization_id = %(org)s
    UNION ALL
    {converted_facts}
    FROM {converted_source}
    WHERE l.organization_id = %(org)s AND l.status = '{converted}'
      AND l.converted_at IS NOT NULL
    UNION ALL
    {move_facts}
    FROM moves m {move_range}
    {move_lead}
),
interactions AS (
    SELECT {interaction_bucket} AS day, i.closer_id AS author_id, l.sdr_id
    FROM {interaction_source}
    {interaction_lead}
    WHERE i.organization_id = %(org)s
)
SELECT day,
       CASE GROUPING(closer_id, sdr_id) WHEN 3 THEN {organization}
            WHEN 1 THEN {closer} WHEN 2 THEN {sdr} ELSE {closer_sdr} END AS grain,
       closer_id, sdr_id, NULL::uuid AS author_id, {sums}, 0 AS interactions
FROM facts
GROUP BY GROUPING SETS ((day), (day, closer_id), (day, sdr_id), (day, closer_id, sdr_id))
UNION ALL
SELECT day, CASE GROUPING(sdr_id) WHEN 1 THEN {author} ELSE {author_sdr} END,
       NULL::uuid, sdr_id, author_id, {zeros}, COUNT(*)
FROM interactions
GROUP BY GROUPING SETS ((day, author_id), (day, author_id, sdr_id))
"""
_RANGES_CTE = (
    "WITH ranges AS (SELECT * FROM unnest(%(lo)s::timestamptz[], %(hi)s::timestamptz[]) "
    "AS r(lo, hi))"
)
# Every move of the leads with a move in a range (a move's stay and advancement depend on the
# lead's later moves), found by index: the leads from the ranges, then each lead's moves.
_TOUCHED_MOVES = (  # noqa: S608
    "(SELECT DISTINCT x.lead_id FROM {moves_in_ranges}) t CROSS JOIN LATERAL "
    "(SELECT * FROM lead_status_changes c WHERE c.lead_id = t.lead_id OFFSET 0) c"
).format(moves_in_ranges=_rows_in_ranges("lead_status_changes", "x", "changed_at", whole=False))


def bucket_sql(*, whole: bool = False, unit: str = "day") -> str:
    """Every bucket of organization `%(org)s` over the time ranges of the caller's CTE `ranges
    (lo, hi)` (`[lo, hi)`; all history when `whole`): rows (day, grain, closer_id, sdr_id,
    author_id, *ROLLUP_MEASURES); `day` is the UTC hour (a timestamp) when `unit` is "hour"."""
    return _BUCKET_SQL.format(
        **_PARTS,
        created_facts=_fact_select("l.created_at", _created_facts(), unit),
        converted_facts=_fact_select("l.converted_at", _converted_facts(), unit),
        move_facts=_fact_select("m.changed_at", _move_facts(), unit),
        interaction_bucket=_bucket_of("i.data_interacao", unit),
        move_source="lead_status_changes c" if whole else _TOUCHED_MOVES,
        created_source=_rows_in_ranges("leads", "l", "created_at", whole),
        converted_source=_rows_in_ranges("leads", "l", "converted_at", whole),
        move_range=_in_ranges("m.changed_at", whole),
        move_lead=_lead_of("m", whole),
        interaction_lead=_lead_of("i", whole),
        interaction_source=_rows_in_ranges("lead_interactions", "i", "data_interacao", whole),
    )


_COLUMNS = ", ".join(("day", "grain", "closer_id", "sdr_id", "author_id", *ROLLUP_MEASURES))


def day_ranges(days: Iterable[date]) -> list[Range]:
    """UTC days as time ranges, consecutive days merged into one range."""
    ranges: list[Range] = []
    for day in sorted(set(days)):
        lo = datetime.combine(day, clock.min, tzinfo=UTC)
        if ranges and ranges[-1][1] == lo:
            ranges[-1] = (ranges[-1][0], lo + timedelta(days=1))
        else:
            ranges.append((lo, lo + timedelta(days=1)))
    return ranges


def range_params(organization_id: uuid.UUID, ranges: Sequence[Range]) -> dict[str, Any]:
    return {
        "org": organization_id,
        "lo": [lo for lo, _ in ranges],
        "hi": [hi for _, hi in ranges],
    }


def _insert(organization_id: uuid.UUID, ranges: Sequence[Range], *, whole: bool) -> int:
    sql = (
        f"INSERT INTO lead_daily_rollups (organization_id, {_COLUMNS}) {_RANGES_CTE} "  # noqa: S608
        f"SELECT %(org)s, {_COLUMNS} FROM ({bucket_sql(whole=whole)}) b"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, range_params(organization_id, ranges))
        return int(cursor.rowcount)


def _lock(*, wait: bool) -> bool:
    with connection.cursor() as cursor:
        if wait:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [LOCK_KEY])
            return True
        cursor.execute("SELECT pg_try_advisory_xact_lock(%s)", [LOCK_KEY])
        return bool(cursor.fetchone()[0])


# A month's row and a week's row (each the sum of its days' rows, so that a long window reads
# ~12 rows per member instead of ~365, and a 30-day one ~10 instead of 30): `day` is the
# month's first day or the ISO week's Monday, `grain` the daily grain + MONTH or + WEEK.
MONTH = 10
WEEK = 20
_PERIODS = (("month", MONTH), ("week", WEEK))
_PERIOD_SQL = f"""
INSERT INTO lead_daily_rollups (organization_id, day, grain, closer_id, sdr_id, author_id,
                                {", ".join(ROLLUP_MEASURES)})
SELECT organization_id, date_trunc('{{unit}}', day::timestamp)::date, grain + {{offset}},
       closer_id, sdr_id, author_id, {", ".join(f"SUM({name})" for name in ROLLUP_MEASURES)}
FROM lead_daily_rollups
WHERE organization_id = %(org)s AND grain < {MONTH} {{starts}}
GROUP BY organization_id, date_trunc('{{unit}}', day::timestamp)::date, grain, closer_id, sdr_id,
         author_id
"""  # noqa: S608 (module constants only)


def _period_start(unit: str, day: date) -> date:
    return day.replace(day=1) if unit == "month" else day - timedelta(days=day.weekday())


def _insert_periods(organization_id: uuid.UUID, days: Iterable[date] | None) -> int:
    """(Re)writes the month and week rows holding `days` (all when None) from the day rows."""
    written = 0
    with connection.cursor() as cursor:
        for unit, offset in _PERIODS:
            if days is None:
                sql = _PERIOD_SQL.format(unit=unit, offset=offset, starts="")
                cursor.execute(sql, {"org": organization_id})
            else:
                starts = sorted({_period_start(unit, day) for day in days})
                cursor.execute(
                    "DELETE FROM lead_daily_rollups WHERE organization_id = %s AND grain >= %s "
                    "AND grain < %s AND day = ANY(%s::date[])",
                    [organization_id, offset, offset + MONTH, starts],
                )
                in_starts = (
                    f"AND date_trunc('{unit}', day::timestamp)::date = ANY(%(starts)s::date[])"
                )
                sql = _PERIOD_SQL.format(unit=unit, offset=offset, starts=in_starts)
                cursor.execute(sql, {"org": organization_id, "starts": starts})
            written += int(cursor.rowcount)
    return written


# Hour rows of the days the back office's windows start on (PRESET_PERIOD_DAYS, today's and
# tomorrow's): a window's first day is partial, and from its hour rows the raw part is at most
# one hour instead of up to half a day (the rest of a large organization's read, bench/README).
# `grain` = the daily grain + HOUR, `hour` the UTC hour; a HOURS_BUILT row (no member, zeros)
# says the day's hours are built, since a day may have no hour rows at all. They are rebuilt
# with their day's rows (`recompute`), and dropped once no window starts on their day.
HOUR = ROLLUP_HOUR_GRAINS
HOURS_BUILT = ROLLUP_HOURS_BUILT
_HOUR_SQL = f"""
INSERT INTO lead_daily_rollups (organization_id, day, hour, grain, closer_id, sdr_id, author_id,
                                {", ".join(ROLLUP_MEASURES)})
{_RANGES_CTE}
SELECT %(org)s, day::date, EXTRACT(HOUR FROM day), grain + {HOUR}, closer_id, sdr_id, author_id,
       {", ".join(ROLLUP_MEASURES)}
FROM ({bucket_sql(unit="hour")}) b
UNION ALL
SELECT %(org)s, d, NULL, {HOURS_BUILT}, NULL, NULL, NULL, {", ".join("0" for _ in ROLLUP_MEASURES)}
FROM unnest(%(days)s::date[]) d
"""  # noqa: S608 (module constants only)


def edge_days(today: date | None = None) -> list[date]:
    """The UTC days the windows' edges fall on today (UTC unless given) and tomorrow: the
    preset windows' start days, and the end day itself."""
    today = today or datetime.now(UTC).date()
    return sorted(
        {
            today - timedelta(days=days - ahead)
            for days in (0, *PRESET_PERIOD_DAYS)
            for ahead in (0, 1)
        }
    )


# Every hour row (HOURS_BUILT included) of organizations' days, given as parallel arrays.
_DROP_HOURS_SQL = (
    "DELETE FROM lead_daily_rollups r USING unnest(%s::uuid[], %s::date[]) AS d(org, day) "
    "WHERE r.organization_id = d.org AND r.day = d.day AND r.grain >= %s"
)


def build_hours(organization_id: uuid.UUID, days: Iterable[date]) -> int:
    """(Re)writes the hour rows of these UTC days (inside the caller's transaction)."""
    days = sorted(set(days))
    if not days:
        return 0
    with connection.cursor() as cursor:
        cursor.execute(_DROP_HOURS_SQL, [[organization_id] * len(days), days, HOUR])
        params = {**range_params(organization_id, day_ranges(days)), "days": days}
        cursor.execute(_HOUR_SQL, params)
        return int(cursor.rowcount)


# Some hours of organizations' days, given as parallel arrays (their HOURS_BUILT rows kept).
_DROP_SOME_HOURS_SQL = (
    "DELETE FROM lead_daily_rollups r USING unnest(%s::date[], %s::int[]) AS h(day, hour) "
    "WHERE r.organization_id = %s AND r.day = h.day AND r.hour = h.hour AND r.grain >= %s"
)


def build_some_hours(organization_id: uuid.UUID, hours: dict[date, set[int]]) -> int:
    """Rewrites these hours' rows (day -> UTC hours) of days whose hours are built."""
    pairs = sorted((day, hour) for day, day_hours in hours.items() for hour in day_hours)
    if not pairs:
        return 0
    starts = [_midnight(day) + timedelta(hours=hour) for day, hour in pairs]
    ranges = [(lo, lo + timedelta(hours=1)) for lo in starts]
    with connection.cursor() as cursor:
        days, day_hours = zip(*pairs, strict=True)
        cursor.execute(_DROP_SOME_HOURS_SQL, [list(days), list(day_hours), organization_id, HOUR])
        cursor.execute(_HOUR_SQL, {**range_params(organization_id, ranges), "days": []})
        return int(cursor.rowcount)


def _hour_days(organization_id: uuid.UUID, days: list[date] | None = None) -> list[date]:
    """The days (of `days`; all when None) whose hour rows are built."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT day FROM lead_daily_rollups WHERE organization_id = %s AND grain = %s "
            "AND (%s::date[] IS NULL OR day = ANY(%s::date[]))",
            [organization_id, HOURS_BUILT, days, days],
        )
        return [row[0] for row in cursor.fetchall()]


def refresh_edge_hours(
    *, today: date | None = None, budget_seconds: float = JOB_BUDGET_SECONDS
) -> int:
    """The job's second part: builds the hour rows of every organization's edge days that
    lack them (one transaction per organization, until the budget is spent) and drops those
    of days no longer an edge; returns how many days it built."""
    days = edge_days(today)
    started, built = time.monotonic(), 0
    with transaction.atomic():
        if not _lock(wait=False):
            return 0
        with connection.cursor() as cursor:
            # The built days no longer a start day (a small partial index), then their rows.
            cursor.execute(
                "SELECT organization_id, day FROM lead_daily_rollups "
                "WHERE grain = %s AND day <> ALL(%s::date[])",
                [HOURS_BUILT, days],
            )
            stale = cursor.fetchall()
            if stale:
                orgs, stale_days = zip(*stale, strict=True)
                cursor.execute(_DROP_HOURS_SQL, [list(orgs), list(stale_days), HOUR])
            cursor.execute(
                "SELECT o.id, array_agg(d ORDER BY d) FROM organizations o "
                "CROSS JOIN unnest(%s::date[]) d WHERE NOT EXISTS (SELECT 1 FROM "
                "lead_daily_rollups r WHERE r.organization_id = o.id AND r.grain = %s "
                "AND r.day = d) GROUP BY o.id ORDER BY o.id",
                [days, HOURS_BUILT],
            )
            missing = cursor.fetchall()
    for organization_id, org_days in missing:
        if time.monotonic() - started >= budget_seconds:
            break
        with transaction.atomic():
            if not _lock(wait=False):
                break
            build_hours(organization_id, org_days)
        built += len(org_days)
    return built


def _rebuild(organization_id: uuid.UUID, hour_days: Iterable[date] | None = None) -> int:
    """All of the organization's rollup rows from all its history (caller's transaction), with
    the hour rows of `hour_days` (None: of the days they were built for)."""
    hour_days = _hour_days(organization_id) if hour_days is None else hour_days
    set_local(jit="off", work_mem="64MB")
    with connection.cursor() as cursor:
        cursor.execute(
            "DELETE FROM lead_daily_rollups WHERE organization_id = %s", [organization_id]
        )
    written = _insert(organization_id, [], whole=True) + _insert_periods(organization_id, None)
    return written + build_hours(organization_id, hour_days)


def recompute(
    organization_id: uuid.UUID,
    days: Iterable[date],
    hours: dict[date, set[int | None]] | None = None,
) -> int:
    """Replaces the organization's rollup rows of `days` (and of their months) with figures
    from the raw rows (inside the caller's transaction); returns the rows written. `hours`
    (the marks' hours by day; None in a set, or no set: the whole day) narrows the rewrite of
    a day's hour rows to those hours."""
    days = sorted(set(days))
    if len(days) > WHOLE_ABOVE_DAYS:  # most of the history (a bulk score change): rebuild all
        return _rebuild(organization_id)
    with connection.cursor() as cursor:
        cursor.execute(
            "DELETE FROM lead_daily_rollups WHERE organization_id = %s AND grain < %s "
            "AND day = ANY(%s::date[])",
            [organization_id, MONTH, days],
        )
    written = _insert(organization_id, day_ranges(days), whole=False)
    whole_days, some_hours = [], {}
    for day in _hour_days(organization_id, days):
        day_hours = (hours or {}).get(day, {None})
        if None in day_hours:
            whole_days.append(day)
        else:
            some_hours[day] = {hour for hour in day_hours if hour is not None}
    written += build_hours(organization_id, whole_days)
    written += build_some_hours(organization_id, some_hours)
    return written + _insert_periods(organization_id, days)


def refresh_marked(*, budget_seconds: float = JOB_BUDGET_SECONDS) -> int:
    """The job: recomputes the marked buckets, a batch per transaction, until none is left or
    the budget is spent (at least one batch); returns how many buckets it recomputed. A run
    that finds another one running returns 0 at once."""
    started, done = time.monotonic(), 0
    while True:  # at least one batch
        with transaction.atomic():
            if not _lock(wait=False):
                return done
            buckets = _refresh_batch()
        done += buckets
        if not buckets or time.monotonic() - started >= budget_seconds:
            return done


def _refresh_batch() -> int:
    with connection.cursor() as cursor:
        # Every mark of the first buckets marked (read before recomputing: a mark committed
        # later survives for the next run, since only the ids read here are deleted).
        cursor.execute(
            """
            SELECT id, organization_id, day, hour FROM lead_rollup_marks
            WHERE (organization_id, day) IN (
                SELECT organization_id, day FROM lead_rollup_marks ORDER BY id LIMIT %s)
            """,
            [MARK_BATCH],
        )
        marks = cursor.fetchall()
    by_organization: dict[uuid.UUID, dict[date, set[int | None]]] = defaultdict(dict)
    for _, organization_id, day, hour in marks:
        by_organization[organization_id].setdefault(day, set()).add(hour)
    for organization_id, hours in by_organization.items():
        recompute(organization_id, hours, hours)
    with connection.cursor() as cursor:
        cursor.execute(
            "DELETE FROM lead_rollup_marks WHERE id = ANY(%s)", [[mark[0] for mark in marks]]
        )
    return sum(len(days) for days in by_organization.values())


def _clear_marks(organization_id: uuid.UUID) -> None:
    """Drops the organization's marks before a rebuild: the rebuild's statements run after
    this one, so they see every write these marks stand for. A write committed later keeps its
    mark (this statement does not see it) for the job. Left behind, the marks would send the
    dashboard to the raw rows for every marked day until the job had recomputed them all."""
    with connection.cursor() as cursor:
        cursor.execute(
            "DELETE FROM lead_rollup_marks WHERE organization_id = %s", [organization_id]
        )


def backfill(*, organization_ids: list[uuid.UUID] | None, log: Callable[[str], None]) -> int:
    """(Re)builds the rollups of these organizations (all when None) from all their history,
    one transaction per organization; returns the rows written (config/rollups.py)."""
    if connection.vendor != "postgresql":
        log("leads: rollups are PostgreSQL only (SQLite reads the raw rows)")
        return 0
    from organizations.models import Organization

    if organization_ids is None:
        organization_ids = list(Organization.objects.order_by("pk").values_list("pk", flat=True))
    written = 0
    for organization_id in organization_ids:
        started = time.perf_counter()
        with transaction.atomic():
            _lock(wait=True)
            _clear_marks(organization_id)
            rows = _rebuild(organization_id, edge_days())
        written += rows
        log(f"leads: {organization_id}: {rows} rows in {time.perf_counter() - started:.1f} s")
    return written


# --- the dashboard's read ---------------------------------------------------------------------

# Re-entries: moves into a stage inside the window whose previous move into the same stage is
# also inside it (`entered_<stage>` counts them, `advanced_<stage>` those followed by a move
# further along). The daily sums count every entry; minus these, every lead once.
_ADVANCED_LATER = (
    "EXISTS (SELECT 1 FROM lead_status_changes b WHERE b.lead_id = c.lead_id "  # noqa: S608
    "AND b.organization_id = c.organization_id AND b.changed_at > c.changed_at "
    f"AND {_stage_sql('b')} > {_stage_sql('c')})"
)


def _reentry_columns() -> str:
    columns = []
    for name in ROLLUP_MEASURES:
        kind, _, stage = name.partition("_")
        if kind == "entered" and stage in STAGE_NUMBER:
            columns.append(f"COUNT(*) FILTER (WHERE c.to_status = '{stage}')")
        elif kind == "advanced" and stage in STAGE_NUMBER:
            columns.append(f"COUNT(*) FILTER (WHERE c.to_status = '{stage}' AND {_ADVANCED_LATER})")
        else:
            columns.append("0")
    return ", ".join(columns)


# The measures of the rows that rank the closers (`_grains_sql`'s "members", ranked inside the
# statement): the scope's own row has every measure, these rows only these (reading, summing
# and converting every measure of hundreds of members was most of a large organization's read).
MEMBER_MEASURES = ("created", "converted", "valor_sum", "interactions")


def _sum(name: str) -> str:
    # Counts as integers (SUM of a bigint is numeric, and a Decimal per value costs).
    return f"SUM({name})" if name in ROLLUP_SUMS else f"SUM({name})::bigint"


# One statement, one snapshot: the marked days inside the window; the rollup rows of the clean
# full months (month rows), of the clean full ISO weeks outside them (week rows) and of the
# other clean full days (day rows) and the raw buckets of
# the edges and marked days (`bucket_sql`), summed per grain and member for the scope's grains
# (`{grains}`); the re-entries; the time the figures are exact as of. Today's edge comes from
# today's row when that is exact: today unmarked (the row has every write so far) and no row
# of today dated after "now" (which the window must leave out), four index probes. Otherwise,
# with today's hour rows built and no mark of today without an hour (`today_hours`), from the
# hour rows of the hours before end's that no mark names plus the raw rows of the marked hours
# (`today_marked`) and of [end's whole hour, end]: an organization writing all day has today
# marked nearly always, and the raw rows since midnight cost ~0.7 s at 1,000,000 leads. The start
# edge comes, when its day is unmarked with hour rows built (`start_hours`), from the hour
# rows from the hour after `start` on plus the raw part [start, that hour), or, `start` in the
# first half of its hour, from the rows from its own hour on minus [that hour, start) (the
# smaller side of the hour, as below for the day's); and when that hour is before noon, "the
# hour rows from it on" are read as the day's rows minus the hour rows before it (fewer rows
# per member: 12 at most, not up to 24; `days` holds the start day then). Otherwise from the
# smaller side of its day: when `start` is in the first half of its day and that day is
# unmarked with rows (`start_day`), as the day's rows MINUS the raw part [00:00, start) (every
# measure is additive per fact and filed under the fact's day, and the raw part is computed
# like the rows, so the difference is exactly [start, 24:00)); otherwise raw.
# Ranges: 1 = [start, next midnight), 2 = today's edge, 3 = [start's midnight, start),
# 4 = [start, its next whole hour) or [its own hour, start), 5 = [end's whole hour, end]; then
# the marked days and hours. `ranking` sums the picked rows per grain and member in one hash
# pass, so that its three readers (the closers' figures, the authors' and the interactions'
# total) read one row per member: ~450 at 1,000,000 leads, where the picked rows are ~11,500
# for period 365 (each member's months, weeks, days and hours), which two of them sorted
# (the statement, period 365 at 1,000,000 leads: 20.1 -> 16.9 ms p50).
_WINDOW_SQL = """
WITH marked AS (
    SELECT DISTINCT day FROM lead_rollup_marks
    WHERE organization_id = %(org)s AND day > %(first_day)s AND day < %(last_day)s
),
months AS (
    SELECT m::date AS month
    FROM generate_series(date_trunc('month', (%(first_day)s::date + 1)::timestamp),
                         %(last_day)s::date::timestamp, interval '1 month') m
    WHERE m::date > %(first_day)s AND (m + interval '1 month')::date <= %(last_day)s
      AND NOT EXISTS (SELECT 1 FROM marked WHERE date_trunc('month', marked.day::timestamp) = m)
),
weeks AS (
    SELECT w::date AS week
    FROM generate_series(date_trunc('week', (%(first_day)s::date + 1)::timestamp),
                         %(last_day)s::date::timestamp, interval '1 week') w
    WHERE w::date > %(first_day)s AND (w + interval '1 week')::date <= %(last_day)s
      AND date_trunc('month', w)::date NOT IN (SELECT month FROM months)
      AND date_trunc('month', w + interval '6 days')::date NOT IN (SELECT month FROM months)
      AND NOT EXISTS (SELECT 1 FROM marked
                      WHERE marked.day >= w::date AND marked.day < (w + interval '1 week')::date)
),
today AS (
    SELECT 1 AS clean
    WHERE NOT EXISTS (SELECT 1 FROM lead_rollup_marks
                      WHERE organization_id = %(org)s AND day = %(last_day)s)
      AND NOT EXISTS (SELECT 1 FROM leads WHERE organization_id = %(org)s
                      AND created_at > %(end)s AND created_at < %(next_midnight)s)
      AND NOT EXISTS (SELECT 1 FROM leads WHERE organization_id = %(org)s
                      AND converted_at > %(end)s AND converted_at < %(next_midnight)s)
      AND NOT EXISTS (SELECT 1 FROM lead_status_changes WHERE organization_id = %(org)s
                      AND changed_at > %(end)s AND changed_at < %(next_midnight)s)
      AND NOT EXISTS (SELECT 1 FROM lead_interactions WHERE organization_id = %(org)s
                      AND data_interacao > %(end)s AND data_interacao < %(next_midnight)s)
),
today_hours AS (
    SELECT 1 AS clean
    WHERE %(partial_start)s AND NOT EXISTS (SELECT 1 FROM today)
      AND NOT EXISTS (SELECT 1 FROM lead_rollup_marks
                      WHERE organization_id = %(org)s AND day = %(last_day)s AND hour IS NULL)
      AND EXISTS (SELECT 1 FROM lead_daily_rollups
                  WHERE organization_id = %(org)s AND grain = {hours_built}
                    AND day = %(last_day)s)
),
today_marked AS (
    SELECT DISTINCT hour FROM lead_rollup_marks
    WHERE organization_id = %(org)s AND day = %(last_day)s AND hour < %(end_hour)s
      AND EXISTS (SELECT 1 FROM today_hours)
),
start_hours AS (
    SELECT 1 AS clean
    WHERE %(partial_start)s
      AND NOT EXISTS (SELECT 1 FROM lead_rollup_marks
                      WHERE organization_id = %(org)s AND day = %(first_day)s)
      AND EXISTS (SELECT 1 FROM lead_daily_rollups
                  WHERE organization_id = %(org)s AND grain = {hours_built}
                    AND day = %(first_day)s)
),
start_day AS (
    SELECT 1 AS clean
    WHERE %(start_from_row)s AND NOT EXISTS (SELECT 1 FROM start_hours)
      AND NOT EXISTS (SELECT 1 FROM lead_rollup_marks
                      WHERE organization_id = %(org)s AND day = %(first_day)s)
      AND EXISTS (SELECT 1 FROM lead_daily_rollups
                  WHERE organization_id = %(org)s AND day = %(first_day)s)
),
days AS (
    SELECT d::date AS day
    FROM generate_series((%(first_day)s::date + 1)::timestamp,
                         (%(last_day)s::date - 1)::timestamp, interval '1 day') d
    WHERE d::date NOT IN (SELECT day FROM marked)
      AND date_trunc('month', d)::date NOT IN (SELECT month FROM months)
      AND date_trunc('week', d)::date NOT IN (SELECT week FROM weeks)
    UNION ALL
    SELECT %(last_day)s::date FROM today
    UNION ALL
    SELECT %(first_day)s::date FROM start_day
    UNION ALL
    SELECT %(first_day)s::date FROM start_hours WHERE %(day_less_hours)s
),
ranges AS (
    SELECT r.lo, r.hi
    FROM unnest(%(lo)s::timestamptz[], %(hi)s::timestamptz[]) WITH ORDINALITY AS r(lo, hi, n)
    WHERE CASE r.n WHEN 1 THEN NOT EXISTS (SELECT 1 FROM start_day)
                               AND NOT EXISTS (SELECT 1 FROM start_hours)
                   WHEN 2 THEN NOT EXISTS (SELECT 1 FROM today)
                               AND NOT EXISTS (SELECT 1 FROM today_hours)
                   WHEN 3 THEN EXISTS (SELECT 1 FROM start_day)
                   WHEN 4 THEN EXISTS (SELECT 1 FROM start_hours)
                   ELSE EXISTS (SELECT 1 FROM today_hours) END
    UNION ALL
    SELECT day::timestamp AT TIME ZONE 'UTC', (day + 1)::timestamp AT TIME ZONE 'UTC' FROM marked
    UNION ALL
    SELECT %(last_midnight)s::timestamptz + make_interval(hours => hour),
           %(last_midnight)s::timestamptz + make_interval(hours => hour + 1)
    FROM today_marked
),
raw AS ({bucket}),
whole AS ({whole}),
members AS ({members}),
ranking AS (
    SELECT grain, closer_id, author_id, SUM(created) AS created, SUM(converted) AS converted,
           SUM(valor_sum) AS valor_sum, SUM(interactions) AS interactions
    FROM (SELECT grain, closer_id, author_id, created, converted, valor_sum, interactions
          FROM whole
          UNION ALL
          SELECT grain, closer_id, author_id, created, converted, valor_sum, interactions
          FROM members) picked
    GROUP BY grain, closer_id, author_id
),
by_lead AS (
    SELECT closer_id AS id, SUM(created)::bigint AS created,
           SUM(converted)::bigint AS converted, SUM(valor_sum) AS valor_sum
    FROM ranking WHERE grain = {lead_grain} AND closer_id IS NOT NULL GROUP BY closer_id
    HAVING SUM(created) <> 0 OR SUM(converted) <> 0
),
by_author AS (
    SELECT author_id AS id, SUM(interactions)::bigint AS interactions
    FROM ranking WHERE grain = {author_grain} AND author_id IS NOT NULL GROUP BY author_id
    HAVING SUM(interactions) <> 0
),
ranked AS (
    SELECT m.id, m.nome_completo, COALESCE(bl.created, 0) AS created,
           COALESCE(bl.converted, 0) AS converted, COALESCE(bl.valor_sum, 0) AS valor_sum,
           COALESCE(ba.interactions, 0) AS interactions
    FROM organization_users m
    LEFT JOIN by_lead bl ON bl.id = m.id
    LEFT JOIN by_author ba ON ba.id = m.id
    WHERE m.organization_id = %(org)s
      AND (bl.id IS NOT NULL OR (ba.id IS NOT NULL AND m.role = %(rank_role)s))
),
top AS (
    SELECT *, row_number() OVER (ORDER BY valor_sum DESC, converted DESC, created DESC,
                                          nome_completo, id) AS position
    FROM ranked ORDER BY position LIMIT %(rank_limit)s
)
SELECT 'scope', NULL::uuid, {sums}, NULL::timestamptz, NULL::text, NULL::bigint
FROM whole GROUP BY grain
UNION ALL
SELECT 'reentries', NULL, {reentries}, statement_timestamp(), NULL, NULL
FROM lead_status_changes c {reentry_join}
WHERE c.organization_id = %(org)s AND c.prev_same_stage_at >= %(start)s
  AND c.changed_at <= %(end)s {reentry_scope}
UNION ALL
SELECT 'rank', id, {rank_columns}, NULL, nome_completo, position FROM top
UNION ALL
SELECT 'interactions', NULL, {interaction_columns}, NULL, NULL, NULL
FROM (SELECT SUM(interactions)::bigint AS interactions FROM ranking
      WHERE grain = {author}) total
"""


# The rows a scope reads of one part (`{grains}`, `{columns}`): the day, month, week and hour
# rows and the raw buckets (the start day's part before `start` subtracted, see above).
_PICKED_SQL = """
    SELECT grain, closer_id, sdr_id, author_id, {columns} FROM lead_daily_rollups
    WHERE organization_id = %(org)s AND day = ANY(ARRAY(SELECT day FROM days)) AND ({grains})
    UNION ALL
    SELECT grain - {month}, closer_id, sdr_id, author_id, {columns} FROM lead_daily_rollups
    WHERE organization_id = %(org)s AND day = ANY(ARRAY(SELECT month FROM months))
      AND ({month_grains})
    UNION ALL
    SELECT grain - {week}, closer_id, sdr_id, author_id, {columns} FROM lead_daily_rollups
    WHERE organization_id = %(org)s AND day = ANY(ARRAY(SELECT week FROM weeks))
      AND ({week_grains})
    UNION ALL
    SELECT grain - {hour}, closer_id, sdr_id, author_id, {hour_signed} FROM lead_daily_rollups
    WHERE organization_id = %(org)s AND day = %(first_day)s
      AND hour >= %(start_hours_lo)s AND hour < %(start_hours_hi)s
      AND ({hour_grains}) AND EXISTS (SELECT 1 FROM start_hours)
    UNION ALL
    SELECT grain - {hour}, closer_id, sdr_id, author_id, {columns} FROM lead_daily_rollups
    WHERE organization_id = %(org)s AND day = %(last_day)s AND hour < %(end_hour)s
      AND hour <> ALL(ARRAY(SELECT hour FROM today_marked))
      AND ({hour_grains}) AND EXISTS (SELECT 1 FROM today_hours)
    UNION ALL
    SELECT grain, closer_id, sdr_id, author_id, {signed}
    FROM (SELECT raw.*, CASE WHEN day = %(first_day)s
                                  AND (EXISTS (SELECT 1 FROM start_day)
                                       OR (%(start_hour_less)s
                                           AND EXISTS (SELECT 1 FROM start_hours)))
                             THEN -1 ELSE 1 END AS sign
          FROM raw) raw
    WHERE ({grains})
"""


def _picked_sql(part: str, narrowed_by: str | None) -> str:
    """The rows of the scope's `part`: "whole" (its own row, every measure) or "members" (the
    rows that rank the closers, MEMBER_MEASURES only)."""
    names = ROLLUP_MEASURES if part == "whole" else MEMBER_MEASURES

    def grains(offset: int) -> str:
        g = SimpleNamespace(**{grain.name: grain.value + offset for grain in RollupGrain})
        return _grains_sql(narrowed_by, g)[part]

    return _PICKED_SQL.format(
        columns=", ".join(names),
        signed=", ".join(f"sign * {name} AS {name}" for name in names),
        hour_signed=", ".join(
            f"CASE WHEN %(day_less_hours)s THEN -{name} ELSE {name} END AS {name}" for name in names
        ),
        grains=grains(0),
        month_grains=grains(MONTH),
        week_grains=grains(WEEK),
        hour_grains=grains(HOUR),
        month=MONTH,
        week=WEEK,
        hour=HOUR,
    )


def _grains_sql(narrowed_by: str | None, g: Any) -> dict[str, str]:
    """The rollup rows of a scope, by part: "whole" (the scope's own row) and "members" (the
    rows that rank the closers; the interactions' total is their AUTHOR rows' sum)."""
    if narrowed_by == "closer_id":
        return {
            "whole": f"grain = {g.CLOSER} AND closer_id = %(member)s AND author_id IS NULL",
            "members": f"grain = {g.AUTHOR} AND closer_id IS NULL AND author_id = %(member)s",
        }
    if narrowed_by == "sdr_id":
        return {
            "whole": f"grain = {g.SDR} AND sdr_id = %(member)s",
            "members": (
                f"grain IN ({g.CLOSER_SDR}, {g.AUTHOR}, {g.AUTHOR_SDR}) AND ("
                f"(grain = {g.CLOSER_SDR} AND sdr_id = %(member)s AND closer_id IS NOT NULL) "
                f"OR (grain = {g.AUTHOR} AND closer_id IS NULL AND author_id = %(member)s) "
                f"OR (grain = {g.AUTHOR_SDR} AND sdr_id = %(member)s))"
            ),
        }
    # `grain IN` first: one index range per grain, the rest checked on the index's columns
    # (ldr_members_hour_cover: an index-only scan), not a bitmap per alternative.
    return {
        "whole": f"grain = {g.ORGANIZATION}",
        "members": (
            f"grain IN ({g.AUTHOR}, {g.CLOSER}) AND (grain = {g.AUTHOR} OR closer_id IS NOT NULL)"
        ),
    }


@functools.cache
def _window_sql(narrowed_by: str | None) -> str:
    """The statement for a scope narrowed by "closer_id", "sdr_id" or nothing (the member is
    a parameter): three texts of ~28 KB, built once per process."""
    by_sdr = narrowed_by == "sdr_id"
    return _WINDOW_SQL.format(
        bucket=bucket_sql(),
        whole=_picked_sql("whole", narrowed_by),
        members=_picked_sql("members", narrowed_by),
        sums=", ".join(_sum(name) for name in ROLLUP_MEASURES),
        rank_columns=", ".join(
            name if name in MEMBER_MEASURES else "NULL" for name in ROLLUP_MEASURES
        ),
        interaction_columns=", ".join(
            "COALESCE(interactions, 0)" if name == "interactions" else "NULL"
            for name in ROLLUP_MEASURES
        ),
        lead_grain=int(RollupGrain.CLOSER_SDR if by_sdr else RollupGrain.CLOSER),
        author_grain=int(RollupGrain.AUTHOR_SDR if by_sdr else RollupGrain.AUTHOR),
        author=int(RollupGrain.AUTHOR),
        hours_built=HOURS_BUILT,
        reentries=_reentry_columns(),
        reentry_join="JOIN leads l ON l.id = c.lead_id" if narrowed_by else "",
        reentry_scope=f"AND l.{narrowed_by} = %(member)s" if narrowed_by else "",
    )


Figures = dict[str, Any]  # measure name -> value


def _zeros() -> Figures:
    return dict.fromkeys(ROLLUP_MEASURES, 0)


@dataclass
class WindowFigures:
    """The rollup sums of a dashboard window for one scope: every measure of the scope's own
    row (`_grains_sql`'s "whole") and of the re-entries; the ranked closers, best first, as
    (id, name, created, converted, valor_sum, interactions) from the rows that rank them
    ("members"); and the scope's interactions."""

    scope: Figures = field(default_factory=_zeros)
    reentries: Figures = field(default_factory=_zeros)
    ranking: list[tuple[Any, ...]] = field(default_factory=list)
    interactions: int = 0
    as_of: datetime | None = None


HALF_DAY = timedelta(hours=12)
_RANK_INDEXES = [ROLLUP_MEASURES.index(name) for name in MEMBER_MEASURES]
_INTERACTIONS = ROLLUP_MEASURES.index("interactions")


def _midnight(day: date) -> datetime:
    return datetime.combine(day, clock.min, tzinfo=UTC)


def read_window(
    *,
    organization_id: uuid.UUID,
    start: datetime,
    end: datetime,
    closer_id: uuid.UUID | None = None,
    sdr_id: uuid.UUID | None = None,
    rank_role: str = "closer",
    rank_limit: int = 10,
    using: str = DEFAULT_DB_ALIAS,
) -> WindowFigures:
    """The sums of every measure over `[start, end]` for the scope (the organization, a closer,
    or an SDR) and its re-entries; the first `rank_limit` closers (members with leads created
    or converted in the window, or `rank_role` members with interactions) by value,
    conversions, leads, name. One query, on the database `using` (the replica for a
    dashboard request that reads it)."""
    params = _window_params(organization_id, start, end)
    params.update(member=closer_id or sdr_id, rank_role=rank_role, rank_limit=rank_limit)
    figures = WindowFigures()
    with connections[using].cursor() as cursor:
        narrowed_by = (
            "closer_id" if closer_id is not None else "sdr_id" if sdr_id is not None else None
        )
        cursor.execute(_window_sql(narrowed_by), params)
        for part, member, *values, as_of, name, position in cursor.fetchall():
            if part == "scope":
                figures.scope = dict(zip(ROLLUP_MEASURES, values, strict=True))
            elif part == "reentries":  # always one row
                figures.reentries = dict(zip(ROLLUP_MEASURES, values, strict=True))
                figures.as_of = as_of
            elif part == "rank":
                ranked = (member, name, *(values[index] for index in _RANK_INDEXES))
                figures.ranking.append((position, *ranked))
            else:
                figures.interactions = int(values[_INTERACTIONS])
    figures.ranking = [row[1:] for row in sorted(figures.ranking, key=lambda row: row[0])]
    return figures


def _window_params(organization_id: uuid.UUID, start: datetime, end: datetime) -> dict[str, Any]:
    """`_WINDOW_SQL`'s parameters for the window `[start, end]` (the scope's are added)."""
    first_day, last_day = start.astimezone(UTC).date(), end.astimezone(UTC).date()
    # The partial edge days, end included (PostgreSQL times are whole microseconds), and the
    # start day's part before `start` (subtracted from the day's rows, see `_WINDOW_SQL`).
    # With the start day's hour rows: the raw part [start, its next whole hour) and the hour
    # rows from that hour on; or, when `start` is in the first half of its hour, the hour
    # rows from start's own hour on MINUS the raw part [that hour, start) (the smaller side,
    # as for the day): at most half an hour of raw facts.
    start_hour = start.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    next_hour = start_hour if start_hour == start else start_hour + timedelta(hours=1)
    hour_less = timedelta(0) < start - start_hour < timedelta(minutes=30)
    from_hour = start_hour if hour_less else next_hour
    hours_before = (from_hour - _midnight(first_day)) // timedelta(hours=1)
    # With today's hour rows: the raw part [end's whole hour, end] (and the marked hours).
    end_hour = end.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    lo = [start, _midnight(last_day), _midnight(first_day), min(start, from_hour), end_hour]
    hi = [
        _midnight(first_day + timedelta(days=1)),
        end + timedelta(microseconds=1),
        start,
        max(start, from_hour),
        end + timedelta(microseconds=1),
    ]
    return {
        "org": organization_id,
        "first_day": first_day,
        "last_day": last_day,
        "lo": lo,
        "hi": hi,
        "start": start,
        "end": end,
        "last_midnight": _midnight(last_day),
        "next_midnight": _midnight(last_day + timedelta(days=1)),
        # The smaller side of the start day: [00:00, start) when start is before noon.
        "start_from_row": first_day < last_day and start - _midnight(first_day) < HALF_DAY,
        "partial_start": first_day < last_day,
        # The start day's rows from `from_hour` on (`start_hours`): its hour rows from there,
        # or, when fewer rows, its day rows MINUS its hour rows before (`from_hour` 11 or
        # earlier): 12 rows at most per member and grain, not up to 24.
        "day_less_hours": hours_before < 12,
        "start_hours_lo": 0 if hours_before < 12 else hours_before,
        "start_hours_hi": hours_before if hours_before < 12 else 24,
        "start_hour_less": hour_less,
        "end_hour": end_hour.hour,
    }


def edge_ranges(start: datetime, end: datetime) -> list[Range]:
    """The raw parts of the window `[start, end]` beside its clean full UTC days: `[start, next
    midnight)` and `[last midnight, end]` (one range when the window is inside one day)."""
    first_day, last_day = start.astimezone(UTC).date(), end.astimezone(UTC).date()
    after_end = end + timedelta(microseconds=1)  # PostgreSQL times are whole microseconds
    if first_day == last_day:
        return [(start, after_end)]
    return [(start, _midnight(first_day + timedelta(days=1))), (_midnight(last_day), after_end)]


# The painel's weekly series (leads.dashboard_selectors.weekly_series): per week of the
# organization's time zone, the cohort leads created and the converted-set leads converted.
# The clean full days inside the window come from the day rows (`created`, `converted` of the
# scope's own grain), each day's sums given to the local week of its noon (UTC); the edges
# (`edge_ranges`) and the marked days come from the raw rows, each fact in its own local week.
# A UTC day that a local week starts in holds facts of two weeks: the raw facts of its smaller
# side (a slice, up to the local midnight and an hour of margin for daylight saving) move from
# the week its sums went to (`moved_from`) to their own, so only a few hours a week are read
# raw (3 of 168 in UTC-3). Rows: (week, moved_from or NULL, created, converted). One
# statement, one snapshot.
_WEEK_FACTS = """
{name} AS (
    SELECT date_trunc('week', l.at AT TIME ZONE %(tz)s)::date AS week, r.moved_from,
           COUNT(*) AS n
    FROM ranges r CROSS JOIN LATERAL (
        SELECT l.{column} AS at FROM leads l
        WHERE l.organization_id = %(org)s AND l.{column} >= r.lo AND l.{column} < r.hi
              {condition} OFFSET 0) l
    GROUP BY 1, 2
)"""
_WEEKS_SQL = """
WITH marked AS (
    SELECT DISTINCT day FROM lead_rollup_marks
    WHERE organization_id = %(org)s AND day > %(first_day)s AND day < %(last_day)s
),
rolled AS (
    SELECT date_trunc('week', (day + time '12:00') AT TIME ZONE 'UTC' AT TIME ZONE %(tz)s)::date
               AS week,
           SUM(created)::bigint AS created, SUM(converted)::bigint AS converted
    FROM lead_daily_rollups
    WHERE organization_id = %(org)s AND day > %(first_day)s AND day < %(last_day)s
      AND ({grains}) AND day <> ALL(ARRAY(SELECT day FROM marked))
    GROUP BY 1
),
ranges AS (
    SELECT r.lo, r.hi, r.moved_from
    FROM unnest(%(lo)s::timestamptz[], %(hi)s::timestamptz[], %(moved_from)s::date[])
        AS r(lo, hi, moved_from)
    WHERE r.moved_from IS NULL
       OR (r.lo AT TIME ZONE 'UTC')::date <> ALL(ARRAY(SELECT day FROM marked))
    UNION ALL
    SELECT day::timestamp AT TIME ZONE 'UTC', (day + 1)::timestamp AT TIME ZONE 'UTC', NULL
    FROM marked
),
{created},
{converted}
SELECT week, NULL::date, created, converted FROM rolled
UNION ALL
SELECT week, moved_from, n, 0 FROM created
UNION ALL
SELECT week, moved_from, 0, n FROM converted
"""
_WEEK_MARGIN = timedelta(hours=1)


@functools.cache
def _weeks_sql(narrowed_by: str | None) -> str:
    g = SimpleNamespace(**{grain.name: grain.value for grain in RollupGrain})
    scope = f"AND l.{narrowed_by} = %(member)s" if narrowed_by else ""
    converted = f"AND l.status = '{LeadStatus.CONVERTIDO.value}' {scope}"
    return _WEEKS_SQL.format(
        grains=_grains_sql(narrowed_by, g)["whole"],
        created=_WEEK_FACTS.format(name="created", column="created_at", condition=scope),
        converted=_WEEK_FACTS.format(name="converted", column="converted_at", condition=converted),
    )


def _monday(moment: datetime, zone: ZoneInfo) -> date:
    day = moment.astimezone(zone).date()
    return day - timedelta(days=day.weekday())


WeekRange = tuple[datetime, datetime, date | None]


def _week_ranges(start: datetime, end: datetime, zone: ZoneInfo) -> list[WeekRange]:
    """`read_weeks`' raw ranges `[lo, hi)`: the window's edges, and a slice of each clean full
    UTC day a local week starts in, with the week its day's sums go to (that of its noon)."""
    first_day, last_day = start.astimezone(UTC).date(), end.astimezone(UTC).date()
    ranges: list[WeekRange] = [(lo, hi, None) for lo, hi in edge_ranges(start, end)]
    monday = _monday(start, zone) + timedelta(days=7)
    while (boundary := datetime.combine(monday, clock.min, tzinfo=zone).astimezone(UTC)) < end:
        day = boundary.date()
        lo, hi = _midnight(day), _midnight(day + timedelta(days=1))
        noon = lo + HALF_DAY
        if first_day < day < last_day and boundary != lo:
            if boundary <= noon:  # the part before the local midnight is the smaller side
                ranges.append((lo, min(boundary + _WEEK_MARGIN, hi), _monday(noon, zone)))
            else:
                ranges.append((max(boundary - _WEEK_MARGIN, lo), hi, _monday(noon, zone)))
        monday += timedelta(days=7)
    return ranges


def read_weeks(
    *,
    organization_id: uuid.UUID,
    start: datetime,
    end: datetime,
    tz: str,
    closer_id: uuid.UUID | None = None,
    sdr_id: uuid.UUID | None = None,
) -> dict[date, tuple[int, int]]:
    """Per local week (its Monday in `tz`) with any, the leads created and the leads converted
    in `[start, end]` of the scope (the organization, a closer or an SDR): the figures of
    `leads.dashboard_selectors.reference_weekly_series`. One query."""
    if closer_id is not None and sdr_id is not None:
        raise ValueError("a scope is narrowed by a closer or by an SDR, not both")
    ranges = _week_ranges(start, end, ZoneInfo(tz))
    narrowed_by = "closer_id" if closer_id is not None else "sdr_id" if sdr_id is not None else None
    params: dict[str, Any] = {
        "org": organization_id,
        "first_day": start.astimezone(UTC).date(),
        "last_day": end.astimezone(UTC).date(),
        "lo": [lo for lo, _, _ in ranges],
        "hi": [hi for _, hi, _ in ranges],
        "moved_from": [week for _, _, week in ranges],
        "tz": tz,
        "member": closer_id or sdr_id,
    }
    weeks: dict[date, list[int]] = defaultdict(lambda: [0, 0])
    with connection.cursor() as cursor:
        cursor.execute(_weeks_sql(narrowed_by), params)
        for week, moved_from, created, converted in cursor.fetchall():
            weeks[week][0] += created
            weeks[week][1] += converted
            if moved_from is not None:  # raw facts of a slice, counted in its day's sums too
                weeks[moved_from][0] -= created
                weeks[moved_from][1] -= converted
    return {monday: (created, converted) for monday, (created, converted) in weeks.items()}
