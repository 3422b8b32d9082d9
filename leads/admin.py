"""Back office for leads, interactions, qualification and tasks (organization-scoped)."""

from __future__ import annotations

from typing import Any, cast

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _
from unfold.admin import StackedInline, TabularInline

from config.errors import ApplicationError, ConflictError, form_error_message
from config.search import AccentBlindSearchAdminMixin
from leads import selectors, services
from leads.admin_actions import LEAD_BULK_ACTIONS
from leads.admin_painel import PainelSetFilter
from leads.models import (
    Lead,
    LeadInteraction,
    LeadQualification,
    LeadStatusChange,
    Task,
)
from leads.phones import InvalidPhone, normalize_phone
from organizations.admin import OrgScopedAdmin
from organizations.models import Membership


def _actor(request: HttpRequest, organization_id: Any) -> Membership | None:
    return Membership.objects.filter(
        user_id=cast(int, request.user.pk), organization_id=organization_id, ativo=True
    ).first()


class LeadAdminForm(forms.ModelForm):
    class Meta:
        model = Lead
        fields = [
            "organization",
            "nome_completo",
            "email",
            "telefone",
            "empresa",
            "cargo",
            "origem",
            "status",
            "valor_potencial",
            "valor_fechado",
            "closer",
            "sdr",
            "motivo_perda",
            "observacoes",
            "tags",
            "opt_out_email",
            "opt_out_whatsapp",
        ]

    def clean_email(self) -> str | None:
        email = self.cleaned_data.get("email")
        return email.strip().lower() if email else None

    def clean_telefone(self) -> str | None:
        telefone = self.cleaned_data.get("telefone")
        if not telefone:
            return None
        try:
            return normalize_phone(telefone)
        except InvalidPhone:
            raise forms.ValidationError(_("Telefone inválido.")) from None

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if self.instance.pk is None or {"status", "motivo_perda"} & set(self.changed_data):
            # The same transition rules as the API and the import (leads.services).
            try:
                services.check_status_rules(
                    from_status=self.initial.get("status", "") if self.instance.pk else "",
                    to_status=cleaned.get("status") or "",
                    motivo_perda=cleaned.get("motivo_perda"),
                )
            except ApplicationError as exc:
                field = next(iter(exc.details), "status")
                raise forms.ValidationError({field: str(exc.message)}) from None
        return cleaned


class InteractionInline(TabularInline):
    model = LeadInteraction
    extra = 0
    fields = readonly_fields = ("data_interacao", "tipo_interacao", "resultado", "resumo", "closer")
    show_change_link = True
    ordering = ["-data_interacao"]

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # interactions go through the service (conversion rules)


class StatusChangeInline(TabularInline):
    model = LeadStatusChange
    extra = 0
    fields = readonly_fields = ("changed_at", "from_status", "to_status", "changed_by")
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class QualificationInline(StackedInline):
    model = LeadQualification
    extra = 0
    readonly_fields = ["qualification_score", "updated_at"]
    exclude = ["organization"]

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Lead)
class LeadAdmin(AccentBlindSearchAdminMixin, OrgScopedAdmin):
    form = LeadAdminForm
    list_display = [
        "nome_completo",
        "email",
        "telefone",
        "status",
        "temperatura",
        "lead_score",
        "valor_potencial",
        "closer",
        "crm_sync_error",
        "created_at",
    ]
    list_filter = [
        "status",
        "temperatura",
        "origem",
        "organization",
        "opt_out_email",
        PainelSetFilter,  # the painel's links (leads/admin_painel.py)
    ]
    search_fields = ["nome_completo", "email", "empresa", "telefone"]
    # The API's search rule (accents and case ignored), leads.selectors.
    search_text_fields = selectors.SEARCH_TEXT_FIELDS
    search_digits_field = selectors.SEARCH_DIGITS_FIELD
    list_select_related = ["closer", "sdr", "organization"]
    readonly_fields = [
        "lead_score",
        "temperatura",
        "converted_at",
        "last_interaction_at",
        "crm_provider",
        "crm_id",
        "crm_synced_at",
        "crm_sync_error",
        "created_at",
        "updated_at",
    ]
    date_hierarchy = "created_at"
    inlines = [QualificationInline, InteractionInline, StatusChangeInline]
    actions = ["mark_converted", *LEAD_BULK_ACTIONS]
    list_per_page = 50
    show_full_result_count = False  # a COUNT(*) over a million leads on every page is wasteful

    def get_urls(self) -> list[Any]:
        from leads.admin_board import board_urls  # the board's views live in their own module

        return [*board_urls(self.admin_site), *super().get_urls()]

    def save_model(self, request: HttpRequest, obj: Lead, form: Any, change: bool) -> None:
        data = {field: form.cleaned_data[field] for field in form.changed_data}
        data.pop("organization", None) if change else None
        try:
            if change:
                services.lead_update(
                    lead=obj, actor=_actor(request, obj.organization_id), data=data
                )
            else:
                organization = form.cleaned_data["organization"]
                data.pop("organization", None)
                created = services.lead_create(
                    organization=organization, actor=_actor(request, organization.pk), data=data
                )
                obj.pk = created.pk
        except ConflictError as exc:
            self.message_user(request, form_error_message(exc), messages.ERROR)
            raise

    @admin.action(description=_("Marcar como convertido"))
    def mark_converted(self, request: HttpRequest, queryset: QuerySet[Lead]) -> None:
        for lead in queryset:
            services.lead_convert(lead=lead, actor=_actor(request, lead.organization_id))
        self.message_user(request, _("Leads convertidos."))


@admin.register(LeadInteraction)
class LeadInteractionAdmin(OrgScopedAdmin):
    list_display = ["lead", "tipo_interacao", "resultado", "data_interacao", "closer"]
    list_filter = ["tipo_interacao", "resultado", "organization"]
    search_fields = ["lead__nome_completo", "resumo"]
    list_select_related = ["lead", "closer"]
    raw_id_fields = ["lead"]
    date_hierarchy = "data_interacao"

    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        return False  # created through the API so closing results convert/lose the lead


@admin.register(LeadQualification)
class LeadQualificationAdmin(OrgScopedAdmin):
    list_display = ["lead", "qualification_score", "authority_nivel", "prazo_decisao", "updated_at"]
    list_filter = ["authority_nivel", "prazo_decisao", "budget_confirmado"]
    search_fields = ["lead__nome_completo"]
    list_select_related = ["lead"]
    readonly_fields = ["qualification_score"]
    raw_id_fields = ["lead"]

    def save_model(
        self, request: HttpRequest, obj: LeadQualification, form: Any, change: bool
    ) -> None:
        data = {
            f: form.cleaned_data[f] for f in form.changed_data if f not in ("lead", "organization")
        }
        services.qualification_save(
            lead=obj.lead, actor=_actor(request, obj.lead.organization_id), data=data
        )


@admin.register(LeadStatusChange)
class LeadStatusChangeAdmin(OrgScopedAdmin):
    list_display = ["lead", "from_status", "to_status", "changed_by", "changed_at"]
    list_filter = ["to_status", "organization"]
    search_fields = ["lead__nome_completo"]
    list_select_related = ["lead", "changed_by"]
    date_hierarchy = "changed_at"

    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Task)
class TaskAdmin(OrgScopedAdmin):
    list_display = ["titulo", "responsavel", "lead", "tipo", "status", "vencimento", "origem"]
    list_filter = ["status", "tipo", "origem", "organization"]
    search_fields = ["titulo", "lead__nome_completo"]
    list_select_related = ["responsavel", "lead"]
    raw_id_fields = ["lead"]
    date_hierarchy = "vencimento"


# The import wizard's pages and past imports (leads/admin_import.py) and lead routing (rules,
# absences, assignment log: leads/admin_routing.py) register their own admins.
from leads import admin_import, admin_routing  # noqa: E402, F401
from leads.admin_consent import ConsentRecordAdmin  # noqa: E402, F401
