"""CRM connections (`/api/v1/integrations/crm-connections/`) and `POST /leads/{id}/sync-crm/`."""

from __future__ import annotations

from typing import Any

from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop
from drf_spectacular.utils import (
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
    inline_serializer,
)
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from config.errors import ConflictError
from integrations import services
from integrations.api.base import AdminSettingsViewSet, ProviderURLField, SecretField
from integrations.crm import services as crm
from integrations.models import CRMConnection, CrmProvider
from leads.models import Lead
from organizations.permissions import SALES_ROLES
from organizations.scoping import request_membership


class CRMConnectionSerializer(serializers.ModelSerializer[CRMConnection]):
    """A connection; `field_mapping` holds the overrides, validated by the service."""

    provider = serializers.ChoiceField(choices=CrmProvider.choices)
    token = SecretField()
    api_base_url = ProviderURLField(required=False, allow_blank=True)
    field_mapping = serializers.JSONField(
        required=False,
        help_text=(
            "Campo nosso -> propriedade do HubSpot (nome interno) / campo do Pipedrive (nome); "
            '"" deixa de sincronizar o campo. Omitidos seguem o padrão (mapeamento_efetivo).'
        ),
    )
    mapeamento_efetivo = serializers.SerializerMethodField()
    webhook_secret = SecretField(required=False, allow_blank=True)
    webhook_url = serializers.SerializerMethodField()

    class Meta:
        model = CRMConnection
        fields = [
            "id",
            "provider",
            "token",
            "api_base_url",
            "ativo",
            "field_mapping",
            "mapeamento_efetivo",
            "webhook_user",
            "webhook_secret",
            "webhook_url",
            "last_error",
            "last_error_at",
            "last_success_at",
            "created_at",
            "updated_at",
        ]
        read_only_fields = [
            "id",
            "last_error",
            "last_error_at",
            "last_success_at",
            "created_at",
            "updated_at",
        ]

    def get_mapeamento_efetivo(self, obj: CRMConnection) -> dict[str, str]:
        return crm.connection_mapping(obj)

    def get_webhook_url(self, obj: CRMConnection) -> str:
        return services.crm_webhook_url(obj)


@extend_schema_view(
    list=extend_schema(
        summary=gettext_noop("Lista a conexão de CRM da organização (no máximo uma)")
    ),
    create=extend_schema(
        summary=gettext_noop(
            "Conecta um CRM (uma conexão por organização; o token nunca é devolvido)"
        ),
        responses={
            201: CRMConnectionSerializer,
            409: OpenApiResponse(
                description=gettext_noop("Já existe uma conexão (details.existing_id)")
            ),
        },
    ),
    partial_update=extend_schema(summary=gettext_noop("Altera a conexão; token omitido é mantido")),
)
class CRMConnectionViewSet(AdminSettingsViewSet):
    queryset = CRMConnection.objects.all()
    serializer_class = CRMConnectionSerializer

    def perform_create(self, serializer: serializers.BaseSerializer[Any]) -> None:
        serializer.instance = services.crm_connection_create(
            organization=self.organization, data=dict(serializer.validated_data)
        )

    def perform_update(self, serializer: serializers.BaseSerializer[Any]) -> None:
        if not isinstance(serializer.instance, CRMConnection):
            raise TypeError("serializer.instance is not a CRMConnection")
        serializer.instance = services.crm_connection_update(
            connection=serializer.instance, data=dict(serializer.validated_data)
        )

    def perform_destroy(self, instance: CRMConnection) -> None:
        services.crm_connection_delete(connection=instance)


class LeadCrmSyncView(APIView):
    """Enqueue a CRM sync of one lead now."""

    read_roles = SALES_ROLES
    write_roles = SALES_ROLES

    @extend_schema(
        summary=gettext_noop("Sincroniza o lead com o CRM agora (em segundo plano)"),
        request=None,
        responses={
            202: inline_serializer(
                "CrmSyncQueued",
                {
                    "status": serializers.CharField(),
                    "lead_id": serializers.UUIDField(),
                    "provider": serializers.CharField(),
                },
            ),
            404: OpenApiResponse(
                description=gettext_noop("Lead inexistente ou de outra organização")
            ),
            409: OpenApiResponse(
                description=gettext_noop("A organização não tem conexão de CRM ativa")
            ),
        },
    )
    def post(self, request: Request, lead_pk: Any) -> Response:
        membership = request_membership(request)
        lead = get_object_or_404(
            Lead.objects.for_org(membership.organization).visible_to(membership), pk=lead_pk
        )
        connection = crm.active_connection(lead.organization_id)
        if connection is None:
            raise ConflictError(_("A organização não tem conexão de CRM ativa."))
        crm.crm_request_sync(lead=lead)
        return Response(
            {"status": "queued", "lead_id": str(lead.pk), "provider": connection.provider},
            status=status.HTTP_202_ACCEPTED,
        )
