from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.html import format_html_join
from django.utils.translation import gettext_lazy as _

from config.errors import ApplicationError, form_error_message
from integrations import services as integration_services
from integrations.crm import mapping as crm_mapping
from integrations.crm import services as crm
from integrations.fields import mask
from integrations.models import (
    CRM_DEFAULT_BASE_URLS,
    CRMConnection,
    CrmProvider,
    CrmWebhookEvent,
    WebhookNotification,
    WhatsAppAccount,
    WhatsAppGateway,
    WhatsAppMessage,
)
from integrations.net import OutboundURLError, check_outbound_url
from organizations import access
from organizations.admin import OrgScopedAdmin, ReadOnlyAdmin

# -- secrets: shown masked, replaced through empty password inputs ------------------------------


def _secret_input(label: Any) -> forms.CharField:
    return forms.CharField(
        label=label,
        required=False,
        strip=True,
        max_length=2000,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
    )


class OutboundURLFormMixin(forms.ModelForm[Any]):
    """`api_base_url` goes through the same SSRF check as the API (integrations.net)."""

    def clean_api_base_url(self) -> str:
        url: str = self.cleaned_data.get("api_base_url") or ""
        if url:
            try:
                check_outbound_url(url)
            except OutboundURLError as exc:
                raise forms.ValidationError(str(exc)) from None
        return url


class SecretsFormMixin(OutboundURLFormMixin):
    """`novo_<field>` password inputs replace secrets; stored values are never rendered.

    Required when adding; when changing, an empty input keeps the current value.
    """

    secret_fields: tuple[str, ...] = ()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        adding = self.instance._state.adding
        for name in self.secret_fields:
            field = self.fields.get(f"novo_{name}")
            if field is not None:
                field.required = adding
                field.help_text = (
                    _("Obrigatório.") if adding else _("Deixe em branco para manter o atual.")
                )

    def save(self, commit: bool = True) -> Any:
        instance = super().save(commit=False)
        for name in self.secret_fields:
            value = self.cleaned_data.get(f"novo_{name}")
            if not value:
                continue
            if name == "verify_token":
                instance.set_verify_token(value)
            else:
                setattr(instance, name, value)
        if commit:
            instance.save()
        return instance


class WhatsAppAccountForm(SecretsFormMixin):
    secret_fields = ("access_token", "app_secret", "verify_token")
    novo_access_token = _secret_input(_("Novo token de acesso"))
    novo_app_secret = _secret_input(_("Novo app secret"))
    novo_verify_token = _secret_input(_("Novo token de verificação do webhook"))
    api_base_url = forms.URLField(label=_("URL base da API"), max_length=300, assume_scheme="https")

    class Meta:
        model = WhatsAppAccount
        fields = ["organization", "phone_number_id", "api_base_url", "ativo", "auto_criar_leads"]

    def save(self, commit: bool = True) -> Any:
        if "phone_number_id" in self.changed_data:
            self.instance.confirmed_at = None  # another number: to be confirmed again
        return super().save(commit=commit)


@admin.register(WhatsAppAccount)
class WhatsAppAccountAdmin(OrgScopedAdmin):
    policy = access.INTEGRATIONS
    form = WhatsAppAccountForm
    list_display = [
        "phone_number_id",
        "organization",
        "ativo",
        "confirmado",
        "auto_criar_leads",
        "created_at",
    ]
    list_filter = ["ativo", "organization"]
    search_fields = ["phone_number_id"]
    list_select_related = ["organization"]
    readonly_fields = [
        "confirmed_at",
        "access_token_masked",
        "app_secret_masked",
        "verify_token_masked",
    ]
    actions = ["confirm_numbers"]

    def get_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        fields = ["organization", "phone_number_id", "api_base_url", "ativo", "auto_criar_leads"]
        if obj is not None:
            fields += [
                "confirmed_at",
                "access_token_masked",
                "app_secret_masked",
                "verify_token_masked",
            ]
        return [*fields, "novo_access_token", "novo_app_secret", "novo_verify_token"]

    @admin.display(description=_("confirmado"), boolean=True)
    def confirmado(self, obj: WhatsAppAccount) -> bool:
        return obj.confirmed_at is not None

    @admin.action(
        description=_("Confirmar o número com o token (Graph API da Meta)"), permissions=["change"]
    )
    def confirm_numbers(self, request: HttpRequest, queryset: QuerySet[WhatsAppAccount]) -> None:
        for account in queryset:
            try:
                integration_services.whatsapp_account_confirm(account=account)
            except ApplicationError as exc:
                self.message_user(
                    request,
                    f"{account.phone_number_id}: {form_error_message(exc)}",
                    messages.ERROR,
                )
            else:
                self.message_user(
                    request,
                    _("Número %(n)s confirmado.") % {"n": account.phone_number_id},
                    messages.SUCCESS,
                )

    @admin.display(description=_("token de acesso"))
    def access_token_masked(self, obj: WhatsAppAccount) -> str:
        return mask(obj.access_token)

    @admin.display(description=_("app secret"))
    def app_secret_masked(self, obj: WhatsAppAccount) -> str:
        return mask(obj.app_secret)

    @admin.display(description=_("token de verificação"))
    def verify_token_masked(self, obj: WhatsAppAccount) -> str:
        return mask(obj.verify_token_hash)


class WhatsAppGatewayForm(forms.ModelForm[WhatsAppGateway]):
    novo_twilio_auth_token = _secret_input(_("Novo auth token do Twilio"))
    remover_twilio_auth_token = forms.BooleanField(
        label=_("Remover o auth token do Twilio (deixa de exigir a assinatura)"), required=False
    )

    class Meta:
        model = WhatsAppGateway
        fields = ["organization", "nome", "auto_criar_leads"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["novo_twilio_auth_token"].help_text = _(
            "Opcional. Com ele, toda requisição precisa do cabeçalho X-Twilio-Signature válido."
        )

    def service_data(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "nome": self.cleaned_data.get("nome", ""),
            "auto_criar_leads": self.cleaned_data.get("auto_criar_leads", True),
        }
        if self.cleaned_data.get("remover_twilio_auth_token"):
            data["twilio_auth_token"] = ""
        elif self.cleaned_data.get("novo_twilio_auth_token"):
            data["twilio_auth_token"] = self.cleaned_data["novo_twilio_auth_token"]
        return data


@admin.register(WhatsAppGateway)
class WhatsAppGatewayAdmin(OrgScopedAdmin):
    """Gateway webhooks: created, rotated and revoked through integrations.services.

    The URL (with its token) is shown once, in a message, after creating or rotating.
    """

    policy = access.WHATSAPP_GATEWAYS
    form = WhatsAppGatewayForm
    list_display = ["__str__", "organization", "token_inicio", "ativo", "created_at", "revoked_at"]
    list_filter = ["organization"]
    list_select_related = ["organization"]
    readonly_fields = ["token_inicio", "twilio_masked", "created_at", "rotated_at", "revoked_at"]
    actions = ["rotate_tokens", "revoke"]

    def get_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        fields = ["organization", "nome", "auto_criar_leads", "novo_twilio_auth_token"]
        if obj is not None:
            fields += ["remover_twilio_auth_token", *self.readonly_fields]
        return fields

    @admin.display(boolean=True, description=_("ativo"))
    def ativo(self, obj: WhatsAppGateway) -> bool:
        return obj.ativo

    @admin.display(description=_("auth token do Twilio"))
    def twilio_masked(self, obj: WhatsAppGateway) -> str:
        return mask(obj.twilio_auth_token) if obj.twilio_auth_token else "—"

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # Revoke instead: the row (and what arrived through it) stays.
        return False

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        data = form.service_data()
        if change:
            integration_services.whatsapp_gateway_update(gateway=obj, data=data)
            return
        gateway, url = integration_services.whatsapp_gateway_create(
            organization=form.cleaned_data["organization"], data=data
        )
        obj.pk = gateway.pk
        obj._state.adding = False
        self._show_url(request, gateway, url)

    def _show_url(self, request: HttpRequest, gateway: WhatsAppGateway, url: str) -> None:
        self.message_user(
            request,
            _("URL do webhook de %(g)s (copie agora: ela não será mostrada de novo): %(url)s")
            % {"g": gateway, "url": url},
            messages.WARNING,
        )

    @admin.action(
        description=_("Trocar o token (a URL anterior deixa de funcionar)"), permissions=["change"]
    )
    def rotate_tokens(self, request: HttpRequest, queryset: QuerySet[WhatsAppGateway]) -> None:
        for gateway in queryset:
            if gateway.revoked_at is not None:
                self.message_user(
                    request,
                    _("%(g)s está revogado; crie um novo.") % {"g": gateway},
                    messages.ERROR,
                )
                continue
            gateway, url = integration_services.whatsapp_gateway_rotate(gateway=gateway)
            self._show_url(request, gateway, url)

    @admin.action(description=_("Revogar (a URL passa a responder 404)"), permissions=["change"])
    def revoke(self, request: HttpRequest, queryset: QuerySet[WhatsAppGateway]) -> None:
        for gateway in queryset:
            integration_services.whatsapp_gateway_revoke(gateway=gateway)
        self.message_user(request, _("%(n)d gateway(s) revogado(s).") % {"n": len(queryset)})


class IntegrationRecordAdmin(ReadOnlyAdmin):
    """Records written by the integrations themselves: admins may look, not edit."""

    policy = access.INTEGRATION_RECORDS


@admin.register(WhatsAppMessage)
class WhatsAppMessageAdmin(IntegrationRecordAdmin):
    list_display = [
        "created_at",
        "direction",
        "status",
        "message_type",
        "from_phone",
        "to_phone",
        "lead",
        "organization",
    ]
    list_filter = ["direction", "status", "message_type", "organization"]
    search_fields = ["wamid", "from_phone", "to_phone", "body"]
    list_select_related = ["lead", "organization"]
    date_hierarchy = "created_at"
    exclude = ["idempotency_key"]


@admin.register(WebhookNotification)
class WebhookNotificationAdmin(IntegrationRecordAdmin):
    list_display = ["received_at", "account", "processed_at", "attempts", "has_error"]
    list_filter = ["organization"]
    list_select_related = ["account"]
    date_hierarchy = "received_at"
    readonly_fields = [
        "organization",
        "account",
        "received_at",
        "processed_at",
        "attempts",
        "error",
        "summary",
        "signature",
        "body",
    ]
    fields = tuple(readonly_fields)

    @admin.display(description=_("corpo"))
    def body(self, obj: WebhookNotification) -> str:
        return obj.body_text

    @admin.display(description=_("erro?"), boolean=True)
    def has_error(self, obj: WebhookNotification) -> bool:
        return bool(obj.error)


@admin.register(CrmWebhookEvent)
class CrmWebhookEventAdmin(IntegrationRecordAdmin):
    """Inbound CRM change events and what became of each (applied, stale, invalid...)."""

    list_display = ["received_at", "connection", "crm_id", "outcome", "processed_at"]
    list_filter = ["outcome", "organization"]
    search_fields = ["event_id", "crm_id"]
    list_select_related = ["connection"]
    date_hierarchy = "received_at"
    readonly_fields = [
        "organization",
        "connection",
        "event_id",
        "crm_id",
        "outcome",
        "received_at",
        "processed_at",
        "changes",
    ]
    fields = tuple(readonly_fields)


class CRMConnectionForm(SecretsFormMixin):
    secret_fields = ("token", "webhook_secret")
    novo_token = _secret_input(_("Novo token"))
    novo_webhook_secret = _secret_input(_("Novo segredo do webhook"))
    api_base_url = forms.URLField(
        label=_("URL base da API"),
        required=False,
        max_length=300,
        assume_scheme="https",
        help_text=_("Em branco: a URL pública do CRM escolhido."),
    )

    class Meta:
        model = CRMConnection
        fields = ["organization", "provider", "api_base_url", "ativo", "field_mapping"]
        fields += ["webhook_user"]
        help_texts = {
            "field_mapping": _(
                'Campo nosso → propriedade do CRM, ex.: {"lead_score": "pontuacao"}; "" deixa '
                "de sincronizar o campo; os omitidos seguem o padrão."
            ),
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        secret = self.fields.get("novo_webhook_secret")
        if secret is not None:
            secret.required = False
            secret.help_text = _(
                "HubSpot: o client secret do app; Pipedrive: a senha da autenticação básica. "
                "Em branco mantém o atual."
            )

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        provider = cleaned.get("provider")
        if provider and not cleaned.get("api_base_url"):
            cleaned["api_base_url"] = CRM_DEFAULT_BASE_URLS[CrmProvider(provider)]
        if provider and "field_mapping" in cleaned:
            try:
                cleaned["field_mapping"] = crm_mapping.validate_mapping(
                    provider, cleaned["field_mapping"] or {}
                )
            except ApplicationError as exc:
                self.add_error("field_mapping", _mapping_message(exc))
        return cleaned


def _mapping_message(exc: ApplicationError) -> str:
    details = getattr(exc, "details", None) or {}
    parts = [f"{key}: {' '.join(str(m) for m in msgs)}" for key, msgs in details.items()]
    return "; ".join(parts) or str(exc)


@admin.register(CRMConnection)
class CRMConnectionAdmin(OrgScopedAdmin):
    policy = access.INTEGRATIONS
    form = CRMConnectionForm
    list_display = ["organization", "provider", "ativo", "last_success_at", "last_error_at"]
    list_filter = ["provider", "ativo"]
    list_select_related = ["organization"]
    readonly_fields = [
        "token_masked",
        "mapeamento_efetivo",
        "webhook_url",
        "last_error",
        "last_error_at",
        "last_success_at",
    ]
    actions = ["test_connection"]

    def get_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        fields = ["organization", "provider", "api_base_url", "ativo"]
        if obj is not None:
            fields += ["token_masked"]
        fields += ["novo_token", "field_mapping"]
        if obj is not None:
            fields += ["mapeamento_efetivo", "webhook_url"]
        fields += ["webhook_user", "novo_webhook_secret"]
        if obj is not None:
            fields += ["last_error", "last_error_at", "last_success_at"]
        return fields

    @admin.display(description=_("mapeamento em uso"))
    def mapeamento_efetivo(self, obj: CRMConnection) -> str:
        # Field names on both sides are codes (ours and the CRM's properties), shown as such.
        pairs = crm.connection_mapping(obj).items()
        return format_html_join(", ", "<code>{}</code> → <code>{}</code>", pairs)

    @admin.display(description=_("URL do webhook de mudanças"))
    def webhook_url(self, obj: CRMConnection) -> str:
        return integration_services.crm_webhook_url(obj)

    @admin.display(description=_("token"))
    def token_masked(self, obj: CRMConnection) -> str:
        return mask(obj.token)

    @admin.action(description=_("Testar conexão"), permissions=["change"])
    def test_connection(self, request: HttpRequest, queryset: QuerySet[CRMConnection]) -> None:
        for connection in queryset:
            ok, message = crm.crm_connection_test(connection=connection)
            if ok:
                self.message_user(request, _("%(c)s: conexão OK.") % {"c": connection})
            else:
                self.message_user(request, f"{connection}: {message}", messages.ERROR)


# Outbound webhooks (subscriptions and delivery log).
from integrations.outbound import admin as outbound_admin  # noqa: E402, F401
