"""Query filters for mentees; an invalid value is a 400 naming the parameter."""

from __future__ import annotations

import django_filters
from django.db.models import Q, QuerySet

from config.api.filters import AnyOfFilter
from config.api.sync import UpdatedSinceFilter
from mentorados.models import Mentorado, MentoradoStatus
from organizations.filters import MemberOrMeFilter


class MentoradoFilter(django_filters.FilterSet):
    status = AnyOfFilter(allowed=MentoradoStatus.values)
    mentor_id = MemberOrMeFilter(field_name="mentor")
    lead_id = django_filters.UUIDFilter(field_name="lead_id")
    search = django_filters.CharFilter(method="filter_search", max_length=100)
    updated_since = UpdatedSinceFilter()

    class Meta:
        model = Mentorado
        fields: list[str] = []

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
