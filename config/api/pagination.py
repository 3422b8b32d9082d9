"""`?page=&limit=` pagination with the `{data, pagination}` envelope of API.md."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from django.core.paginator import InvalidPage
from django.db.models import QuerySet
from django.utils.translation import gettext as _
from rest_framework import exceptions
from rest_framework.pagination import BasePagination
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

MAX_LIMIT = 100


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
        self.total = queryset.count() if isinstance(queryset, QuerySet) else len(queryset)
        offset = (self.page - 1) * self.limit
        if offset >= self.total:
            return []
        try:
            return list(queryset[offset : offset + self.limit])
        except InvalidPage:  # pragma: no cover - slicing a queryset does not raise it
            return []

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
