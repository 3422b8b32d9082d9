"""Leads, interactions, qualification and tasks endpoints."""

from __future__ import annotations

from functools import lru_cache
from typing import Any, cast

from django.db.models import Q, QuerySet
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop
from django_filters.filters import QuerySetRequestMixin
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
)
from rest_framework import exceptions, mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from config.api import pagination
from config.api.filters import FilterBackend, StrictOrderingFilter
from config.api.pagination import PageOrCursorPagination
from config.api.sync import ConditionalUpdateMixin
from leads import selectors, services
from leads.api.csv_views import EXPORT_ROLES, IMPORT_ROLES, LeadCsvMixin
from leads.api.filters import InteractionFilter, LeadFilter, TaskFilter
from leads.api.merge import LeadMergeMixin
from leads.api.reports import DASHBOARD_ROLES, LeadReportsMixin
from leads.api.serializers import (
    InteractionSerializer,
    LeadDetailSerializer,
    LeadReopenSerializer,
    LeadSerializer,
    QualificationSerializer,
    TaskSerializer,
)
from leads.models import Lead, LeadInteraction, LeadQualification, Task
from organizations import access
from organizations.models import Organization, Role
from organizations.scoping import OrgScopedMixin


class LeadAccessMixin(OrgScopedMixin):
    """Leads visible to the requester (organization + visibilidade_leads for closer/SDR)."""

    read_roles = access.LEADS.read
    write_roles = access.LEADS.change

    def visible_leads(self) -> QuerySet[Lead]:
        return Lead.objects.for_org(self.organization).visible_to(self.membership)

    def get_lead(self) -> Lead:
        return get_object_or_404(
            self.visible_leads().select_related("organization"), pk=self.kwargs["lead_pk"]
        )


class GivenFiltersBackend(FilterBackend):
    """django-filter filtering with a FilterSet of only the filters whose parameters the
    request gives (same filters, same order, same validation of what is given), and none at
    all when it gives none: a filter whose parameter is absent returns the queryset unchanged,
    yet django-filter would copy every filter and build and validate a form of all of them
    (~0.7 ms of a list request). The browsable API's form and the schema keep every filter."""

    def filter_queryset(self, request: Any, queryset: Any, view: Any) -> Any:
        filterset_class = self.get_filterset_class(view, queryset)
        if filterset_class is None:
            return queryset
        names = frozenset(request.query_params.keys() & filterset_class.base_filters.keys())
        if not names:
            return queryset
        kwargs = self.get_filterset_kwargs(request, queryset, view)
        return self.filter_with(_given_filters(filterset_class, names)(**kwargs), queryset)


@lru_cache(maxsize=256)
def _given_filters(filterset_class: Any, names: frozenset[str]) -> Any:
    narrowed: Any = type(
        filterset_class.__name__, (_FormOnce, filterset_class), {"__module__": __name__}
    )
    narrowed.base_filters = {
        name: f for name, f in filterset_class.base_filters.items() if name in names
    }
    return narrowed


class _FormOnce:
    """django-filter builds a new form class (a new field per filter) for every FilterSet it
    makes; a narrowed FilterSet keeps the first one it builds, unless a filter's field depends
    on the request (a model choice narrowed to the requester's organization). The form
    instances stay per request (a Form copies its class's fields when made)."""

    def get_form_class(self) -> Any:
        cls: Any = type(self)
        form_class = cls.__dict__.get("_form_class")
        if form_class is None:
            form_class = super().get_form_class()  # type: ignore[misc]
            if not any(isinstance(f, QuerySetRequestMixin) for f in cls.base_filters.values()):
                cls._form_class = form_class
        return form_class


@extend_schema_view(
    list=extend_schema(
        summary=gettext_noop("Lista leads com filtros, busca, ordenação e paginação")
    ),
    create=extend_schema(
        summary=gettext_noop("Cria um lead"),
        examples=[
            OpenApiExample(
                "lead",
                request_only=True,
                value={
                    "nome_completo": "Ana Souza",
                    "email": "ana.souza@exemplo.com.br",
                    "telefone": "+5511987654321",
                    "empresa": "Souza Consultoria",
                    "origem": "instagram",
                    "valor_potencial": "15000.00",
                    "temperatura": "morno",
                    "tags": ["vip"],
                },
            )
        ],
        responses={
            201: LeadSerializer,
            409: OpenApiResponse(description=gettext_noop("Email ou telefone já cadastrado")),
        },
    ),
    retrieve=extend_schema(responses=LeadDetailSerializer),
    update=extend_schema(request=LeadSerializer, responses=LeadDetailSerializer),
    partial_update=extend_schema(request=LeadSerializer, responses=LeadDetailSerializer),
)
class LeadViewSet(
    ConditionalUpdateMixin,
    LeadMergeMixin,
    LeadReportsMixin,
    LeadCsvMixin,
    LeadAccessMixin,
    viewsets.ModelViewSet[Lead],
):
    queryset = Lead.objects.all()
    serializer_class = LeadSerializer
    filterset_class = LeadFilter
    filter_backends = [GivenFiltersBackend, StrictOrderingFilter]
    pagination_class = PageOrCursorPagination
    ordering_fields = [
        "created_at",
        "lead_score",
        "valor_potencial",
        "nome_completo",
        "last_interaction_at",
        "updated_at",
    ]
    ordering = ["-created_at", "-id"]
    action_roles = {
        "destroy": access.LEADS.delete,
        "reopen": access.MANAGERS,
        "performance": DASHBOARD_ROLES,
        "import_csv": IMPORT_ROLES,
        "export": EXPORT_ROLES,
    }

    def get_queryset(self) -> QuerySet[Lead]:
        if getattr(self, "swagger_fake_view", False):  # OpenAPI generation: no requester
            return Lead.objects.none()
        return selectors.lead_list_queryset(membership=self.membership)

    def kept_total(self) -> int | None:
        """The list's `total` without counting `leads` (config.api.pagination): the kept
        count of the whole list, or of a search-only list's matches; None for other lists."""
        kept = self.kept_total_source()
        return None if kept is None else selectors.lead_total(kept.organization_id, kept.search)

    def kept_total_source(self) -> selectors.KeptTotal | None:
        """Where this list's total is kept, or None (a filtered list: its rows are counted)."""
        if self.action != "list":
            return None
        return selectors.kept_total_for(self.membership, self.request.query_params)

    def get_serializer_class(self) -> Any:
        # The detail (and the answer to an edit) carries links; a list stays lean. If-Match
        # hashes the same representation a GET returned (config.api.sync).
        if self.action in ("retrieve", "update", "partial_update"):
            return LeadDetailSerializer
        return super().get_serializer_class()

    def page_rows(self, queryset: QuerySet[Lead], start: int, stop: int) -> list[Any]:
        """A list page with its extras (config.api.pagination reads the page through this)."""
        return selectors.lead_list_page(queryset, start, stop)

    def page_after(
        self, queryset: QuerySet[Lead], keys: list[tuple[str, bool]], values: list[Any], stop: int
    ) -> list[Any] | None:
        """The rows after a cursor's position (config.api.pagination), from the list's kept
        statement; None when it cannot be used (the ORM filters the queryset)."""
        return selectors.lead_list_page_after(queryset, keys, values, stop)

    def page_and_total(
        self, queryset: QuerySet[Lead], start: int, stop: int
    ) -> tuple[list[Any], int] | None:
        """A page and its total in one statement (config.api.pagination): the kept total
        when it is the list's, else the queryset's count; a deep page's ids read only when
        the total says it has rows (a page past the end is not read). None when the
        statement cannot tell: they are read apart."""
        return selectors.lead_list_page_and_total(
            queryset,
            start,
            stop,
            self.kept_total_source(),
            gated=start >= pagination.DEFERRED_JOIN_OFFSET,
        )

    def get_object(self) -> Lead:
        lead: Lead = super().get_object()
        selectors.attach_list_extras([lead])
        return lead

    def _default_assignment(self, data: dict[str, Any]) -> dict[str, Any]:
        # A closer or SDR creating a lead owns it unless they name someone else; otherwise a
        # closer in an "atribuidos" organization could create a lead they cannot see.
        role = self.membership.role
        if role == Role.CLOSER and "closer" not in data:
            data["closer"] = self.membership
        if role == Role.SDR and "sdr" not in data:
            data["sdr"] = self.membership
        return data

    def perform_create(self, serializer: serializers.BaseSerializer[Lead]) -> None:
        data = self._default_assignment(dict(serializer.validated_data))
        lead = services.lead_create(
            organization=self.organization, actor=self.membership, data=data
        )
        serializer.instance = selectors.attach_list_extras([self._reload(lead)])[0]

    def perform_update(self, serializer: serializers.BaseSerializer[Lead]) -> None:
        if not isinstance(serializer.instance, Lead):
            raise TypeError("serializer.instance is not a Lead")
        lead = services.lead_update(
            lead=serializer.instance, actor=self.membership, data=dict(serializer.validated_data)
        )
        serializer.instance = selectors.attach_list_extras([self._reload(lead)])[0]

    def perform_destroy(self, instance: Lead) -> None:
        services.lead_delete(lead=instance, actor=self.membership)

    @extend_schema(
        summary=gettext_noop("Reabre um lead convertido (gestores), com motivo"),
        request=LeadReopenSerializer,
        responses={
            200: LeadSerializer,
            409: OpenApiResponse(description=gettext_noop("O lead não está convertido")),
        },
    )
    @action(detail=True, methods=["post"])
    def reopen(self, request: Request, pk: str | None = None) -> Response:
        """A converted lead goes back to an open status; the mentee is left as it is."""
        lead = self.get_object()
        serializer = LeadReopenSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        lead = services.lead_reopen(
            lead=lead,
            actor=self.membership,
            status=serializer.validated_data["status"],
            motivo=serializer.validated_data["motivo"],
        )
        return Response(LeadSerializer(selectors.attach_list_extras([self._reload(lead)])[0]).data)

    def _reload(self, lead: Lead) -> Lead:
        return self.get_queryset().get(pk=lead.pk)


class InteractionViewSet(
    LeadAccessMixin,
    mixins.ListModelMixin,
    mixins.CreateModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet[LeadInteraction],
):
    """Interactions of one lead, newest first; the author is the requester."""

    queryset = LeadInteraction.objects.all()
    serializer_class = InteractionSerializer
    filterset_class = InteractionFilter
    ordering_fields = ["data_interacao", "created_at", "updated_at"]
    ordering = ["-data_interacao", "-created_at"]

    def get_queryset(self) -> QuerySet[LeadInteraction]:
        if getattr(self, "swagger_fake_view", False):  # OpenAPI generation: no requester
            return LeadInteraction.objects.none()
        lead = self.get_lead()
        return LeadInteraction.objects.filter(lead=lead).select_related("closer")

    @extend_schema(
        responses={201: InteractionSerializer},
        examples=[
            OpenApiExample(
                "ligacao",
                request_only=True,
                value={
                    "tipo_interacao": "ligacao",
                    "resumo": "Primeira conversa; pediu a proposta por email",
                    "resultado": "contato_realizado",
                    "duracao_minutos": 15,
                    "valor": "12000.00",
                },
            )
        ],
    )
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        lead = self.get_lead()
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        motivo = data.pop("motivo_perda", "")
        interaction = services.interaction_create(
            lead=lead, actor=self.membership, data=data, motivo_perda=motivo
        )
        return Response(self.get_serializer(interaction).data, status=status.HTTP_201_CREATED)


class QualificationViewSet(LeadAccessMixin, viewsets.GenericViewSet[LeadQualification]):
    """BANT qualification of one lead: GET it, PUT it (created on first PUT)."""

    queryset = LeadQualification.objects.all()
    serializer_class = QualificationSerializer
    pagination_class = None

    def get_object(self) -> LeadQualification:
        # The object is found through the lead in the URL (there is no `pk`); OPTIONS (the
        # browsable API's metadata) goes through here too.
        qualification = LeadQualification.objects.filter(lead=self.get_lead()).first()
        if qualification is None:
            raise exceptions.NotFound(_("Este lead ainda não tem qualificação."))
        self.check_object_permissions(self.request, qualification)
        return cast("LeadQualification", qualification)

    def retrieve(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return Response(self.get_serializer(self.get_object()).data)

    @extend_schema(responses={200: QualificationSerializer, 201: QualificationSerializer})
    def update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        lead = self.get_lead()
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        qualification, created = services.qualification_save(
            lead=lead, actor=self.membership, data=dict(serializer.validated_data)
        )
        return Response(
            self.get_serializer(qualification).data,
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )


class TaskViewSet(
    ConditionalUpdateMixin,
    OrgScopedMixin,
    mixins.ListModelMixin,
    mixins.CreateModelMixin,
    mixins.RetrieveModelMixin,
    mixins.UpdateModelMixin,
    viewsets.GenericViewSet[Task],
):
    """Tasks: filters `status`, `responsavel_id` (`me` allowed), `lead_id`, `vencidas=true`."""

    queryset = Task.objects.select_related("responsavel")
    serializer_class = TaskSerializer
    filterset_class = TaskFilter
    ordering_fields = ["vencimento", "created_at", "status", "updated_at"]
    ordering = ["vencimento", "created_at"]
    read_roles = access.TASKS.read
    write_roles = access.TASKS.change
    http_method_names = ["get", "post", "patch", "head", "options"]

    def scope_queryset(self, queryset: QuerySet[Task]) -> QuerySet[Task]:
        membership = self.membership
        organization: Organization = self.organization
        if membership.is_seller and (
            organization.visibilidade_leads == Organization.LeadVisibility.ATRIBUIDOS
        ):
            visible = Lead.objects.for_org(organization).visible_to(membership).values("pk")
            return queryset.filter(Q(responsavel=membership) | Q(lead__in=visible))
        return queryset

    def perform_create(self, serializer: serializers.BaseSerializer[Task]) -> None:
        data = dict(serializer.validated_data)
        data.setdefault("responsavel", self.membership)
        serializer.instance = services.task_create(
            organization=self.organization, actor=self.membership, data=data
        )

    def perform_update(self, serializer: serializers.BaseSerializer[Task]) -> None:
        if not isinstance(serializer.instance, Task):
            raise TypeError("serializer.instance is not a Task")
        serializer.instance = services.task_update(
            task=serializer.instance, actor=self.membership, data=dict(serializer.validated_data)
        )
