"""Reads for leads: the list queryset and the per-page extras loaded without N+1."""

from __future__ import annotations

from collections.abc import Sequence

from django.db.models import Count, F, QuerySet, Window
from django.db.models.functions import RowNumber

from leads.models import Lead, LeadInteraction
from organizations.models import Membership


def lead_list_queryset(*, membership: Membership) -> QuerySet[Lead]:
    """Leads the member may see, with closer, SDR and qualification joined in one query."""
    return (
        Lead.objects.for_org(membership.organization_id)
        .visible_to(membership)
        .select_related("closer", "sdr", "qualification")
    )


def attach_list_extras(leads: Sequence[Lead]) -> Sequence[Lead]:
    """Sets `interactions_count` and `last_interaction` on each lead of a page.

    Two queries whatever the page size: one grouped count and one "latest per lead" using a
    window function (portable to SQLite, and PostgreSQL stops at the first row per lead via the
    (lead, -data_interacao) index).
    """
    if not leads:
        return leads
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
