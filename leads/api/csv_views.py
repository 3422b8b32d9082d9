"""CSV import/export endpoints: `POST /leads/import/`, `GET /leads/export/`, `/imports/{id}/`.

Roles (DOMAIN.md role table, leads): importing is a write, so admin, gestor, closer and SDR
(a seller's imported leads are assigned to them, as with an API create); exporting is a bulk
copy of personal data, so it goes to the roles that work leads (admin, gestor, closer, SDR),
each seeing exactly what their lead list shows; mentors (read-only on leads) can do neither.
Sellers see only the imports they uploaded.
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.http import StreamingHttpResponse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, gettext_noop
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    inline_serializer,
)
from rest_framework import exceptions, mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.parsers import MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response

from config.api.exceptions import PayloadTooLarge
from leads import csv_io, signals
from leads.models import Lead, LeadImport, LeadImportStatus
from organizations.permissions import SALES_ROLES
from organizations.scoping import OrgScopedMixin, request_membership

IMPORT_ROLES = csv_io.IMPORT_ROLES
EXPORT_ROLES = SALES_ROLES
EXPORT_FORMATS = ("excel", "csv")


class LeadImportSerializer(serializers.ModelSerializer[LeadImport]):
    created_by_id = serializers.UUIDField(read_only=True)
    created = serializers.IntegerField(source="created_count", read_only=True)

    class Meta:
        model = LeadImport
        fields = [
            "id",
            "status",
            "filename",
            "created_by_id",
            "total_rows",
            "processed_rows",
            "created",
            "duplicates_skipped",
            "invalid_rows",
            "errors",
            "error_message",
            "created_at",
            "started_at",
            "finished_at",
        ]
        read_only_fields = fields
        extra_kwargs = {
            "errors": {
                "help_text": gettext_lazy(
                    "Erros por linha: [{line, field, message}] (no máximo 1000; "
                    "invalid_rows é exato)."
                )
            }
        }


class LeadImportUploadSerializer(serializers.Serializer[Any]):
    file = serializers.FileField(
        label=gettext_lazy("Arquivo"),
        help_text=gettext_lazy(
            "CSV (UTF-8, separado por ; ou ,) ou XLSX com cabeçalho: nome_completo obrigatória; "
            "email, telefone, empresa, cargo, origem, status, valor_potencial, valor_fechado, "
            "tags, observacoes, motivo_perda, utm_source, utm_medium, utm_campaign. Cabeçalhos em "
            "português (Nome, E-mail, Telefone, "
            "Valor...) e valores como aparecem na tela (Em contato, Indicação) são aceitos."
        ),
    )


class LeadCsvMixin:
    """Import and export actions of `LeadViewSet`."""

    @extend_schema(
        summary=gettext_noop("Importa leads de um CSV (processado em segundo plano)"),
        request={"multipart/form-data": LeadImportUploadSerializer},
        filters=False,
        responses={
            202: inline_serializer(
                "LeadImportAccepted",
                {"id": serializers.UUIDField(), "status": serializers.CharField()},
            ),
            400: OpenApiResponse(
                description=gettext_noop("Arquivo ausente, ilegível ou cabeçalho inválido")
            ),
            413: OpenApiResponse(description=gettext_noop("Arquivo maior que o limite (5 MB)")),
            415: OpenApiResponse(description=gettext_noop("Envie multipart/form-data")),
        },
    )
    @action(
        detail=False,
        methods=["post"],
        url_path="import",
        url_name="import",
        # The browsable API renders its form from the action's serializer: a file field.
        serializer_class=LeadImportUploadSerializer,
        parser_classes=[MultiPartParser],
        pagination_class=None,
        filter_backends=[],
    )
    def import_csv(self, request: Request) -> Response:
        # Refuse an oversized body before the parser spools it to disk.
        if _content_length(request) > csv_io.max_bytes() + MULTIPART_OVERHEAD:
            raise _too_large()
        upload = request.data.get("file") if hasattr(request.data, "get") else None
        if upload is None or not hasattr(upload, "read"):
            raise exceptions.ValidationError({"file": [_("Envie o arquivo CSV no campo 'file'.")]})
        if upload.size > csv_io.max_bytes():
            raise _too_large()
        try:
            parsed = csv_io.read_upload(upload.read())
        except csv_io.CsvProblem as problem:
            raise exceptions.ValidationError(problem.details) from None
        membership = request_membership(request)
        lead_import = csv_io.lead_import_create(
            organization=membership.organization,
            actor=membership,
            filename=upload.name or "",
            parsed=parsed,
        )
        return Response(
            {"id": str(lead_import.pk), "status": lead_import.status},
            status=status.HTTP_202_ACCEPTED,
        )

    @extend_schema(
        summary=gettext_noop("Exporta os leads filtrados em CSV"),
        description=(
            gettext_noop(
                "Mesmos filtros, ordenação e visibilidade da lista. `formato=excel` (padrão): "
                "separado por `;`, UTF-8 com BOM, vírgula decimal (Excel pt-BR). `formato=csv`: "
                "UTF-8 separado por vírgulas, ponto decimal. Datas e horas ISO 8601 UTC."
            )
        ),
        filters=True,
        parameters=[OpenApiParameter("formato", OpenApiTypes.STR, enum=list(EXPORT_FORMATS))],
        responses={
            (200, "text/csv"): OpenApiResponse(OpenApiTypes.STR, description=gettext_noop("CSV")),
            400: OpenApiResponse(description=gettext_noop("Filtro inválido")),
        },
    )
    @action(detail=False, methods=["get"], pagination_class=None)
    def export(self, request: Request) -> StreamingHttpResponse:
        view: Any = self
        formato = request.query_params.get("formato", "excel").strip().lower() or "excel"
        if formato not in EXPORT_FORMATS:
            raise exceptions.ValidationError(
                {"formato": [_("Use excel ou csv.")]},
            )
        queryset: QuerySet[Lead] = view.filter_queryset(view.get_queryset())
        signals.leads_exported.send(
            sender=Lead,
            organization=view.organization,
            actor=view.membership,
            filtro=dict(request.query_params.items()),
        )
        stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
        response = StreamingHttpResponse(
            (
                chunk.encode("utf-8")
                for chunk in csv_io.export_lines(queryset, excel=formato == "excel")
            ),
            content_type="text/csv; charset=utf-8",
        )
        response["Content-Disposition"] = f'attachment; filename="leads-{stamp}.csv"'
        return response

    def perform_content_negotiation(self, request: Request, force: bool = False) -> Any:
        # `Accept: text/csv` on the export must not be a 406: its errors are JSON anyway.
        view: Any = self
        if getattr(view, "action", None) == "export":
            force = True
        return super().perform_content_negotiation(request, force=force)  # type: ignore[misc]


# Room for the multipart boundaries and part headers around the file itself.
MULTIPART_OVERHEAD = 64 * 1024


def _content_length(request: Request) -> int:
    try:
        return int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return 0


def _too_large() -> PayloadTooLarge:
    return PayloadTooLarge(
        _("O arquivo passa do limite de %(mb)s MB.")
        % {"mb": round(csv_io.max_bytes() / 1024 / 1024, 1)}
    )


class LeadImportViewSet(
    OrgScopedMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet[LeadImport],
):
    """Progress of CSV imports: status, totals and per-row errors."""

    queryset = LeadImport.objects.defer("content")
    serializer_class = LeadImportSerializer
    read_roles = IMPORT_ROLES
    filter_backends: list[Any] = []

    def scope_queryset(self, queryset: QuerySet[LeadImport]) -> QuerySet[LeadImport]:
        # A wizard draft (columns not confirmed in the admin) is not an import yet.
        queryset = queryset.exclude(status=LeadImportStatus.DRAFT)
        if self.membership.is_seller:
            return queryset.filter(created_by=self.membership)
        return queryset

    def get_queryset(self) -> QuerySet[LeadImport]:
        return super().get_queryset().order_by("-created_at", "-id")
