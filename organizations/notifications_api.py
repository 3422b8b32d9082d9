"""Notifications, push devices and notification preferences: the requester's own only."""

from __future__ import annotations

from typing import Any, cast

import django_filters
from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema, extend_schema_view, inline_serializer
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.generics import GenericAPIView
from rest_framework.request import Request
from rest_framework.response import Response

from config.api.filters import StrictBooleanFilter
from config.api.serializers import StrictCharField, StrictModelSerializer
from config.api.sync import UpdatedSinceFilter
from organizations import notifications
from organizations.models import Device, Notification, NotificationTipo
from organizations.permissions import ALL_ROLES
from organizations.scoping import OrgScopedMixin, request_membership


class NotificationSerializer(serializers.ModelSerializer[Notification]):
    recipient_id = serializers.UUIDField(read_only=True)

    class Meta:
        model = Notification
        fields = ["id", "recipient_id", "tipo", "titulo", "payload", "read_at", "created_at"]
        read_only_fields = fields


class NotificationFilter(django_filters.FilterSet):
    unread = StrictBooleanFilter(method="filter_unread", label=_("Não lidas"))
    tipo = django_filters.ChoiceFilter(choices=Notification._meta.get_field("tipo").choices)
    updated_since = UpdatedSinceFilter()

    class Meta:
        model = Notification
        fields: list[str] = []

    def filter_unread(
        self, qs: QuerySet[Notification], name: str, value: bool | None
    ) -> QuerySet[Notification]:
        if value is None:
            return qs
        return qs.filter(read_at__isnull=value)


class NotificationViewSet(
    OrgScopedMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet[Notification],
):
    queryset = Notification.objects.all()
    serializer_class = NotificationSerializer
    filterset_class = NotificationFilter
    ordering_fields = ["created_at", "updated_at"]
    ordering = ["-created_at"]
    read_roles = ALL_ROLES
    write_roles = ALL_ROLES

    def scope_queryset(self, queryset: QuerySet[Notification]) -> QuerySet[Notification]:
        return queryset.filter(recipient=self.membership)

    @extend_schema(request=None, responses=NotificationSerializer)
    @action(detail=True, methods=["post"])
    def read(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        notification = notifications.notification_mark_read(notification=self.get_object())
        return Response(self.get_serializer(notification).data)

    @extend_schema(
        request=None,
        responses=inline_serializer("ReadAll", {"updated": serializers.IntegerField()}),
    )
    @action(detail=False, methods=["post"], url_path="read-all")
    def read_all(self, request: Request) -> Response:
        updated = notifications.notifications_mark_all_read(recipient=self.membership)
        return Response({"updated": updated})


# --- devices (push) ----------------------------------------------------------------------------


class DeviceSerializer(StrictModelSerializer):
    token = StrictCharField(
        max_length=4096,
        trim_whitespace=True,
        label=_("token"),
        help_text=_("Token de registro do Firebase Cloud Messaging do aparelho."),
    )
    app_versao = StrictCharField(
        max_length=40, required=False, allow_blank=True, label=_("versão do app")
    )

    class Meta:
        model = Device
        fields = ["id", "plataforma", "token", "app_versao", "created_at", "updated_at"]
        read_only_fields = ["id", "created_at", "updated_at"]
        extra_kwargs = {"plataforma": {"label": _("plataforma")}}


@extend_schema_view(
    list=extend_schema(summary=_("Lista os seus dispositivos registrados para push")),
    create=extend_schema(
        summary=_("Registra o token FCM deste aparelho (201 novo, 200 já registrado)"),
        responses={200: DeviceSerializer, 201: DeviceSerializer},
    ),
    retrieve=extend_schema(summary=_("Um dos seus dispositivos")),
    destroy=extend_schema(summary=_("Remove um dispositivo (não recebe mais push)")),
)
class DeviceViewSet(
    OrgScopedMixin,
    mixins.ListModelMixin,
    mixins.CreateModelMixin,
    mixins.RetrieveModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet[Device],
):
    """The requester's own push devices (every role)."""

    queryset = Device.objects.all()
    serializer_class = DeviceSerializer
    ordering_fields = ["created_at", "updated_at"]
    ordering = ["-updated_at", "-id"]
    read_roles = ALL_ROLES
    write_roles = ALL_ROLES
    filter_backends: list[Any] = []

    def scope_queryset(self, queryset: QuerySet[Device]) -> QuerySet[Device]:
        return queryset.filter(membership=self.membership)

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        device, created = notifications.device_register(
            membership=self.membership, **serializer.validated_data
        )
        return Response(
            self.get_serializer(device).data,
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )

    def perform_destroy(self, instance: Device) -> None:
        notifications.device_delete(device=instance)


# --- preferences -------------------------------------------------------------------------------


class ChannelsSerializer(serializers.Serializer[dict[str, bool]]):
    push = serializers.BooleanField(label=_("push"), help_text=_("Notificação no celular."))
    email = serializers.BooleanField(
        label=_("email"), help_text=_("Incluída no resumo diário por email, se não lida.")
    )
    in_app = serializers.BooleanField(
        label=_("no app"), help_text=_("Entregue ao vivo no app e no painel (stream).")
    )


class PreferencesSerializer(serializers.Serializer[dict[str, Any]]):
    """One entry per notification tipo; PUT may send only the tipos it changes."""

    def get_fields(self) -> dict[str, serializers.Field[Any, Any, Any, Any]]:
        return {
            tipo: ChannelsSerializer(required=False, label=label)
            for tipo, label in NotificationTipo.choices
        }

    def to_internal_value(self, data: Any) -> dict[str, Any]:
        if isinstance(data, dict):
            unknown = sorted(set(data) - set(NotificationTipo.values))
            if unknown:
                raise serializers.ValidationError(
                    {
                        key: [
                            _("Tipo de notificação desconhecido. Tipos: %(tipos)s.")
                            % {"tipos": ", ".join(NotificationTipo.values)}
                        ]
                        for key in unknown
                    }
                )
        return cast("dict[str, Any]", super().to_internal_value(data))


class NotificationPreferencesView(GenericAPIView[Any]):
    """`GET`/`PUT /api/v1/me/notification-preferences/`: how the requester wants each tipo."""

    serializer_class = PreferencesSerializer
    read_roles = ALL_ROLES
    write_roles = ALL_ROLES
    pagination_class = None
    filter_backends: list[Any] = []

    def get_object(self) -> dict[str, Any]:
        """The requester's preferences (no id in the URL); OPTIONS asks for it before PUT."""
        return notifications.preferences_for(membership=request_membership(self.request))

    @extend_schema(summary=_("Suas preferências de notificação, por tipo"))
    def get(self, request: Request) -> Response:
        prefs = notifications.preferences_for(membership=request_membership(request))
        return Response(PreferencesSerializer(prefs).data)

    @extend_schema(
        summary=_("Altera as preferências dos tipos enviados (os outros ficam como estão)")
    )
    def put(self, request: Request) -> Response:
        serializer = PreferencesSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        prefs = notifications.preferences_update(
            membership=request_membership(request), data=serializer.validated_data
        )
        return Response(PreferencesSerializer(prefs).data)
