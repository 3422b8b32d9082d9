"""Consent ledger in the admin: read the entries; add one (through leads.consent); never edit."""

from __future__ import annotations

from typing import Any, cast

from django import forms
from django.contrib import admin
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from leads.consent import consent_set
from leads.models import ConsentRecord
from organizations.admin import OrgScopedAdmin
from organizations.models import Membership


class ConsentRecordForm(forms.ModelForm[ConsentRecord]):
    class Meta:
        model = ConsentRecord
        fields = ["lead", "canal", "estado", "base_legal", "evidencia"]
        help_texts = {"evidencia": _('Por exemplo {"texto": "aceite por telefone em 03/12"}.')}


@admin.register(ConsentRecord)
class ConsentRecordAdmin(OrgScopedAdmin):
    form = ConsentRecordForm
    list_display = ["lead", "canal", "estado", "base_legal", "origem", "at", "actor"]
    list_filter = ["canal", "estado", "base_legal", "origem"]
    list_select_related = ["lead", "actor"]
    search_fields = ["lead__nome_completo"]
    autocomplete_fields: list[str] = []
    readonly_fields = ["organization", "origem", "at", "actor", "created_at"]

    def get_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        if obj is None:
            return ["lead", "canal", "estado", "base_legal", "evidencia"]
        return ["lead", "canal", "estado", "base_legal", "evidencia", *self.readonly_fields]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        if obj is None:
            return []
        # Append-only: an entry is never edited; a new one supersedes it.
        return ["lead", "canal", "estado", "base_legal", "evidencia", *self.readonly_fields]

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        lead = form.cleaned_data["lead"]
        actor = Membership.objects.filter(
            organization_id=lead.organization_id, user_id=cast(int, request.user.pk)
        ).first()
        record = consent_set(
            lead=lead,
            canal=form.cleaned_data["canal"],
            estado=form.cleaned_data["estado"],
            base_legal=form.cleaned_data["base_legal"],
            evidencia=form.cleaned_data.get("evidencia") or {},
            origem="admin",
            actor=actor,
        )
        obj.pk = record.pk
        obj._state.adding = False
