""" "Meu dia" (`/admin/meu-dia/`): a member's pending tasks (overdue, today, next) with a
"concluir" button, the leads that replied recently and the follow-ups that failed.

In config because it reads leads (tasks), integrations (inbound WhatsApp) and followup
(executions) at once, which no app below them may do. "Their" leads are, for a closer or an
SDR, the leads they are the closer or SDR of; for the other roles, the leads they may see.
Completing a task goes through `leads.services.task_update`, as `PATCH /api/v1/tasks/{id}/`.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.contrib import admin, messages
from django.db.models import F, Max, Q, QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from followup.models import ExecutionStatus, FollowupExecution
from integrations.models import WhatsAppMessage
from leads import services
from leads.admin_board import admin_membership, no_membership_page
from leads.models import Lead, Task, TaskStatus
from organizations.models import Membership
from organizations.permissions import SALES_ROLES

REPLIES_DAYS = 7
FAILURES_DAYS = 14
LIST_LIMIT = 20


def my_leads(membership: Membership) -> QuerySet[Lead]:
    leads = Lead.objects.for_org(membership.organization_id)
    if membership.is_seller:
        return leads.filter(Q(closer=membership) | Q(sdr=membership))
    return leads.visible_to(membership)


def day_bounds(membership: Membership, now: datetime) -> tuple[datetime, datetime]:
    """Start of today and of tomorrow in the organization's time zone."""
    zone = ZoneInfo(membership.organization.timezone)
    today = now.astimezone(zone).date()
    start = datetime.combine(today, time.min, tzinfo=zone)
    return start, start + timedelta(days=1)


def my_tasks(membership: Membership, now: datetime) -> dict[str, list[Task]]:
    today, tomorrow = day_bounds(membership, now)
    pending = (
        Task.objects.for_org(membership.organization_id)
        .filter(responsavel=membership, status=TaskStatus.PENDENTE)
        .select_related("lead")
    )
    return {
        "overdue": list(pending.filter(vencimento__lt=today).order_by("vencimento")[:LIST_LIMIT]),
        "today": list(
            pending.filter(vencimento__gte=today, vencimento__lt=tomorrow).order_by("vencimento")
        ),
        "next": list(
            pending.filter(Q(vencimento__gte=tomorrow) | Q(vencimento__isnull=True)).order_by(
                F("vencimento").asc(nulls_last=True), "created_at"
            )[:LIST_LIMIT]
        ),
    }


def recent_replies(membership: Membership, now: datetime) -> list[dict[str, Any]]:
    """Leads of the member that answered (inbound WhatsApp, or a follow-up marked responded)
    in the last REPLIES_DAYS days, latest first, one row per lead."""
    since = now - timedelta(days=REPLIES_DAYS)
    leads = my_leads(membership).values("pk")
    latest: dict[Any, tuple[datetime, str]] = {}
    inbound = (
        WhatsAppMessage.objects.for_org(membership.organization_id)
        .filter(direction="in", lead__in=leads, created_at__gte=since)
        .order_by()
        .values("lead_id")
        .annotate(at=Max("created_at"))
    )
    for row in inbound:
        latest[row["lead_id"]] = (row["at"], _("WhatsApp recebido"))
    responded = (
        FollowupExecution.objects.for_org(membership.organization_id)
        .filter(status=ExecutionStatus.RESPONDED, lead__in=leads, data_resposta__gte=since)
        .order_by()
        .values("lead_id")
        .annotate(at=Max("data_resposta"))
    )
    for row in responded:
        if row["lead_id"] not in latest or latest[row["lead_id"]][0] < row["at"]:
            latest[row["lead_id"]] = (row["at"], _("Respondeu ao follow-up"))
    chosen = sorted(latest.items(), key=lambda item: item[1][0], reverse=True)[:LIST_LIMIT]
    by_id = Lead.objects.in_bulk([lead_id for lead_id, _value in chosen])
    return [
        {"lead": by_id[lead_id], "at": at, "via": via}
        for lead_id, (at, via) in chosen
        if lead_id in by_id
    ]


def failed_followups(membership: Membership, now: datetime) -> list[FollowupExecution]:
    since = now - timedelta(days=FAILURES_DAYS)
    return list(
        FollowupExecution.objects.for_org(membership.organization_id)
        .filter(status=ExecutionStatus.FAILED, lead__in=my_leads(membership).values("pk"))
        .filter(Q(finished_at__gte=since) | Q(finished_at__isnull=True, updated_at__gte=since))
        .select_related("lead", "sequence")
        .order_by("-updated_at")[:LIST_LIMIT]
    )


def meu_dia(request: HttpRequest) -> HttpResponse:
    membership = admin_membership(request)
    site = admin.site
    if membership is None:
        return no_membership_page(request, site, _("Meu dia"))
    now = timezone.now()
    context = {
        **site.each_context(request),
        "title": _("Meu dia"),
        "membership": membership,
        "organization": membership.organization,
        "memberships": getattr(request, "backoffice_memberships", [membership]),
        "tasks": my_tasks(membership, now),
        "replies": recent_replies(membership, now),
        "failures": failed_followups(membership, now),
        "replies_days": REPLIES_DAYS,
        "failures_days": FAILURES_DAYS,
        "may_complete": membership.role in SALES_ROLES,
        "now": now,
    }
    return render(request, "admin/meu_dia.html", context)


@require_POST
def concluir(request: HttpRequest, task_id: str) -> HttpResponse:
    """Marks one of the member's own pending tasks done (POST, CSRF-checked by Django)."""
    membership = admin_membership(request)
    if membership is None or membership.role not in SALES_ROLES:
        raise Http404
    task = (
        Task.objects.for_org(membership.organization_id)
        .filter(pk=task_id, responsavel=membership)
        .first()
    )
    if task is None:
        raise Http404
    if task.status != TaskStatus.CONCLUIDA:
        services.task_update(task=task, actor=membership, data={"status": TaskStatus.CONCLUIDA})
    messages.success(request, _("Tarefa concluída: %(titulo)s") % {"titulo": task.titulo})
    target = reverse("admin-meu-dia")
    org = request.GET.get("org")
    return redirect(f"{target}?org={org}" if org else target)
