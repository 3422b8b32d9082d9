"""Shared pieces of the integrations settings endpoints (admin only)."""

from __future__ import annotations

from typing import Any

from rest_framework import mixins, serializers, viewsets

from integrations.net import OutboundURLError, check_outbound_url
from organizations import access
from organizations.scoping import OrgScopedMixin


class SecretField(serializers.CharField):
    """A write-only secret: trimmed, never empty, never echoed (not even in errors)."""

    def __init__(self, **kwargs: object) -> None:
        kwargs.setdefault("write_only", True)
        kwargs.setdefault("max_length", 2000)
        kwargs.setdefault("style", {"input_type": "password"})
        super().__init__(**kwargs)  # type: ignore[arg-type]


class ProviderURLField(serializers.URLField):
    """The provider's API base URL (overridable for a proxy or a test stub).

    Checked by integrations.net (https, every resolved address public) unless
    INTEGRATIONS_ALLOW_PRIVATE_URLS is on: an organization admin must not be able to make the
    server call internal services (SSRF). The clients check again when they connect.
    """

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("max_length", 300)
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> str:
        url: str = super().to_internal_value(data)
        if url:
            try:
                check_outbound_url(url)
            except OutboundURLError as exc:
                raise serializers.ValidationError(str(exc)) from None
        return url


class AdminSettingsViewSet(
    OrgScopedMixin,
    mixins.ListModelMixin,
    mixins.CreateModelMixin,
    mixins.RetrieveModelMixin,
    mixins.UpdateModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet[Any],
):
    """GET POST on the list, GET PATCH DELETE on an item; admins of the organization only."""

    read_roles = access.INTEGRATIONS.read
    write_roles = access.INTEGRATIONS.change
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]
    ordering_fields = ["created_at"]
    ordering = ["created_at"]
