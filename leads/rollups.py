"""Daily rollups of the sales dashboard (issue 18, point 1), PostgreSQL only.

`lead_daily_rollups` (leads.models.LeadDailyRollup) holds, per organization and UTC day, the
dashboard's measures (leads.models.ROLLUP_MEASURES) at six grains (leads.models.RollupGrain):
the organization, each current closer, each current SDR, each (closer, SDR) pair, each
interaction author and each (author, lead's SDR) pair. A fact is filed under the day of the
date that defines its set (leads/dashboard_selectors.py): a lead under its creation day
(cohort counts by current status and temperatura, qualified, score), again under its conversion
day (conversions, value, cycle time), each move under its day (entries per stage, entries that
advanced later, ended stays and their length), each interaction under its day.

Freshness: triggers (migration 0020) append the (organization, day) buckets a write makes stale
to `lead_rollup_marks` in the writing transaction. `refresh_marked` (the `leads-rollups` job,
every minute) recomputes the marked buckets from the raw rows and deletes exactly the marks it
read. The dashboard (`leads.dashboard_selectors.sales_dashboard`) reads the rollups of the
window's clean full days and computes the rest (the two partial edge days and the marked days)
from the raw rows with the same SQL (`bucket_sql`), so its figures are exact whatever the job's
lag. One statement computes every bucket of an organization over a set of time ranges: the job
(a few days), the backfill (all history at once) and the dashboard's raw part share it.
"""

from __future__ import annotations

import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock
from typing import Any

from django.db import connection, transaction

from leads.models import (
    FLOW_STAGES,
    PIPELINE_ORDER,
    ROLLUP_MEASURES,
    ROLLUP_SUMS,
    LeadStatus,
    RollupGrain,
    Temperatura,
)

# Serializes the job and the backfill (two job runs at once: the second does nothing).
LOCK_KEY = 7_218_431_018
MARK_BATCH = 2_000
JOB_BUDGET_SECONDS = 50.0

# A stage's number: its place on the forward path (1-6), `perdido` 0 (never "further along").
FORWARD_STAGES = [s for s in PIPELINE_ORDER if s != LeadStatus.PERDIDO]
STAGE_NUMBER = {stage: FORWARD_STAGES.index(stage) + 1 for stage in FORWARD_STAGES}
STAGE_NUMBER[LeadStatus.PERDIDO.value] = 0
QUALIFIED_OR_BEYOND = (
    LeadStatus.QUALIFICADO.value,
    LeadStatus.AGENDADO.value,
    LeadStatus.NEGOCIACAO.value,
    LeadStatus.CONVERTIDO.value,
)
# Stage and temperature names are inlined as SQL literals: they must never need quoting.
if not all(name.replace("_", "").isalpha() for name in (*PIPELINE_ORDER, *Temperatura.values)):
    raise RuntimeError("stage and temperature names must be plain words")

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
    facts["qualified"] = _case(
        f"l.status IN ({qualified}) OR EXISTS (SELECT 1 FROM lead_status_changes q "  # noqa: S608
        f"WHERE q.lead_id = l.id AND q.to_status IN ({qualified}))"
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


def _fact_select(day: str, facts: dict[str, str]) -> str:
    columns = ", ".join(f"{facts.get(name, '0')} AS {name}" for name in _LEAD_MEASURES)
    return f"SELECT ({day} AT TIME ZONE 'UTC')::date AS day, l.closer_id, l.sdr_id, {columns}"


def _in_ranges(column: str, whole: bool) -> str:
    return "" if whole else f"JOIN ranges r ON {column} >= r.lo AND {column} < r.hi"


_STAGE_SQL = (
    "CASE c.to_status "
    + " ".join(f"WHEN '{name}' THEN {number}" for name, number in STAGE_NUMBER.items())
    + " END"
)
# Parts of the bucket statement that do not depend on its ranges.
_PARTS = {
    "stage": _STAGE_SQL,
    "beyond": ", ".join(
        f"MAX(c.changed_at) FILTER (WHERE c.stage > {n}) OVER lead AS beyond_{n}"
        for n in range(1, len(FORWARD_STAGES))
    ),
    "created_facts": _fact_select("l.created_at", _created_facts()),
    "converted_facts": _fact_select("l.converted_at", _converted_facts()),
    "move_facts": _fact_select("m.changed_at", _move_facts()),
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
WITH ranges AS (SELECT * FROM unnest(%(lo)s::timestamptz[], %(hi)s::timestamptz[]) AS r(lo, hi)),
moves AS (
    SELECT c.lead_id, c.changed_at, c.stage,
           LEAD(c.changed_at) OVER (PARTITION BY c.lead_id ORDER BY c.changed_at, c.to_status)
               AS next_at,
           {beyond}
    FROM (SELECT c.lead_id, c.changed_at, c.to_status, {stage} AS stage
          FROM lead_status_changes c
          WHERE c.organization_id = %(org)s {touched_leads}) c
    WINDOW lead AS (PARTITION BY c.lead_id)
),
facts AS (
    {created_facts}
    FROM leads l {created_range}
    WHERE l.organization_id = %(org)s
    UNION ALL
    {converted_facts}
    FROM leads l {converted_range}
    WHERE l.organization_id = %(org)s AND l.status = '{converted}'
      AND l.converted_at IS NOT NULL
    UNION ALL
    {move_facts}
    FROM moves m {move_range}
    JOIN leads l ON l.id = m.lead_id
),
interactions AS (
    SELECT (i.data_interacao AT TIME ZONE 'UTC')::date AS day, i.closer_id AS author_id, l.sdr_id
    FROM lead_interactions i {interaction_range}
    JOIN leads l ON l.id = i.lead_id
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
_TOUCHED_LEADS = (
    "AND c.lead_id IN (SELECT x.lead_id FROM lead_status_changes x "
    "JOIN ranges r ON x.changed_at >= r.lo AND x.changed_at < r.hi "
    "WHERE x.organization_id = %(org)s)"
)


def bucket_sql(*, whole: bool = False) -> str:
    """Every bucket of organization `%(org)s` over the ranges `[%(lo)s[i], %(hi)s[i])` (or all
    history when `whole`): rows (day, grain, closer_id, sdr_id, author_id, *ROLLUP_MEASURES)."""
    return _BUCKET_SQL.format(
        **_PARTS,
        touched_leads="" if whole else _TOUCHED_LEADS,
        created_range=_in_ranges("l.created_at", whole),
        converted_range=_in_ranges("l.converted_at", whole),
        move_range=_in_ranges("m.changed_at", whole),
        interaction_range=_in_ranges("i.data_interacao", whole),
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
        f"INSERT INTO lead_daily_rollups (organization_id, {_COLUMNS}) "  # noqa: S608
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


def recompute(organization_id: uuid.UUID, days: Iterable[date]) -> int:
    """Replaces the organization's rollup rows of `days` with figures from the raw rows
    (inside the caller's transaction); returns the rows written."""
    days = sorted(set(days))
    with connection.cursor() as cursor:
        cursor.execute(
            "DELETE FROM lead_daily_rollups WHERE organization_id = %s AND day = ANY(%s::date[])",
            [organization_id, days],
        )
    return _insert(organization_id, day_ranges(days), whole=False)


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
            SELECT id, organization_id, day FROM lead_rollup_marks
            WHERE (organization_id, day) IN (
                SELECT organization_id, day FROM lead_rollup_marks ORDER BY id LIMIT %s)
            """,
            [MARK_BATCH],
        )
        marks = cursor.fetchall()
    by_organization: dict[uuid.UUID, set[date]] = defaultdict(set)
    for _, organization_id, day in marks:
        by_organization[organization_id].add(day)
    for organization_id, days in by_organization.items():
        recompute(organization_id, days)
    with connection.cursor() as cursor:
        cursor.execute(
            "DELETE FROM lead_rollup_marks WHERE id = ANY(%s)", [[mark[0] for mark in marks]]
        )
    return sum(len(days) for days in by_organization.values())


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
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL jit = off")
                cursor.execute("SET LOCAL work_mem = '64MB'")
                cursor.execute(
                    "DELETE FROM lead_daily_rollups WHERE organization_id = %s", [organization_id]
                )
            rows = _insert(organization_id, [], whole=True)
        written += rows
        log(f"leads: {organization_id}: {rows} rows in {time.perf_counter() - started:.1f} s")
    return written


# Numeric measures come back as Decimal, the counts as int.
SUM_MEASURES = frozenset(ROLLUP_SUMS)
