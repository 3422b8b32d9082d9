"""The back office's painel (`/admin/painel/`): the API dashboards with charts.

It lives in config because it composes two apps (the sales dashboard of `leads` and the mentee
dashboard of `mentorados`), as CONVENTIONS allows for urls.py and the admin site modules. Every
figure comes from the selectors behind `GET /api/v1/leads/performance/` and
`GET /api/v1/mentorados/dashboard/` with the same parameter validation, so the painel and the
API agree number for number; the charts' series (weeks, origens, NPS per month) are breakdowns
whose sums are those figures. Each number links to the admin list of exactly the rows it
counts (`leads.admin_painel.PainelSetFilter`).
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from django.contrib import admin
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from leads import dashboard_selectors
from leads.admin_board import admin_membership, no_membership_page
from leads.admin_painel import origem_label, painel_link
from leads.api.reports import DASHBOARD_ROLES, PerformanceQuerySerializer
from leads.models import PRESET_PERIOD_DAYS, LeadStatus, Temperatura
from mentorados.api.serializers import DashboardQuerySerializer
from mentorados.selectors import mentorado_dashboard, nps_by_month
from organizations.models import Membership, OrganizationNps, Role

PERIODS = PRESET_PERIOD_DAYS
MENTEE_PERIODS = (3, 6, 12, 24, 36)

# What each figure means (shown next to it): the definitions of leads/dashboard_selectors.py and
# mentorados/selectors.py in the users' words.
DEFINITIONS = {
    "total_leads": gettext_lazy("Leads criados dentro do período (no recorte escolhido)."),
    "leads_qualificados": gettext_lazy(
        "Dos leads criados no período, os que chegaram a qualificado ou a uma etapa seguinte, "
        "mesmo que depois tenham sido perdidos."
    ),
    "leads_convertidos": gettext_lazy(
        "Leads convertidos dentro do período, qualquer que seja a data de criação."
    ),
    "taxa_conversao": gettext_lazy(
        "Convertidos no período ÷ leads criados no período × 100. Pode passar de 100% num "
        "período com poucos leads novos."
    ),
    "valor_total_convertido": gettext_lazy(
        "Soma do valor fechado dos leads convertidos no período."
    ),
    "ticket_medio": gettext_lazy("Média do valor fechado dos leads convertidos no período."),
    "tempo_medio_conversao_dias": gettext_lazy(
        "Média, em dias, entre a criação e a conversão dos leads convertidos no período."
    ),
    "total_interacoes": gettext_lazy(
        "Interações registradas no período (do membro escolhido, quando há recorte)."
    ),
    "temperaturas": gettext_lazy("Leads criados no período pela temperatura atual."),
    "funil": gettext_lazy(
        "Entraram: leads que entraram na etapa no período. Avançaram: desses, os que depois "
        "passaram a uma etapa seguinte (perder não é avançar). Tempo médio: duração das "
        "passagens pela etapa iniciadas no período e já encerradas. Atual: leads criados no "
        "período que estão hoje na etapa."
    ),
    "semanas": gettext_lazy(
        "Por semana (segunda a domingo): leads criados e leads convertidos naquela semana, "
        "dentro do período."
    ),
    "origens": gettext_lazy(
        "Leads criados no período por origem, e quantos deles estão convertidos hoje."
    ),
    "closers": gettext_lazy(
        "Até 10 membros, pelo valor convertido no período. Leads: criados no período em que "
        "ele é o closer; convertidos e valor: convertidos no período; interações: registradas "
        "por ele no período."
    ),
    "nps": gettext_lazy(
        "NPS = % de promotores (notas 9-10) − % de detratores (0-6) entre as respostas do mês "
        "(ou do período, no total)."
    ),
    "mentorados_ativos": gettext_lazy("Mentorados com status ativo hoje."),
    "churn": gettext_lazy(
        "Cancelados no período ÷ mentorados que estiveram no programa em algum momento do "
        "período × 100."
    ),
}


def _changelist(model: str, **params: str) -> str:
    url = reverse(f"admin:{model}_changelist")
    return url + ("?" + urlencode(params) if params else "")


def _sales_scope(
    membership: Membership, request: HttpRequest
) -> tuple[dashboard_selectors.DashboardScope, list[str]]:
    """The painel's scope from `?period=&closer_id=`; invalid input falls back to the defaults."""
    params = {k: v for k, v in request.GET.items() if k in ("period", "closer_id") and v != ""}
    query = PerformanceQuerySerializer(data=params, context={"membership": membership})
    errors: list[str] = []
    if not query.is_valid():
        for field_errors in query.errors.values():
            errors.extend(str(error) for error in field_errors)
        query = PerformanceQuerySerializer(data={}, context={"membership": membership})
        query.is_valid()
    scope = dashboard_selectors.dashboard_scope(
        membership=membership,
        period_days=query.validated_data["period"],
        closer_id=query.validated_data.get("closer_id"),
    )
    return scope, errors


def _kpi_rows(
    scope: dashboard_selectors.DashboardScope, metrics: dashboard_selectors.Metrics
) -> list[dict[str, Any]]:
    member = scope.closer_id or scope.sdr_id
    interaction_params = {
        "data_interacao__gte": scope.start.isoformat(),
        "data_interacao__lte": scope.end.isoformat(),
    }
    if member is not None:
        interaction_params["closer__exact"] = str(member)
    # (key, label, format, the painel set its number counts)
    kpis = [
        ("total_leads", _("Leads no período"), "num", "coorte"),
        ("leads_qualificados", _("Qualificados"), "num", "qualificados"),
        ("leads_convertidos", _("Convertidos"), "num", "convertidos"),
        ("taxa_conversao", _("Taxa de conversão"), "pct", None),
        ("valor_total_convertido", _("Valor convertido"), "brl", "convertidos"),
        ("ticket_medio", _("Ticket médio"), "brl", "convertidos"),
        ("tempo_medio_conversao_dias", _("Tempo médio de conversão (dias)"), "dec", "convertidos"),
        ("total_interacoes", _("Interações"), "num", "interacoes"),
    ]
    return [
        {
            "key": key,
            "label": label,
            "value": metrics[key],  # type: ignore[literal-required]
            "format": fmt,
            "definition": DEFINITIONS[key],
            "link": (
                _changelist("leads_leadinteraction", **interaction_params)
                if kind == "interacoes"
                else painel_link(scope, kind)
                if kind
                else None
            ),
        }
        for key, label, fmt, kind in kpis
    ]


def _temperature_rows(
    scope: dashboard_selectors.DashboardScope, metrics: dashboard_selectors.Metrics
) -> list[dict[str, Any]]:
    return [
        {
            "label": label,
            "value": metrics[f"leads_{name}s"],  # type: ignore[literal-required]
            "link": painel_link(scope, "temperatura", value),
        }
        for value, label, name in (
            (Temperatura.QUENTE, _("Quentes"), "quente"),
            (Temperatura.MORNO, _("Mornos"), "morno"),
            (Temperatura.FRIO, _("Frios"), "frio"),
        )
    ]


def _funnel_rows(
    scope: dashboard_selectors.DashboardScope, sales: dashboard_selectors.SalesDashboard
) -> list[dict[str, Any]]:
    labels = dict(LeadStatus.choices)
    return [
        {
            **stage,
            "label": labels[stage["status"]],
            "link_count": painel_link(scope, "etapa", stage["status"]),
            "link_entraram": painel_link(scope, "entraram", stage["status"]),
        }
        for stage in sales["funnel"]
    ]


def _week_rows(
    scope: dashboard_selectors.DashboardScope, membership: Membership
) -> list[dict[str, Any]]:
    zone = ZoneInfo(membership.organization.timezone)
    weeks = []
    for week in dashboard_selectors.weekly_series(scope, tz=membership.organization.timezone):
        week_start = datetime.combine(week["semana"], time.min, tzinfo=zone)
        start = max(week_start, scope.start)
        end = min(week_start + timedelta(days=7) - timedelta(microseconds=1), scope.end)
        weeks.append(
            {
                **week,
                "label": date_format(week["semana"], "d/m"),
                "link_leads": painel_link(scope, "coorte", start=start, end=end),
                "link_convertidos": painel_link(scope, "convertidos", start=start, end=end),
            }
        )
    return weeks


def _origem_rows(scope: dashboard_selectors.DashboardScope) -> list[dict[str, Any]]:
    return [
        {
            **row,
            "label": origem_label(row["origem"]),
            "link": painel_link(scope, "origem", row["origem"]),
        }
        for row in dashboard_selectors.origem_breakdown(scope)
    ]


def _closer_rows(
    scope: dashboard_selectors.DashboardScope, sales: dashboard_selectors.SalesDashboard
) -> list[dict[str, Any]]:
    closers = []
    for row in sales["topClosers"]:
        closer_scope = dashboard_selectors.DashboardScope(
            organization_id=scope.organization_id,
            start=scope.start,
            end=scope.end,
            period_days=scope.period_days,
            closer_id=row["closer_id"],
            sdr_id=scope.sdr_id,
        )
        closers.append(
            {
                **row,
                "link_leads": painel_link(closer_scope, "coorte"),
                "link_convertidos": painel_link(closer_scope, "convertidos"),
            }
        )
    return closers


def _sales_chart(
    sales: dashboard_selectors.SalesDashboard,
    funnel: list[dict[str, Any]],
    weeks: list[dict[str, Any]],
    origens: list[dict[str, Any]],
    closers: list[dict[str, Any]],
) -> dict[str, Any]:
    """The painel's chart data (series labels and one list per chart)."""
    return {
        "series": {
            "entraram": _("Entraram"),
            "avancaram": _("Avançaram"),
            "convertidos": _("Convertidos"),
            "valor": _("Valor convertido"),
        },
        "funnel": {
            "labels": [stage["label"] for stage in funnel],
            "entraram": [stage["entraram"] for stage in funnel],
            "avancaram": [stage["avancaram"] for stage in funnel],
            "taxa": [stage["taxa_avanco"] for stage in funnel],
        },
        "weeks": {
            "labels": [week["label"] for week in weeks],
            "leads": [week["leads"] for week in weeks],
            "convertidos": [week["convertidos"] for week in weeks],
        },
        "origens": {
            "labels": [row["label"] for row in origens],
            "leads": [row["leads"] for row in origens],
            "convertidos": [row["convertidos"] for row in origens],
        },
        "closers": {
            "labels": [row["nome_completo"] for row in closers],
            "valor": [float(row["valor_convertido"]) for row in sales["topClosers"]],
        },
    }


def _sales(membership: Membership, request: HttpRequest) -> dict[str, Any]:
    scope, errors = _sales_scope(membership, request)
    sales = dashboard_selectors.sales_dashboard(scope)
    metrics = sales["metrics"]
    kpi_rows = _kpi_rows(scope, metrics)
    temperatures = _temperature_rows(scope, metrics)
    funnel = _funnel_rows(scope, sales)
    weeks = _week_rows(scope, membership)
    origens = _origem_rows(scope)
    closers = _closer_rows(scope, sales)
    return {
        "scope": scope,
        "sales": sales,
        "metrics": metrics,
        "kpis": kpi_rows,
        "temperatures": temperatures,
        "funnel": funnel,
        "weeks": weeks,
        "origens": origens,
        "closers": closers,
        "chart": _sales_chart(sales, funnel, weeks, origens, closers),
        "errors": errors,
        "period": scope.period_days,
        "closer_id": str(scope.closer_id) if membership.is_manager and scope.closer_id else "",
    }


def _mentees(membership: Membership, request: HttpRequest) -> dict[str, Any]:
    raw = request.GET.get("meses", "")
    query = DashboardQuerySerializer(data={"period": raw} if raw else {})
    errors: list[str] = []
    if not query.is_valid():
        errors = [str(error) for error in query.errors.get("period", [])]
        query = DashboardQuerySerializer(data={})
        query.is_valid()
    months = query.validated_data["period"]
    organization = membership.organization
    data = mentorado_dashboard(organization=organization, period=months)
    nps = nps_by_month(organization=organization, period=months)
    feedbacks = reverse("admin:mentorados_mentoradofeedback_changelist")
    for month in nps:
        month["label"] = f"{month['mes']:02d}/{month['ano']}"
        month["link"] = (
            feedbacks
            + "?"
            + urlencode({"data_feedback__year": month["ano"], "data_feedback__month": month["mes"]})
        )
    return {
        "data": data,
        "nps": nps,
        "months": months,
        "errors": errors,
        "link_ativos": _changelist("mentorados_mentorado", status__exact="ativo"),
        "link_feedbacks": feedbacks
        + "?"
        + urlencode(
            {
                "data_feedback__gte": data["period"]["start"],
                "data_feedback__lte": data["period"]["end"],
            }
        ),
        "chart": {
            "labels": [month["label"] for month in nps],
            "nps": [month["nps"] for month in nps],
            "respostas": [month["respostas"] for month in nps],
        },
    }


def painel(request: HttpRequest) -> HttpResponse:
    membership = admin_membership(request)
    site = admin.site
    if membership is None:
        return no_membership_page(request, site, _("Painel"))
    context: dict[str, Any] = {
        **site.each_context(request),
        "title": _("Painel"),
        "membership": membership,
        "memberships": getattr(request, "backoffice_memberships", [membership]),
        "organization": membership.organization,
        "periods": PERIODS,
        "mentee_periods": MENTEE_PERIODS,
        "definitions": DEFINITIONS,
        "is_manager": membership.is_manager,
    }
    if membership.role in DASHBOARD_ROLES:
        context["sales"] = _sales(membership, request)
        if membership.is_manager:
            context["closer_choices"] = list(
                Membership.objects.for_org(membership.organization_id)
                .filter(role__in=[Role.CLOSER, Role.ADMIN, Role.GESTOR])
                .order_by("nome_completo", "pk")
                .only("id", "nome_completo")
            )
    context["mentees"] = _mentees(membership, request)
    # The organization's stored 90-day NPS (kept by mentorados' feedback service).
    context["nps_org"] = OrganizationNps.objects.filter(
        organization_id=membership.organization_id
    ).first()
    errors = [*context.get("sales", {}).get("errors", []), *context["mentees"]["errors"]]
    return render(request, "admin/painel.html", context, status=400 if errors else 200)
