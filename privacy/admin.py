"""Privacy in the admin: the personal-data access log and the leads' audit trail (read-only)."""

from __future__ import annotations

from typing import Any, cast

from django.contrib import admin
from django.http import HttpRequest, HttpResponse

from leads.models import Lead
from organizations import access
from organizations.access import admin_membership
from organizations.admin import ReadOnlyAdmin
from privacy import services
from privacy.models import AccessTipo, DataAccessLog

HistoricalLead = Lead.history.model  # type: ignore[attr-defined]


class ReadOnlyManagersAdmin(ReadOnlyAdmin):
    """Never editable, not even by a superuser; the organization's managers read it."""

    policy = access.PRIVACY_RECORDS


@admin.register(DataAccessLog)
class DataAccessLogAdmin(ReadOnlyManagersAdmin):
    list_display = ["at", "tipo", "actor", "filtro", "linhas", "via", "organization"]
    list_filter = ["tipo", "via"]
    list_select_related = ["actor", "organization"]
    date_hierarchy = "at"


@admin.register(HistoricalLead)
class HistoricalLeadAdmin(ReadOnlyManagersAdmin):
    """Every recorded version of the leads; `?id=<lead id>` narrows to one lead."""

    list_display = [
        "history_date",
        "nome_completo",
        "status",
        "history_type",
        "history_user",
        "via",
        "request_id",
    ]
    list_filter = ["history_type", "via"]
    list_select_related = ["history_user"]
    search_fields = ["=id"]

    def changelist_view(self, request: HttpRequest, extra_context: Any = None) -> HttpResponse:
        # Reading the audit trail is itself a bulk read of personal data: logged.
        response = super().changelist_view(request, extra_context)
        membership = admin_membership(request)
        if membership is not None and access.may(membership, self.policy, "read"):
            services.access_log_record(
                organization=membership.organization_id,
                actor=membership,
                tipo=AccessTipo.AUDIT_READ,
                filtro=dict(request.GET.items()),
            )
        return cast("HttpResponse", response)


# Data subject requests and retention settings (organization admins).
from privacy import admin_requests  # noqa: E402, F401
