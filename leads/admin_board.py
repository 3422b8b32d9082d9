"""The pipeline board (`/admin/leads/lead/board/`): one column per status, cards loaded per page.

Reads only: the leads a member may see (the API's `visible_to` scoping) narrowed by the API's
own `LeadFilter` (closer, SDR, temperature, origem, tag, search), so the board and
`GET /api/v1/leads/` agree on what a filter means. Moving a card is a `PATCH
/api/v1/leads/{id}/` from the page (session + CSRF): the API's validation and
`services.lead_update` (history, side effects, notifications) do the move, and its
`{"error", "details"}` answer is what the page shows when a move is refused.

Query budget: the page runs a fixed number of queries whatever the number of leads (one
query for every column's count and sum, one query per column for its first page of cards,
two for the filter choices); "carregar mais" is one query per column page. The counts and sums
come from lead_status_totals (kept by triggers, leads 0028) when the board shows the
organization's whole lead table (no filter, no narrowing by role), from an aggregate over the
shown leads otherwise.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, cast

from django.contrib.admin import AdminSite
from django.db import connections
from django.db.models import Count, OuterRef, QuerySet, Subquery, Sum
from django.http import HttpRequest, HttpResponse, JsonResponse, QueryDict
from django.shortcuts import render
from django.template.loader import render_to_string
from django.urls import URLPattern, path, reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from config.admin_filters import distinct_in_organization
from leads import selectors
from leads.admin_painel import origem_label
from leads.api.filters import LeadFilter
from leads.models import (
    PIPELINE_ORDER,
    Lead,
    LeadStatus,
    LeadStatusChange,
    Temperatura,
)
from organizations import access
from organizations.models import MANAGER_ROLES, Membership, Role
from organizations.permissions import SALES_ROLES

PAGE_SIZE = 25
# The API's filter parameters the board offers (LeadFilter names).
FILTER_PARAMS = ("closer_id", "sdr_id", "temperatura", "origem", "tags", "search")
ORIGEM_CHOICES_LIMIT = 200


def admin_membership(request: HttpRequest) -> Membership | None:
    """The requester's membership for back-office pages (one rule: organizations.access)."""
    membership = access.admin_membership(request)
    request.backoffice_memberships = access.admin_memberships(request)  # type: ignore[attr-defined]
    return membership


def no_membership_page(request: HttpRequest, site: AdminSite, title: str) -> HttpResponse:
    context = {
        **site.each_context(request),
        "title": title,
        "empty": _("Você não é membro ativo de nenhuma organização."),
    }
    return render(request, "admin/backoffice_empty.html", context, status=403)


@dataclass(frozen=True)
class BoardFilters:
    """The filter values in effect (after a seller's default) and the query string for them."""

    values: dict[str, str]
    query: str
    errors: dict[str, list[str]]


def board_filters(request: HttpRequest, membership: Membership) -> BoardFilters:
    """Filters from the query string; a seller with no member filter lands on their own leads."""
    values = {name: request.GET.get(name, "").strip() for name in FILTER_PARAMS}
    untouched = "closer_id" not in request.GET and "sdr_id" not in request.GET
    if untouched and membership.role == Role.CLOSER:
        values["closer_id"] = str(membership.pk)
    elif untouched and membership.role == Role.SDR:
        values["sdr_id"] = str(membership.pk)
    query = QueryDict(mutable=True)
    query["org"] = str(membership.organization_id)
    for name, value in values.items():
        query[name] = value
    filterset = LeadFilter(data={k: v for k, v in values.items() if v}, queryset=Lead.objects)
    errors = {} if filterset.is_valid() else dict(filterset.errors)
    return BoardFilters(values=values, query=query.urlencode(), errors=errors)


def board_queryset(membership: Membership, filters: BoardFilters) -> QuerySet[Lead]:
    """The leads the member may see, narrowed by the filters (none when a filter is invalid)."""
    base = Lead.objects.for_org(membership.organization_id).visible_to(membership)
    if filters.errors:
        return base.none()
    data = {k: v for k, v in filters.values.items() if v}
    filterset = LeadFilter(data=data, queryset=base)
    return cast(QuerySet[Lead], filterset.qs)


def column_totals(
    queryset: QuerySet[Lead], organization_id: uuid.UUID | str | None = None
) -> dict[str, tuple[int, Decimal]]:
    """Per status: (number of leads, sum of valor_potencial), in one query.

    `organization_id`: the queryset is that organization's whole lead table, so on PostgreSQL
    its kept totals answer (lead_status_totals, leads 0028: a few rows, against grouping every
    lead of the organization, ~270 ms at a million); otherwise an aggregate over `queryset`.
    """
    if organization_id is not None and connections[queryset.db].vendor == "postgresql":
        return selectors.status_totals(organization_id)
    rows = (
        queryset.order_by()
        .values("status")
        .annotate(n=Count("pk"), total=Sum("valor_potencial"))
        .values_list("status", "n", "total")
    )
    return {status: (n, total or Decimal("0")) for status, n, total in rows}


def whole_organization(membership: Membership, filters: BoardFilters) -> bool:
    """Whether the board shows the organization's whole lead table: no filter value in effect
    (a seller's default closer/SDR filter is one) and no narrowing of the member's view."""
    return (
        not filters.errors
        and not any(filters.values.values())
        and not access.lead_visibility_q(membership)
    )


def column_page(queryset: QuerySet[Lead], status: str, offset: int) -> tuple[list[Lead], bool]:
    """One page of a column's cards (highest score first) and whether more follow; one query.

    `stage_since` is the lead's latest move (the (lead, changed_at) index answers it per card);
    a lead without recorded moves counts from its creation.
    """
    latest_move = (
        LeadStatusChange.objects.filter(lead=OuterRef("pk"))
        .order_by("-changed_at")
        .values("changed_at")[:1]
    )
    rows: list[Lead] = list(
        queryset.filter(status=status)
        .select_related("closer", "sdr")
        .only(
            "id",
            "organization_id",
            "nome_completo",
            "empresa",
            "status",
            "temperatura",
            "lead_score",
            "valor_potencial",
            "tags",
            "created_at",
            "closer__nome_completo",
            "sdr__nome_completo",
        )
        .annotate(stage_since=Subquery(latest_move))
        .order_by("-lead_score", "-created_at", "-id")[offset : offset + PAGE_SIZE + 1]
    )
    now = timezone.now()
    for lead in rows[:PAGE_SIZE]:
        since: datetime = getattr(lead, "stage_since", None) or lead.created_at
        days = max((now - since).days, 0)
        lead.days_in_stage = days  # type: ignore[attr-defined]
        lead.days_label = ngettext(  # type: ignore[attr-defined]
            "%(days)s dia na etapa", "%(days)s dias na etapa", days
        ) % {"days": days}
        lead.move_label = _("Mover %(nome)s para") % {"nome": lead.nome_completo}  # type: ignore[attr-defined]
    return rows[:PAGE_SIZE], len(rows) > PAGE_SIZE


def card_context() -> dict[str, Any]:
    """What every card repeats, resolved once per page (200 cards render noticeably faster)."""
    return {
        "change_base": reverse("admin:leads_lead_changelist"),
        "score_label": _("Score"),
        "score_help": _("Score do lead (0 a 100)"),
        "days_help": _("Dias desde a última mudança de status"),
        "closer_label": _("Closer"),
    }


def _may_move(membership: Membership) -> bool:
    return membership.role in SALES_ROLES


def _member_choices(membership: Membership) -> tuple[list[Membership], list[Membership]]:
    members = list(
        Membership.objects.for_org(membership.organization_id)
        .filter(
            ativo=True, role__in=[Role.CLOSER, Role.SDR, *MANAGER_ROLES]
        )  # the API accepts managers in both roles
        .only("id", "nome_completo", "role")
        .order_by("nome_completo", "id")
    )
    closers = [m for m in members if m.role != Role.SDR]
    sdrs = [m for m in members if m.role != Role.CLOSER]
    return closers, sdrs


def _origem_choices(membership: Membership) -> list[tuple[str, str]]:
    # The organization's origins in use, by a skip scan of its (organization, origem) index
    # (a DISTINCT over a million leads took ~90 ms).
    codes = distinct_in_organization(Lead, "origem", membership.organization_id)
    return [(code, origem_label(code)) for code in codes[:ORIGEM_CHOICES_LIMIT]]


def board_view(request: HttpRequest, site: AdminSite) -> HttpResponse:
    membership = admin_membership(request)
    if membership is None:
        return no_membership_page(request, site, _("Quadro de leads"))
    filters = board_filters(request, membership)
    queryset = board_queryset(membership, filters)
    whole = whole_organization(membership, filters)
    totals = column_totals(queryset, membership.organization_id if whole else None)
    labels = dict(LeadStatus.choices)
    columns = []
    for status in PIPELINE_ORDER:
        cards, more = column_page(queryset, status, 0)
        count, total = totals.get(status, (0, Decimal("0")))
        columns.append(
            {
                "status": status,
                "label": labels[status],
                "count": count,
                "total": total,
                "cards": cards,
                "more": more,
            }
        )
    closers, sdrs = _member_choices(membership)
    context = {
        **site.each_context(request),
        "title": _("Quadro de leads"),
        "is_fullwidth": "1",  # unfold: the board uses the whole width
        "membership": membership,
        "memberships": getattr(request, "backoffice_memberships", [membership]),
        "organization": membership.organization,
        "columns": columns,
        "statuses": [(status, labels[status]) for status in PIPELINE_ORDER],
        "filters": filters.values,
        "filter_errors": filters.errors,
        "filter_query": filters.query,
        "closers": closers,
        "sdrs": sdrs,
        "temperaturas": Temperatura.choices,
        "origens": _origem_choices(membership),
        "may_move": _may_move(membership),
        "page_size": PAGE_SIZE,
        "perdido": LeadStatus.PERDIDO.value,
        **card_context(),
    }
    return render(
        request,
        "admin/leads/lead/board.html",
        context,
        status=400 if filters.errors else 200,
    )


def board_column_view(request: HttpRequest, site: AdminSite) -> HttpResponse:
    """`?status=&offset=` plus the board's filters: the next cards of one column, as HTML."""
    membership = admin_membership(request)
    if membership is None:
        return JsonResponse({"error": _("Sem acesso."), "details": {}}, status=403)
    status = request.GET.get("status", "")
    if status not in PIPELINE_ORDER:
        return JsonResponse(
            {"error": _("Status inválido."), "details": {"status": [status]}}, status=400
        )
    try:
        offset = int(request.GET.get("offset", "0"))
    except ValueError:
        offset = -1
    if offset < 0:
        return JsonResponse(
            {"error": _("Posição inválida."), "details": {"offset": [request.GET.get("offset")]}},
            status=400,
        )
    filters = board_filters(request, membership)
    if filters.errors:
        return JsonResponse({"error": _("Filtro inválido."), "details": filters.errors}, status=400)
    cards, more = column_page(board_queryset(membership, filters), status, offset)
    html = render_to_string(
        "admin/leads/lead/board_cards.html",
        {"cards": cards, "may_move": _may_move(membership), **card_context()},
        request=request,
    )
    return JsonResponse(
        {"html": html, "next_offset": offset + len(cards) if more else None, "count": len(cards)}
    )


def board_urls(site: AdminSite) -> list[URLPattern]:
    """Mounted by `LeadAdmin.get_urls` (under `/admin/leads/lead/`), behind the admin login."""

    def wrap(view: Any) -> Any:
        return site.admin_view(lambda request: view(request, site))

    return [
        path("board/", wrap(board_view), name="leads_lead_board"),
        path("board/column/", wrap(board_column_view), name="leads_lead_board_column"),
    ]
