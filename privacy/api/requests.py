"""`/api/v1/privacy/requests/` (data subject requests) and `/api/v1/privacy/retention/`."""

from __future__ import annotations

import json
from typing import Any

from django.http import HttpResponse
from django.utils.translation import gettext_noop
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from organizations.permissions import ADMIN_ONLY
from organizations.scoping import UUID_RE, OrgScopedMixin, request_membership
from privacy import requests as privacy_requests
from privacy import retention
from privacy.models import REQUEST_FIELDS, DataSubjectRequest, RetentionSettings


class DataSubjectRequestSerializer(serializers.ModelSerializer[DataSubjectRequest]):
    solicitado_por = serializers.SerializerMethodField()
    download_disponivel = serializers.SerializerMethodField()

    class Meta:
        model = DataSubjectRequest
        fields = ["id", *REQUEST_FIELDS, "download_disponivel"]
        read_only_fields = fields

    def get_solicitado_por(self, obj: DataSubjectRequest) -> dict[str, str] | None:
        if obj.solicitado_por is None:
            return None
        return {"id": str(obj.solicitado_por.pk), "nome_completo": obj.solicitado_por.nome_completo}

    def get_download_disponivel(self, obj: DataSubjectRequest) -> bool:
        from django.utils import timezone

        return bool(
            obj.tipo == "exportacao"
            and obj.status == "concluida"
            and obj.expira_em
            and obj.expira_em > timezone.now()
        )


request_input = inline_serializer(
    "DataSubjectRequestInput",
    {
        "tipo": serializers.ChoiceField(choices=["exportacao", "anonimizacao"]),
        "email": serializers.EmailField(required=False),
        "telefone": serializers.CharField(required=False),
        "lead_id": serializers.UUIDField(required=False),
        "mentorado_id": serializers.UUIDField(required=False),
    },
)


class DataSubjectRequestViewSet(
    OrgScopedMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet[DataSubjectRequest],
):
    """LGPD requests of the organization's people: export or anonymisation (admins only)."""

    read_roles = ADMIN_ONLY
    write_roles = ADMIN_ONLY
    queryset = DataSubjectRequest.objects.select_related("solicitado_por")
    serializer_class = DataSubjectRequestSerializer
    filter_backends: list[Any] = []
    lookup_value_regex = UUID_RE

    def get_queryset(self) -> Any:
        return super().get_queryset().order_by("-criado_em", "-id")

    @extend_schema(
        request=request_input,
        responses={
            201: DataSubjectRequestSerializer,
            404: OpenApiResponse(description=gettext_noop("Nenhum titular com esse identificador")),
            409: OpenApiResponse(
                description=gettext_noop("Já há uma solicitação em andamento para o titular")
            ),
        },
        summary=gettext_noop("Cria uma solicitação de titular (exportação ou anonimização)"),
    )
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        data = request.data if isinstance(request.data, dict) else {}
        created = privacy_requests.request_create(
            organization=self.organization, actor=self.membership, data=dict(data)
        )
        return Response(self.get_serializer(created).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        request=None,
        responses={
            200: OpenApiTypes.OBJECT,
            404: OpenApiResponse(description=gettext_noop("Sem arquivo")),
        },
        summary=gettext_noop("Baixa a exportação (JSON, por 7 dias); o download é registrado"),
    )
    @action(detail=True, methods=["get"])
    def download(self, request: Request, pk: str | None = None) -> HttpResponse:
        document, filename = privacy_requests.request_download(
            request=self.get_object(), actor=self.membership
        )
        response = HttpResponse(
            json.dumps(document, ensure_ascii=False, indent=1),
            content_type="application/json; charset=utf-8",
        )
        response["Content-Disposition"] = f'attachment; filename="{filename}"'
        response["Cache-Control"] = "no-store"
        return response

    @extend_schema(
        request=None,
        responses={
            200: DataSubjectRequestSerializer,
            409: OpenApiResponse(description=gettext_noop("A solicitação não falhou")),
        },
        summary=gettext_noop("Executa de novo uma solicitação que falhou (retoma de onde parou)"),
    )
    @action(detail=True, methods=["post"])
    def retry(self, request: Request, pk: str | None = None) -> Response:
        retried = privacy_requests.request_retry(request=self.get_object())
        return Response(self.get_serializer(retried).data)


class RetentionSerializer(serializers.ModelSerializer[RetentionSettings]):
    class Meta:
        model = RetentionSettings
        fields = [
            "leads_perdidos_dias",
            "webhooks_dias",
            "envios_dias",
            "ultima_execucao",
            "ultimo_resultado",
        ]
        read_only_fields = fields


class RetentionView(APIView):
    """The organization's retention periods (admins read and change them)."""

    read_roles = ADMIN_ONLY
    write_roles = ADMIN_ONLY

    @extend_schema(
        responses=RetentionSerializer, summary=gettext_noop("Prazos de retenção de dados")
    )
    def get(self, request: Request) -> Response:
        organization = request_membership(request).organization
        settings = retention.retention_settings_get(organization=organization)
        return Response(RetentionSerializer(settings).data)

    @extend_schema(
        request=inline_serializer(
            "RetentionInput",
            {
                "leads_perdidos_dias": serializers.IntegerField(allow_null=True, required=False),
                "webhooks_dias": serializers.IntegerField(required=False),
                "envios_dias": serializers.IntegerField(allow_null=True, required=False),
            },
        ),
        responses=RetentionSerializer,
        summary=gettext_noop("Altera os prazos de retenção"),
    )
    def patch(self, request: Request) -> Response:
        organization = request_membership(request).organization
        data = request.data if isinstance(request.data, dict) else {"": None}
        settings = retention.retention_settings_update(organization=organization, data=dict(data))
        return Response(RetentionSerializer(settings).data)
