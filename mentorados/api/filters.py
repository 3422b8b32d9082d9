"""Query filters for mentees; an invalid value is a 400 naming the parameter."""

from __future__ import annotations

import uuid
from typing import Any

import django_filters
from django import forms
from django.db.models import Q, QuerySet
from django.utils.translation import gettext as _

from config.api.filters import AnyOfFilter
from mentorados.models import Mentorado, MentoradoStatus
from organizations.scoping import request_membership


class MemberOrMeField(forms.CharField):
    """A membership id, or `me` for the requester."""

    def clean(self, value: Any) -> uuid.UUID | str | None:
        text = (super().clean(value) or "").strip()
        if not text:
            return None
        if text == "me":
            return text
        try:
            return uuid.UUID(text)
        except ValueError:
            raise forms.ValidationError(_("Use o id de um membro ou 'me'.")) from None


class MemberOrMeFilter(django_filters.Filter):
    field_class = MemberOrMeField


class MentoradoFilter(django_filters.FilterSet):
    status = AnyOfFilter(allowed=MentoradoStatus.values)
    mentor_id = MemberOrMeFilter(method="filter_mentor")
    lead_id = django_filters.UUIDFilter(field_name="lead_id")
    search = django_filters.CharFilter(method="filter_search", max_length=100)

    class Meta:
        model = Mentorado
        fields: list[str] = []

    def filter_mentor(
        self, qs: QuerySet[Mentorado], name: str, value: uuid.UUID | str | None
    ) -> QuerySet[Mentorado]:
        if value is None:
            return qs
        if isinstance(value, uuid.UUID):
            return qs.filter(mentor_id=value)
        return qs.filter(mentor=request_membership(self.request))

    def filter_search(self, qs: QuerySet[Mentorado], name: str, value: str) -> QuerySet[Mentorado]:
        """Case-insensitive substring of nome_completo, email or programa; digits of telefone."""
        value = value.strip()
        if not value:
            return qs
        condition = (
            Q(nome_completo__icontains=value)
            | Q(email__icontains=value)
            | Q(programa__icontains=value)
        )
        digits = "".join(ch for ch in value if ch.isdigit())
        if len(digits) >= 3:
            condition |= Q(telefone__contains=digits)
        return qs.filter(condition)
