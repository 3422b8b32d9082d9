"""Back office for lead routing: rules with their members, member absences, assignment log."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from leads.api.routing import ROUTABLE_ROLES, UTM_KEYS, ConditionSerializer
from leads.models import (
    Distribuicao,
    LeadAssignment,
    LeadMerge,
    RoutingRule,
    RoutingRuleMember,
)
from organizations import access
from organizations.admin import OrgScopedAdmin, OrgScopedTabularInline, ReadOnlyAdmin
from organizations.models import MemberAbsence, Membership


def _flatten(problems: Any) -> list[str]:
    if isinstance(problems, dict):
        return [text for value in problems.values() for text in _flatten(value)]
    if isinstance(problems, list):
        return [text for value in problems for text in _flatten(value)]
    return [str(problems)]


def _split(text: str) -> list[str]:
    return [part.strip() for part in (text or "").split(",") if part.strip()]


class RoutingRuleForm(forms.ModelForm[RoutingRule]):
    origens = forms.CharField(
        label=_("origens"),
        required=False,
        help_text=_("Separadas por vírgula; vazio: qualquer origem."),
    )
    tags_condicao = forms.CharField(
        label=_("tags"),
        required=False,
        help_text=_("Separadas por vírgula; o lead precisa ter ao menos uma. Vazio: qualquer."),
    )
    utm_source = forms.CharField(
        label=_("utm_source"),
        required=False,
        help_text=_("Separados por vírgula; vazio: qualquer."),
    )
    utm_medium = forms.CharField(
        label=_("utm_medium"),
        required=False,
        help_text=_("Separados por vírgula; vazio: qualquer."),
    )
    utm_campaign = forms.CharField(
        label=_("utm_campaign"),
        required=False,
        help_text=_("Separados por vírgula; vazio: qualquer."),
    )
    valor_min = forms.DecimalField(label=_("valor potencial mínimo"), required=False, min_value=0)
    valor_max = forms.DecimalField(label=_("valor potencial máximo"), required=False, min_value=0)

    class Meta:
        model = RoutingRule
        fields = ["organization", "nome", "ordem", "ativo", "distribuicao", "capacidade_diaria"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        condicao = self.instance.condicao or {}
        self.initial.setdefault("origens", ", ".join(condicao.get("origem", [])))
        self.initial.setdefault("tags_condicao", ", ".join(condicao.get("tags", [])))
        for key in UTM_KEYS:
            self.initial.setdefault(key, ", ".join(condicao.get(key, [])))
        self.initial.setdefault("valor_min", condicao.get("valor_min"))
        self.initial.setdefault("valor_max", condicao.get("valor_max"))

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        raw = {
            "origem": _split(cleaned.get("origens", "")),
            "tags": _split(cleaned.get("tags_condicao", "")),
            "valor_min": cleaned.get("valor_min"),
            "valor_max": cleaned.get("valor_max"),
            **{key: _split(cleaned.get(key, "")) for key in UTM_KEYS},
        }
        condition = ConditionSerializer(data=raw)
        if condition.is_valid():
            self.instance.condicao = condition.validated_data
            return cleaned
        for field, problems in condition.errors.items():
            target = {"origem": "origens", "tags": "tags_condicao"}.get(field, field)
            self.add_error(target if target in self.fields else None, _flatten(problems))
        return cleaned


class RuleMemberFormSet(
    forms.BaseInlineFormSet[RoutingRuleMember, RoutingRule, forms.ModelForm[RoutingRuleMember]]
):
    def clean(self) -> None:
        super().clean()
        organization = getattr(self.instance, "organization", None)
        chosen = [
            form.cleaned_data
            for form in self.forms
            if form.cleaned_data and not form.cleaned_data.get("DELETE")
        ]
        if not chosen:
            raise forms.ValidationError(_("Informe ao menos um membro."))
        for data in chosen:
            membership = data.get("membership")
            if membership is None:
                continue
            if organization is not None and membership.organization_id != organization.pk:
                raise forms.ValidationError(_("Os membros devem ser da organização da regra."))
            if not membership.ativo or membership.role not in ROUTABLE_ROLES:
                raise forms.ValidationError(
                    _("%(m)s não está ativo ou não tem papel de vendas.") % {"m": membership}
                )
        if self.instance.distribuicao == Distribuicao.FIXO and len(chosen) != 1:
            raise forms.ValidationError(_("A distribuição fixa usa exatamente um membro."))


class RuleMemberInline(OrgScopedTabularInline):
    model = RoutingRuleMember
    policy = access.ROUTING  # as the rule's own admin: managers
    formset = RuleMemberFormSet
    extra = 1
    fields = ["membership", "peso", "posicao"]
    verbose_name_plural = _("membros (na ordem do rodízio)")

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        # Active sellers only; the current organization's (ScopedChoicesMixin narrows).
        if db_field.name == "membership":
            kwargs["queryset"] = Membership.objects.filter(
                ativo=True, role__in=ROUTABLE_ROLES
            ).select_related("organization")
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


@admin.register(RoutingRule)
class RoutingRuleAdmin(OrgScopedAdmin):
    policy = access.ROUTING
    form = RoutingRuleForm
    inlines = [RuleMemberInline]
    list_display = ["nome", "ordem", "ativo", "distribuicao", "capacidade_diaria"]
    list_filter = ["ativo", "distribuicao"]
    ordering = ["organization", "ordem"]
    fieldsets = [
        (None, {"fields": ["organization", "nome", "ordem", "ativo"]}),
        (
            _("Condição"),
            {
                "fields": [
                    "origens",
                    "tags_condicao",
                    ("utm_source", "utm_medium", "utm_campaign"),
                    "valor_min",
                    "valor_max",
                ]
            },
        ),
        (_("Distribuição"), {"fields": ["distribuicao", "capacidade_diaria"]}),
    ]


@admin.register(MemberAbsence)
class MemberAbsenceAdmin(OrgScopedAdmin):
    policy = access.ROUTING
    list_display = ["membership", "inicio", "fim", "motivo"]
    list_select_related = ["membership"]
    fields = ["organization", "membership", "inicio", "fim", "motivo"]
    ordering = ["-inicio"]


class MemberAbsenceForm(forms.ModelForm[MemberAbsence]):
    class Meta:
        model = MemberAbsence
        fields = ["organization", "membership", "inicio", "fim", "motivo"]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        membership, organization = cleaned.get("membership"), cleaned.get("organization")
        if membership and organization and membership.organization_id != organization.pk:
            self.add_error("membership", _("O membro deve ser da organização escolhida."))
        inicio, fim = cleaned.get("inicio"), cleaned.get("fim")
        if inicio and fim and fim < inicio:
            self.add_error("fim", _("Deve ser igual ou posterior a início."))
        return cleaned


MemberAbsenceAdmin.form = MemberAbsenceForm


@admin.register(LeadAssignment)
class LeadAssignmentAdmin(ReadOnlyAdmin):
    policy = access.ROUTING
    list_display = ["at", "lead", "membership", "motivo"]
    list_select_related = ["lead", "membership"]
    fields = ["at", "lead", "membership", "rule", "campo", "motivo"]
    readonly_fields = fields


@admin.register(LeadMerge)
class LeadMergeAdmin(ReadOnlyAdmin):
    """The record of each merge (read-only; merges are made through the API)."""

    policy = access.ROUTING

    list_display = ["at", "target_id", "merged_lead_id", "merged_by"]
    list_select_related = ["merged_by"]
    fields = [
        "at",
        "target_id",
        "merged_lead_id",
        "merged_by",
        "campos",
        "valores_descartados",
        "valores_do_outro",
    ]
    readonly_fields = fields
