"""Notifications endpoints: the requester's own only."""

from __future__ import annotations

from typing import Any

import django_filters
from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import mixins, serializers, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from config.api.filters import StrictBooleanFilter
from config.api.sync import UpdatedSinceFilter
from organizations import notifications
from organizations.models import Notification
from organizations.permissions import ALL_ROLES
from organizations.scoping import OrgScopedMixin


class NotificationSerializer(serializers.ModelSerializer[Notification]):
    recipient_id = serializers.UUIDField(read_only=True)

    class Meta:
        model = Notification
        fields = ["id", "recipient_id", "tipo", "titulo", "payload", "read_at", "created_at"]
        read_only_fields = fields


class NotificationFilter(django_filters.FilterSet):
    unread = StrictBooleanFilter(method="filter_unread")
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
