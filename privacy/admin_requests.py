"""Data subject requests and retention settings in the admin (organization admins).

A request is made in two steps: the form finds the person and shows what will happen (how
many leads and mentees, export or anonymisation); only the confirmation creates it, through
the same service as the API (same checks: 400/404/409 become form errors).
"""

from __future__ import annotations

import json
from typing import Any, cast

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.core.serializers.json import DjangoJSONEncoder
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from config.errors import ApplicationError, form_error_message
from organizations import access
from organizations.access import ADMIN_ONLY, NOBODY, Policy, admin_membership
from organizations.admin import OrgScopedAdmin
from organizations.models import Membership
from privacy import requests as privacy_requests
from privacy import retention
from privacy.api.requests import DataSubjectRequestSerializer
from privacy.models import (
    REQUEST_FIELDS,
    DataSubjectRequest,
    RequestStatus,
    RetentionSettings,
)

REQUESTS_POLICY = Policy(read=ADMIN_ONLY, change=NOBODY, add=ADMIN_ONLY, delete=NOBODY)
RETENTION_POLICY = Policy(read=ADMIN_ONLY, change=ADMIN_ONLY, delete=NOBODY)

IDENTIFIERS = [
    ("email", _("Email")),
    ("telefone", _("Telefone")),
    ("lead_id", _("Id do lead")),
    ("mentorado_id", _("Id do mentorado")),
]


class RequestForm(forms.Form):
    tipo = forms.ChoiceField(
        label=_("Tipo"),
        choices=[
            ("exportacao", _("Exportação dos dados")),
            ("anonimizacao", _("Anonimização")),
        ],
    )
    identificador = forms.ChoiceField(label=_("Identificar por"), choices=IDENTIFIERS)
    valor = forms.CharField(label=_("Valor"), max_length=254)

    def payload(self) -> dict[str, Any]:
        data = self.cleaned_data
        return {"tipo": data["tipo"], data["identificador"]: data["valor"]}


def _admin_actor(request: HttpRequest) -> Membership:
    membership = admin_membership(request)
    if membership is None or not access.may(membership, REQUESTS_POLICY, "add"):
        raise PermissionDenied
    return membership


@admin.register(DataSubjectRequest)
class DataSubjectRequestAdmin(OrgScopedAdmin):
    policy = REQUESTS_POLICY
    list_display = [
        "criado_em",
        "tipo",
        "status",
        "progresso",
        "identificador_tipo",
        "solicitado_por",
        "expira_em",
        "arquivo_link",
    ]
    list_filter = ["tipo", "status"]
    list_select_related = ["solicitado_por"]
    readonly_fields = [*REQUEST_FIELDS, "arquivo_link"]
    fields = readonly_fields
    actions = ["retry"]

    @admin.display(description=_("Arquivo"))
    def arquivo_link(self, obj: DataSubjectRequest) -> str:
        if not DataSubjectRequestSerializer().get_download_disponivel(obj):
            return "-"
        url = reverse("admin:privacy_datasubjectrequest_download", args=[obj.pk])
        return format_html('<a href="{}">{}</a>', url, _("Baixar JSON"))

    def get_urls(self) -> list[URLPattern]:
        wrap = self.admin_site.admin_view
        return [
            path(
                "<path:object_id>/download/",
                wrap(self.download_view),
                name="privacy_datasubjectrequest_download",
            ),
            *super().get_urls(),
        ]

    def add_view(
        self, request: HttpRequest, form_url: str = "", extra_context: Any = None
    ) -> HttpResponse:
        actor = _admin_actor(request)
        form = RequestForm(request.POST or None)
        found = None
        if request.method == "POST" and form.is_valid():
            try:
                if "confirmar" in request.POST:
                    privacy_requests.request_create(
                        organization=actor.organization, actor=actor, data=form.payload()
                    )
                    messages.success(request, _("Solicitação criada; ela roda em segundo plano."))
                    return HttpResponseRedirect(
                        reverse("admin:privacy_datasubjectrequest_changelist")
                    )
                _tipo, _identifier, found = privacy_requests.request_check(
                    organization=actor.organization, data=form.payload()
                )
            except ApplicationError as exc:
                form.add_error(None, form_error_message(exc))
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": _("Nova solicitação de titular"),
            "has_view_permission": True,
            "form": form,
            "found": found,
        }
        return render(request, "admin/privacy/datasubjectrequest/add.html", context)

    def download_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        obj = self.get_object(request, object_id)
        if obj is None:
            raise Http404(_("Solicitação não encontrada."))
        try:
            document, filename = privacy_requests.request_download(
                request=cast(DataSubjectRequest, obj), actor=admin_membership(request)
            )
        except ApplicationError as exc:
            raise Http404(str(exc.message)) from exc
        response = HttpResponse(
            json.dumps(document, ensure_ascii=False, indent=1, cls=DjangoJSONEncoder),
            content_type="application/json; charset=utf-8",
        )
        response["Content-Disposition"] = f'attachment; filename="{filename}"'
        return response

    @admin.action(description=_("Executar de novo (solicitações que falharam)"))
    def retry(self, request: HttpRequest, queryset: QuerySet[DataSubjectRequest]) -> None:
        done = 0
        for obj in queryset.filter(status=RequestStatus.FALHOU):
            privacy_requests.request_retry(request=obj)
            done += 1
        messages.info(request, _("%(n)d solicitação(ões) enviada(s) de novo.") % {"n": done})


class RetentionForm(forms.ModelForm[RetentionSettings]):
    class Meta:
        model = RetentionSettings
        fields = ["leads_perdidos_dias", "webhooks_dias", "envios_dias"]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        try:
            retention.validate(data={k: data.get(k) for k in retention.FIELDS})
        except ApplicationError as exc:
            raise forms.ValidationError(form_error_message(exc)) from exc
        return data


@admin.register(RetentionSettings)
class RetentionSettingsAdmin(OrgScopedAdmin):
    """One row per organization, created on first change (the API's defaults until then)."""

    policy = RETENTION_POLICY
    form = RetentionForm
    list_display = [
        "organization",
        "leads_perdidos_dias",
        "webhooks_dias",
        "envios_dias",
        "ultima_execucao",
    ]
    readonly_fields = ["ultima_execucao", "ultimo_resultado"]
    fields = ["leads_perdidos_dias", "webhooks_dias", "envios_dias", *readonly_fields]

    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        membership = admin_membership(request)
        if membership is None:
            return False
        exists = RetentionSettings.objects.filter(
            organization_id=membership.organization_id
        ).exists()
        return not exists and super().has_add_permission(request)

    def save_model(
        self, request: HttpRequest, obj: RetentionSettings, form: Any, change: bool
    ) -> None:
        membership = admin_membership(request)
        if not change and membership is not None:
            obj.organization = membership.organization
        retention.retention_settings_update(
            organization=obj.organization,
            data={name: getattr(obj, name) for name in retention.FIELDS},
        )
