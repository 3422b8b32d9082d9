"""Reads for leads: the list queryset and the per-page extras loaded without N+1."""

from __future__ import annotations

import datetime
import re
import uuid
from collections import namedtuple
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from functools import cache
from operator import itemgetter
from typing import Any

from django.db import connection, connections, router
from django.db.models import Count, F, Field, Func, Model, Q, QuerySet, Window
from django.db.models.functions import RowNumber
from psycopg.types.datetime import TimestamptzLoader

from config import db_rows, search
from leads.models import (
    Lead,
    LeadCount,
    LeadInteraction,
    LeadQualification,
    LeadSearchRow,
    LeadStatusTotal,
    LeadTagCount,
)
from organizations.access import lead_visibility_q
from organizations.models import Membership

# `search` (API and admin): accents and case ignored; the phone by its digits. The folded
# text of these fields (same fields, same order) is stored in `search_fold` by a trigger
# (leads 0019), which the lead_org_search_col index holds.
SEARCH_TEXT_FIELDS = ("nome_completo", "email", "empresa")
SEARCH_DIGITS_FIELD = "telefone"
SEARCH_FOLDED_FIELD = "search_fold"


@dataclass(frozen=True)
class KeptTotal:
    """Where a list's exact `total` is read without counting `leads`: the organization's kept
    count (`lead_counts`) for its whole list, or its matches in `lead_search_rows` for a
    list narrowed by `search` only (a narrow copy of the searched text: half the pages)."""

    organization_id: uuid.UUID | str
    search: str | None = None


def lead_total(organization_id: uuid.UUID | str, search: str | None = None) -> int:
    """The organization's number of leads, from the counts the triggers keep (no scan); with
    `search`, the number of its leads that match it (counted in lead_search_rows)."""
    source = KeptTotal(organization_id, search)
    db = connections[router.db_for_read(LeadCount)]
    sql, params = _total_statement(source, db)
    with db.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    return int(row[0] if row and row[0] is not None else 0)


# A fixed statement: the ORM's aggregate took longer to compile than to run (every list
# request reads it).
_TOTAL_SQL = "SELECT SUM(total) FROM lead_counts WHERE organization_id = %s"


def _total_statement(source: KeptTotal, db: Any) -> tuple[str, tuple[Any, ...]]:
    """The statement (a single value) of a kept total, on the connection `db`."""
    condition = None if source.search is None else _search_condition(source.search)
    if condition is None:
        return _TOTAL_SQL, (_organization_key(source.organization_id, db),)
    matches = (
        LeadSearchRow.objects.using(db.alias)
        .filter(organization_id=source.organization_id)
        .filter(condition)
        .order_by()
        .values("pk")
    )
    sql, params = matches.query.get_compiler(using=db.alias).as_sql()
    return f"SELECT COUNT(*) FROM ({sql}) matches", tuple(params)  # noqa: S608 (the ORM's SQL)


def _organization_key(organization_id: uuid.UUID | str, db: Any) -> Any:
    field = LeadCount._meta.get_field("organization_id")
    return field.get_db_prep_value(organization_id, db, prepared=False)


def kept_total_for(
    membership: Membership,
    params: Mapping[str, str],
    *,
    unfiltering: frozenset[str] | None = None,
    search_param: str = "search",
) -> KeptTotal | None:
    """The kept total of a list request, or None (a filtered list, counted in `leads`).

    It applies when the list is the organization's whole lead table (no filter, search or
    narrowing by role), or that table narrowed by `search_param` alone. `params` are the
    request's query parameters (their last values, as the filters read them); `unfiltering`
    names those that change neither which leads nor how many are listed (the API's by
    default; the admin's lead list passes its own, and `q` for its search box)."""
    if lead_visibility_q(membership):
        return None
    names = set(params) - (UNFILTERING_PARAMS if unfiltering is None else unfiltering)
    if not names:
        return KeptTotal(membership.organization_id)
    if names == {search_param}:
        return KeptTotal(membership.organization_id, params.get(search_param) or "")
    return None


# The API's query parameters that change neither which leads nor how many are listed.
UNFILTERING_PARAMS = frozenset({"page", "limit", "ordering", "format"})


def _search_condition(value: str) -> Q | None:
    # The same condition as `lead_search`: lead_search_rows carries the columns it names.
    return search.search_condition(
        value,
        text_fields=SEARCH_TEXT_FIELDS,
        digits_field=SEARCH_DIGITS_FIELD,
        folded_field=SEARCH_FOLDED_FIELD,
    )


def lead_search(queryset: QuerySet[Lead], value: str) -> QuerySet[Lead]:
    return search.search(
        queryset,
        value,
        text_fields=SEARCH_TEXT_FIELDS,
        digits_field=SEARCH_DIGITS_FIELD,
        folded_field=SEARCH_FOLDED_FIELD,
    )


def lead_list_queryset(*, membership: Membership) -> QuerySet[Lead]:
    """Leads the member may see, with closer, SDR and qualification joined in one query."""
    return (
        Lead.objects.for_org(membership.organization_id)
        .visible_to(membership)
        .select_related("closer", "sdr", "qualification")
    )


# Per lead of the page, one index probe each: the count of its interactions and its latest one
# (the (lead, -data_interacao) index gives the latest without sorting).
_EXTRAS_JOINS = """CROSS JOIN LATERAL (
    SELECT COUNT(*) AS n FROM lead_interactions i WHERE i.lead_id = page.id
) counted
LEFT JOIN LATERAL (
    SELECT i.data_interacao, i.tipo_interacao, i.resultado
    FROM lead_interactions i
    WHERE i.lead_id = page.id
    ORDER BY i.data_interacao DESC, i.created_at DESC
    LIMIT 1
) latest ON TRUE"""
_EXTRAS_FROM = """
SELECT page.id, counted.n, latest.data_interacao, latest.tipo_interacao, latest.resultado
FROM unnest(%s::uuid[]) AS page(id)
"""
_EXTRAS_SQL = _EXTRAS_FROM + _EXTRAS_JOINS


def attach_list_extras(leads: Sequence[Lead]) -> Sequence[Lead]:
    """Sets `interactions_count` and `last_interaction` on each lead of a page.

    One query whatever the page size on PostgreSQL (two LATERAL probes per lead); elsewhere
    (SQLite) two: a grouped count and a "latest per lead" window query. Read on the database
    the leads were read from (the replica's leads with the replica's interactions).
    """
    if not leads:
        return leads
    using = leads[0]._state.db or router.db_for_read(LeadInteraction)
    if connections[using].vendor == "postgresql":
        return _attach_extras_postgresql(leads, using)
    return _attach_extras_portable(leads, using)


def _attach_extras_portable(leads: Sequence[Lead], using: str) -> Sequence[Lead]:
    ids = [lead.pk for lead in leads]
    interactions = LeadInteraction.objects.using(using)
    counts = dict(
        interactions.filter(lead_id__in=ids)
        .order_by()
        .values_list("lead_id")
        .annotate(n=Count("id"))
        .values_list("lead_id", "n")
    )
    latest = {
        interaction.lead_id: interaction
        for interaction in interactions.filter(lead_id__in=ids)
        .annotate(
            position=Window(
                RowNumber(),
                partition_by=[F("lead_id")],
                order_by=[F("data_interacao").desc(), F("created_at").desc()],
            )
        )
        .filter(position=1)
        .only("lead_id", "data_interacao", "tipo_interacao", "resultado")
    }
    for lead in leads:
        lead.interactions_count = counts.get(lead.pk, 0)  # type: ignore[attr-defined]
        lead.last_interaction = latest.get(lead.pk)  # type: ignore[attr-defined]
    return leads


def _attach_extras_postgresql(leads: Sequence[Lead], using: str) -> Sequence[Lead]:
    with connections[using].cursor() as cursor:
        cursor.execute(_EXTRAS_SQL, [[lead.pk for lead in leads]])
        rows = {row[0]: row[1:] for row in cursor.fetchall()}
    for lead in leads:
        count, moment, tipo, resultado = rows[lead.pk]
        lead.interactions_count = count  # type: ignore[attr-defined]
        lead.last_interaction = (  # type: ignore[attr-defined]
            LeadInteraction(
                lead_id=lead.pk, data_interacao=moment, tipo_interacao=tipo, resultado=resultado
            )
            if moment is not None
            else None
        )
    return leads


# --- one list page: its rows and their extras in one statement (PostgreSQL) -----------------
#
# The ORM still decides which leads and in what order (organization, visibility, filters,
# search, ordering, offset or cursor position): it selects only their ids, an index read. One
# fixed statement then reads those rows, their closer, SDR and qualification, and the extras of
# `_EXTRAS_SQL`, in the ids' order. No model instance is built: each row is a named tuple
# carrying the attributes LeadSerializer reads (the same names as the model's), so its field
# handlers (leads/api/serializers.py) stay the one place of the representation rules.


def _columns(model: type[Model], names: Iterable[str]) -> tuple[Field[Any, Any], ...]:
    fields = {field.attname: field for field in model._meta.concrete_fields}
    return tuple(fields[name] for name in names)


# What the list shows of the closer or SDR and of the qualification (LeadSerializer's nested
# shapes, the primary key first: a row without it is no related object). Every lead column
# but the search text.
LISTED_MEMBER_FIELDS = ("id", "nome_completo", "tipo_closer")
LISTED_QUALIFICATION_FIELDS = (
    "id",
    "qualification_score",
    "authority_nivel",
    "budget_confirmado",
)
# (alias, columns) in the order of the statement's select list.
_PAGE_TABLES: tuple[tuple[str, tuple[Field[Any, Any], ...]], ...] = (
    ("l", tuple(f for f in Lead._meta.concrete_fields if f.name != "search_fold")),
    ("c", _columns(Membership, LISTED_MEMBER_FIELDS)),
    ("s", _columns(Membership, LISTED_MEMBER_FIELDS)),
    ("q", _columns(LeadQualification, LISTED_QUALIFICATION_FIELDS)),
)
_LATEST_FIELDS = ("data_interacao", "tipo_interacao", "resultado")


def _row_class(name: str, attributes: Iterable[str]) -> Any:
    """A named tuple class with `pk` as on a model instance (its first item)."""
    base = namedtuple(name, tuple(attributes))  # type: ignore[misc]
    return type(name, (base,), {"__slots__": (), "pk": property(itemgetter(0))})


ListedLead = _row_class(
    "ListedLead",
    (
        *(f.attname for f in _PAGE_TABLES[0][1]),
        "closer",
        "sdr",
        "qualification",
        "interactions_count",
        "last_interaction",
    ),
)
ListedMember = _row_class("ListedMember", (f.attname for f in _PAGE_TABLES[1][1]))
ListedQualification = _row_class("ListedQualification", (f.attname for f in _PAGE_TABLES[3][1]))
ListedInteraction = _row_class("ListedInteraction", ("lead_id", *_LATEST_FIELDS))


@cache
def _page_sql(alias: str) -> tuple[str, str]:
    """The statement before and after the ids query (which goes inside `ARRAY(...)`).

    Closer, SDR and qualification are LATERAL subqueries behind `OFFSET 0` rather than plain
    joins: the planner then has no join order to search (planning took most of the
    statement's time; EXPLAIN on the bench: 0.8 -> 0.3 ms), and each is one index probe.
    """
    quote = connections[alias].ops.quote_name

    def one(table: str, fields: tuple[Field[Any, Any], ...], key: str, column: str) -> str:
        names = ", ".join(f"{table}.{quote(str(f.column))}" for f in fields)
        source = quote(fields[0].model._meta.db_table)
        # The models' own table and column names only.
        subquery = f"SELECT {names} FROM {source} {table} WHERE {table}.{key} = l.{column}"  # noqa: S608
        return f"LEFT JOIN LATERAL ({subquery} OFFSET 0) {table} ON TRUE"

    closer, sdr, qualification = (fields for _, fields in _PAGE_TABLES[1:])
    select = [f"{table}.{quote(str(f.column))}" for table, fields in _PAGE_TABLES for f in fields]
    select += ["counted.n", *(f"latest.{name}" for name in _LATEST_FIELDS)]
    head = f"SELECT {', '.join(select)}\nFROM unnest(ARRAY(\n"
    tail = f"""
)) WITH ORDINALITY AS page(id, position)
JOIN {quote(Lead._meta.db_table)} l ON l.id = page.id
{one("c", closer, "id", "closer_id")}
{one("s", sdr, "id", "sdr_id")}
{one("q", qualification, "lead_id", "id")}
{_EXTRAS_JOINS}
ORDER BY page.position"""
    return head, tail


@cache
def _page_converters(alias: str) -> db_rows.Converters:
    """Django's db converters of the statement's columns (PostgreSQL: the JSON `tags`)."""
    columns = [(table, field) for table, fields in _PAGE_TABLES for field in fields]
    return db_rows.column_converters(columns, connections[alias])


def lead_list_page(queryset: QuerySet[Lead], start: int, stop: int) -> list[Any]:
    """The rows `[start:stop]` of the list's queryset with their closer, SDR, qualification,
    `interactions_count` and `last_interaction`, for LeadSerializer.

    PostgreSQL: one statement, row objects (`ListedLead`), no model instance. Elsewhere:
    model instances and `attach_list_extras`.
    """
    db = connections[queryset.db]
    if db.vendor != "postgresql":
        return list(attach_list_extras(list(queryset[start:stop])))
    return [_listed(row) for row in _page_rows(queryset, start, stop, None)]


def lead_list_page_and_total(
    queryset: QuerySet[Lead],
    start: int,
    stop: int,
    kept: KeptTotal | None,
    *,
    gated: bool = False,
) -> tuple[list[Any], int] | None:
    """`lead_list_page` and its total in the same statement (one snapshot, one round trip):
    the kept total (`lead_total`) when given; else the queryset's exact count (filters, a
    role's narrowing). None when that statement cannot tell the total (no row: a page past
    the end) or off PostgreSQL: the caller reads them apart.

    `gated` (a deep page): the page's ids are read only when the total says the page has
    rows, as reading the total first would (a page past the end of a large list must not
    walk its index to the end); the total is computed once, for both (`_gate`). None too
    when the list's statement is not kept by its WHERE: the caller reads them apart."""
    if connections[queryset.db].vendor != "postgresql":
        return None
    rows = _page_rows(queryset, start, stop, kept, count=kept is None, gated=gated)
    if not rows:
        return None
    return [_listed(row) for row in rows], int(rows[0][-1] or 0)


def lead_list_page_after(
    queryset: QuerySet[Lead], keys: Sequence[tuple[str, bool]], values: Sequence[Any], stop: int
) -> list[Any] | None:
    """The `stop` rows after a cursor's position (`keys`: the list's ordering as (attname,
    descending), ending with the primary key; `values`: the position, none of them None), as
    `lead_list_page` reads them: the list's kept ids statement (`_kept_ids`) with the keyset
    appended to its WHERE as one row comparison. None when the keys are not all non-null
    columns going one way, the list is not kept, or off PostgreSQL: the caller filters the
    queryset with the ORM, as before. Same rows either way (tests/leads/
    test_lead_list_speed.py); the ORM would build and compile the condition on every deep
    page (~0.4 ms, bench/README.md, "A `--million` run on the current code")."""
    db = connections[queryset.db]
    if db.vendor != "postgresql":
        return None
    after = _keyset_sql(keys, values, db)
    if after is None:
        return None
    kept = _kept_ids(queryset, 0, stop)
    if kept is None:
        return None
    sql, params, where_sql = kept
    condition, condition_params = after
    narrowed = _narrowed(sql, where_sql, condition)
    if narrowed is None:  # pragma: no cover - the ORM's text, tested for every ordering
        return None
    ids = (narrowed, (*params, *condition_params))
    return [_listed(row) for row in _page_rows(queryset, 0, stop, None, ids=ids)]


def _keyset_sql(
    keys: Sequence[tuple[str, bool]], values: Sequence[Any], db: Any
) -> tuple[str, tuple[Any, ...]] | None:
    """`(k1, ..., pk) < (%s, ..., %s)` (`>` ascending) and the first key's range bound,
    which is what the pagination's OR of equalities means when every key is a non-null
    column of `leads` and all go the same way; None otherwise."""
    directions = {desc for _name, desc in keys}
    if len(directions) != 1 or len(values) != len(keys) or any(v is None for v in values):
        return None
    fields = []
    for name, _desc in keys:
        field = _LEAD_COLUMNS.get(name)
        if field is None or field.null:
            return None
        fields.append(field)
    desc = directions.pop()
    table = db.ops.quote_name(Lead._meta.db_table)
    columns = ", ".join(f"{table}.{db.ops.quote_name(field.column)}" for field in fields)
    marks = ", ".join("%s" for _ in fields)
    prepared = tuple(
        field.get_db_prep_value(value, db, prepared=False)
        for field, value in zip(fields, values, strict=True)
    )
    first = f"{table}.{db.ops.quote_name(fields[0].column)}"
    sql = f"({columns}) {'<' if desc else '>'} ({marks}) AND {first} {'<=' if desc else '>='} %s"
    return sql, (*prepared, prepared[0])


_LEAD_COLUMNS: dict[str, Field[Any, Any]] = {
    field.attname: field for field in Lead._meta.concrete_fields
}


def _page_rows(
    queryset: QuerySet[Lead],
    start: int,
    stop: int,
    kept: KeptTotal | None,
    *,
    count: bool = False,
    ids: tuple[str, tuple[Any, ...]] | None = None,
    gated: bool = False,
) -> list[Any]:
    """The page statement's rows, converted; with the kept total as a last column when one
    is given, or with the queryset's count when `count`. `ids`: the page's ids statement
    when the caller built it (`lead_list_page_after`), else the queryset's. `gated`: the
    ids read only when the total exceeds `start` (`_gate`); no row when it cannot be."""
    db = connections[queryset.db]
    where_sql = None
    if ids is not None:
        sql, params = ids
    else:
        sql, params, where_sql = _ids_statement(queryset, start, stop)
    head, tail = _page_sql(queryset.db)
    total_sql, total_params = None, ()
    if kept is not None:
        total_sql, total_params = _kept_total_statement(kept, db, where_sql, params)
    elif count:
        total_sql, total_params = _count_statement(queryset, sql, params)
    if gated:
        gate = None
        if where_sql is not None and total_sql is not None:
            gate = _gate(sql, where_sql, total_sql, start)
        if gate is None:  # not kept by its WHERE: the caller reads the total and page apart
            return []
        head, sql = f"{gate[0]}{head}", gate[1]
        total_sql = f"SELECT n FROM {_GATE_TOTAL}"  # noqa: S608 (our own names)
    if total_sql is not None:
        head = head.replace("\nFROM unnest(", f",\n({total_sql})\nFROM unnest(", 1)
        params = (*total_params, *params)
    with db.cursor() as cursor:
        if db.timezone is datetime.UTC:
            # psycopg's own (C) timestamptz loader rather than Django's Python subclass of it,
            # which only sets the connection's tzinfo: with the session in UTC, as Django sets
            # it, both give the same datetimes (UTC tzinfo), several times faster.
            cursor.cursor.adapters.register_loader("timestamptz", TimestamptzLoader)
        cursor.execute(head + sql + tail, params)
        rows: list[Any] = cursor.fetchall()
    converters = _page_converters(queryset.db)
    if converters:
        rows = [db_rows.converted(row, converters, db) for row in rows]
    return rows


# The end of a page's ids statement as the ORM writes it when the list is ordered by columns
# of `leads`: `ORDER BY "leads"."x" DESC, ..., 1 DESC LIMIT n [OFFSET m]` (`1`: the selected
# id). Neither part has a parameter.
_ORDER_KEY = r'(?:"\w+"\."\w+"|\d+) (?:ASC|DESC)'
_PAGE_TAIL = re.compile(rf" ORDER BY {_ORDER_KEY}(?:, {_ORDER_KEY})* LIMIT \d+(?: OFFSET \d+)?\Z")


_GATE_TOTAL = "page_total"


def _gate(ids_sql: str, where_sql: str, total_sql: str, start: int) -> tuple[str, str] | None:
    """A deep page's total as a materialized CTE (`WITH page_total(n) AS MATERIALIZED
    (...)`, computed once) and its ids statement gated on it: `(<where>) AND (SELECT n FROM
    page_total) > start`. That condition names no row, so PostgreSQL runs it once before the
    scan (a "One-Time Filter") and reads no index entry when it is false; it does not change
    the scan's estimates (a gating condition's selectivity is 1). None when the statement is
    not ordered by plain columns (`_narrowed`)."""
    condition = f"(SELECT n FROM {_GATE_TOTAL}) > {int(start)}"  # noqa: S608 (our own names)
    gated = _narrowed(ids_sql, where_sql, condition)
    if gated is None:
        return None
    return f"WITH {_GATE_TOTAL}(n) AS MATERIALIZED ({total_sql})\n", gated


def _narrowed(ids_sql: str, where_sql: str, condition: str) -> str | None:
    """The ids statement with `condition` added to its WHERE, `(<where>) AND <condition>`,
    where `_PAGE_TAIL` finds the order starting; None when the text before the order does not
    end with that WHERE (an ordering that is not plain columns)."""
    tail = _PAGE_TAIL.search(ids_sql)  # the WHERE ends where the order starts
    if tail is None or not ids_sql[: tail.start()].endswith(f" WHERE {where_sql}"):
        return None
    cut = tail.start() - len(where_sql)
    return f"{ids_sql[:cut]}({where_sql}) AND {condition}{ids_sql[tail.start() :]}"


def _count_statement(
    queryset: QuerySet[Lead], ids_sql: str, ids_params: tuple[Any, ...]
) -> tuple[str, tuple[Any, ...]]:
    """The exact count of the queryset's rows: its page's ids statement without the order and
    the slice, which is the ORM's `order_by().values("pk")` of the same queryset (the same
    text and parameters, tests/leads/test_lead_list_speed.py) without compiling it a second
    time (~0.1 ms of every filtered page). The ORM's compile when the page's ordering is not
    plain columns."""
    tail = _PAGE_TAIL.search(ids_sql)
    if tail is not None:
        rows_sql, params = ids_sql[: tail.start()], ids_params
    else:
        counted = queryset.order_by().values("pk")
        rows_sql, compiled = counted.query.get_compiler(using=queryset.db).as_sql()
        params = tuple(compiled)
    return f"SELECT COUNT(*) FROM ({rows_sql}) counted", params  # noqa: S608 (the ORM's SQL)


def _ids_statement(
    queryset: QuerySet[Lead], start: int, stop: int
) -> tuple[str, tuple[Any, ...], str | None]:
    """The page's ids statement, its parameters and, when it was kept by its WHERE
    (`_kept_ids`), that WHERE's text (its parameters are the statement's); else the ORM's
    compile and None."""
    return _kept_ids(queryset, start, stop) or (*_compiled_ids(queryset, start, stop), None)


# The ids statements of lists (an organization's whole list, or filtered, searched, narrowed to
# a seller's leads), by the text of their WHERE, their ordering and their slice: the ORM then
# compiles only the WHERE of a request (its parameters; the whole list's ~0.01 ms against
# ~0.12 for the statement). The statement's other parts (the id, the table, the order and the
# slice) have no parameter, so the WHERE's are the statement's, the organization among them,
# and its text is the same for every request of the same key: no id is in a key.
_KEPT_IDS: dict[tuple[Any, ...], str] = {}
# The kept totals of searched lists (`lead_search_rows`), by the text of their list's WHERE.
_KEPT_SEARCH_TOTALS: dict[tuple[Any, ...], str] = {}


def _kept_ids(
    queryset: QuerySet[Lead], start: int, stop: int
) -> tuple[str, tuple[Any, ...], str] | None:
    """The ids statement kept for the queryset's WHERE, ordering and slice, its parameters
    (the WHERE's) and the WHERE's text; None when the queryset reads another table than
    `leads` (a join: its text would depend on more than the WHERE) or is not a plain list."""
    query = queryset.query
    if not _plain_list_query(query) or any(
        query.alias_refcount[alias] for alias in query.alias_map if alias != query.base_table
    ):
        return None
    compiler = query.get_compiler(using=queryset.db)
    where_sql, where_params = compiler.compile(query.where)
    if not where_sql:  # pragma: no cover - every list has its organization's condition
        return None
    params = tuple(where_params)
    ordering = (query.order_by, query.default_ordering, query.standard_ordering)
    key = (queryset.db, where_sql, *ordering, start, stop)
    sql = _KEPT_IDS.get(key)
    if sql is None:
        sql, compiled = _compiled_ids(queryset, start, stop)
        if f" WHERE {where_sql} " not in sql or not _same_params(compiled, params):
            return None  # pragma: no cover - the ORM's text, tested for every list
        if len(_KEPT_IDS) >= 256:
            _KEPT_IDS.clear()
        _KEPT_IDS[key] = sql
    return sql, params, where_sql


def _kept_total_statement(
    kept: KeptTotal, db: Any, where_sql: str | None, params: tuple[Any, ...]
) -> tuple[str, tuple[Any, ...]]:
    """`_total_statement`, kept for a searched list by its list's WHERE (`_kept_ids`): the
    count in `lead_search_rows` has the same condition and parameters over that table's
    copies of the searched columns (checked when it is kept), and the ORM built and compiled
    it on every request (~0.15 ms)."""
    if kept.search is None or where_sql is None:
        return _total_statement(kept, db)
    key = (db.alias, where_sql)
    sql = _KEPT_SEARCH_TOTALS.get(key)
    if sql is None:
        sql, total_params = _total_statement(kept, db)
        if not _same_params(total_params, params):
            return sql, total_params
        if len(_KEPT_SEARCH_TOTALS) >= 256:
            _KEPT_SEARCH_TOTALS.clear()
        _KEPT_SEARCH_TOTALS[key] = sql
    return sql, params


def _same_params(one: Sequence[Any], other: Sequence[Any]) -> bool:
    """Equal statement parameters (psycopg's `Jsonb` wrapper compared by what it wraps)."""
    return len(one) == len(other) and all(
        getattr(a, "obj", a) == getattr(b, "obj", b) for a, b in zip(one, other, strict=True)
    )


def _compiled_ids(queryset: QuerySet[Lead], start: int, stop: int) -> tuple[str, tuple[Any, ...]]:
    ids = queryset.values_list("pk", flat=True)[start:stop]
    sql, params = ids.query.get_compiler(using=queryset.db).as_sql()
    return sql, tuple(params)


def _plain_list_query(query: Any) -> bool:
    """A query of `leads` ordered by field names, with nothing but a WHERE that would change
    its ids statement's text (no annotation, extra, DISTINCT, union or slice of its own)."""
    return not (
        query.model is not Lead
        or query.extra
        or query.annotations
        or query.distinct
        or query.combinator
        or query.extra_order_by
        or query.low_mark
        or query.high_mark is not None
        or not all(isinstance(name, str) for name in query.order_by)
    )


_LEAD_END = len(_PAGE_TABLES[0][1])
_CLOSER_END = _LEAD_END + len(_PAGE_TABLES[1][1])
_SDR_END = _CLOSER_END + len(_PAGE_TABLES[2][1])
_QUALIFICATION_END = _SDR_END + len(_PAGE_TABLES[3][1])


def _listed(row: Sequence[Any]) -> Any:
    count, moment, tipo, resultado = row[_QUALIFICATION_END : _QUALIFICATION_END + 4]
    return ListedLead(
        *row[:_LEAD_END],
        None if row[_LEAD_END] is None else ListedMember._make(row[_LEAD_END:_CLOSER_END]),
        None if row[_CLOSER_END] is None else ListedMember._make(row[_CLOSER_END:_SDR_END]),
        None
        if row[_SDR_END] is None
        else ListedQualification._make(row[_SDR_END:_QUALIFICATION_END]),
        count,
        None if moment is None else ListedInteraction(row[0], moment, tipo, resultado),
    )


def tags_any_q(tags: Sequence[str]) -> Q:
    """Leads carrying any of these tags (the API's `tags` filter and the admin's tag filter)."""
    condition = Q()
    for tag in tags:
        if connection.vendor == "postgresql":
            condition |= Q(tags__contains=[tag])
        else:  # SQLite has no JSON containment; match the quoted element instead.
            condition |= Q(tags__icontains=f'"{tag}"')
    return condition


# Per status of the organization: its leads and their summed value, from the totals the
# triggers keep (leads 0028).
_STATUS_TOTALS_SQL = (
    "SELECT status, SUM(leads), SUM(valor) FROM lead_status_totals "
    "WHERE organization_id = %s GROUP BY status HAVING SUM(leads) <> 0"
)


def status_totals(organization_id: uuid.UUID | str) -> dict[str, tuple[int, Decimal]]:
    """Per status, (number of leads, sum of valor_potencial) of the organization's whole lead
    table, from lead_status_totals (PostgreSQL; a few rows instead of grouping every lead)."""
    db = connections[router.db_for_read(LeadStatusTotal)]
    with db.cursor() as cursor:
        cursor.execute(_STATUS_TOTALS_SQL, [_organization_key(organization_id, db)])
        rows = cursor.fetchall()
    return {status: (int(n), total or Decimal("0")) for status, n, total in rows}


# The tags some lead of the organization carries, from the counts the triggers keep.
_KEPT_TAGS_SQL = (
    "SELECT tag FROM lead_tag_counts WHERE organization_id = %s "
    "GROUP BY tag HAVING SUM(total) > 0 ORDER BY tag LIMIT %s"
)


def known_tags(
    queryset: QuerySet[Lead],
    *,
    limit: int = 100,
    organization_id: uuid.UUID | str | None = None,
) -> list[str]:
    """The distinct tags of these leads, alphabetical (the tag filter's choices), at most `limit`.

    With `organization_id`, on PostgreSQL, they are the tags of that organization's leads, all
    of them (pass it only when `queryset` is the organization's whole lead table, not a
    member's narrower view), read from lead_tag_counts, kept by triggers (leads 0026), instead
    of expanding the tags of every lead: the same tags in the same order (both sort the text),
    the string tags some lead carries. Otherwise (SQLite, or no `organization_id`) the leads
    of `queryset` are scanned."""
    if organization_id is not None:
        db = connections[router.db_for_read(LeadTagCount)]
        if db.vendor == "postgresql":
            with db.cursor() as cursor:
                cursor.execute(_KEPT_TAGS_SQL, (_organization_key(organization_id, db), limit))
                return [row[0] for row in cursor.fetchall()]
    if connection.vendor == "postgresql":
        rows = (
            queryset.order_by()
            .annotate(tag=Func(F("tags"), function="jsonb_array_elements_text"))
            .values_list("tag", flat=True)
            .distinct()
            .order_by("tag")
        )
        return list(rows[:limit])
    found: set[str] = set()
    for tags in queryset.order_by().values_list("tags", flat=True).iterator():
        found.update(tag for tag in tags or [] if isinstance(tag, str))
    return sorted(found)[:limit]
