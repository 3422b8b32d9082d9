"""`GET /api/v1/`: the API root, a map of the resources (where the browsable API lands after
its login). Composed here from URL names only; config does not import the apps."""

from __future__ import annotations

from typing import Any

from django.urls import NoReverseMatch
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.reverse import reverse
from rest_framework.views import APIView

# Resource name (as clients see it) -> URL name, in the order a client discovers them.
RESOURCES = [
    ("auth_token", "token-obtain"),
    ("auth_token_refresh", "token-refresh"),
    ("me", "me"),
    ("organization", "organization"),
    ("members", "member-list"),
    ("leads", "lead-list"),
    ("tasks", "task-list"),
    ("imports", "lead-import-list"),
    ("mentorados", "mentorado-list"),
    ("followup_sequences", "followup-sequence-list"),
    ("followup_executions", "followup-execution-list"),
    ("followup_responses", "followup-responses"),
    ("notifications", "notification-list"),
    ("notification_stream", "notification-stream"),
    ("notification_preferences", "notification-preferences"),
    ("devices", "device-list"),
    ("sync_deletions", "sync-deletions"),
    ("holidays", "holiday-list"),
    ("whatsapp_accounts", "whatsapp-account-list"),
    ("whatsapp_gateways", "whatsapp-gateway-list"),
    ("crm_connections", "crm-connection-list"),
    ("webhook_endpoints", "webhook-endpoint-list"),
    ("schema", "schema"),
    ("docs", "swagger-ui"),
]


class ApiRootView(APIView):
    """Os recursos da API v1 e seus endereços."""

    permission_classes = [AllowAny]
    # Named for the browsable API's title and breadcrumbs.
    name = _("API v1")

    @extend_schema(
        summary=_("Raiz da API: os recursos e seus endereços"),
        description=_("Os recursos da API v1 e seus endereços."),
        responses={200: OpenApiTypes.OBJECT},
        tags=["root"],
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        links: dict[str, str] = {}
        for key, url_name in RESOURCES:
            try:
                links[key] = reverse(url_name, request=request)
            except NoReverseMatch:  # a resource switched off in this deployment
                continue
        return Response(links)
