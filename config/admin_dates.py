"""The admin's date hierarchy (the years, months or days above a list) without a scan.

Django lists the hierarchy's choices with `SELECT DISTINCT DATE_TRUNC(...)` over every row of
the list: 2.1 s for the interactions of a 1,000,000-lead organization (3.9 million rows), 1.5 s
for its status changes, 0.4 s for its leads (bench/README.md, "The back office at a million
leads"). The choices are only the distinct buckets, and there are few (a few years, at most 12
months, 31 days), so `probed_dates` finds them by probing: the first value, then the first
value at or after the next bucket's start, and so on, one `ORDER BY field LIMIT 1` per bucket.
With the organization-first index on the field each probe reads a handful of index entries.

`FastDatesChangeList` probes only for an unfiltered list (no search, no list filter, the
hierarchy's own drill-down and a sort order aside) of a model with an index leading with
(organization, field): a filter the index does not lead with, or no such index, could make
each probe walk far (the tasks' due dates: 14 probes cost more than Django's DISTINCT over
52,000 tasks), so those keep Django's query.

A searched list (a search and nothing else but the drill-down) with more than
`SEARCH_PROBE_ABOVE` matches lists the periods of the list without its search, probed: Django's
DISTINCT over the matches took 205 of a 400 ms page for "silva" at 1,000,000 leads (76,000
matches), while probing past the search could walk a whole year with none. A period offered
may then hold no match (its page says so); with fewer matches Django's query is exact and
cheap, and stays.
"""

from __future__ import annotations

import datetime
from functools import cache
from typing import Any

from django.contrib.admin.utils import build_q_object_from_lookup_parameters
from django.core.exceptions import FieldDoesNotExist
from django.db.models import DateTimeField, QuerySet
from django.utils import timezone
from unfold.views import ChangeList

KINDS = ("year", "month", "day")
SEARCH_PROBE_ABOVE = 5_000


# Days from a bucket's first day that always land in the next bucket.
_STEP_DAYS = {"year": 366, "month": 32, "day": 1}


def _first_day(day: datetime.date, kind: str) -> datetime.date:
    if kind == "year":
        return day.replace(month=1, day=1)
    return day.replace(day=1) if kind == "month" else day


def _midnight(day: datetime.date, tz: Any) -> datetime.datetime:
    return timezone.make_aware(datetime.datetime.combine(day, datetime.time()), tz)


def bucket_start(moment: datetime.datetime, kind: str, tz: Any) -> datetime.datetime:
    """The start of `moment`'s year, month or day in the time zone `tz` (aware)."""
    return _midnight(_first_day(moment.astimezone(tz).date(), kind), tz)


def next_bucket(start: datetime.datetime, kind: str, tz: Any) -> datetime.datetime:
    """The start of the bucket after the one `start` is in (aware, in `tz`)."""
    day = _first_day(start.astimezone(tz).date(), kind)
    return _midnight(_first_day(day + datetime.timedelta(days=_STEP_DAYS[kind]), kind), tz)


def probed_dates(
    queryset: QuerySet[Any], field: str, kind: str, tz: Any
) -> list[datetime.datetime]:
    """What `queryset.datetimes(field, kind)` returns (ascending bucket starts in `tz`), with
    one indexed probe per bucket instead of a DISTINCT over every row."""
    column = (
        queryset.filter(**{f"{field}__isnull": False}).order_by(field).values_list(field, flat=True)
    )
    found: list[datetime.datetime] = []
    value = column.first()
    while value is not None:
        start = bucket_start(value, kind, tz)
        found.append(start)
        value = column.filter(**{f"{field}__gte": next_bucket(start, kind, tz)}).first()
    return found


class _ProbedDatesQuerySet(QuerySet[Any]):
    """A changelist's queryset whose `datetimes` on the hierarchy's field probes: its own rows
    (an unfiltered list), or, when `searched`, the rows of its `changelist` without the search
    once the list has more than SEARCH_PROBE_ABOVE matches (else Django's query). A clone of a
    searched queryset has no changelist: Django's query."""

    probed_field: str = ""
    searched: bool = False
    changelist: Any = None

    def datetimes(self, field_name: str, kind: Any, order: Any = "ASC", tzinfo: Any = None) -> Any:
        rows = self._probed_rows(field_name, kind, order)
        if rows is None:
            return super().datetimes(field_name, kind, order, tzinfo)
        return probed_dates(rows, field_name, kind, tzinfo or timezone.get_current_timezone())

    def _probed_rows(self, field_name: str, kind: Any, order: Any) -> QuerySet[Any] | None:
        if field_name != self.probed_field or kind not in KINDS or order != "ASC":
            return None
        if not self.searched:
            return self
        changelist = self.changelist
        if (
            changelist is None
            or changelist.result_count <= SEARCH_PROBE_ABOVE
            or not changelist.drilled_down_to(kind)
        ):
            return None
        rows: QuerySet[Any] = changelist.unsearched_rows()
        return rows


@cache
def _probing_class(base: type[QuerySet[Any]], field: str, searched: bool) -> type[QuerySet[Any]]:
    return type(
        f"{'Searched' if searched else 'Probed'}{base.__name__}",
        (_ProbedDatesQuerySet, base),
        {"probed_field": field, "searched": searched, "__module__": __name__},
    )


def with_probed_dates(
    queryset: QuerySet[Any], field: str, searched_list: Any = None
) -> QuerySet[Any]:
    """The same queryset (same rows, its class's other behaviour kept) whose hierarchy
    choices on `field` probe its rows, or those of `searched_list` (a changelist) without its
    search."""
    clone: Any = queryset._chain()  # type: ignore[attr-defined]
    clone.__class__ = _probing_class(type(queryset), field, searched_list is not None)
    clone.changelist = searched_list
    return clone  # type: ignore[no-any-return]


class FastDatesChangeList(ChangeList):
    """A ChangeList whose date hierarchy probes when the list is unfiltered, or searched with
    many matches (the module's docstring)."""

    def get_queryset(self, request: Any, exclude_parameters: Any = None) -> QuerySet[Any]:
        queryset: QuerySet[Any] = super().get_queryset(request, exclude_parameters)
        field = self.date_hierarchy
        if (
            exclude_parameters is not None
            or not field
            or not (self._is_datetime(field) and self._indexed(field))
            or self._other_filters()
        ):
            return queryset
        return with_probed_dates(queryset, field, self if self.query else None)

    def unsearched_rows(self) -> QuerySet[Any]:
        """The list's rows without its search: the model admin's own rows (the organization's,
        a seller's) with the hierarchy's drill-down."""
        own = f"{self.date_hierarchy}__"
        drill_down = {
            name: values
            for name, values in self.get_filters_params().items()
            if name.startswith(own)
        }
        rows: QuerySet[Any] = self.root_queryset
        return rows.filter(build_q_object_from_lookup_parameters(drill_down))

    def _indexed(self, field: str) -> bool:
        """An index leads with (organization, field): each probe is then a short index read.
        Without one (tasks by due date) a probe may walk far; Django's query stays."""
        organization = getattr(self.model_admin, "org_field", None)
        for index in self.model._meta.indexes:
            names = [name.lstrip("-") for name in index.fields]
            if names[:2] == [organization, field] and index.condition is None:
                return True
        return False

    def _other_filters(self) -> list[str]:
        """The list's filter parameters besides the hierarchy's drill-down (the search, the
        ordering and the other parameters that filter no row are not among them)."""
        own = f"{self.date_hierarchy}__"
        return [name for name in self.get_filters_params() if not name.startswith(own)]

    def drilled_down_to(self, kind: str) -> bool:
        """Whether the query string itself asks for `kind`'s choices: the years with no
        drill-down, a year's months, a month's days. (Django also drills down on its own when
        every row is in one year or month; those choices must be the rows', so its query.)"""
        given = {
            part for part in KINDS if f"{self.date_hierarchy}__{part}" in self.get_filters_params()
        }
        return given == set(KINDS[: KINDS.index(kind)])

    def _is_datetime(self, field: str) -> bool:
        try:
            return isinstance(self.model._meta.get_field(field), DateTimeField)
        except FieldDoesNotExist:  # a path through a relation: Django's own query
            return False
