"""Shared pieces of the integrations settings endpoints (admin only)."""

from __future__ import annotations

from rest_framework import mixins, serializers, viewsets

from organizations.permissions import ADMIN_ONLY
from organizations.scoping import OrgScopedMixin

UUID_RE = "[0-9a-fA-F-]{36}"


class SecretField(serializers.CharField):
    """A write-only secret: trimmed, never empty, never echoed (not even in errors)."""

    def __init__(self, **kwargs: object) -> None:
        kwargs.setdefault("write_only", True)
        kwargs.setdefault("max_length", 2000)
        kwargs.setdefault("style", {"input_type": "password"})
        super().__init__(**kwargs)  # type: ignore[arg-type]


class AdminSettingsViewSet(
    OrgScopedMixin,
    mixins.ListModelMixin,
    mixins.CreateModelMixin,
    mixins.RetrieveModelMixin,
    mixins.UpdateModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    """GET POST on the list, GET PATCH DELETE on an item; admins of the organization only."""

    read_roles = ADMIN_ONLY
    write_roles = ADMIN_ONLY
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]
    lookup_value_regex = UUID_RE
    ordering_fields = ["created_at"]
    ordering = ["created_at"]
