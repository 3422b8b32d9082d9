"""Sales dashboard and lead timeline endpoints (mixed into `LeadViewSet` as extra actions)."""

from __future__ import annotations

import uuid
from typing import Any, cast

from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, gettext_noop
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from config.api import output
from config.cycles import release_serializer
from leads import dashboard_selectors, timeline
from leads.models import PIPELINE_ORDER, Lead
from organizations.models import Membership
from organizations.permissions import SALES_ROLES
from organizations.scoping import request_membership

# DOMAIN.md: admin and gestor see all, closer/SDR their own figures, mentor nothing.
DASHBOARD_ROLES = SALES_ROLES


class PerformanceQuerySerializer(serializers.Serializer[Any]):
    period = serializers.IntegerField(
        min_value=dashboard_selectors.MIN_PERIOD_DAYS,
        max_value=dashboard_selectors.MAX_PERIOD_DAYS,
        default=dashboard_selectors.DEFAULT_PERIOD_DAYS,
        help_text=gettext_lazy("Número de dias (1-365) terminando agora."),
    )
    closer_id = serializers.CharField(required=False, allow_null=True)

    def validate_closer_id(self, value: Any) -> Any:
        membership: Membership = self.context["membership"]
        if value is None:
            return None
        try:  # an id, or `me` as on every member filter
            value = membership.pk if value == "me" else uuid.UUID(value)
        except ValueError:
            raise serializers.ValidationError(_("Use o id de um membro ou 'me'.")) from None
        if membership.is_seller:
            # Sellers always see their own figures: the parameter is overridden, not checked.
            return None
        exists = Membership.objects.for_org(membership.organization_id).filter(pk=value).exists()
        if not exists:
            raise serializers.ValidationError(_("Membro não encontrado nesta organização."))
        return value


class MetricsSerializer(serializers.Serializer[Any]):
    total_leads = serializers.IntegerField()
    leads_qualificados = serializers.IntegerField()
    leads_convertidos = serializers.IntegerField()
    taxa_conversao = serializers.FloatField()
    valor_total_convertido = serializers.DecimalField(max_digits=16, decimal_places=2)
    ticket_medio = serializers.DecimalField(max_digits=16, decimal_places=2, allow_null=True)
    tempo_medio_conversao_dias = serializers.FloatField(allow_null=True)
    total_interacoes = serializers.IntegerField()
    leads_quentes = serializers.IntegerField()
    leads_mornos = serializers.IntegerField()
    leads_frios = serializers.IntegerField()
    score_medio = serializers.FloatField(allow_null=True)


class FunnelStageSerializer(serializers.Serializer[Any]):
    status = serializers.ChoiceField(choices=PIPELINE_ORDER)
    count = serializers.IntegerField()
    percentual = serializers.FloatField()
    entraram = serializers.IntegerField(
        help_text=gettext_lazy("Leads que entraram nesta etapa no período.")
    )
    avancaram = serializers.IntegerField(
        help_text=gettext_lazy("Dos que entraram, quantos chegaram a uma etapa seguinte.")
    )
    taxa_avanco = serializers.FloatField(allow_null=True)
    tempo_medio_dias = serializers.FloatField(allow_null=True)


class TopCloserSerializer(serializers.Serializer[Any]):
    closer_id = serializers.UUIDField()
    nome_completo = serializers.CharField()
    total_leads = serializers.IntegerField()
    convertidos = serializers.IntegerField()
    taxa_conversao = serializers.FloatField()
    valor_convertido = serializers.DecimalField(max_digits=16, decimal_places=2)
    total_interacoes = serializers.IntegerField()


class PeriodSerializer(serializers.Serializer[Any]):
    dias = serializers.IntegerField()
    inicio = serializers.DateTimeField()
    fim = serializers.DateTimeField()
    closer_id = serializers.UUIDField(allow_null=True)
    sdr_id = serializers.UUIDField(allow_null=True)


class SalesDashboardSerializer(serializers.Serializer[Any]):
    periodo = PeriodSerializer(help_text=gettext_lazy("Janela e recorte efetivamente usados."))
    metrics = MetricsSerializer()
    funnel = FunnelStageSerializer(many=True)
    topClosers = TopCloserSerializer(many=True)  # the contract's (camelCase) name
    atualizado_em = serializers.DateTimeField(
        help_text=gettext_lazy(
            "Momento em que os números eram exatos (a leitura): os agregados diários são "
            "completados com os dados ainda não consolidados, então não há atraso."
        )
    )


class TimelineItemSerializer(serializers.Serializer[Any]):
    tipo = serializers.CharField(
        help_text=gettext_lazy(
            "interaction, status_change, task (e outros tipos registrados por outros módulos)."
        )
    )
    id = serializers.CharField()
    at = serializers.DateTimeField()


_DASHBOARD_DESCRIPTION = gettext_noop("""
Números da janela `[agora - period dias, agora]` e do escopo (a organização; os leads de um
closer com `closer_id`; para um closer sempre os próprios leads, para um SDR os leads em que é
o SDR). As definições estão em `leads/dashboard_selectors.py`; em resumo:
`total_leads`, `leads_qualificados` (chegaram a qualificado ou além), temperaturas e
`score_medio` contam os leads **criados** na janela; `leads_convertidos`,
`valor_total_convertido`, `ticket_medio` e `tempo_medio_conversao_dias` os leads
**convertidos** na janela (criados quando for); `total_interacoes` conta as interações da
janela. O `count` do funil é pelo status atual dos leads criados; `entraram`/`avancaram`/
`taxa_avanco`/`tempo_medio_dias` vêm das mudanças de status da janela. Um `closer_id` que não é
membro da organização é um 400. Médias sobre nada são null; taxas, 0.
""")


class LeadReportsMixin:
    """`GET /leads/performance/` and `GET /leads/{id}/timeline/`."""

    @extend_schema(
        summary=gettext_noop("Painel de vendas (métricas, funil e top closers)"),
        description=_DASHBOARD_DESCRIPTION,
        parameters=[
            OpenApiParameter(
                "period", OpenApiTypes.INT, description=gettext_noop("1-365, padrão 30")
            ),
            OpenApiParameter(
                "closer_id",
                OpenApiTypes.STR,
                description=gettext_lazy("Id de um membro, ou `me` para o requisitante."),
            ),
        ],
        filters=False,
        responses={
            200: SalesDashboardSerializer,
            400: OpenApiResponse(description=gettext_noop("period ou closer_id inválido")),
            403: OpenApiResponse(description=gettext_noop("Papel sem acesso (mentor)")),
        },
    )
    @action(detail=False, methods=["get"], pagination_class=None, filter_backends=[])
    def performance(self, request: Request) -> Response:
        membership = request_membership(request)
        params = {key: value for key, value in request.query_params.items() if value != ""}
        query = PerformanceQuerySerializer(
            data={k: params[k] for k in ("period", "closer_id") if k in params},
            context={"membership": membership},
        )
        query.is_valid(raise_exception=True)
        scope = dashboard_selectors.dashboard_scope(
            membership=membership,
            period_days=query.validated_data["period"],
            closer_id=query.validated_data.get("closer_id"),
        )
        release_serializer(query)
        body = {
            "periodo": {
                "dias": scope.period_days,
                "inicio": scope.start,
                "fim": scope.end,
                "closer_id": scope.closer_id,
                "sdr_id": scope.sdr_id,
            },
            **dashboard_selectors.sales_dashboard(scope),
        }
        return Response(output.represent(SalesDashboardSerializer, body))

    @extend_schema(
        summary=gettext_noop(
            "Linha do tempo do lead (interações, mudanças de status, tarefas, ...)"
        ),
        description=(
            gettext_noop(
                "Uma lista, mais recentes primeiro (`at`), paginada. Cada item é `{tipo, id, at, "
                "...}` com os campos do seu tipo; outros módulos registram mais tipos "
                "(`leads/timeline.py`)."
            )
        ),
        filters=False,
        responses={
            200: TimelineItemSerializer(many=True),
            404: OpenApiResponse(description=gettext_noop("Lead inexistente ou não visível")),
        },
    )
    @action(detail=True, methods=["get"], filter_backends=[])
    def timeline(self, request: Request, pk: str | None = None) -> Response:
        view: Any = self
        lead: Lead = get_object_or_404(view.visible_leads(), pk=pk)
        # The paginator itself: a timeline is no queryset, so it is sliced as it is (the
        # view's `page_rows` reads pages of leads only).
        rows = view.paginator.paginate_queryset(timeline.LeadTimeline(lead), request, view=view)
        return cast(
            "Response", view.get_paginated_response([timeline.timeline_item(row) for row in rows])
        )
