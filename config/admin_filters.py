"""List filters whose choices come from a skip scan instead of a DISTINCT over every row.

Django lists a filter's choices with `SELECT DISTINCT column` over the whole list (the values
in use, or the related rows in use for `RelatedOnlyFieldListFilter`): 60-150 ms each for a
1,000,000-lead organization (bench/README.md, "The back office at a million leads"). The
values are few (a few hundred closers, a dozen origins), and an index leads with
(organization_id, column), so `distinct_in_organization` walks them with a recursive query:
the first value, then the first one greater, one index probe per distinct value.

A model admin opts in per field with `skip_scan_filters` and tells, per request, whether its
list is the organization's whole table (`skip_scan_organization`: the organization, or None
when a role narrows the rows or the requester sees several organizations); otherwise the
filters keep Django's own query over the rows the requester sees.
"""

from __future__ import annotations

from typing import Any

from django.contrib.admin import AllValuesFieldListFilter, RelatedOnlyFieldListFilter
from django.db import connections, router
from django.db.models import Model

_SKIP_SCAN = """
WITH RECURSIVE seen(value) AS (
    (SELECT {column} FROM {table}
     WHERE organization_id = %s AND {column} IS NOT NULL ORDER BY {column} LIMIT 1)
    UNION ALL
    SELECT (SELECT {column} FROM {table}
            WHERE organization_id = %s AND {column} > seen.value ORDER BY {column} LIMIT 1)
    FROM seen WHERE seen.value IS NOT NULL
)
SELECT value FROM seen WHERE value IS NOT NULL
"""


def distinct_in_organization(
    model: type[Model], field_name: str, organization_id: Any
) -> list[Any]:
    """The distinct non-null values of a column among one organization's rows, ascending.

    PostgreSQL: a skip scan (needs an index leading with organization_id, column); elsewhere
    a plain DISTINCT."""
    field: Any = model._meta.get_field(field_name)
    alias = router.db_for_read(model)
    db = connections[alias]
    if db.vendor != "postgresql":
        rows = (
            model._default_manager.using(alias)
            .filter(organization_id=organization_id)
            .exclude(**{f"{field.attname}__isnull": True})
            .order_by(field.attname)
            .values_list(field.attname, flat=True)
            .distinct()
        )
        return list(rows)
    quote = db.ops.quote_name
    sql = _SKIP_SCAN.format(column=quote(field.column), table=quote(model._meta.db_table))
    key = model._meta.get_field("organization").target_field.get_db_prep_value(  # type: ignore[union-attr]
        organization_id, db, prepared=False
    )
    with db.cursor() as cursor:
        cursor.execute(sql, [key, key])
        values = [row[0] for row in cursor.fetchall()]
    converters = db.ops.get_db_converters(field) + field.get_db_converters(db)
    for converter in converters:
        values = [converter(value, field, db) for value in values]
    return values


def _organization(request: Any, model_admin: Any, field_path: str) -> Any:
    """The organization whose whole table the list shows, when `field_path` opted in."""
    if field_path not in getattr(model_admin, "skip_scan_filters", ()):
        return None
    return model_admin.skip_scan_organization(request)


class SkipScanRelatedOnlyFilter(RelatedOnlyFieldListFilter):
    """`RelatedOnlyFieldListFilter` (the related rows in use) by a skip scan."""

    def field_choices(self, field: Any, request: Any, model_admin: Any) -> Any:
        organization = _organization(request, model_admin, self.field_path)
        if organization is None:
            return super().field_choices(field, request, model_admin)
        in_use = distinct_in_organization(model_admin.model, field.name, organization)
        ordering = self.field_admin_ordering(field, request, model_admin)
        return field.get_choices(
            include_blank=False, limit_choices_to={"pk__in": in_use}, ordering=ordering
        )


class SkipScanValuesFilter(AllValuesFieldListFilter):
    """`AllValuesFieldListFilter` (the values in use) by a skip scan."""

    def __init__(
        self, field: Any, request: Any, params: Any, model: Any, model_admin: Any, field_path: str
    ) -> None:
        super().__init__(field, request, params, model, model_admin, field_path)
        organization = _organization(request, model_admin, field_path)
        if organization is not None:
            values: list[Any] = distinct_in_organization(model, field.name, organization)
            rows = model._default_manager.filter(organization_id=organization)
            if field.null and rows.filter(**{f"{field.name}__isnull": True}).exists():
                values.append(None)  # Django's "(None)" choice, as its DISTINCT would list
            self.lookup_choices = values  # type: ignore[assignment]  # a list, not a QuerySet
