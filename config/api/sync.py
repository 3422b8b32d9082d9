"""What mobile clients need to sync safely: `updated_since`, ETags and `If-Match`.

- `updated_since` (ISO 8601 with offset) narrows a list to rows whose `updated_at` is at or
  after that moment; a malformed value is a 400 naming the parameter.
- `ETag` / `If-None-Match` on every GET comes from Django's ConditionalGetMiddleware (an MD5 of
  the rendered body, so a list's tag changes with any row, its page or its translation).
- `If-Match` on PUT/PATCH (`ConditionalUpdateMixin`): the row is locked (`SELECT ... FOR
  UPDATE`, held until the request's transaction ends) and its current representation is
  hashed exactly like the middleware hashes a GET; a tag that no longer matches is a 412 and
  nothing is written. Two clients editing one row: the second is told, the first is kept.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Any

import django_filters
from django import forms
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.http import parse_etags, quote_etag
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import exceptions, status
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response


class IsoDateTimeField(forms.CharField):
    """An ISO 8601 date-time (`2026-12-01T10:00:00-03:00`); without an offset, UTC."""

    def clean(self, value: Any) -> datetime | None:
        text = (super().clean(value) or "").strip()
        if not text:
            return None
        try:
            moment = parse_datetime(text.replace(" ", "+"))  # a `+` unescaped in a query
        except ValueError:
            moment = None
        if moment is None:
            raise forms.ValidationError(
                _("Data e hora inválidas. Use ISO 8601, por exemplo 2026-12-01T10:00:00-03:00.")
            )
        if timezone.is_naive(moment):
            moment = timezone.make_aware(moment, UTC)
        return moment


@extend_schema_field(OpenApiTypes.DATETIME)
class UpdatedSinceFilter(django_filters.Filter):
    """`?updated_since=<ISO 8601>`: rows changed at or after that moment (inclusive, so a
    client that passes the time of its previous sync may see a row twice, never miss one)."""

    field_class = IsoDateTimeField

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("field_name", "updated_at")
        kwargs.setdefault(
            "help_text",
            gettext_lazy("Só o que mudou desde este instante (ISO 8601), para sincronização."),
        )
        super().__init__(*args, **kwargs)

    def filter(self, qs: QuerySet[Any], value: datetime | None) -> QuerySet[Any]:
        if value is None:
            return qs
        return qs.filter(**{f"{self.field_name}__gte": value})


class PreconditionFailed(exceptions.APIException):
    """412; the body's `details.etag` is the current tag (the handler keeps the dict's keys)."""

    status_code = status.HTTP_412_PRECONDITION_FAILED
    default_detail = gettext_lazy(
        "O registro mudou desde a sua última leitura (If-Match). Leia-o de novo e reaplique "
        "a alteração."
    )
    default_code = "precondition_failed"

    def __init__(self, *, current: str) -> None:
        super().__init__({"detail": self.default_detail, "etag": current})


def representation_etag(data: Any) -> str:
    """The ETag ConditionalGetMiddleware gives the JSON body of `data` (same bytes, same MD5)."""
    content = JSONRenderer().render(data, "application/json", {})
    return quote_etag(hashlib.md5(content, usedforsecurity=False).hexdigest())


def _matches(header: str, current: str) -> bool:
    tags = parse_etags(header)
    if "*" in tags:
        return True
    # Weak comparison (RFC 9110 8.8.3.2): a proxy may have weakened our tag in transit.
    bare = current.removeprefix("W/")
    return any(tag.removeprefix("W/") == bare for tag in tags)


class ConditionalUpdateMixin:
    """`If-Match` on PUT/PATCH of a detail route; put it before the DRF viewset class."""

    def update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        view: Any = self
        header = request.headers.get("If-Match")
        if header:
            instance = view.get_object()  # 404/403 first, as without the header
            model = type(instance)
            # Lock the row alone (the list queryset may join nullable relations, which FOR
            # UPDATE refuses); ATOMIC_REQUESTS keeps the lock until the update has committed.
            list(model._default_manager.select_for_update().filter(pk=instance.pk).values("pk"))
            current = representation_etag(view.get_serializer(view.get_object()).data)
            if not _matches(header, current):
                raise PreconditionFailed(current=current)
        response: Response = super().update(request, *args, **kwargs)  # type: ignore[misc]
        if response.status_code == status.HTTP_200_OK and response.data is not None:
            response["ETag"] = representation_etag(response.data)
        return response
