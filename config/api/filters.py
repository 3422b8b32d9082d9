"""Filter backends that refuse what they do not understand instead of ignoring it, and let go
of their FilterSet when done."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import django_filters
from django import forms
from django.db.models import QuerySet
from django.utils.text import format_lazy
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django_filters.rest_framework import DjangoFilterBackend
from django_filters.utils import translate_validation
from rest_framework import exceptions
from rest_framework.filters import OrderingFilter
from rest_framework.request import Request
from rest_framework.views import APIView

from config.cycles import release_filterset


class FilterBackend(DjangoFilterBackend):
    """django-filter's backend (`DEFAULT_FILTER_BACKENDS`), its FilterSet's reference cycles
    broken once the filtered queryset is made (config/cycles.py)."""

    def filter_queryset(self, request: Request, queryset: Any, view: Any) -> Any:
        return self.filter_with(self.get_filterset(request, queryset, view), queryset)

    def filter_with(self, filterset: Any, queryset: Any) -> Any:
        """The FilterSet's queryset, or a 400 for invalid parameters (django-filter's own
        steps); the set is released either way."""
        if filterset is None:
            return queryset
        try:
            if not filterset.is_valid() and self.raise_exception:
                raise translate_validation(filterset.errors)
            return filterset.qs
        finally:
            release_filterset(filterset)


class StrictOrderingFilter(OrderingFilter):
    """`?ordering=` over the view's `ordering_fields`; an unknown field is a 400 naming it."""

    def get_ordering(self, request: Request, queryset: QuerySet[Any], view: APIView) -> Any:
        params = request.query_params.get(self.ordering_param)
        if params:
            fields = [param.strip() for param in params.split(",") if param.strip()]
            valid = {
                item[0] for item in self.get_valid_fields(queryset, view, {"request": request})
            }
            invalid = [f for f in fields if f.lstrip("-") not in valid]
            if invalid or not fields:
                raise exceptions.ValidationError(
                    {
                        self.ordering_param: [
                            _("Campo de ordenação inválido: %(fields)s. Use: %(valid)s.")
                            % {
                                "fields": ", ".join(invalid) or params,
                                "valid": ", ".join(sorted(valid)),
                            }
                        ]
                    }
                )
            # A stable tie-breaker keeps pages from overlapping when values repeat; it follows
            # the last field's direction so that one (field, id) index serves both directions.
            if any(f.lstrip("-") == "pk" for f in fields):
                return fields
            return [*fields, "-pk" if fields[-1].startswith("-") else "pk"]
        return self.get_default_ordering(view)


MAX_LIST_VALUES = 20


class CommaSeparatedField(forms.CharField):
    """`a,b,c` -> ["a", "b", "c"], each checked against `choices` when given."""

    def __init__(self, *args: Any, allowed: list[str] | None = None, **kwargs: Any) -> None:
        self.allowed = allowed
        kwargs.setdefault("max_length", 500)
        super().__init__(*args, **kwargs)

    def clean(self, value: Any) -> list[str] | None:
        text = super().clean(value)
        if not text:
            return None
        items = [item.strip().lower() for item in text.split(",") if item.strip()]
        if len(items) > MAX_LIST_VALUES:
            raise forms.ValidationError(_("No máximo %(n)s valores.") % {"n": MAX_LIST_VALUES})
        if self.allowed is not None:
            unknown = [item for item in items if item not in self.allowed]
            if unknown:
                raise forms.ValidationError(
                    _("Valor inválido: %(values)s. Valores aceitos: %(allowed)s.")
                    % {"values": ", ".join(unknown), "allowed": ", ".join(self.allowed)}
                )
        return items


class AnyOfFilter(django_filters.Filter):
    """Comma-separated "any of" filter; `allowed` restricts the values (400 otherwise)."""

    field_class = CommaSeparatedField

    def __init__(self, *args: Any, allowed: list[str] | None = None, **kwargs: Any) -> None:
        if allowed is not None:
            kwargs["allowed"] = allowed
            kwargs.setdefault(
                "help_text",
                format_lazy(
                    "{}: {}", gettext_lazy("Um ou mais, separados por vírgula"), ", ".join(allowed)
                ),
            )
        else:
            kwargs.setdefault("help_text", "Um ou mais valores, separados por vírgula.")
        super().__init__(*args, **kwargs)

    def filter(self, qs: QuerySet[Any], value: list[str] | None) -> QuerySet[Any]:
        if not value:
            return qs
        return qs.filter(**{f"{self.field_name}__in": value})


class SearchFilter(django_filters.CharFilter):
    """`?search=`: the list's accent- and case-blind search (`search(queryset, text)`, a selector
    built on config.search), at most 100 characters; empty leaves the list as it is."""

    def __init__(
        self, *args: Any, search: Callable[[QuerySet[Any], str], QuerySet[Any]], **kwargs: Any
    ) -> None:
        kwargs.setdefault("max_length", 100)
        super().__init__(*args, **kwargs)
        self.search = search

    def filter(self, qs: QuerySet[Any], value: str) -> QuerySet[Any]:
        if not value:
            return qs
        return self.search(qs, value)


class StrictBooleanField(forms.CharField):
    """`true`/`false` (or 1/0); anything else is an error rather than silently ignored."""

    def clean(self, value: Any) -> bool | None:
        text = (super().clean(value) or "").strip().lower()
        if not text:
            return None
        if text in ("true", "1"):
            return True
        if text in ("false", "0"):
            return False
        raise forms.ValidationError(_("Use true ou false."))


class StrictBooleanFilter(django_filters.Filter):
    field_class = StrictBooleanField
