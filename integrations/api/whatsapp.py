"""WhatsApp accounts: `/api/v1/integrations/whatsapp-accounts/` (secrets write-only)."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import serializers

from integrations import services
from integrations.api.base import AdminSettingsViewSet, ProviderURLField, SecretField
from integrations.models import WhatsAppAccount


class WhatsAppAccountSerializer(serializers.ModelSerializer[WhatsAppAccount]):
    # Meta's phone number ids are numeric strings.
    phone_number_id = serializers.RegexField(r"^[0-9]{1,64}$", max_length=64)
    access_token = SecretField()
    app_secret = SecretField(max_length=500)
    verify_token = SecretField(max_length=500)
    api_base_url = ProviderURLField(required=False)

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
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["id", "created_at", "updated_at"]


conflict = OpenApiResponse(
    description="phone_number_id já cadastrado, ou já existe uma conta ativa (details.existing_id)"
)


@extend_schema_view(
    list=extend_schema(summary="Lista as contas de WhatsApp (segredos nunca são devolvidos)"),
    create=extend_schema(
        summary="Cadastra uma conta de WhatsApp",
        responses={201: WhatsAppAccountSerializer, 409: conflict},
    ),
    partial_update=extend_schema(
        summary="Altera uma conta; segredos omitidos são mantidos",
        responses={200: WhatsAppAccountSerializer, 409: conflict},
    ),
    destroy=extend_schema(summary="Remove a conta (mensagens recebidas são mantidas)"),
)
class WhatsAppAccountViewSet(AdminSettingsViewSet):
    queryset = WhatsAppAccount.objects.all()
    serializer_class = WhatsAppAccountSerializer

    def perform_create(self, serializer: serializers.BaseSerializer[Any]) -> None:
        serializer.instance = services.whatsapp_account_create(
            organization=self.organization, data=dict(serializer.validated_data)
        )

    def perform_update(self, serializer: serializers.BaseSerializer[Any]) -> None:
        assert isinstance(serializer.instance, WhatsAppAccount)
        serializer.instance = services.whatsapp_account_update(
            account=serializer.instance, data=dict(serializer.validated_data)
        )

    def perform_destroy(self, instance: WhatsAppAccount) -> None:
        services.whatsapp_account_delete(account=instance)
