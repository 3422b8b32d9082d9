"""A lead's timeline: every registered source's rows merged newest first, in the database.

Each *source* is a function `fn(lead) -> QuerySet` whose rows have the common shape built by
`timeline_rows()`: `(tipo, id, at, payload)`. The timeline is the `UNION ALL` of every
source's queryset for the lead, ordered by `at` (newest first, then kind and id so pages never
overlap) and cut with LIMIT/OFFSET (`LeadTimeline`), so a page costs two queries (the count
and the page) whatever the number of sources, the page size or the length of the history.
On PostgreSQL each branch is first cut to its own newest `offset + limit` rows, read from its
(lead, time) index, and the planner merges the sorted branches (Merge Append): page 1 of a
long history reads about 20 rows per source; the count is an index count per branch (timings
in bench/README.md). Deep pages cost what OFFSET costs (offset + limit rows per source), never
more.

Why a UNION and not "fetch N of each kind and merge in Python": merging in Python needs one
query per source and offset + limit rows from each for every page; the UNION gives one
ordered stream the database slices, and a new source adds a branch, not a query.

Other apps add their kinds from their `AppConfig.ready()`:

    from leads.timeline import register_timeline_source, timeline_rows

    def followup_steps(lead):
        return timeline_rows(
            FollowupExecutionLog.objects.filter(execution__lead=lead),
            tipo="followup_step",
            at="created_at",
            fields=["step", "level", "message"],
        )

    register_timeline_source("followup_step", followup_steps)

A payload holds plain JSON values: datetimes are rendered as ISO 8601 in UTC and decimals as
strings with two places by `timeline_rows()` itself, so every source formats alike.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from django.db import connection, models
from django.db.models import CharField, F, Func, QuerySet, Value
from django.db.models.expressions import Case, Combinable, When
from django.db.models.functions import Cast, JSONObject
from rest_framework.fields import DateTimeField

from leads.models import Lead, LeadAssignment, LeadInteraction, LeadStatusChange, Task

TimelineSource = Callable[[Lead], "QuerySet[Any]"]

# Keys of every item; a source's payload cannot use them.
RESERVED_KEYS = frozenset({"tipo", "id", "at"})

_SOURCES: dict[str, TimelineSource] = {}


def register_timeline_source(name: str, fn: TimelineSource) -> None:
    """Adds (or replaces, so a repeated `ready()` is harmless) the source called `name`."""
    _SOURCES[name] = fn


def unregister_timeline_source(name: str) -> None:
    _SOURCES.pop(name, None)


def timeline_sources() -> dict[str, TimelineSource]:
    return dict(sorted(_SOURCES.items()))


class IsoDateTime(Func):
    """A timestamp as ISO 8601 text in UTC (`2026-11-29T14:01:00.123456Z`), inside JSON."""

    output_field = CharField()

    def as_postgresql(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        return self.as_sql(
            compiler,
            connection,
            template=(
                "to_char(%(expressions)s AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')"
            ),
            **extra,
        )

    def as_sqlite(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        # The format goes in as a parameter: a literal % would break Django's debug SQL logging.
        (expression,) = self.get_source_expressions()
        iso = Func(Value("%Y-%m-%dT%H:%M:%fZ"), expression, function="strftime")
        return iso.as_sql(compiler, connection)


class MoneyText(Func):
    """A decimal as text with two places (`"15000.00"`), the API's money format, inside JSON."""

    output_field = CharField()

    def as_postgresql(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        return self.as_sql(
            compiler, connection, template="to_char(%(expressions)s, 'FM999999999999990.00')"
        )

    def as_sqlite(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        # printf() turns NULL into "0.00"; the format is a parameter (see IsoDateTime).
        sql, params = compiler.compile(self.get_source_expressions()[0])
        return (
            f"CASE WHEN {sql} IS NULL THEN NULL ELSE printf(%s, {sql}) END",
            (*params, "%.2f", *params),
        )


def _model_field(model: type[models.Model], path: str) -> models.Field[Any, Any] | None:
    """The concrete field at the end of `a__b__c`, or None when it is not a plain field."""
    current: Any = model
    field: Any = None
    for part in path.split("__"):
        try:
            field = current._meta.get_field(part)
        except Exception:
            return None
        if field.is_relation and field.related_model is not None:
            current = field.related_model
    return field if isinstance(field, models.Field) else None


def _json_value(model: type[models.Model], path: str) -> Combinable:
    """A field as a JSON-ready expression (datetimes and decimals rendered as the API does)."""
    field = _model_field(model, path)
    if isinstance(field, models.DateTimeField):
        return IsoDateTime(F(path))
    if isinstance(field, models.DecimalField):
        return MoneyText(F(path))
    if isinstance(field, models.ForeignKey):
        return UuidText(F(f"{path}_id")) if _is_uuid_key(field) else F(f"{path}_id")
    if isinstance(field, models.UUIDField):
        return UuidText(F(path))
    return F(path)


def _is_uuid_key(field: models.ForeignKey[Any, Any]) -> bool:
    return isinstance(field.target_field, models.UUIDField)


class UuidText(Func):
    """A UUID as text with dashes on every backend (SQLite stores 32 bare hex digits)."""

    output_field = CharField()

    def as_postgresql(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        return self.as_sql(compiler, connection, template="CAST(%(expressions)s AS text)")

    def as_sqlite(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        sql, params = compiler.compile(self.get_source_expressions()[0])
        parts = [f"substr({sql}, {start}, {length})" for start, length in _UUID_GROUPS]
        return " || '-' || ".join(parts), tuple(params) * len(parts)


_UUID_GROUPS = ((1, 8), (9, 4), (13, 4), (17, 4), (21, 12))


@dataclass(frozen=True)
class Nested:
    """A related row as `{field: value, ...}` in a payload, or null when the relation is empty."""

    relation: str
    fields: tuple[str, ...]


def nested(relation: str, *fields: str) -> Nested:
    return Nested(relation, fields)


def _nested_value(model: type[models.Model], spec: Nested) -> Combinable:
    return Case(
        When(**{f"{spec.relation}__isnull": True}, then=Value(None)),
        default=JSONObject(
            **{name: _json_value(model, f"{spec.relation}__{name}") for name in spec.fields}
        ),
        output_field=models.JSONField(),
    )


def timeline_rows(
    queryset: QuerySet[Any],
    *,
    tipo: str,
    at: str,
    fields: Iterable[str] | Mapping[str, str | Nested | Combinable],
) -> QuerySet[Any]:
    """Shapes `queryset` into timeline rows `(tipo, id, at, payload)` for one kind of item.

    `fields` names model fields (`closer__nome_completo` reaches across relations) or maps
    payload keys to field paths or expressions (e.g. `nested("closer", "id", "nome_completo")`).
    """
    mapping: Mapping[str, str | Nested | Combinable] = (
        fields if isinstance(fields, Mapping) else {name: name for name in fields}
    )
    clash = RESERVED_KEYS & set(mapping)
    if clash:
        raise ValueError(f"timeline payload keys {sorted(clash)} are reserved")
    model = queryset.model
    payload: dict[str, Any] = {}
    for key, value in mapping.items():
        if isinstance(value, str):
            payload[key] = _json_value(model, value)
        elif isinstance(value, Nested):
            payload[key] = _nested_value(model, value)
        else:
            payload[key] = value
    return cast(
        "QuerySet[Any]",
        queryset.order_by()
        .annotate(
            tl_tipo=Value(tipo, output_field=CharField()),
            tl_id=Cast(F("pk"), output_field=CharField()),
            tl_at=F(at),
            tl_payload=JSONObject(**payload),
        )
        .values_list("tl_tipo", "tl_id", "tl_at", "tl_payload"),
    )


ORDERING = ("-tl_at", "tl_tipo", "-tl_id")


def _union(branches: list[QuerySet[Any]]) -> QuerySet[Any]:
    if not branches:
        return LeadStatusChange.objects.none().values_list("id")
    first, *rest = branches
    return first.union(*rest, all=True) if rest else first


def lead_timeline_queryset(lead: Lead) -> QuerySet[Any]:
    """Every source's rows for `lead` as one UNION ALL, newest first."""
    # tl_tipo/tl_id break ties so that pages never overlap when two items share a time.
    return _union([fn(lead) for fn in timeline_sources().values()]).order_by(*ORDERING)


class LeadTimeline:
    """A lead's timeline as the paginator sees it: `len()` is the count, a slice is a page.

    On PostgreSQL each branch is itself cut to the first `offset + limit` rows of its own
    (lead, time) index before the merge, so a page reads at most that many rows per source
    however long the lead's history is.
    """

    def __init__(self, lead: Lead) -> None:
        self.branches = [fn(lead) for fn in timeline_sources().values()]

    def __len__(self) -> int:
        return _union(self.branches).count()

    def __getitem__(self, window: slice) -> list[Any]:
        if window.stop is not None and window.stop <= (window.start or 0):
            return []  # an empty window (a lead with no history): Django cannot order `[:0]`
        branches = self.branches
        if window.stop is not None and connection.features.supports_slicing_ordering_in_compound:
            # Within a branch tl_tipo is constant, so (at, id) is the global order restricted.
            branches = [branch.order_by("-tl_at", "-tl_id")[: window.stop] for branch in branches]
        return list(_union(branches).order_by(*ORDERING)[window])


_DATETIME = DateTimeField()


def timeline_item(row: tuple[str, str, datetime, dict[str, Any] | None]) -> dict[str, Any]:
    """A fetched row as an API item `{tipo, id, at, ...payload}`."""
    tipo, item_id, at, payload = row
    return {
        "tipo": tipo,
        "id": _normalize_id(item_id),
        "at": _DATETIME.to_representation(at),
        **(payload or {}),
    }


def _normalize_id(value: Any) -> str:
    """Ids as strings; UUIDs with dashes whatever the backend returned."""
    text = str(value)
    if len(text) in (32, 36):
        try:
            return str(uuid.UUID(text))
        except ValueError:
            pass
    return text


# --- built-in sources ------------------------------------------------------------------------


def interaction_rows(lead: Lead) -> QuerySet[Any]:
    return timeline_rows(
        LeadInteraction.objects.filter(lead=lead),
        tipo="interaction",
        at="data_interacao",
        fields={
            "tipo_interacao": "tipo_interacao",
            "resultado": "resultado",
            "resumo": "resumo",
            "detalhes_completos": "detalhes_completos",
            "valor": "valor",
            "duracao_minutos": "duracao_minutos",
            "proximo_passo": "proximo_passo",
            "closer": nested("closer", "id", "nome_completo"),
            "created_at": "created_at",
        },
    )


def status_change_rows(lead: Lead) -> QuerySet[Any]:
    return timeline_rows(
        LeadStatusChange.objects.filter(lead=lead),
        tipo="status_change",
        at="changed_at",
        fields={
            "from_status": "from_status",
            "to_status": "to_status",
            "changed_by": nested("changed_by", "id", "nome_completo"),
        },
    )


def task_rows(lead: Lead) -> QuerySet[Any]:
    return timeline_rows(
        Task.objects.filter(lead=lead),
        tipo="task",
        at="created_at",
        fields={
            "tipo_tarefa": "tipo",
            "titulo": "titulo",
            "descricao": "descricao",
            "status": "status",
            "origem": "origem",
            "vencimento": "vencimento",
            "concluida_em": "concluida_em",
            "responsavel": nested("responsavel", "id", "nome_completo"),
        },
    )


def assignment_rows(lead: Lead) -> QuerySet[Any]:
    return timeline_rows(
        LeadAssignment.objects.filter(lead=lead),
        tipo="assignment",
        at="at",
        fields={
            "motivo": "motivo",
            "campo": "campo",
            "membro": nested("membership", "id", "nome_completo"),
        },
    )


register_timeline_source("assignment", assignment_rows)
register_timeline_source("interaction", interaction_rows)
register_timeline_source("status_change", status_change_rows)
register_timeline_source("task", task_rows)
