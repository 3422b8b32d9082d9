"""`/api/v1/integrations/webhook-endpoints/` and their delivery log (admins only)."""

from __future__ import annotations

from typing import Any

from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, gettext_noop
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from config.errors import ConflictError
from config.events import EVENT_TYPES
from integrations.api.base import AdminSettingsViewSet
from integrations.net import OutboundURLError, check_outbound_url
from integrations.outbound import services
from integrations.outbound.models import DELIVERY_FIELDS, WebhookDelivery, WebhookEndpoint
from organizations.permissions import ADMIN_ONLY
from organizations.scoping import OrgScopedMixin


class WebhookURLField(serializers.URLField):
    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("max_length", 500)
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> str:
        url: str = super().to_internal_value(data)
        try:
            check_outbound_url(url)
        except OutboundURLError as exc:
            raise serializers.ValidationError(str(exc)) from exc
        return url


class WebhookEndpointSerializer(serializers.ModelSerializer[WebhookEndpoint]):
    url = WebhookURLField(label=gettext_lazy("URL"))
    eventos = serializers.ListField(
        child=serializers.ChoiceField(choices=EVENT_TYPES),
        allow_empty=False,
        max_length=len(EVENT_TYPES),
        label=gettext_lazy("eventos"),
    )

    class Meta:
        model = WebhookEndpoint
        fields = [
            "id",
            "url",
            "descricao",
            "eventos",
            "ativo",
            "ultimo_sucesso_em",
            "desativado_em",
            "motivo_desativacao",
            "created_at",
            "updated_at",
        ]
        read_only_fields = [
            "id",
            "ultimo_sucesso_em",
            "desativado_em",
            "motivo_desativacao",
            "created_at",
            "updated_at",
        ]

    def validate_eventos(self, value: list[str]) -> list[str]:
        return sorted(set(value), key=EVENT_TYPES.index)


class WebhookEndpointCreatedSerializer(WebhookEndpointSerializer):
    secret = serializers.CharField(
        read_only=True,
        help_text=gettext_lazy(
            "Segredo de assinatura (Standard Webhooks); mostrado só nesta resposta."
        ),
    )

    class Meta(WebhookEndpointSerializer.Meta):
        fields = [*WebhookEndpointSerializer.Meta.fields, "secret"]


class WebhookDeliverySerializer(serializers.ModelSerializer[WebhookDelivery]):
    class Meta:
        model = WebhookDelivery
        fields = ["id", *DELIVERY_FIELDS]
        read_only_fields = fields


@extend_schema_view(
    list=extend_schema(summary=gettext_noop("Lista os webhooks de saída da organização")),
    create=extend_schema(
        summary=gettext_noop("Assina uma URL a eventos (o segredo de assinatura volta só aqui)"),
        responses={201: WebhookEndpointCreatedSerializer},
    ),
    partial_update=extend_schema(summary=gettext_noop("Altera URL, eventos ou ativo")),
)
class WebhookEndpointViewSet(AdminSettingsViewSet):
    queryset = WebhookEndpoint.objects.all()
    serializer_class = WebhookEndpointSerializer

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        endpoint, secret = services.webhook_endpoint_create(
            organization=self.organization, data=dict(serializer.validated_data)
        )
        body = WebhookEndpointCreatedSerializer(endpoint, context=self.get_serializer_context())
        return Response({**body.data, "secret": secret}, status=status.HTTP_201_CREATED)

    def perform_update(self, serializer: serializers.BaseSerializer[Any]) -> None:
        if not isinstance(serializer.instance, WebhookEndpoint):
            raise TypeError("serializer.instance is not a WebhookEndpoint")
        serializer.instance = services.webhook_endpoint_update(
            endpoint=serializer.instance, data=dict(serializer.validated_data)
        )


@extend_schema_view(
    list=extend_schema(
        summary=gettext_noop("Entregas de um webhook de saída, mais recentes primeiro")
    ),
    retrieve=extend_schema(summary=gettext_noop("Uma entrega")),
)
class WebhookDeliveryViewSet(
    OrgScopedMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet[WebhookDelivery],
):
    queryset = WebhookDelivery.objects.all()
    serializer_class = WebhookDeliverySerializer
    read_roles = ADMIN_ONLY
    write_roles = ADMIN_ONLY
    ordering_fields = ["created_at"]
    ordering = ["-created_at"]

    def scope_queryset(self, queryset: Any) -> Any:
        endpoint = get_object_or_404(
            WebhookEndpoint.objects.for_org(self.organization), pk=self.kwargs["endpoint_pk"]
        )
        return queryset.filter(endpoint=endpoint)

    @extend_schema(
        summary=gettext_noop(
            "Reenvia o evento desta entrega (mesmo webhook-id) como uma nova entrega"
        ),
        request=None,
        responses={
            202: WebhookDeliverySerializer,
            404: OpenApiResponse(
                description=gettext_noop("Entrega inexistente ou de outra organização")
            ),
            409: OpenApiResponse(description=gettext_noop("O webhook está desativado")),
        },
    )
    @action(detail=True, methods=["post"])
    def replay(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        delivery = self.get_object()
        if not delivery.endpoint.ativo:
            raise ConflictError(_("O webhook está desativado; reative-o antes de reenviar."))
        replay = services.webhook_delivery_replay(delivery=delivery)
        return Response(self.get_serializer(replay).data, status=status.HTTP_202_ACCEPTED)
