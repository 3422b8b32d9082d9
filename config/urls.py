from __future__ import annotations

from importlib import import_module

from django.conf import settings
from django.contrib import admin
from django.contrib.auth.decorators import user_passes_test
from django.contrib.auth.views import PasswordResetConfirmView
from django.urls import URLPattern, URLResolver, include, path, reverse_lazy
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework.routers import SimpleRouter

from config import admin_myday, admin_views, health
from config.api.root import ApiRootView
from config.metrics import metrics_view
from organizations import api as org_api
from organizations import invitations_api, invitations_views
from organizations.auth import TokenObtainView, TokenRefreshThrottledView
from organizations.notifications_api import (
    DeviceViewSet,
    NotificationPreferencesView,
    NotificationViewSet,
)
from organizations.realtime import notification_stream
from organizations.sync_api import DeletionListView


def _superusers_only(module: str) -> list[URLPattern | URLResolver]:
    """django-rq's views show every organization's jobs and tracebacks: superusers only."""
    patterns = list(import_module(module).urlpatterns)
    for pattern in patterns:
        if isinstance(pattern, URLPattern):
            pattern.callback = user_passes_test(
                lambda user: user.is_active and user.is_superuser, login_url="admin:login"
            )(pattern.callback)
    return patterns


router = SimpleRouter()
router.register("members", org_api.MemberViewSet, basename="member")
router.register("holidays", org_api.HolidayViewSet, basename="holiday")
router.register("notifications", NotificationViewSet, basename="notification")
router.register("devices", DeviceViewSet, basename="device")
router.register("invitations", invitations_api.InvitationViewSet, basename="invitation")

api_v1: list[URLPattern | URLResolver] = [
    path("", ApiRootView.as_view(), name="api-root"),
    path("auth/token/", TokenObtainView.as_view(), name="token-obtain"),
    path("auth/token/refresh/", TokenRefreshThrottledView.as_view(), name="token-refresh"),
    path("me/", org_api.MeView.as_view(), name="me"),
    # Before the router: "stream" would otherwise be taken for a notification id.
    path("notifications/stream/", notification_stream, name="notification-stream"),
    path(
        "me/notification-preferences/",
        NotificationPreferencesView.as_view(),
        name="notification-preferences",
    ),
    path("organization/", org_api.OrganizationView.as_view(), name="organization"),
    path(
        "invitations/accept/",
        invitations_api.InvitationAcceptView.as_view(),
        name="invitation-accept-api",
    ),
    path("sync/deletions/", DeletionListView.as_view(), name="sync-deletions"),
    path("", include(router.urls)),
    path("", include("leads.urls")),
    path("", include("mentorados.urls")),
    path("", include("followup.urls")),
    path("", include("integrations.urls")),
    path("", include("privacy.urls")),
]
if settings.BENCH_ENDPOINTS:
    api_v1.append(path("", include("bench.urls")))

urlpatterns = [
    path("admin/rq/", include((_superusers_only("django_rq.urls"), "django_rq"))),
    path("admin/painel/", admin.site.admin_view(admin_views.painel), name="admin-painel"),
    path("admin/meu-dia/", admin.site.admin_view(admin_myday.meu_dia), name="admin-meu-dia"),
    path(
        "admin/meu-dia/tarefas/<uuid:task_id>/concluir/",
        admin.site.admin_view(admin_myday.concluir),
        name="admin-meu-dia-concluir",
    ),
    # The link a new member receives to choose a password (Django's reset tokens).
    path(
        "admin/definir-senha/<uidb64>/<token>/",
        PasswordResetConfirmView.as_view(
            success_url=reverse_lazy("admin:login"), post_reset_login=False
        ),
        name="backoffice-set-password",
    ),
    # The link an invited user receives (organizations/invitations.py).
    path(
        "convites/<str:token>/",
        invitations_views.accept,
        name="invitation-accept",
    ),
    path("admin/", admin.site.urls),
    path("api/v1/", include(api_v1)),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="swagger-ui"),
    path("api-auth/", include("rest_framework.urls")),
    path("webhooks/", include("integrations.webhook_urls")),
    path("", include("followup.urls_public")),
    # Normally answered by config.health.ProbeMiddleware first; kept here for reverse().
    path("health/", health.health, name="health"),
    path("health/live/", health.live, name="health-live"),
    path("metrics", metrics_view, name="prometheus-django-metrics"),
]

handler400 = "config.api.handlers.bad_request"
handler404 = "config.api.handlers.not_found"
handler500 = "config.api.handlers.server_error"
