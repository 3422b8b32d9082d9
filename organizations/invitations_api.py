"""`/api/v1/invitations/`: pending invitations of the organization (admins), and the invited
user's acceptance (`POST /api/v1/invitations/accept/`), see organizations/invitations.py."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_noop
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, permissions, serializers, viewsets
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from config.api.serializers import StrictModelSerializer
from organizations import access, invitations
from organizations.models import Invitation, User
from organizations.scoping import OrgScopedMixin


class InvitationSerializer(StrictModelSerializer):
    status = serializers.SerializerMethodField(help_text="pendente, aceito ou expirado")

    class Meta:
        model = Invitation
        fields = [
            "id",
            "email",
            "role",
            "nome_completo",
            "tipo_closer",
            "status",
            "created_at",
            "expires_at",
            "accepted_at",
        ]
        read_only_fields = fields

    def get_status(self, invitation: Invitation) -> str:
        from django.utils import timezone

        if invitation.accepted_at is not None:
            return "aceito"
        return "expirado" if invitation.expires_at <= timezone.now() else "pendente"


@extend_schema_view(
    list=extend_schema(
        summary=gettext_noop("Convites da organização (criados por POST /members/)")
    ),
    destroy=extend_schema(summary=gettext_noop("Cancela um convite pendente")),
)
class InvitationViewSet(
    OrgScopedMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet[Invitation],
):
    queryset = Invitation.objects.all()
    serializer_class = InvitationSerializer
    read_roles = access.MEMBERS.change
    write_roles = access.MEMBERS.change
    ordering_fields = ["created_at"]
    ordering = ["-created_at"]

    def perform_destroy(self, instance: Invitation) -> None:
        invitations.invitation_cancel(invitation=instance)


class AcceptSerializer(serializers.Serializer[Any]):
    token = serializers.CharField(max_length=200)


class InvitationAcceptView(APIView):
    """The invited user, authenticated as themselves (whatever organization, or none), accepts."""

    permission_classes = [permissions.IsAuthenticated]

    @extend_schema(
        request=AcceptSerializer,
        summary=gettext_noop("Aceita um convite (o usuário autenticado é o convidado)"),
        responses={
            200: InvitationSerializer,
            404: OpenApiResponse(description=gettext_noop("Convite não encontrado ou expirado.")),
        },
    )
    def post(self, request: Request) -> Response:
        serializer = AcceptSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        if not isinstance(request.user, User):
            raise TypeError("IsAuthenticated lets only users through")
        accepted = invitations.invitation_accept(
            token=serializer.validated_data["token"], user=request.user
        )
        return Response(
            {
                **InvitationSerializer(accepted).data,
                "membership_id": str(accepted.membership_id),
                "organization": {
                    "id": str(accepted.organization_id),
                    "nome": accepted.organization.nome,
                },
            }
        )
