"""Follow-up endpoints: sequences (+ manual enrollment), executions (+ state changes), replies."""

from __future__ import annotations

from typing import Any

import django_filters
from django.db.models import QuerySet
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import exceptions, generics, mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from config.api.filters import AnyOfFilter, StrictBooleanFilter
from followup import selectors, services
from followup.api.serializers import (
    EnrollResultSerializer,
    EnrollSerializer,
    ExecutionLogSerializer,
    ExecutionSerializer,
    ResponseResultSerializer,
    ResponseSerializer,
    SequenceSerializer,
)
from followup.models import ExecutionStatus, FollowupExecution, FollowupSequence
from leads import signals
from leads.models import Lead
from organizations import access
from organizations.permissions import SALES_ROLES
from organizations.scoping import OrgScopedMixin


class SequenceFilter(django_filters.FilterSet):
    ativo = StrictBooleanFilter()

    class Meta:
        model = FollowupSequence
        fields: list[str] = []


@extend_schema_view(
    create=extend_schema(
        summary=gettext_noop(
            "Cria uma sequência; ativa, inscreve os leads que atendem aos critérios "
            "em segundo plano"
        )
    ),
    partial_update=extend_schema(
        summary=gettext_noop(
            "Altera uma sequência; passos novos valem só para novas inscrições "
            "(cada inscrição guarda a versão dos passos); desativar pausa as execuções, "
            "reativar as retoma"
        )
    ),
)
class SequenceViewSet(OrgScopedMixin, viewsets.ModelViewSet[FollowupSequence]):
    """Follow-up sequences: admin/gestor write, closer/SDR read."""

    queryset = FollowupSequence.objects.all()
    serializer_class = SequenceSerializer
    filterset_class = SequenceFilter
    ordering_fields = ["created_at", "nome", "updated_at"]
    ordering = ["-created_at", "-id"]
    read_roles = access.SEQUENCES.read
    write_roles = access.SEQUENCES.change

    def get_queryset(self) -> QuerySet[FollowupSequence]:
        return selectors.sequence_list_queryset(organization=self.organization)

    def _reload(self, sequence: FollowupSequence) -> FollowupSequence:
        return self.get_queryset().get(pk=sequence.pk)

    def perform_create(self, serializer: serializers.BaseSerializer[FollowupSequence]) -> None:
        sequence = services.sequence_create(
            organization=self.organization,
            actor=self.membership,
            data=dict(serializer.validated_data),
        )
        serializer.instance = self._reload(sequence)

    def perform_update(self, serializer: serializers.BaseSerializer[FollowupSequence]) -> None:
        if not isinstance(serializer.instance, FollowupSequence):
            raise TypeError("serializer.instance is not a FollowupSequence")
        sequence = services.sequence_update(
            sequence=serializer.instance,
            actor=self.membership,
            data=dict(serializer.validated_data),
        )
        serializer.instance = self._reload(sequence)

    def perform_destroy(self, instance: FollowupSequence) -> None:
        services.sequence_delete(sequence=instance)

    @extend_schema(
        summary=gettext_noop("Inscreve leads escolhidos agora (critérios não se aplicam)"),
        request=EnrollSerializer,
        responses={
            200: EnrollResultSerializer,
            400: OpenApiResponse(
                description=gettext_noop("lead_ids inválidos ou de outra organização")
            ),
            409: OpenApiResponse(description=gettext_noop("Sequência inativa")),
        },
    )
    @action(detail=True, methods=["post"])
    def enroll(self, request: Request, pk: str | None = None) -> Response:
        sequence = self.get_object()
        body = EnrollSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        wanted = list(dict.fromkeys(body.validated_data["lead_ids"]))
        leads = list(Lead.objects.for_org(self.organization).filter(pk__in=wanted))
        found = {lead.pk for lead in leads}
        missing = [str(lead_id) for lead_id in wanted if lead_id not in found]
        if missing:
            raise exceptions.ValidationError(
                {
                    "lead_ids": [
                        _("Leads não encontrados nesta organização: %(ids)s.")
                        % {"ids": ", ".join(missing)}
                    ]
                }
            )
        result = services.followup_enroll_leads(
            sequence=sequence, leads=leads, actor=self.membership
        )
        return Response({"enrolled": result.enrolled, "skipped": result.skipped})

    @extend_schema(
        summary=gettext_noop(
            "Resultados da sequência: inscritos, enviados, falhas, pulados por motivo, "
            "respondidos, convertidos e opt-outs, no total, por passo e por variante A/B"
        ),
        responses={200: OpenApiTypes.OBJECT},
    )
    @action(detail=True, methods=["get"])
    def stats(self, request: Request, pk: str | None = None) -> Response:
        return Response(selectors.sequence_stats(sequence=self.get_object()))


class ExecutionFilter(django_filters.FilterSet):
    status = AnyOfFilter(allowed=ExecutionStatus.values)
    lead_id = django_filters.UUIDFilter(field_name="lead_id")
    sequence_id = django_filters.UUIDFilter(field_name="sequence_id")

    class Meta:
        model = FollowupExecution
        fields: list[str] = []


_STATE_RESPONSES = {
    200: ExecutionSerializer,
    409: OpenApiResponse(
        description=gettext_noop("A execução já terminou (ou a sequência está inativa)")
    ),
}


class ExecutionViewSet(
    OrgScopedMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet[FollowupExecution],
):
    """Executions: closers and SDRs see and pause/resume/cancel those of the leads they may
    write (their visible leads); managers every one of the organization."""

    queryset = FollowupExecution.objects.all()
    serializer_class = ExecutionSerializer
    filterset_class = ExecutionFilter
    ordering_fields = ["created_at", "proxima_execucao", "updated_at"]
    ordering = ["-created_at", "-id"]
    read_roles = access.EXECUTIONS.read
    write_roles = access.EXECUTIONS.change

    def get_queryset(self) -> QuerySet[FollowupExecution]:
        return selectors.execution_list_queryset(membership=self.membership)

    def _respond(self, execution: FollowupExecution) -> Response:
        return Response(self.get_serializer(self.get_queryset().get(pk=execution.pk)).data)

    @extend_schema(
        summary=gettext_noop("Pausa a execução"), request=None, responses=_STATE_RESPONSES
    )
    @action(detail=True, methods=["post"])
    def pause(self, request: Request, pk: str | None = None) -> Response:
        execution = services.execution_pause(execution=self.get_object(), actor=self.membership)
        return self._respond(execution)

    @extend_schema(
        summary=gettext_noop("Retoma a execução (próximo horário recalculado)"),
        request=None,
        responses=_STATE_RESPONSES,
    )
    @action(detail=True, methods=["post"])
    def resume(self, request: Request, pk: str | None = None) -> Response:
        execution = services.execution_resume(execution=self.get_object(), actor=self.membership)
        return self._respond(execution)

    @extend_schema(
        summary=gettext_noop("Cancela a execução"), request=None, responses=_STATE_RESPONSES
    )
    @action(detail=True, methods=["post"])
    def cancel(self, request: Request, pk: str | None = None) -> Response:
        execution = services.execution_cancel(execution=self.get_object(), actor=self.membership)
        return self._respond(execution)

    @extend_schema(
        summary=gettext_noop("Registros da execução"), responses=ExecutionLogSerializer(many=True)
    )
    @action(detail=True, methods=["get"], serializer_class=ExecutionLogSerializer)
    def logs(self, request: Request, pk: str | None = None) -> Response:
        execution = self.get_object()
        queryset = execution.logs.order_by("created_at", "id")
        page = self.paginate_queryset(queryset)
        serializer = ExecutionLogSerializer(page if page is not None else queryset, many=True)
        if page is not None:
            return self.get_paginated_response(serializer.data)
        return Response(serializer.data)

    def filter_queryset(self, queryset: QuerySet[Any]) -> QuerySet[Any]:
        # The log list has its own fixed order; execution filters do not apply to it.
        if self.action == "logs":
            return queryset
        return super().filter_queryset(queryset)


class ResponseView(OrgScopedMixin, generics.GenericAPIView[Lead]):
    """A lead replied (registered by a member): executions responded, interaction, notice."""

    queryset = Lead.objects.all()
    serializer_class = ResponseSerializer
    write_roles = SALES_ROLES
    read_roles = SALES_ROLES
    pagination_class = None
    filter_backends: list[Any] = []

    @extend_schema(
        summary=gettext_noop("Registra a resposta de um lead ao follow-up"),
        request=ResponseSerializer,
        responses={
            200: ResponseResultSerializer,
            400: OpenApiResponse(
                description=gettext_noop("Dados inválidos ou lead de outra organização")
            ),
        },
    )
    def post(self, request: Request) -> Response:
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        lead: Lead = data["lead_id"]
        # The same signal the WhatsApp webhook sends, so every listener sees every reply.
        replies: list[tuple[Any, Any]] = signals.lead_replied.send(
            sender=Lead,
            lead=lead,
            channel=data["channel"],
            message=data["message"],
            received_at=data.get("received_at"),
        )
        result: services.ReplyResult | None = next(
            (value for _receiver, value in replies if isinstance(value, services.ReplyResult)),
            None,
        )
        if result is None:  # pragma: no cover - the receiver is connected in FollowupConfig
            result = services.followup_register_reply(
                lead=lead, channel=data["channel"], message=data["message"]
            )
        message = _(
            "Resposta registrada: %(n)s execução(ões) de follow-up marcada(s) como respondida(s)."
        ) % {"n": result.responded}
        return Response(
            {
                "success": True,
                "message": message,
                "responded": result.responded,
                "interaction_id": result.interaction_id,
            },
            status=status.HTTP_200_OK,
        )
