"""Back office for mentees, their monthly results and feedback (organization-scoped).

Every save and delete goes through mentorados.services, so the derived figures are recomputed
and low-satisfaction notifications raised exactly as through the API.
"""

from __future__ import annotations

from typing import Any, cast

from django import forms
from django.contrib import admin
from django.db.models import QuerySet
from django.forms import BaseInlineFormSet, ModelForm
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from config.errors import ApplicationError
from config.formatting import money_column, percent_column, plain_column
from config.search import AccentBlindSearchAdminMixin
from leads import validation
from mentorados import selectors, services
from mentorados.models import (
    EVOLUCAO_FIELDS,
    FEEDBACK_FIELDS,
    MENTORADO_FIELDS,
    EvolucaoFinanceira,
    Mentorado,
    MentoradoFeedback,
)
from organizations import access
from organizations.admin import OrgScopedAdmin, OrgScopedTabularInline
from organizations.models import Membership


def _actor(request: HttpRequest, organization_id: Any) -> Membership | None:
    return Membership.objects.filter(
        user_id=cast(int, request.user.pk), organization_id=organization_id, ativo=True
    ).first()


class MentoradoAdminForm(forms.ModelForm[Mentorado]):
    class Meta:
        model = Mentorado
        fields = [
            "organization",
            "lead",
            "mentor",
            *MENTORADO_FIELDS,
        ]

    # One rule for contacts (leads.validation), as in the API and for leads.
    def clean_email(self) -> str | None:
        return validation.clean_email(self.cleaned_data.get("email"))

    def clean_telefone(self) -> str | None:
        return validation.clean_telefone(self.cleaned_data.get("telefone"))

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        organization = cleaned.get("organization") or getattr(self.instance, "organization", None)
        if organization is None:
            return cleaned
        lead = cleaned.get("lead")
        if lead is not None and lead.organization_id != organization.pk:
            self.add_error("lead", _("O lead deve ser da mesma organização."))
        try:
            services.validate_mentor(organization, cleaned.get("mentor"))
        except ApplicationError:
            self.add_error(
                "mentor",
                _("O mentor deve ser um membro ativo da organização (mentor, admin ou gestor)."),
            )
        return cleaned


class MenteeRecordInline(OrgScopedTabularInline):
    """Monthly results and feedback on the mentee's page: a mentor writes only their own
    mentees' rows (the parent mentee is `obj`)."""

    policy = access.MENTEE_RECORDS

    def may_write_object(self, membership: Membership, obj: Any) -> bool:
        return access.may_write_mentee(membership, obj.mentor_id)


class EvolucaoInline(MenteeRecordInline):
    model = EvolucaoFinanceira
    fields = tuple(EVOLUCAO_FIELDS)
    extra = 0
    ordering = ["-ano", "-mes"]


class FeedbackInline(MenteeRecordInline):
    model = MentoradoFeedback
    fields = tuple(FEEDBACK_FIELDS)
    extra = 0
    ordering = ["-data_feedback", "-created_at"]


@admin.register(Mentorado)
class MentoradoAdmin(AccentBlindSearchAdminMixin, OrgScopedAdmin):
    policy = access.MENTEES
    form = MentoradoAdminForm
    list_display = [
        "nome_completo",
        "status",
        "mentor",
        "programa",
        "data_inicio",
        money_column("faturamento_atual", _("faturamento atual")),
        percent_column("crescimento_percentual", _("crescimento em 12 meses")),
        "engagement_score",
        "organization",
    ]
    list_filter = ["status", "programa", "organization", "data_inicio"]
    search_fields = ["nome_completo", "email", "telefone", "programa"]
    # The API's search rule (accents and case ignored), mentorados.selectors.
    search_text_fields = selectors.SEARCH_TEXT_FIELDS
    search_digits_field = selectors.SEARCH_DIGITS_FIELD
    list_select_related = ["mentor", "organization"]
    readonly_fields = [
        "faturamento_atual",
        "crescimento_percentual",
        "engagement_score",
        "created_at",
        "updated_at",
    ]
    raw_id_fields = ["lead"]
    date_hierarchy = "data_inicio"
    inlines = [EvolucaoInline, FeedbackInline]
    actions = ["refresh_figures"]
    list_per_page = 50

    def may_write_object(self, membership: Membership, obj: Any) -> bool:
        return access.may_write_mentee(membership, obj.mentor_id)

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        # A mentee never moves between organizations.
        fields = list(super().get_readonly_fields(request, obj))
        return [*fields, "organization"] if obj is not None else fields

    def save_model(self, request: HttpRequest, obj: Mentorado, form: Any, change: bool) -> None:
        data = {field: form.cleaned_data[field] for field in form.changed_data}
        if change:
            data.pop("organization", None)
            services.mentorado_update(
                mentorado=obj, actor=_actor(request, obj.organization_id), data=data
            )
            return
        organization = form.cleaned_data["organization"]
        data.pop("organization", None)
        created = services.mentorado_create(
            organization=organization, actor=_actor(request, organization.pk), data=data
        )
        # The inlines are saved against `obj`: make it the row the service created.
        obj.pk = created.pk
        obj.data_inicio = created.data_inicio
        obj.data_fim = created.data_fim
        obj._state.adding = False

    def delete_model(self, request: HttpRequest, obj: Mentorado) -> None:
        services.mentorado_delete(mentorado=obj, actor=_actor(request, obj.organization_id))

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Mentorado]) -> None:
        for mentorado in queryset:
            self.delete_model(request, mentorado)

    def save_formset(
        self, request: HttpRequest, form: ModelForm[Any], formset: Any, change: bool
    ) -> None:
        mentorado: Mentorado = form.instance
        actor = _actor(request, mentorado.organization_id)
        inline: BaseInlineFormSet[Any, Any, Any] = formset
        inline.save(commit=False)
        if inline.model is EvolucaoFinanceira:
            for evolucao in inline.deleted_objects:
                services.evolucao_delete(evolucao=evolucao, actor=actor)
            for evolucao, fields in inline.changed_objects:
                services.evolucao_update(
                    evolucao=evolucao,
                    actor=actor,
                    data={field: getattr(evolucao, field) for field in fields},
                )
            for evolucao in inline.new_objects:
                services.evolucao_upsert(
                    mentorado=mentorado,
                    actor=actor,
                    data={field: getattr(evolucao, field) for field in EVOLUCAO_FIELDS},
                )
        elif inline.model is MentoradoFeedback:
            for feedback in inline.deleted_objects:
                services.feedback_delete(feedback=feedback, actor=actor)
            for feedback, fields in inline.changed_objects:
                services.feedback_update(
                    feedback=feedback,
                    actor=actor,
                    data={field: getattr(feedback, field) for field in fields},
                )
            for feedback in inline.new_objects:
                services.feedback_create(
                    mentorado=mentorado,
                    actor=actor,
                    data={field: getattr(feedback, field) for field in FEEDBACK_FIELDS},
                )
        else:  # pragma: no cover - only the two inlines above exist
            super().save_formset(request, form, formset, change)

    @admin.action(description=_("Recalcular indicadores"))
    def refresh_figures(self, request: HttpRequest, queryset: QuerySet[Mentorado]) -> None:
        for mentorado in queryset:
            services.mentorado_refresh_figures(mentorado=mentorado)
        self.message_user(request, _("Indicadores recalculados."))


class EvolucaoAdminForm(forms.ModelForm[EvolucaoFinanceira]):
    class Meta:
        model = EvolucaoFinanceira
        fields = ["mentorado", *EVOLUCAO_FIELDS]


@admin.register(EvolucaoFinanceira)
class EvolucaoFinanceiraAdmin(OrgScopedAdmin):
    policy = access.MENTEE_RECORDS

    def may_write_object(self, membership: Membership, obj: Any) -> bool:
        return access.may_write_mentee(membership, obj.mentorado.mentor_id)

    form = EvolucaoAdminForm
    list_display = [
        "mentorado",
        plain_column("ano", _("ano")),
        "mes",
        money_column("faturamento", _("faturamento")),
        money_column("lucro", _("lucro")),
        "numero_clientes",
    ]
    list_filter = ["ano", "mes", "organization"]
    search_fields = ["mentorado__nome_completo"]
    list_select_related = ["mentorado", "organization"]
    raw_id_fields = ["mentorado"]
    ordering = ["-ano", "-mes"]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return ["mentorado"] if obj is not None else []

    def save_model(
        self, request: HttpRequest, obj: EvolucaoFinanceira, form: Any, change: bool
    ) -> None:
        mentorado: Mentorado = obj.mentorado if change else form.cleaned_data["mentorado"]
        actor = _actor(request, mentorado.organization_id)
        if change:
            data = {f: form.cleaned_data[f] for f in form.changed_data if f != "mentorado"}
            services.evolucao_update(evolucao=obj, actor=actor, data=data)
            return
        row, _created = services.evolucao_upsert(
            mentorado=mentorado,
            actor=actor,
            data={field: form.cleaned_data[field] for field in EVOLUCAO_FIELDS},
        )
        obj.pk = row.pk
        obj.organization_id = row.organization_id
        obj._state.adding = False

    def delete_model(self, request: HttpRequest, obj: EvolucaoFinanceira) -> None:
        services.evolucao_delete(evolucao=obj, actor=_actor(request, obj.organization_id))

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[EvolucaoFinanceira]) -> None:
        for row in queryset.select_related("mentorado"):
            self.delete_model(request, row)


class FeedbackAdminForm(forms.ModelForm[MentoradoFeedback]):
    class Meta:
        model = MentoradoFeedback
        fields = ["mentorado", *FEEDBACK_FIELDS]


@admin.register(MentoradoFeedback)
class MentoradoFeedbackAdmin(OrgScopedAdmin):
    policy = access.MENTEE_RECORDS

    def may_write_object(self, membership: Membership, obj: Any) -> bool:
        return access.may_write_mentee(membership, obj.mentorado.mentor_id)

    form = FeedbackAdminForm
    list_display = ["mentorado", "data_feedback", "nota_nps", "nota_geral", "categoria"]
    list_filter = ["nota_geral", "categoria", "organization", "data_feedback"]
    search_fields = ["mentorado__nome_completo", "comentario"]
    list_select_related = ["mentorado", "organization"]
    raw_id_fields = ["mentorado"]
    date_hierarchy = "data_feedback"

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return ["mentorado"] if obj is not None else []

    def save_model(
        self, request: HttpRequest, obj: MentoradoFeedback, form: Any, change: bool
    ) -> None:
        mentorado: Mentorado = obj.mentorado if change else form.cleaned_data["mentorado"]
        actor = _actor(request, mentorado.organization_id)
        if change:
            data = {f: form.cleaned_data[f] for f in form.changed_data if f != "mentorado"}
            services.feedback_update(feedback=obj, actor=actor, data=data)
            return
        created = services.feedback_create(
            mentorado=mentorado,
            actor=actor,
            data={field: form.cleaned_data[field] for field in FEEDBACK_FIELDS},
        )
        obj.pk = created.pk
        obj.organization_id = created.organization_id
        obj._state.adding = False

    def delete_model(self, request: HttpRequest, obj: MentoradoFeedback) -> None:
        services.feedback_delete(feedback=obj, actor=_actor(request, obj.organization_id))

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[MentoradoFeedback]) -> None:
        for feedback in queryset.select_related("mentorado"):
            self.delete_model(request, feedback)
