"""WhatsApp accounts: `/api/v1/integrations/whatsapp-accounts/` (secrets write-only)."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy, gettext_noop
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import serializers
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from integrations import services
from integrations.api.base import AdminSettingsViewSet, ProviderURLField, SecretField
from integrations.models import WhatsAppAccount, WhatsAppGateway


class WhatsAppAccountSerializer(serializers.ModelSerializer[WhatsAppAccount]):
    # Meta's phone number ids are numeric strings.
    phone_number_id = serializers.RegexField(
        r"^[0-9]{1,64}$", max_length=64, label=gettext_lazy("ID do número (Meta)")
    )
    access_token = SecretField()
    app_secret = SecretField(max_length=500)
    verify_token = SecretField(max_length=500)
    api_base_url = ProviderURLField(required=False)
    confirmado = serializers.SerializerMethodField(
        help_text=(
            "true quando o número foi confirmado (webhook assinado com o app secret desta "
            "conta, ou POST .../confirm/ com o token): só então recebe as mensagens"
        )
    )

    class Meta:
        model = WhatsAppAccount
        fields = [
            "id",
            "phone_number_id",
            "access_token",
            "app_secret",
            "verify_token",
            "api_base_url",
            "ativo",
            "auto_criar_leads",
            "confirmado",
            "confirmed_at",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["id", "confirmed_at", "created_at", "updated_at"]

    def get_confirmado(self, account: WhatsAppAccount) -> bool:
        return account.confirmed_at is not None


conflict = OpenApiResponse(
    description=gettext_noop(
        "phone_number_id já cadastrado, ou já existe uma conta ativa (details.existing_id)"
    )
)


@extend_schema_view(
    list=extend_schema(
        summary=gettext_noop("Lista as contas de WhatsApp (segredos nunca são devolvidos)")
    ),
    create=extend_schema(
        summary=gettext_noop("Cadastra uma conta de WhatsApp"),
        responses={201: WhatsAppAccountSerializer, 409: conflict},
    ),
    partial_update=extend_schema(
        summary=gettext_noop("Altera uma conta; segredos omitidos são mantidos"),
        responses={200: WhatsAppAccountSerializer, 409: conflict},
    ),
    destroy=extend_schema(
        summary=gettext_noop("Remove a conta (mensagens recebidas são mantidas)")
    ),
)
class WhatsAppAccountViewSet(AdminSettingsViewSet):
    queryset = WhatsAppAccount.objects.all()
    serializer_class = WhatsAppAccountSerializer

    def perform_create(self, serializer: serializers.BaseSerializer[Any]) -> None:
        serializer.instance = services.whatsapp_account_create(
            organization=self.organization, data=dict(serializer.validated_data)
        )

    def perform_update(self, serializer: serializers.BaseSerializer[Any]) -> None:
        if not isinstance(serializer.instance, WhatsAppAccount):
            raise TypeError("serializer.instance is not a WhatsAppAccount")
        serializer.instance = services.whatsapp_account_update(
            account=serializer.instance, data=dict(serializer.validated_data)
        )

    def perform_destroy(self, instance: WhatsAppAccount) -> None:
        services.whatsapp_account_delete(account=instance)

    @extend_schema(
        request=None,
        summary=gettext_noop(
            "Confirma o número com o token da conta (Graph API: GET /{phone_number_id})"
        ),
        responses={
            200: WhatsAppAccountSerializer,
            400: OpenApiResponse(
                description=gettext_noop("a Meta não confirmou o número com este token")
            ),
            409: OpenApiResponse(
                description=gettext_noop("o número já foi confirmado por outra conta")
            ),
        },
    )
    @action(detail=True, methods=["post"])
    def confirm(self, request: Request, pk: str | None = None) -> Response:
        account = services.whatsapp_account_confirm(account=self.get_object())
        return Response(self.get_serializer(account).data)


# -- gateway webhooks -------------------------------------------------------------------------


class WhatsAppGatewaySerializer(serializers.ModelSerializer[WhatsAppGateway]):
    nome = serializers.CharField(max_length=100, required=False, allow_blank=True)
    # Optional; "" clears it. When set, every POST must carry a valid X-Twilio-Signature.
    twilio_auth_token = SecretField(max_length=200, required=False, allow_blank=True)
    assinatura_twilio = serializers.SerializerMethodField(
        help_text="true quando um auth token do Twilio está configurado (assinatura exigida)"
    )
    ativo = serializers.BooleanField(read_only=True, help_text="false depois de revogado")

    class Meta:
        model = WhatsAppGateway
        fields = [
            "id",
            "nome",
            "token_inicio",
            "twilio_auth_token",
            "assinatura_twilio",
            "auto_criar_leads",
            "ativo",
            "created_at",
            "rotated_at",
            "revoked_at",
        ]
        read_only_fields = ["id", "token_inicio", "created_at", "rotated_at", "revoked_at"]

    def get_assinatura_twilio(self, gateway: WhatsAppGateway) -> bool:
        return bool(gateway.twilio_auth_token)


class WhatsAppGatewayCreatedSerializer(WhatsAppGatewaySerializer):
    webhook_url = serializers.URLField(
        read_only=True,
        help_text="URL completa do webhook, com o token: mostrada só agora (guardamos um hash)",
    )

    class Meta(WhatsAppGatewaySerializer.Meta):
        fields = [*WhatsAppGatewaySerializer.Meta.fields, "webhook_url"]


@extend_schema_view(
    list=extend_schema(
        summary=gettext_noop("Lista os gateways de WhatsApp (tokens nunca são devolvidos)")
    ),
    create=extend_schema(
        summary=gettext_noop(
            "Cria um webhook de gateway; a resposta traz webhook_url uma única vez"
        ),
        responses={201: WhatsAppGatewayCreatedSerializer},
    ),
    partial_update=extend_schema(
        summary=gettext_noop("Altera nome, auth token do Twilio ou auto_criar_leads")
    ),
    destroy=extend_schema(summary=gettext_noop("Revoga o gateway: a URL passa a responder 404")),
)
class WhatsAppGatewayViewSet(AdminSettingsViewSet):
    queryset = WhatsAppGateway.objects.all()
    serializer_class = WhatsAppGatewaySerializer

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        gateway, url = services.whatsapp_gateway_create(
            organization=self.organization, data=dict(serializer.validated_data)
        )
        gateway.webhook_url = url  # type: ignore[attr-defined]
        return Response(WhatsAppGatewayCreatedSerializer(gateway).data, status=201)

    def perform_update(self, serializer: serializers.BaseSerializer[Any]) -> None:
        if not isinstance(serializer.instance, WhatsAppGateway):
            raise TypeError("serializer.instance is not a WhatsAppGateway")
        serializer.instance = services.whatsapp_gateway_update(
            gateway=serializer.instance, data=dict(serializer.validated_data)
        )

    def perform_destroy(self, instance: WhatsAppGateway) -> None:
        services.whatsapp_gateway_revoke(gateway=instance)

    @extend_schema(
        request=None,
        summary=gettext_noop(
            "Troca o token: a URL anterior passa a responder 404; a nova vem em webhook_url"
        ),
        responses={
            200: WhatsAppGatewayCreatedSerializer,
            409: OpenApiResponse(description=gettext_noop("revogado")),
        },
    )
    @action(detail=True, methods=["post"])
    def rotate(self, request: Request, pk: str | None = None) -> Response:
        gateway, url = services.whatsapp_gateway_rotate(gateway=self.get_object())
        gateway.webhook_url = url  # type: ignore[attr-defined]
        return Response(WhatsAppGatewayCreatedSerializer(gateway).data)
