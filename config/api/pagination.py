"""`?page=&limit=` pagination with the `{data, pagination}` envelope of API.md.

Lists that may be scrolled far (leads) also take `?cursor=`: keyset pagination, no COUNT.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from django.core import signing
from django.core.exceptions import FieldDoesNotExist, ValidationError
from django.core.paginator import InvalidPage
from django.db import connections
from django.db.models import Q, QuerySet
from django.utils.translation import gettext as _
from rest_framework import exceptions
from rest_framework.pagination import BasePagination
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

MAX_LIMIT = 100
# From this offset on, the page's ids are found first (an index-only scan that reads no other
# column and joins nothing) and only those rows are then read with their joins.
DEFERRED_JOIN_OFFSET = 1000


def _positive_int(request: Request, name: str, default: int, maximum: int | None) -> int:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if value < 1 or (maximum is not None and value > maximum):
        if maximum is None:
            message = _("Deve ser um número inteiro maior ou igual a 1.")
        else:
            message = _("Deve ser um número inteiro entre 1 e %(max)s.") % {"max": maximum}
        raise exceptions.ValidationError({name: [message]})
    return value


def _rows(
    queryset: QuerySet[Any] | Sequence[Any], start: int, stop: int, view: APIView | None
) -> list[Any]:
    """The rows `[start:stop]`: through the view's `page_rows(queryset, start, stop)` when it
    has one (a list that reads its page its own way: leads), else the queryset's slice."""
    if not isinstance(queryset, QuerySet):
        return list(queryset[start:stop])
    page_rows = getattr(view, "page_rows", None)
    if callable(page_rows):
        return list(page_rows(queryset, start, stop))
    if start >= DEFERRED_JOIN_OFFSET:
        ids = queryset.values("pk")
        return list(queryset.filter(pk__in=ids[start:stop]))
    return list(queryset[start:stop])


class PagePagination(BasePagination):
    """Offset pagination; a page past the last is an empty page, not an error."""

    default_limit = 20
    max_limit = MAX_LIMIT
    max_page = 1_000_000

    def paginate_queryset(
        self, queryset: QuerySet[Any] | Sequence[Any], request: Request, view: APIView | None = None
    ) -> list[Any]:
        self.page = _positive_int(request, "page", 1, self.max_page)
        self.limit = _positive_int(request, "limit", self.default_limit, self.max_limit)
        offset = (self.page - 1) * self.limit
        # A view may read a page and its total together: `page_and_total(queryset, start,
        # stop)` gives (rows, total), or None to have them read apart (leads: the kept count).
        together = getattr(view, "page_and_total", None)
        if callable(together) and isinstance(queryset, QuerySet):
            found = together(queryset, offset, offset + self.limit)
            if found is not None:
                rows, self.total = found
                return list(rows)
        self.total = self._total(queryset, view)
        if offset >= self.total:
            return []
        try:
            return _rows(queryset, offset, offset + self.limit, view)
        except InvalidPage:  # pragma: no cover - slicing a queryset does not raise it
            return []

    @staticmethod
    def _total(queryset: QuerySet[Any] | Sequence[Any], view: APIView | None) -> int:
        # A view may know its total without a COUNT (leads: the kept per-organization count).
        kept = getattr(view, "kept_total", None)
        known = kept() if callable(kept) else None
        if known is not None:
            return int(known)
        return queryset.count() if isinstance(queryset, QuerySet) else len(queryset)

    def get_paginated_response(self, data: Any) -> Response:
        return Response(
            {
                "data": data,
                "pagination": {
                    "page": self.page,
                    "limit": self.limit,
                    "total": self.total,
                    "pages": math.ceil(self.total / self.limit) if self.total else 0,
                },
            }
        )

    def get_results(self, data: dict[str, Any]) -> Any:
        # The browsable API finds the rows through this to decide that a page is a list and
        # show django-filter's filter form (DRF's default looks for "results").
        return data["data"]

    def get_paginated_response_schema(self, schema: dict[str, Any]) -> dict[str, Any]:
        return {
            "type": "object",
            "required": ["data", "pagination"],
            "properties": {
                "data": schema,
                "pagination": {
                    "type": "object",
                    "properties": {
                        "page": {"type": "integer", "example": 1},
                        "limit": {"type": "integer", "example": 20},
                        "total": {"type": "integer", "example": 137},
                        "pages": {"type": "integer", "example": 7},
                    },
                },
            },
        }

    def get_schema_operation_parameters(self, view: APIView) -> list[dict[str, Any]]:
        return [
            {
                "name": "page",
                "in": "query",
                "required": False,
                "schema": {"type": "integer", "minimum": 1, "default": 1},
            },
            {
                "name": "limit",
                "in": "query",
                "required": False,
                "schema": {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": 20},
            },
        ]


CURSOR_SALT = "config.api.pagination.cursor"


def _cursor_error() -> exceptions.ValidationError:
    return exceptions.ValidationError(
        {"cursor": [_("Cursor inválido. Recomece a lista sem cursor (cursor= vazio).")]}
    )


def _encode(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal | UUID):
        return str(value)
    return value


class PageOrCursorPagination(PagePagination):
    """Page/limit by default; `?cursor=` (empty for the first page) switches to keyset pages.

    A cursor is a signed position (the ordering and the last row's ordering values); the rows
    after it are found with a range condition on the ordering index, so page 5,000 costs what
    page 1 does and no COUNT runs. The queryset stays the view's (organization, visibility,
    filters): a cursor only says where to start in it.
    """

    cursor_param = "cursor"

    def paginate_queryset(
        self, queryset: QuerySet[Any] | Sequence[Any], request: Request, view: APIView | None = None
    ) -> list[Any]:
        self.cursor_mode = self.cursor_param in request.query_params
        if not self.cursor_mode or not isinstance(queryset, QuerySet):
            self.cursor_mode = False
            return super().paginate_queryset(queryset, request, view)
        self.limit = _positive_int(request, "limit", self.default_limit, self.max_limit)
        keys = self._keys(queryset)
        raw = request.query_params.get(self.cursor_param, "")
        rows: list[Any] | None = None
        if raw:
            values, nullable = self._position(queryset, keys, self._decode(raw, keys))
            # A view may read the rows after a position its own way (leads: the kept
            # statement of the whole list with the keyset appended), or answer None.
            after = getattr(view, "page_after", None)
            if callable(after) and not any(nullable):
                rows = after(queryset, keys, values, self.limit + 1)
            if rows is None:
                condition = self._after(queryset, keys, values, nullable)
                queryset = queryset.filter(condition)
        if rows is None:
            rows = _rows(queryset, 0, self.limit + 1, view)
        self.next_cursor = None
        if len(rows) > self.limit:
            rows = rows[: self.limit]
            last = rows[-1]
            position = [_encode(getattr(last, name)) for name, _desc in keys]
            self.next_cursor = signing.dumps(
                {"o": self._signature(keys), "v": position}, salt=CURSOR_SALT, compress=True
            )
        return rows

    def get_paginated_response(self, data: Any) -> Response:
        if not getattr(self, "cursor_mode", False):
            return super().get_paginated_response(data)
        return Response(
            {"data": data, "pagination": {"limit": self.limit, "next_cursor": self.next_cursor}}
        )

    # --- keyset ----------------------------------------------------------------------------

    @staticmethod
    def _keys(queryset: QuerySet[Any]) -> list[tuple[str, bool]]:
        """(attribute, descending) of the queryset's ordering, ending with the primary key."""
        meta = queryset.model._meta
        pk_name = meta.pk.attname if meta.pk else "id"
        ordering = list(queryset.query.order_by) or list(meta.ordering)
        keys: list[tuple[str, bool]] = []
        for item in ordering:
            if not isinstance(item, str):  # pragma: no cover - the views order by field names
                raise exceptions.ValidationError({"cursor": ["ordering"]})
            desc = item.startswith("-")
            name = item.lstrip("-")
            name = pk_name if name == "pk" else meta.get_field(name).attname
            if name not in {key for key, _ in keys}:
                keys.append((name, desc))
            if name == pk_name:
                break
        if not keys or keys[-1][0] != pk_name:
            keys.append((pk_name, keys[-1][1] if keys else False))
        return keys

    @staticmethod
    def _signature(keys: list[tuple[str, bool]]) -> str:
        return ",".join(("-" if desc else "") + name for name, desc in keys)

    def _decode(self, raw: str, keys: list[tuple[str, bool]]) -> list[Any]:
        try:
            payload = signing.loads(raw, salt=CURSOR_SALT)
        except (signing.BadSignature, ValueError, TypeError):
            raise _cursor_error() from None
        if not isinstance(payload, dict) or payload.get("o") != self._signature(keys):
            raise _cursor_error()
        values = payload.get("v")
        if not isinstance(values, list) or len(values) != len(keys):
            raise _cursor_error()
        return values

    @staticmethod
    def _position(
        queryset: QuerySet[Any], keys: list[tuple[str, bool]], raw: list[Any]
    ) -> tuple[list[Any], list[bool]]:
        """The cursor's values as the key fields' Python values, and whether each key's
        field is nullable; a value its field refuses is a 400."""
        meta = queryset.model._meta
        values: list[Any] = []
        nullable: list[bool] = []
        for (name, _desc), value in zip(keys, raw, strict=True):
            try:
                field = next(f for f in meta.concrete_fields if f.attname == name)
            except StopIteration:  # pragma: no cover - keys come from the model
                raise _cursor_error() from None
            if (value is not None and not isinstance(value, str | int)) or isinstance(value, bool):
                raise _cursor_error()
            if value is None and not field.null:
                raise _cursor_error()
            try:
                values.append(None if value is None else field.to_python(value))
            except (ValidationError, ValueError, TypeError, FieldDoesNotExist):
                raise _cursor_error() from None
            nullable.append(field.null)
        return values, nullable

    @staticmethod
    def _after(
        queryset: QuerySet[Any],
        keys: list[tuple[str, bool]],
        values: list[Any],
        nullable: list[bool],
    ) -> Q:
        """Rows strictly after the position, in the queryset's order (NULLs where the DB puts
        them: PostgreSQL sorts NULL above every value, SQLite below)."""
        nulls_high = connections[queryset.db].vendor == "postgresql"
        condition = Q()
        equal_before = Q()
        for (name, desc), value, null in zip(keys, values, nullable, strict=True):
            # In this key's direction, do NULLs come after every value?
            nulls_last = nulls_high != desc
            op = "lt" if desc else "gt"
            if value is None:
                after = Q(**{f"{name}__isnull": False}) if not nulls_last else Q(pk__in=[])
                equal = Q(**{f"{name}__isnull": True})
            else:
                after = Q(**{f"{name}__{op}": value})
                if null and nulls_last:
                    after |= Q(**{f"{name}__isnull": True})
                equal = Q(**{name: value})
            condition |= equal_before & after
            equal_before &= equal
        # A range bound on the first key lets the ordering index start at the position. None
        # is possible when NULLs follow the position (ascending valor_potencial or
        # last_interaction_at on PostgreSQL): those deep positions walk the index from the start
        # (cost in bench/README.md).
        first_name, first_desc = keys[0]
        first = values[0]
        if first is not None and not (nullable[0] and nulls_high != first_desc):
            condition &= Q(**{f"{first_name}__{'lte' if first_desc else 'gte'}": first})
        return condition

    # --- schema ----------------------------------------------------------------------------

    def get_paginated_response_schema(self, schema: dict[str, Any]) -> dict[str, Any]:
        response = super().get_paginated_response_schema(schema)
        pagination = response["properties"]["pagination"]
        pagination["description"] = (
            "page, limit, total, pages; with ?cursor=: limit and next_cursor only (no count)"
        )
        pagination["properties"]["next_cursor"] = {
            "type": "string",
            "nullable": True,
            "description": "cursor of the next page (cursor mode); null on the last page",
        }
        return response

    def get_schema_operation_parameters(self, view: APIView) -> list[dict[str, Any]]:
        return [
            *super().get_schema_operation_parameters(view),
            {
                "name": self.cursor_param,
                "in": "query",
                "required": False,
                "description": (
                    "Keyset pagination for infinite scroll: empty for the first page, then the "
                    "previous page's pagination.next_cursor. No total is counted; page is "
                    "ignored. Works with every ordering and filter."
                ),
                "schema": {"type": "string"},
            },
        ]
