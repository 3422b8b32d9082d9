"""Back office for leads, interactions, qualification and tasks (organization-scoped)."""

from __future__ import annotations

from typing import Any, cast

from django import forms
from django.contrib import admin
from django.db import transaction
from django.db.models import Q, QuerySet
from django.http import HttpRequest
from django.utils.formats import date_format
from django.utils.html import format_html
from django.utils.safestring import mark_safe
from django.utils.timezone import localtime
from django.utils.translation import gettext_lazy as _

from config.admin_errors import SERVICE_ERRORS, service_error_messages
from config.admin_filters import SkipScanRelatedOnlyFilter, SkipScanValuesFilter
from config.errors import ApplicationError
from config.formatting import money_column
from config.search import AccentBlindSearchAdminMixin
from leads import selectors, services, validation
from leads.admin_actions import LEAD_BULK_ACTIONS
from leads.admin_lead_page import LeadPageMixin
from leads.admin_painel import PainelSetFilter
from leads.models import (
    LEAD_CONTACT_FIELDS,
    LEAD_UTM_FIELDS,
    Lead,
    LeadInteraction,
    LeadQualification,
    LeadStatusChange,
    Task,
)
from organizations import access
from organizations.access import admin_membership
from organizations.admin import OrgScopedAdmin, OrgScopedStackedInline
from organizations.models import MANAGER_ROLES, Membership


def _actor(request: HttpRequest, organization_id: Any) -> Membership | None:
    return Membership.objects.filter(
        user_id=cast(int, request.user.pk), organization_id=organization_id, ativo=True
    ).first()


class TagsInput(forms.TextInput):
    """Tags typed as "vip, retorno"; the stored list shown the same way."""

    def format_value(self, value: Any) -> str | None:
        if isinstance(value, list | tuple):
            return ", ".join(str(tag) for tag in value)
        return cast("str | None", super().format_value(value))


class TagsField(forms.CharField):
    widget = TagsInput

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("required", False)
        kwargs.setdefault("help_text", _("Separe as tags por vírgula, por exemplo: vip, retorno."))
        super().__init__(**kwargs)

    def prepare_value(self, value: Any) -> Any:
        return TagsInput().format_value(value)

    def to_python(self, value: Any) -> list[str]:  # type: ignore[override]
        if isinstance(value, list):
            return validation.clean_tags(value)
        return validation.parse_tags_text(str(value or ""))


class DatalistInput(forms.TextInput):
    """A free text input offering known values (the organization's origens)."""

    def __init__(self, options: list[str] | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.options = options or []

    def render(self, name: str, value: Any, attrs: Any = None, renderer: Any = None) -> Any:
        list_id = f"{name}-opcoes"
        attrs = {**(attrs or {}), "list": list_id, "autocomplete": "off"}
        html = super().render(name, value, attrs, renderer)
        options = "".join(format_html('<option value="{}">', option) for option in self.options)
        return mark_safe(f'{html}<datalist id="{list_id}">{options}</datalist>')  # noqa: S308


class LeadAdminForm(forms.ModelForm[Lead]):
    """The lead form: the same field rules and messages as the API (leads.validation)."""

    tags = TagsField(label=_("tags"))
    origem = forms.CharField(
        label=_("origem"),
        max_length=40,
        initial="outro",
        widget=DatalistInput(),
        help_text=_("Escolha uma das origens da organização ou digite uma nova."),
    )

    class Meta:
        model = Lead
        fields = [
            "organization",
            *LEAD_CONTACT_FIELDS,
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
            *LEAD_UTM_FIELDS,
        ]

    def clean_nome_completo(self) -> str:
        return validation.clean_nome(self.cleaned_data.get("nome_completo", ""))

    def clean_email(self) -> str | None:
        return validation.clean_email(self.cleaned_data.get("email"))

    def clean_telefone(self) -> str | None:
        return validation.clean_telefone(self.cleaned_data.get("telefone"))

    def clean_origem(self) -> str:
        return validation.clean_origem(self.cleaned_data.get("origem", ""))

    def clean_utm_source(self) -> str | None:
        return validation.clean_utm(self.cleaned_data.get("utm_source"))

    def clean_utm_medium(self) -> str | None:
        return validation.clean_utm(self.cleaned_data.get("utm_medium"))

    def clean_utm_campaign(self) -> str | None:
        return validation.clean_utm(self.cleaned_data.get("utm_campaign"))

    # Set per request by LeadAdmin.get_form: the acting member for an organization.
    actor_for: Any = staticmethod(lambda organization: None)
    saved: Lead | None = None

    def _post_clean(self) -> None:
        # The write goes through the lead services (history, side effects, notifications,
        # status rules) while the form can still show what they refuse, as a form error.
        super()._post_clean()  # type: ignore[misc]
        if self.errors:
            return
        adding = self.instance._state.adding
        data = {
            name: self.cleaned_data[name]
            for name in self.changed_data
            if name in self.cleaned_data and name != "organization"
        }
        organization = self.cleaned_data.get("organization") if adding else None
        try:
            with transaction.atomic():
                if adding and organization is not None:
                    self.saved = services.lead_create(
                        organization=organization, actor=self.actor_for(organization), data=data
                    )
                elif not adding:
                    self.saved = services.lead_update(
                        lead=self.instance,
                        actor=self.actor_for(self.instance.organization),
                        data=data,
                    )
        except SERVICE_ERRORS as exc:
            for field, message in service_error_messages(exc):
                self.add_error(field if field in self.fields else None, message)

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        organization = cleaned.get("organization") or getattr(self.instance, "organization", None)
        for seat in ("closer", "sdr"):
            member = cleaned.get(seat)
            if (
                member is not None
                and organization is not None
                and not validation.members_for_seat(organization, seat)
                .filter(pk=member.pk)
                .exists()
            ):
                self.add_error(seat, str(validation.SEAT_MESSAGES[seat]))
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


class QualificationInline(OrgScopedStackedInline):
    """Shown on the lead's page; edited on its own page, through the service (the score)."""

    model = LeadQualification
    policy = access.STATUS_HISTORY  # read here; QualificationAdmin writes through the service
    extra = 0
    readonly_fields = ["qualification_score", "updated_at"]
    exclude = ["organization"]

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class TagFilter(admin.SimpleListFilter):
    """Leads with a tag, chosen among the tags of the leads this member sees."""

    title = _("tag")
    parameter_name = "tag"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        # The organization's kept tag counts when the member sees all of it (a scan of a
        # million leads' tags took ~480 ms); else the tags of the leads they see.
        organization = model_admin.skip_scan_organization(request)
        rows = model_admin.get_queryset(request)
        tags = selectors.known_tags(rows, organization_id=organization)
        return [(tag, tag) for tag in tags]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        tag = self.value()
        return queryset.filter(selectors.tags_any_q([tag])) if tag else queryset


@admin.register(Lead)
class LeadAdmin(LeadPageMixin, AccentBlindSearchAdminMixin, OrgScopedAdmin):
    # The change page is the lead's 360° view (leads/admin_lead_page.py): header, timeline
    # (interactions, status changes, tasks, follow-ups, WhatsApp), forms and audit trail.
    policy = access.LEADS
    form = LeadAdminForm
    # The key columns fit a 1,440 px screen (tests/browser/test_layout_widths.py): contact
    # details under the name, value as money, the last contact; the rest is on the lead's page.
    list_display = [
        "lead_header",
        "status",
        "temperatura",
        "lead_score",
        money_column("valor_potencial", _("valor")),
        "closer",
        "last_contact",
        "organization",
    ]
    list_filter = [
        "status",
        "temperatura",
        "closer",
        "sdr",
        TagFilter,
        "origem",
        "organization",
        "opt_out_email",
        PainelSetFilter,  # the painel's links (leads/admin_painel.py)
    ]
    search_fields = ["nome_completo", "email", "empresa", "telefone"]
    # The API's search rule (accents and case ignored), leads.selectors.
    search_text_fields = selectors.SEARCH_TEXT_FIELDS
    search_digits_field = selectors.SEARCH_DIGITS_FIELD
    search_folded_field = selectors.SEARCH_FOLDED_FIELD
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
    inlines = [QualificationInline]  # the rest of what hangs off a lead: the timeline
    actions = ["mark_converted", *LEAD_BULK_ACTIONS]
    list_per_page = 50
    show_full_result_count = False  # a COUNT(*) over a million leads on every page is wasteful

    def scope_queryset(self, queryset: QuerySet[Any], membership: Membership) -> QuerySet[Any]:
        return queryset.filter(access.lead_visibility_q(membership))

    # Filters whose choices (the values in use) come from a skip scan over an organization-
    # first index (config.admin_filters): a DISTINCT over a million leads took 60-150 ms each.
    skip_scan_filters = ("closer", "sdr", "origem")

    def skip_scan_organization(self, request: HttpRequest) -> Any:
        """The organization whose whole lead table this list shows, or None (a superuser's
        list of every organization, or a seller who sees only their own leads)."""
        if request.user.is_superuser:
            return None
        membership = admin_membership(request)
        if membership is None or access.lead_visibility_q(membership):
            return None
        return membership.organization_id

    # The list's query parameters that change neither which leads nor how many (page, order).
    UNFILTERING_PARAMS = frozenset({"p", "o"})

    def get_paginator(
        self, request: HttpRequest, queryset: Any, per_page: int, *args: Any, **kwargs: Any
    ) -> Any:
        # The page count without counting leads, by the API's rule (leads.selectors): the kept
        # count of the organization, or of a search's matches, when the list is exactly that.
        paginator = super().get_paginator(request, queryset, per_page, *args, **kwargs)
        membership = None if request.user.is_superuser else admin_membership(request)
        if membership is not None:
            kept = selectors.kept_total_for(
                membership, request.GET, unfiltering=self.UNFILTERING_PARAMS, search_param="q"
            )
            if kept is not None:
                paginator.count = selectors.lead_total(kept.organization_id, kept.search)
        return paginator

    def get_list_filter(self, request: HttpRequest) -> Any:
        filters = []
        for entry in super().get_list_filter(request):
            name = entry[0] if isinstance(entry, tuple) else entry
            if name in self.skip_scan_filters and not request.user.is_superuser:
                related = isinstance(entry, tuple)
                entry = (name, SkipScanRelatedOnlyFilter if related else SkipScanValuesFilter)
            filters.append(entry)
        return filters

    @admin.display(description=_("nome"), ordering="nome_completo")
    def lead_header(self, obj: Lead) -> list[str | None]:
        """The name, with the email (or phone, or company) under it; no initials and no
        picture (unfold's template reads all four, and a missing one is a failed lookup)."""
        return [obj.nome_completo, obj.email or obj.telefone or obj.empresa or "", "", None]

    lead_header.header = True  # type: ignore[attr-defined]  # unfold: two-line cell

    @admin.display(description=_("último contato"), ordering="last_interaction_at")
    def last_contact(self, obj: Lead) -> str:
        """Short date and time ("23/11/2026 18:53") in the organization's time zone."""
        if obj.last_interaction_at is None:
            return "—"
        return date_format(localtime(obj.last_interaction_at), "SHORT_DATETIME_FORMAT")

    def get_inline_instances(self, request: HttpRequest, obj: Any = None) -> list[Any]:
        # A new lead has no history yet: the inlines only show what the services wrote.
        return super().get_inline_instances(request, obj) if obj is not None else []

    def get_form(
        self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any
    ) -> Any:
        form = super().get_form(request, obj, change=change, **kwargs)
        form.actor_for = staticmethod(lambda org: _actor(request, org.pk))
        membership = admin_membership(request)
        organization = (
            obj.organization if obj is not None else getattr(membership, "organization", None)
        )
        if "origem" in form.base_fields and organization is not None:
            form.base_fields["origem"].widget = DatalistInput(
                options=validation.known_origens(organization)
            )
        return form

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        field = super().formfield_for_foreignkey(db_field, request, **kwargs)
        if field is not None and db_field.name in validation.SEAT_ROLES:
            # Closer and SDR choices: active members in that seat's roles (as the API checks).
            membership = admin_membership(request)
            if membership is not None and not request.user.is_superuser:
                seats = validation.members_for_seat(membership.organization_id, db_field.name)
            else:
                roles = {validation.SEAT_ROLES[db_field.name], *MANAGER_ROLES}
                seats = Membership.objects.filter(ativo=True, role__in=roles)
            field.queryset = Membership.objects.filter(pk__in=seats.values("pk"))
        return field

    def get_urls(self) -> list[Any]:
        from leads.admin_board import board_urls  # the board's views live in their own module

        return [*board_urls(self.admin_site), *super().get_urls()]

    def save_form(self, request: HttpRequest, form: Any, change: bool) -> Any:
        return form.saved  # written by the service during validation (LeadAdminForm)

    def save_model(self, request: HttpRequest, obj: Lead, form: Any, change: bool) -> None:
        pass  # see save_form

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        # No many-to-many on a lead and the form never ran save(commit=False): formsets only.
        for formset in formsets:
            self.save_formset(request, form, formset, change=change)

    @admin.action(description=_("Marcar como convertido"))
    def mark_converted(self, request: HttpRequest, queryset: QuerySet[Lead]) -> None:
        for lead in queryset:
            services.lead_convert(lead=lead, actor=_actor(request, lead.organization_id))
        self.message_user(request, _("Leads convertidos."))


@admin.register(LeadInteraction)
class LeadInteractionAdmin(OrgScopedAdmin):
    policy = access.INTERACTIONS

    def scope_queryset(self, queryset: QuerySet[Any], membership: Membership) -> QuerySet[Any]:
        return queryset.filter(access.lead_visibility_q(membership, prefix="lead__"))

    list_display = ["lead", "tipo_interacao", "resultado", "data_interacao", "closer"]
    list_filter = ["tipo_interacao", "resultado", "organization"]
    search_fields = ["lead__nome_completo", "resumo"]
    list_select_related = ["lead", "closer"]
    raw_id_fields = ["lead"]
    date_hierarchy = "data_interacao"
    show_full_result_count = False  # millions of rows: one COUNT a page, not two

    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        return False  # created through the API so closing results convert/lose the lead


@admin.register(LeadQualification)
class LeadQualificationAdmin(OrgScopedAdmin):
    policy = access.QUALIFICATIONS

    def scope_queryset(self, queryset: QuerySet[Any], membership: Membership) -> QuerySet[Any]:
        return queryset.filter(access.lead_visibility_q(membership, prefix="lead__"))

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
    policy = access.STATUS_HISTORY

    def scope_queryset(self, queryset: QuerySet[Any], membership: Membership) -> QuerySet[Any]:
        return queryset.filter(access.lead_visibility_q(membership, prefix="lead__"))

    list_display = ["lead", "from_status", "to_status", "changed_by", "changed_at"]
    list_filter = ["to_status", "organization"]
    search_fields = ["lead__nome_completo"]
    list_select_related = ["lead", "changed_by"]
    date_hierarchy = "changed_at"
    show_full_result_count = False  # millions of rows: one COUNT a page, not two

    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Task)
class TaskAdmin(OrgScopedAdmin):
    policy = access.TASKS
    list_display = ["titulo", "responsavel", "lead", "tipo", "status", "vencimento", "origem"]
    list_filter = ["status", "tipo", "origem", "organization"]
    search_fields = ["titulo", "lead__nome_completo"]
    list_select_related = ["responsavel", "lead"]
    raw_id_fields = ["lead"]
    date_hierarchy = "vencimento"

    def scope_queryset(self, queryset: QuerySet[Any], membership: Membership) -> QuerySet[Any]:
        # As GET /api/v1/tasks/: one's own tasks and those of the leads one may see.
        visibility = access.lead_visibility_q(membership, prefix="lead__")
        if not visibility:
            return queryset
        return queryset.filter(Q(responsavel=membership) | visibility)

    def save_model(self, request: HttpRequest, obj: Task, form: Any, change: bool) -> None:
        data = {f: form.cleaned_data[f] for f in form.changed_data if f != "organization"}
        organization = obj.organization
        actor = _actor(request, organization.pk)
        if change:
            services.task_update(task=obj, actor=actor, data=data)
            return
        data.setdefault("responsavel", actor)
        created = services.task_create(organization=organization, actor=actor, data=data)
        obj.pk = created.pk
        obj._state.adding = False


# The import wizard's pages and past imports (leads/admin_import.py) and lead routing (rules,
# absences, assignment log: leads/admin_routing.py) register their own admins.
from leads import admin_import, admin_routing  # noqa: E402, F401
from leads.admin_consent import ConsentRecordAdmin  # noqa: E402, F401
