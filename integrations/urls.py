from __future__ import annotations

from django.urls import include, path
from rest_framework.routers import SimpleRouter

from integrations import api

router = SimpleRouter()
router.register("notifications", api.NotificationViewSet, basename="notification")

urlpatterns = [path("", include(router.urls))]
