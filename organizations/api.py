"""Organization, members, holidays and /me endpoints."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError as DjangoValidationError
from django.utils.translation import gettext_lazy, gettext_noop
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from config.api.serializers import StrictCharField, StrictEmailField, StrictModelSerializer
from organizations import access, services
from organizations.models import (
    Membership,
    Organization,
    OrganizationHoliday,
    OrganizationNps,
    Role,
)
from organizations.permissions import ADMIN_ONLY
from organizations.scoping import OrgScopedMixin, request_membership


class OrganizationSerializer(StrictModelSerializer):
    # Kept by mentorados' feedback service (organizations.models.OrganizationNps).
    nps_atual = serializers.SerializerMethodField(
        help_text="NPS dos feedbacks dos últimos 90 dias (null sem respostas)"
    )
    nps_respostas_90d = serializers.SerializerMethodField(
        help_text="Número de feedbacks dos últimos 90 dias"
    )

    class Meta:
        model = Organization
        fields = [
            "id",
            "nome",
            "slug",
            "timezone",
            "estado",
            "ticket_alvo",
            "visibilidade_leads",
            "created_at",
            "nps_atual",
            "nps_respostas_90d",
        ]
        read_only_fields = ["id", "slug", "created_at"]

    def _nps(self, organization: Organization) -> OrganizationNps | None:
        # One query for both fields.
        cache: dict[Any, OrganizationNps | None] = self.__dict__.setdefault("_nps_rows", {})
        if organization.pk not in cache:
            cache[organization.pk] = OrganizationNps.objects.filter(
                organization=organization
            ).first()
        return cache[organization.pk]

    def get_nps_atual(self, organization: Organization) -> int | None:
        row = self._nps(organization)
        return row.nps_atual if row else None

    def get_nps_respostas_90d(self, organization: Organization) -> int:
        row = self._nps(organization)
        return row.respostas_90d if row else 0


class OrganizationView(APIView):
    """The requester's organization: everyone reads, the admin changes settings."""

    read_roles = access.ORGANIZATION.read
    write_roles = access.ORGANIZATION.change

    @extend_schema(responses=OrganizationSerializer)
    def get(self, request: Request) -> Response:
        return Response(OrganizationSerializer(request_membership(request).organization).data)

    @extend_schema(request=OrganizationSerializer, responses=OrganizationSerializer)
    def patch(self, request: Request) -> Response:
        serializer = OrganizationSerializer(
            request_membership(request).organization,
            data=request.data,
            partial=True,
        )
        serializer.is_valid(raise_exception=True)
        serializer.instance = services.organization_update(
            organization=request_membership(request).organization, **serializer.validated_data
        )
        return Response(serializer.data)


class MemberSerializer(StrictModelSerializer):
    email = StrictEmailField(source="user.email", max_length=254)
    password = StrictCharField(
        label=gettext_lazy("Senha"),
        write_only=True,
        required=False,
        min_length=8,
        max_length=128,
        style={"input_type": "password"},
    )

    class Meta:
        model = Membership
        fields = [
            "id",
            "email",
            "nome_completo",
            "role",
            "tipo_closer",
            "ativo",
            "created_at",
            "password",
        ]
        read_only_fields = ["id", "created_at"]

    def get_fields(self) -> dict[str, serializers.Field[Any, Any, Any, Any]]:
        fields = super().get_fields()
        if self.instance is not None:  # email and password belong to the user, not the membership
            fields["email"].read_only = True
            fields.pop("password")
        else:
            fields["ativo"].read_only = True
        return fields

    def validate_role(self, value: str) -> str:
        # The same rule as the admin's member form (organizations.access).
        target = self.instance if isinstance(self.instance, Membership) else None
        if target is None or value != target.role:
            try:
                access.ensure_may_assign_role(
                    actor=self.context.get("membership"), target=target, role=value
                )
            except access.RoleNotAllowed as exc:
                raise serializers.ValidationError(str(exc)) from None
        return value

    def validate_password(self, value: str) -> str:
        try:
            validate_password(value)
        except DjangoValidationError as exc:
            raise serializers.ValidationError(list(exc.messages)) from exc
        return value


class MemberViewSet(OrgScopedMixin, viewsets.ModelViewSet[Membership]):
    """Members of the organization: everyone lists, the admin adds, changes and deactivates.

    DELETE deactivates the membership (204) instead of removing it, so the member's leads and
    interactions keep their author; a deactivated member can no longer use the organization.
    """

    queryset = Membership.objects.select_related("user")
    serializer_class = MemberSerializer
    read_roles = access.MEMBERS.read
    write_roles = access.MEMBERS.change
    action_roles = {"retrieve": ADMIN_ONLY}
    filterset_fields = ["role", "ativo"]
    ordering_fields = ["nome_completo", "created_at", "role"]
    ordering = ["nome_completo"]
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]

    @extend_schema(
        responses={
            201: MemberSerializer,
            202: OpenApiResponse(
                description=(
                    gettext_noop(
                        "o email já tem conta: um convite foi criado e enviado por email "
                        "(GET /invitations/); a pessoa vira membro quando aceitar"
                    )
                )
            ),
        }
    )
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        from organizations.invitations import member_add_or_invite
        from organizations.invitations_api import InvitationSerializer
        from organizations.models import Invitation

        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        added = member_add_or_invite(
            organization=self.organization,
            actor=self.membership,
            email=data["user"]["email"],
            nome_completo=data["nome_completo"],
            role=data["role"],
            password=data.get("password"),
            tipo_closer=data.get("tipo_closer", ""),
        )
        if isinstance(added, Invitation):
            return Response(InvitationSerializer(added).data, status=status.HTTP_202_ACCEPTED)
        return Response(self.get_serializer(added).data, status=status.HTTP_201_CREATED)

    def perform_update(self, serializer: serializers.BaseSerializer[Membership]) -> None:
        if not isinstance(serializer.instance, Membership):
            raise TypeError("serializer.instance is not a Membership")
        serializer.instance = services.member_update(
            membership=serializer.instance, actor=self.membership, **serializer.validated_data
        )

    def perform_destroy(self, instance: Membership) -> None:
        services.member_deactivate(membership=instance, actor=self.membership)


class HolidaySerializer(StrictModelSerializer):
    class Meta:
        model = OrganizationHoliday
        fields = ["id", "data", "nome"]


class HolidayViewSet(
    OrgScopedMixin,
    mixins.ListModelMixin,
    mixins.CreateModelMixin,
    mixins.RetrieveModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet[OrganizationHoliday],
):
    """The organization's own days off (follow-up steps are not sent on them)."""

    queryset = OrganizationHoliday.objects.all()
    serializer_class = HolidaySerializer
    lookup_value_regex = "[0-9]+"  # the one model of ours keyed by an integer
    read_roles = access.HOLIDAYS.read
    write_roles = access.HOLIDAYS.change
    ordering_fields = ["data"]
    ordering = ["data"]

    def perform_create(self, serializer: serializers.BaseSerializer[OrganizationHoliday]) -> None:
        serializer.instance = services.holiday_add(
            organization=self.organization, **serializer.validated_data
        )


class MeView(APIView):
    """Who am I, in which organization, with which role."""

    @extend_schema(
        responses=inline_serializer(
            "Me",
            {
                "id": serializers.IntegerField(),
                "membership_id": serializers.UUIDField(),
                "email": serializers.EmailField(),
                "nome_completo": serializers.CharField(),
                "role": serializers.ChoiceField(choices=Role.choices),
                "organization": inline_serializer(
                    "MeOrganization",
                    {"id": serializers.UUIDField(), "nome": serializers.CharField()},
                ),
                "organizations": inline_serializer(
                    "MeMembership",
                    {
                        "id": serializers.UUIDField(),
                        "nome": serializers.CharField(),
                        "role": serializers.CharField(),
                    },
                    many=True,
                ),
            },
        )
    )
    def get(self, request: Request) -> Response:
        membership = request_membership(request)
        others = (
            Membership.objects.filter(user_id=membership.user_id, ativo=True)
            .select_related("organization")
            .order_by("created_at")
        )
        return Response(
            {
                "id": request.user.pk,
                "membership_id": membership.id,
                "email": membership.user.email,
                "nome_completo": membership.nome_completo or membership.user.nome_completo,
                "role": membership.role,
                "organization": {
                    "id": membership.organization_id,
                    "nome": membership.organization.nome,
                },
                "organizations": [
                    {"id": m.organization_id, "nome": m.organization.nome, "role": m.role}
                    for m in others
                ],
            },
            status=status.HTTP_200_OK,
        )
