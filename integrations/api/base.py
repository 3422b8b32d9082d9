"""Shared pieces of the integrations settings endpoints (admin only)."""

from __future__ import annotations

import ipaddress
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.utils.translation import gettext as _
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


class ProviderURLField(serializers.URLField):
    """The provider's API base URL (overridable for a proxy or a test stub).

    Unless INTEGRATIONS_ALLOW_PRIVATE_URLS is on (development and tests), it must be https and
    must not name localhost or a private, loopback or link-local address: an organization admin
    must not be able to make the server call internal services (SSRF).
    """

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("max_length", 300)
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> str:
        url: str = super().to_internal_value(data)
        if not url or getattr(settings, "INTEGRATIONS_ALLOW_PRIVATE_URLS", False):
            return url
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
        if parts.scheme != "https":
            raise serializers.ValidationError(_("Use um endereço https."))
        if host == "localhost" or host.endswith((".localhost", ".local", ".internal")):
            raise serializers.ValidationError(_("Endereço interno não permitido."))
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            return url
        if not address.is_global:
            raise serializers.ValidationError(_("Endereço interno não permitido."))
        return url


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
