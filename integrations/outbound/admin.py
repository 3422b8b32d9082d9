"""Back office for outbound webhooks: subscriptions (admins only) and the delivery log."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from config.events import EVENT_TYPES
from integrations.fields import mask
from integrations.net import OutboundURLError, check_outbound_url
from integrations.outbound import services
from integrations.outbound.models import DELIVERY_FIELDS, WebhookDelivery, WebhookEndpoint
from organizations import access
from organizations.admin import OrgScopedAdmin, OrgScopedTabularInline


class WebhookEndpointForm(forms.ModelForm[WebhookEndpoint]):
    eventos = forms.MultipleChoiceField(
        label=_("eventos"),
        choices=[(name, name) for name in EVENT_TYPES],
        widget=forms.CheckboxSelectMultiple,
    )

    class Meta:
        model = WebhookEndpoint
        fields = ["organization", "url", "descricao", "eventos", "ativo"]

    def clean_url(self) -> str:
        url: str = self.cleaned_data["url"]
        try:
            check_outbound_url(url)
        except OutboundURLError as exc:
            raise forms.ValidationError(str(exc)) from exc
        return url


class DeliveryInline(OrgScopedTabularInline):
    model = WebhookDelivery
    policy = access.WEBHOOK_DELIVERIES
    fk_name = "endpoint"
    extra = 0
    max_num = 0
    can_delete = False
    per_page = 20
    ordering = ["-created_at"]
    fields = ("created_at", "evento", "status", "tentativas", "ultimo_status_http", "ultimo_erro")
    readonly_fields = fields
    verbose_name_plural = _("entregas recentes")


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(OrgScopedAdmin):
    policy = access.INTEGRATIONS
    form = WebhookEndpointForm
    list_display = ["url", "organization", "ativo", "ultimo_sucesso_em", "desativado_em"]
    list_filter = ["ativo"]
    list_select_related = ["organization"]
    readonly_fields = ["secret_masked", "ultimo_sucesso_em", "desativado_em", "motivo_desativacao"]
    inlines = [DeliveryInline]

    def get_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        fields = ["organization", "url", "descricao", "eventos", "ativo"]
        if obj is not None:
            fields += ["secret_masked", "ultimo_sucesso_em", "desativado_em", "motivo_desativacao"]
        return fields

    @admin.display(description=_("segredo de assinatura"))
    def secret_masked(self, obj: WebhookEndpoint) -> str:
        return mask(obj.secret)

    def save_model(
        self, request: HttpRequest, obj: WebhookEndpoint, form: Any, change: bool
    ) -> None:
        data = {name: form.cleaned_data[name] for name in ("url", "descricao", "eventos", "ativo")}
        if change:
            services.webhook_endpoint_update(endpoint=obj, data=data)
            return
        endpoint, secret = services.webhook_endpoint_create(
            organization=form.cleaned_data["organization"], data=data
        )
        obj.pk = endpoint.pk
        self.message_user(
            request,
            _("Segredo de assinatura (guarde agora; não será mostrado de novo): %(s)s")
            % {"s": secret},
            messages.WARNING,
        )


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(OrgScopedAdmin):
    policy = access.WEBHOOK_DELIVERIES
    list_display = [
        "created_at",
        "evento",
        "endpoint",
        "status",
        "tentativas",
        "ultimo_status_http",
    ]
    list_filter = ["status", "evento"]
    list_select_related = ["endpoint"]
    readonly_fields = ["endpoint", *DELIVERY_FIELDS]
    fields = readonly_fields
    actions = ["replay"]

    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # Only the replay action changes anything; the rows themselves are a log.
        return obj is None and super().has_change_permission(request, None)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.action(description=_("Reenviar as entregas selecionadas"), permissions=["change"])
    def replay(self, request: HttpRequest, queryset: QuerySet[WebhookDelivery]) -> None:
        sent = skipped = 0
        for delivery in queryset.select_related("endpoint"):
            # The rows are the current organization's (get_queryset) and the action asks the
            # policy's "change" (admins): only a deactivated endpoint is left to refuse.
            if not delivery.endpoint.ativo:
                skipped += 1
                continue
            services.webhook_delivery_replay(delivery=delivery)
            sent += 1
        self.message_user(request, _("%(n)d entrega(s) reenviada(s).") % {"n": sent})
        if skipped:
            self.message_user(
                request,
                _("%(n)d não reenviada(s): webhook desativado.") % {"n": skipped},
                messages.WARNING,
            )
