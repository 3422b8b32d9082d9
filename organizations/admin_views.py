"""The back-office dashboard page (`/admin/painel/`): the sales and mentee dashboards for
staff, computed by the same selectors as the API, for one organization they belong to."""

from __future__ import annotations

from typing import Any, cast

from django.contrib import admin
from django.contrib.admin.views.decorators import staff_member_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext as _

from leads import dashboard
from leads.models import PIPELINE_ORDER
from mentorados.selectors import mentorado_dashboard
from organizations.models import MANAGER_ROLES, Membership, Role

PERIODS = (7, 30, 90, 365)


@staff_member_required
def painel(request: HttpRequest) -> HttpResponse:
    memberships = list(
        Membership.objects.filter(
            user_id=cast(int, request.user.pk), ativo=True, role__in=MANAGER_ROLES
        ).select_related("organization")
    )
    context: dict[str, Any] = {
        **admin.site.each_context(request),
        "title": _("Painel"),
        "memberships": memberships,
        "periods": PERIODS,
    }
    if not memberships:
        context["empty"] = _("Você não é administrador nem gestor de nenhuma organização.")
        return render(request, "admin/painel.html", context)
    chosen = request.GET.get("org")
    membership = next((m for m in memberships if str(m.organization_id) == chosen), memberships[0])
    try:
        period = int(request.GET.get("period", "30"))
    except ValueError:
        period = 30
    period = period if period in PERIODS else 30
    # A manager's scope is the whole organization; the role check lives in dashboard_scope.
    scope = dashboard.dashboard_scope(membership=membership, period_days=period)
    sales = dashboard.sales_dashboard(scope)
    statuses = {stage["status"]: stage for stage in sales["funnel"]}
    context.update(
        {
            "membership": membership,
            "organization": membership.organization,
            "period": period,
            "sales": sales,
            "funnel": [statuses[status] for status in PIPELINE_ORDER if status in statuses],
            "mentees": mentorado_dashboard(organization=membership.organization),
            "is_admin": membership.role == Role.ADMIN,
        }
    )
    return render(request, "admin/painel.html", context)
