"""Query filters for mentees; an invalid value is a 400 naming the parameter."""

from __future__ import annotations

import django_filters
from django.utils.translation import gettext_lazy

from config.api.filters import AnyOfFilter, SearchFilter
from config.api.sync import UpdatedSinceFilter
from mentorados import selectors
from mentorados.models import Mentorado, MentoradoStatus
from organizations.filters import MemberOrMeFilter


class MentoradoFilter(django_filters.FilterSet):
    status = AnyOfFilter(allowed=MentoradoStatus.values)
    mentor_id = MemberOrMeFilter(field_name="mentor")
    lead_id = django_filters.UUIDFilter(field_name="lead_id")
    # Substring of nome_completo, email or programa (accents and case ignored); telefone digits.
    search = SearchFilter(search=selectors.mentorado_search, label=gettext_lazy("Busca"))
    updated_since = UpdatedSinceFilter()

    class Meta:
        model = Mentorado
        fields: list[str] = []
