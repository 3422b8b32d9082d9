"""Query filters for leads and tasks; an invalid value is a 400 naming the parameter."""

from __future__ import annotations

import zoneinfo
from datetime import datetime, time, timedelta
from decimal import Decimal
from typing import Any

import django_filters
from django import forms
from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from config.api.filters import AnyOfFilter, SearchFilter, StrictBooleanFilter
from config.api.sync import UpdatedSinceFilter
from leads import selectors
from leads.models import Lead, LeadInteraction, LeadStatus, Task, TaskStatus, Temperatura
from organizations.filters import MemberOrMeFilter

# Dates a filter accepts: a bound like 9999-12-31 would overflow when a day is added to it.
MIN_YEAR, MAX_YEAR = 1900, 2200


def _out_of_range() -> forms.ValidationError:
    return forms.ValidationError(
        _("Data fora do intervalo aceito (%(min)s a %(max)s).") % {"min": MIN_YEAR, "max": MAX_YEAR}
    )


class DateOrDateTimeField(forms.CharField):
    """ISO date (`2026-11-29`) or datetime with offset; returns (value, is_bare_date)."""

    def clean(self, value: Any) -> tuple[Any, bool] | None:
        text = super().clean(value)
        if not text:
            return None
        try:
            # parse_datetime also accepts a bare date (as midnight UTC), so test that form first.
            day = parse_date(text) if len(text) == 10 else None
            if day is not None:
                if not MIN_YEAR <= day.year <= MAX_YEAR:
                    raise _out_of_range()
                return day, True
            moment = parse_datetime(text)
        except ValueError:
            moment = None
        if moment is not None:
            if timezone.is_naive(moment):
                moment = timezone.make_aware(moment, timezone.get_default_timezone())
            if not MIN_YEAR <= moment.year <= MAX_YEAR:
                raise _out_of_range()
            return moment, False
        raise forms.ValidationError(_("Data inválida. Use AAAA-MM-DD ou data e hora ISO 8601."))


class CreatedBoundFilter(django_filters.Filter):
    """created_at bound; a bare date covers that whole day in the organization's time zone."""

    field_class = DateOrDateTimeField

    def __init__(self, *args: Any, upper: bool, **kwargs: Any) -> None:
        self.upper = upper
        super().__init__(*args, **kwargs)

    def filter(self, qs: QuerySet[Any], value: tuple[Any, bool] | None) -> QuerySet[Any]:
        if not value:
            return qs
        moment, bare = value
        if bare:
            request = self.parent.request if self.parent else None
            org = getattr(request, "organization", None)
            tz = zoneinfo.ZoneInfo(org.timezone if org else "America/Sao_Paulo")
            start = datetime.combine(moment, time.min, tzinfo=tz)
            if self.upper:
                return qs.filter(created_at__lt=start + timedelta(days=1))
            return qs.filter(created_at__gte=start)
        return (
            qs.filter(created_at__lte=moment) if self.upper else qs.filter(created_at__gte=moment)
        )


class LeadFilter(django_filters.FilterSet):
    status = AnyOfFilter(allowed=LeadStatus.values)
    temperatura = AnyOfFilter(allowed=Temperatura.values)
    origem = AnyOfFilter()
    closer_id = MemberOrMeFilter(field_name="closer")
    sdr_id = MemberOrMeFilter(field_name="sdr")
    search = SearchFilter(search=selectors.lead_search, label=gettext_lazy("Busca"))
    date_from = CreatedBoundFilter(
        field_name="created_at",
        upper=False,
        label=gettext_lazy("Criado a partir de"),
        help_text="AAAA-MM-DD (dia inteiro) ou ISO 8601",
    )
    date_to = CreatedBoundFilter(
        field_name="created_at",
        upper=True,
        label=gettext_lazy("Criado até"),
        help_text="AAAA-MM-DD (dia inteiro) ou ISO 8601",
    )
    score_min = django_filters.NumberFilter(
        field_name="lead_score",
        lookup_expr="gte",
        min_value=0,
        max_value=100,
        label=gettext_lazy("Score mínimo"),
    )
    valor_min = django_filters.NumberFilter(
        label=gettext_lazy("Valor potencial mínimo"),
        field_name="valor_potencial",
        lookup_expr="gte",
        min_value=Decimal("0"),
        max_digits=14,
        decimal_places=2,
    )
    tags = AnyOfFilter(method="filter_tags")
    updated_since = UpdatedSinceFilter()

    class Meta:
        model = Lead
        fields: list[str] = []

    def filter_tags(self, qs: QuerySet[Lead], name: str, value: list[str] | None) -> QuerySet[Lead]:
        if not value:
            return qs
        return qs.filter(selectors.tags_any_q(value))


class TaskFilter(django_filters.FilterSet):
    status = AnyOfFilter(allowed=TaskStatus.values)
    responsavel_id = MemberOrMeFilter(field_name="responsavel")
    lead_id = django_filters.UUIDFilter(field_name="lead_id")
    vencidas = StrictBooleanFilter(method="filter_vencidas", label=gettext_lazy("Vencidas"))
    updated_since = UpdatedSinceFilter()

    class Meta:
        model = Task
        fields: list[str] = []

    def filter_vencidas(self, qs: QuerySet[Task], name: str, value: bool | None) -> QuerySet[Task]:
        if value is None:
            return qs
        overdue = Q(status=TaskStatus.PENDENTE, vencimento__lt=timezone.now())
        return qs.filter(overdue) if value else qs.exclude(overdue)


class InteractionFilter(django_filters.FilterSet):
    closer_id = MemberOrMeFilter(field_name="closer")
    updated_since = UpdatedSinceFilter()

    class Meta:
        model = LeadInteraction
        fields: list[str] = []
