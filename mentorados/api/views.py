"""Mentees, their financial evolution and feedback, and the mentee dashboard.

Role rules (DOMAIN.md): admin and gestor read and write everything; closer and sdr read; a
mentor reads every mentee of the organization (mentors cover for each other and the dashboard
is organization-wide, so hiding peers' mentees would buy nothing) but writes only the mentees
whose mentor they are. Writes on someone else's mentee, or creating/reassigning a mentee to
another mentor, are a 403 (the request is well-formed; the requester lacks the right).
Deleting a mentee (and its whole history) is for admin and gestor only; mentors cancel instead.
"""

from __future__ import annotations

from typing import Any, cast

from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, gettext_noop
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import exceptions, mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from config.api.sync import ConditionalUpdateMixin
from config.cycles import release_serializer
from mentorados import figures, selectors, services
from mentorados.api.filters import MentoradoFilter
from mentorados.api.serializers import (
    DashboardQuerySerializer,
    DashboardSerializer,
    EvolucaoSerializer,
    FeedbackSerializer,
    MentoradoSerializer,
)
from mentorados.models import EvolucaoFinanceira, Mentorado, MentoradoFeedback
from organizations import access
from organizations.models import Membership, Role
from organizations.permissions import MANAGERS
from organizations.scoping import OrgScopedMixin

MENTEE_WRITERS = MANAGERS | {Role.MENTOR}
# Shared by every dashboard response instead of a field built per request.
DASHBOARD_MOMENT = serializers.DateTimeField()


class NotYourMentee(exceptions.PermissionDenied):
    default_detail = gettext_lazy("Mentores só podem alterar os próprios mentorados.")
    default_code = "not_your_mentee"


def ensure_may_write(membership: Membership, mentorado: Mentorado) -> None:
    """Object-level rule: a mentor writes only the mentees they mentor."""
    if not access.may_write_mentee(membership, mentorado.mentor_id):
        raise NotYourMentee()


class MentoradoAccessMixin(OrgScopedMixin):
    read_roles = access.MENTEES.read
    write_roles = access.MENTEES.change

    def get_mentorado(self) -> Mentorado:
        """The mentee of the URL (404 for another organization's)."""
        return cast(
            "Mentorado",
            get_object_or_404(
                Mentorado.objects.for_org(self.organization), pk=self.kwargs["mentorado_pk"]
            ),
        )


@extend_schema_view(
    list=extend_schema(
        summary=gettext_noop("Lista mentorados (filtros status, mentor_id, search)")
    ),
    create=extend_schema(
        summary=gettext_noop("Cria um mentorado"),
        description=gettext_noop(
            "Mentor: mentor_id omitido vira o próprio requisitante; outro mentor (ou null) é 403."
        ),
    ),
    retrieve=extend_schema(summary=gettext_noop("Um mentorado")),
    partial_update=extend_schema(
        summary=gettext_noop("Altera um mentorado (mentor: só os próprios)")
    ),
    destroy=extend_schema(
        summary=gettext_noop("Exclui um mentorado e seu histórico (admin e gestor)")
    ),
)
class MentoradoViewSet(
    ConditionalUpdateMixin, MentoradoAccessMixin, viewsets.ModelViewSet[Mentorado]
):
    queryset = Mentorado.objects.all()
    serializer_class = MentoradoSerializer
    filterset_class = MentoradoFilter
    ordering_fields = [
        "created_at",
        "nome_completo",
        "data_inicio",
        "engagement_score",
        "faturamento_atual",
        "crescimento_percentual",
        "updated_at",
    ]
    ordering = ["-created_at", "-id"]
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]
    action_roles = {"destroy": access.MENTEES.delete}

    def get_queryset(self) -> Any:
        return selectors.mentorado_list_queryset(organization=self.organization)

    def perform_create(self, serializer: serializers.BaseSerializer[Mentorado]) -> None:
        data = dict(serializer.validated_data)
        if self.membership.role == Role.MENTOR:
            if "mentor" not in data:
                data["mentor"] = self.membership
            elif data["mentor"] is None or data["mentor"].pk != self.membership.pk:
                raise NotYourMentee(_("Mentores só podem cadastrar mentorados para si mesmos."))
        mentorado = services.mentorado_create(
            organization=self.organization, actor=self.membership, data=data
        )
        serializer.instance = self.get_queryset().get(pk=mentorado.pk)

    def perform_update(self, serializer: serializers.BaseSerializer[Mentorado]) -> None:
        instance = serializer.instance
        if not isinstance(instance, Mentorado):
            raise TypeError("instance is not a Mentorado")
        ensure_may_write(self.membership, instance)
        data = dict(serializer.validated_data)
        if self.membership.role == Role.MENTOR and "mentor" in data:
            new_mentor = data["mentor"]
            if new_mentor is None or new_mentor.pk != self.membership.pk:
                raise NotYourMentee(_("Somente admin ou gestor podem trocar o mentor."))
        mentorado = services.mentorado_update(mentorado=instance, actor=self.membership, data=data)
        serializer.instance = self.get_queryset().get(pk=mentorado.pk)

    def perform_destroy(self, instance: Mentorado) -> None:
        services.mentorado_delete(mentorado=instance, actor=self.membership)

    @extend_schema(
        summary=gettext_noop("Painel de mentorados"),
        parameters=[DashboardQuerySerializer],
        responses={200: DashboardSerializer},
        description=selectors.mentorado_dashboard.__doc__,
    )
    @action(detail=False, methods=["get"], url_path="dashboard", pagination_class=None)
    def dashboard(self, request: Request) -> Response:
        query = DashboardQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        period = query.validated_data["period"]
        release_serializer(query)
        data = selectors.mentorado_dashboard(organization=self.organization, period=period)
        data["atualizado_em"] = DASHBOARD_MOMENT.to_representation(data["atualizado_em"])
        return Response(data)


@extend_schema_view(
    list=extend_schema(
        summary=gettext_noop(
            "Meses informados do mentorado, em ordem cronológica, com crescimento_mensal"
        )
    ),
    create=extend_schema(
        summary=gettext_noop("Informa um mês (cria 201 ou atualiza o mesmo mês 200)"),
        responses={
            201: EvolucaoSerializer,
            200: OpenApiResponse(
                EvolucaoSerializer, description=gettext_noop("Mês já existia: atualizado")
            ),
        },
    ),
)
class EvolucaoViewSet(
    MentoradoAccessMixin,
    mixins.ListModelMixin,
    mixins.CreateModelMixin,
    viewsets.GenericViewSet[EvolucaoFinanceira],
):
    queryset = EvolucaoFinanceira.objects.all()
    serializer_class = EvolucaoSerializer
    # Chronological by default; crescimento_mensal is computed before ordering and paging.
    ordering_fields = ["ano", "mes"]
    ordering = ["ano", "mes"]

    def get_queryset(self) -> Any:
        return selectors.evolucao_list_queryset(mentorado=self.get_mentorado()).order_by(
            "ano", "mes"
        )

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        mentorado = self.get_mentorado()
        ensure_may_write(self.membership, mentorado)
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        row, created = services.evolucao_upsert(
            mentorado=mentorado, actor=self.membership, data=dict(serializer.validated_data)
        )
        row.crescimento_mensal_value = figures.percent_change(  # type: ignore[attr-defined]
            row.faturamento, selectors.previous_month_faturamento(row)
        )
        return Response(
            self.get_serializer(row).data,
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )


@extend_schema_view(
    list=extend_schema(summary=gettext_noop("Feedbacks do mentorado, mais recentes primeiro")),
    create=extend_schema(
        summary=gettext_noop("Registra um feedback (nota_geral <= 5 notifica mentor e gestores)"),
        responses={201: FeedbackSerializer},
    ),
)
class FeedbackViewSet(
    MentoradoAccessMixin,
    mixins.ListModelMixin,
    mixins.CreateModelMixin,
    viewsets.GenericViewSet[MentoradoFeedback],
):
    queryset = MentoradoFeedback.objects.all()
    serializer_class = FeedbackSerializer
    ordering_fields = ["data_feedback", "created_at", "nota_nps", "nota_geral"]
    ordering = ["-data_feedback", "-created_at"]

    def get_queryset(self) -> Any:
        return MentoradoFeedback.objects.filter(mentorado=self.get_mentorado())

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        mentorado = self.get_mentorado()
        ensure_may_write(self.membership, mentorado)
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        feedback = services.feedback_create(
            mentorado=mentorado, actor=self.membership, data=dict(serializer.validated_data)
        )
        return Response(self.get_serializer(feedback).data, status=status.HTTP_201_CREATED)
