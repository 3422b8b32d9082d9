from __future__ import annotations

from django.contrib import admin

from integrations.models import Notification
from organizations.admin import OrgScopedAdmin


@admin.register(Notification)
class NotificationAdmin(OrgScopedAdmin):
    list_display = ["titulo", "tipo", "recipient", "read_at", "created_at"]
    list_filter = ["tipo", "organization"]
    search_fields = ["titulo"]
    list_select_related = ["recipient"]
    readonly_fields = ["payload", "chave"]
