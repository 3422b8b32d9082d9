"""Privacy in the admin: the personal-data access log and the leads' audit trail (read-only)."""

from __future__ import annotations

from typing import Any, cast

from django.contrib import admin
from django.http import HttpRequest, HttpResponse

from leads.models import Lead
from organizations.admin import OrgScopedAdmin, staff_organization_ids
from organizations.models import Membership
from privacy import services
from privacy.models import AccessTipo, DataAccessLog

HistoricalLead = Lead.history.model  # type: ignore[attr-defined]


class ReadOnlyManagersAdmin(OrgScopedAdmin):
    """Never editable; visible to the organization's managers."""

    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        if request.user.is_superuser:
            return True
        allowed = staff_organization_ids(request, managers_only=True)
        if obj is None:
            return bool(allowed)
        return obj.organization_id in allowed

    def has_module_permission(self, request: HttpRequest) -> bool:
        return self.has_view_permission(request)

    def get_queryset(self, request: HttpRequest) -> Any:
        queryset = super().get_queryset(request)
        if request.user.is_superuser:
            return queryset
        return queryset.filter(
            organization_id__in=staff_organization_ids(request, managers_only=True)
        )


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
        organization_ids = staff_organization_ids(request, managers_only=True)
        if organization_ids:
            actor = Membership.objects.filter(
                organization_id=organization_ids[0], user_id=cast(int, request.user.pk)
            ).first()
            services.access_log_record(
                organization=organization_ids[0],
                actor=actor,
                tipo=AccessTipo.AUDIT_READ,
                filtro=dict(request.GET.items()),
            )
        return response
