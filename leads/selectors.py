"""Reads for leads: the list queryset and the per-page extras loaded without N+1."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence

from django.db import connection
from django.db.models import Count, F, Func, Q, QuerySet, Sum, Window
from django.db.models.functions import RowNumber

from config import search
from leads.models import Lead, LeadCount, LeadInteraction
from organizations.access import lead_visibility_q
from organizations.models import Membership

# `search` (API and admin): accents and case ignored; the phone by its digits. The folded
# text of these fields (same fields, same order) is stored in `search_fold` by a trigger
# (leads 0019), which the lead_org_search_col index holds.
SEARCH_TEXT_FIELDS = ("nome_completo", "email", "empresa")
SEARCH_DIGITS_FIELD = "telefone"
SEARCH_FOLDED_FIELD = "search_fold"


def lead_total(organization_id: uuid.UUID | str) -> int:
    """The organization's number of leads, from the counts the triggers keep (no scan)."""
    total = LeadCount.objects.filter(organization_id=organization_id).aggregate(n=Sum("total"))
    return int(total["n"] or 0)


def kept_total_applies(membership: Membership, params: Iterable[str]) -> bool:
    """True when the list is the organization's whole lead table: no filter, search or
    narrowing by role, so `lead_total` is its exact count. `params` are the query's names."""
    return not (set(params) - UNFILTERING_PARAMS) and not lead_visibility_q(membership)


# Query parameters that change neither which leads nor how many are listed.
UNFILTERING_PARAMS = frozenset({"page", "limit", "ordering", "format"})


def lead_search(queryset: QuerySet[Lead], value: str) -> QuerySet[Lead]:
    return search.search(
        queryset,
        value,
        text_fields=SEARCH_TEXT_FIELDS,
        digits_field=SEARCH_DIGITS_FIELD,
        folded_field=SEARCH_FOLDED_FIELD,
    )


def lead_list_queryset(*, membership: Membership) -> QuerySet[Lead]:
    """Leads the member may see, with closer, SDR and qualification joined in one query."""
    return (
        Lead.objects.for_org(membership.organization_id)
        .visible_to(membership)
        .select_related("closer", "sdr", "qualification")
    )


# Per lead of the page, one index probe each: the count of its interactions and its latest one
# (the (lead, -data_interacao) index gives the latest without sorting).
_EXTRAS_SQL = """
SELECT page.id, counted.n, latest.data_interacao, latest.tipo_interacao, latest.resultado
FROM unnest(%s::uuid[]) AS page(id)
CROSS JOIN LATERAL (
    SELECT COUNT(*) AS n FROM lead_interactions i WHERE i.lead_id = page.id
) counted
LEFT JOIN LATERAL (
    SELECT i.data_interacao, i.tipo_interacao, i.resultado
    FROM lead_interactions i
    WHERE i.lead_id = page.id
    ORDER BY i.data_interacao DESC, i.created_at DESC
    LIMIT 1
) latest ON TRUE
"""


def attach_list_extras(leads: Sequence[Lead]) -> Sequence[Lead]:
    """Sets `interactions_count` and `last_interaction` on each lead of a page.

    One query whatever the page size on PostgreSQL (two LATERAL probes per lead); elsewhere
    (SQLite) two: a grouped count and a "latest per lead" window query.
    """
    if not leads:
        return leads
    if connection.vendor == "postgresql":
        return _attach_extras_postgresql(leads)
    return _attach_extras_portable(leads)


def _attach_extras_portable(leads: Sequence[Lead]) -> Sequence[Lead]:
    ids = [lead.pk for lead in leads]
    counts = dict(
        LeadInteraction.objects.filter(lead_id__in=ids)
        .order_by()
        .values_list("lead_id")
        .annotate(n=Count("id"))
        .values_list("lead_id", "n")
    )
    latest = {
        interaction.lead_id: interaction
        for interaction in LeadInteraction.objects.filter(lead_id__in=ids)
        .annotate(
            position=Window(
                RowNumber(),
                partition_by=[F("lead_id")],
                order_by=[F("data_interacao").desc(), F("created_at").desc()],
            )
        )
        .filter(position=1)
        .only("lead_id", "data_interacao", "tipo_interacao", "resultado")
    }
    for lead in leads:
        lead.interactions_count = counts.get(lead.pk, 0)  # type: ignore[attr-defined]
        lead.last_interaction = latest.get(lead.pk)  # type: ignore[attr-defined]
    return leads


def _attach_extras_postgresql(leads: Sequence[Lead]) -> Sequence[Lead]:
    with connection.cursor() as cursor:
        cursor.execute(_EXTRAS_SQL, [[lead.pk for lead in leads]])
        rows = {row[0]: row[1:] for row in cursor.fetchall()}
    for lead in leads:
        count, moment, tipo, resultado = rows[lead.pk]
        lead.interactions_count = count  # type: ignore[attr-defined]
        lead.last_interaction = (  # type: ignore[attr-defined]
            LeadInteraction(
                lead_id=lead.pk, data_interacao=moment, tipo_interacao=tipo, resultado=resultado
            )
            if moment is not None
            else None
        )
    return leads


def tags_any_q(tags: Sequence[str]) -> Q:
    """Leads carrying any of these tags (the API's `tags` filter and the admin's tag filter)."""
    condition = Q()
    for tag in tags:
        if connection.vendor == "postgresql":
            condition |= Q(tags__contains=[tag])
        else:  # SQLite has no JSON containment; match the quoted element instead.
            condition |= Q(tags__icontains=f'"{tag}"')
    return condition


def known_tags(queryset: QuerySet[Lead], *, limit: int = 100) -> list[str]:
    """The distinct tags of these leads, alphabetical (the tag filter's choices)."""
    if connection.vendor == "postgresql":
        rows = (
            queryset.order_by()
            .annotate(tag=Func(F("tags"), function="jsonb_array_elements_text"))
            .values_list("tag", flat=True)
            .distinct()
            .order_by("tag")
        )
        return list(rows[:limit])
    found: set[str] = set()
    for tags in queryset.order_by().values_list("tags", flat=True).iterator():
        found.update(tag for tag in tags or [] if isinstance(tag, str))
    return sorted(found)[:limit]
