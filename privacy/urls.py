from __future__ import annotations

from django.urls import include, path
from rest_framework.routers import SimpleRouter

from privacy.api.views import DataAccessLogViewSet, LeadHistoryViewSet

router = SimpleRouter()
router.register("privacy/access-log", DataAccessLogViewSet, basename="privacy-access-log")

history = LeadHistoryViewSet.as_view({"get": "list"})

urlpatterns = [
    path("", include(router.urls)),
    path("leads/<uuid:lead_pk>/history/", history, name="lead-history"),
]
