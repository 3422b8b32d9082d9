"""Query filters for mentees; an invalid value is a 400 naming the parameter."""

from __future__ import annotations

import django_filters
from django.db.models import QuerySet

from config.api.filters import AnyOfFilter
from config.api.sync import UpdatedSinceFilter
from mentorados import selectors
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
        """Substring of nome_completo, email or programa (accents and case ignored); digits
        of telefone."""
        return selectors.mentorado_search(qs, value)
