"""Admin for organizations and members, and the organization-scoped base used by every app.

Staff see only rows of organizations where they are an active member, unless superuser.
Members with role admin or gestor may change rows; other staff may only view.
"""

from __future__ import annotations

from typing import Any, cast

from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.db.models import ForeignKey, Model, QuerySet
from django.forms import ModelChoiceField
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _
from unfold.admin import ModelAdmin
from unfold.forms import AdminPasswordChangeForm, UserChangeForm, UserCreationForm

from organizations import services
from organizations.models import (
    MANAGER_ROLES,
    Membership,
    Notification,
    Organization,
    OrganizationHoliday,
    User,
)


def staff_organization_ids(request: HttpRequest, *, managers_only: bool = False) -> list[Any]:
    """Organizations whose rows this staff user may see (or change, with managers_only)."""
    cache_attr = "_admin_org_ids_managers" if managers_only else "_admin_org_ids"
    cached = getattr(request, cache_attr, None)
    if cached is None:
        memberships = Membership.objects.filter(user_id=cast(int, request.user.pk), ativo=True)
        if managers_only:
            memberships = memberships.filter(role__in=MANAGER_ROLES)
        cached = list(memberships.values_list("organization_id", flat=True))
        setattr(request, cache_attr, cached)
    return cached


class OrgScopedAdmin(ModelAdmin):
    """Base for every organization-owned model's admin."""

    org_field = "organization"  # path from the model to its organization

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        queryset = super().get_queryset(request)
        if request.user.is_superuser:
            return queryset
        return queryset.filter(**{f"{self.org_field}__in": staff_organization_ids(request)})

    def has_module_permission(self, request: HttpRequest) -> bool:
        return bool(request.user.is_superuser or staff_organization_ids(request))

    def has_view_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return self.has_module_permission(request)

    def _may_change(self, request: HttpRequest, obj: Model | None) -> bool:
        if request.user.is_superuser:
            return True
        allowed = staff_organization_ids(request, managers_only=True)
        if obj is None:
            return bool(allowed)
        return self._organization_id(obj) in allowed

    def _organization_id(self, obj: Model) -> Any:
        target: Any = obj
        for part in self.org_field.split("__"):
            target = getattr(target, part)
        return target.pk

    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        return self._may_change(request, None)

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return self._may_change(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return self._may_change(request, obj)

    def formfield_for_foreignkey(
        self, db_field: ForeignKey[Any, Any], request: HttpRequest, **kwargs: Any
    ) -> ModelChoiceField[Any] | None:
        # Choices for every reference (organization, closer, lead...) come only from the
        # organizations this staff user manages, so admin forms cannot link across tenants.
        field = super().formfield_for_foreignkey(db_field, request, **kwargs)
        if field is not None and not request.user.is_superuser:
            allowed = staff_organization_ids(request, managers_only=True)
            related = db_field.related_model
            queryset: Any = field.queryset
            if related is Organization:
                field.queryset = queryset.filter(pk__in=allowed)
            elif any(f.name == "organization" for f in related._meta.get_fields()):
                field.queryset = queryset.filter(organization__in=allowed)
        return field


@admin.register(Organization)
class OrganizationAdmin(OrgScopedAdmin):
    org_field = "pk"
    list_display = ["nome", "slug", "estado", "timezone", "visibilidade_leads", "created_at"]
    list_filter = ["estado", "visibilidade_leads"]
    search_fields = ["nome", "slug"]
    prepopulated_fields = {"slug": ["nome"]}

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        queryset = ModelAdmin.get_queryset(self, request)
        if request.user.is_superuser:
            return queryset
        return queryset.filter(pk__in=staff_organization_ids(request))

    def _organization_id(self, obj: Model) -> Any:
        return obj.pk

    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        return bool(request.user.is_superuser)

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return bool(request.user.is_superuser)


@admin.register(Membership)
class MembershipAdmin(OrgScopedAdmin):
    list_display = ["nome_completo", "user", "organization", "role", "tipo_closer", "ativo"]
    list_filter = ["role", "ativo", "organization"]
    search_fields = ["nome_completo", "user__email"]
    list_select_related = ["user", "organization"]
    autocomplete_fields = ["user"]
    actions = ["deactivate"]

    @admin.action(description=_("Desativar membros selecionados"))
    def deactivate(self, request: HttpRequest, queryset: QuerySet[Membership]) -> None:
        done = 0
        for membership in queryset.select_related("organization"):
            try:
                services.member_deactivate(membership=membership, actor=membership)
                done += 1
            except Exception as exc:  # the service explains (e.g. the last admin)
                self.message_user(request, f"{membership}: {exc}", messages.ERROR)
        if done:
            self.message_user(request, _("%(n)d membro(s) desativado(s).") % {"n": done})


@admin.register(OrganizationHoliday)
class OrganizationHolidayAdmin(OrgScopedAdmin):
    list_display = ["data", "nome", "organization"]
    list_filter = ["organization"]
    search_fields = ["nome"]
    list_select_related = ["organization"]
    date_hierarchy = "data"


@admin.register(Notification)
class NotificationAdmin(OrgScopedAdmin):
    list_display = ["titulo", "tipo", "recipient", "read_at", "created_at"]
    list_filter = ["tipo", "organization"]
    search_fields = ["titulo"]
    list_select_related = ["recipient"]
    readonly_fields = ["payload", "chave"]


@admin.register(User)
class UserAdmin(DjangoUserAdmin, ModelAdmin):
    form = UserChangeForm
    add_form = UserCreationForm
    change_password_form = AdminPasswordChangeForm

    ordering = ["email"]
    list_display = ["email", "nome_completo", "is_staff", "is_active", "date_joined"]
    list_filter = ["is_staff", "is_superuser", "is_active"]
    search_fields = ["email", "nome_completo"]
    fieldsets = (
        (None, {"fields": ("email", "password")}),
        (_("Dados pessoais"), {"fields": ("nome_completo",)}),
        (
            _("Permissões"),
            {"fields": ("is_active", "is_staff", "is_superuser", "groups", "user_permissions")},
        ),
        (_("Datas"), {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = (
        (
            None,
            {"classes": ("wide",), "fields": ("email", "nome_completo", "password1", "password2")},
        ),
    )

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        queryset = super().get_queryset(request)
        if request.user.is_superuser:
            return queryset
        return queryset.filter(
            memberships__organization__in=staff_organization_ids(request)
        ).distinct()

    def has_module_permission(self, request: HttpRequest) -> bool:
        return bool(
            request.user.is_superuser or staff_organization_ids(request, managers_only=True)
        )

    def has_view_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return self.has_module_permission(request)

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return bool(request.user.is_superuser)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return bool(request.user.is_superuser)

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return bool(request.user.is_superuser)
