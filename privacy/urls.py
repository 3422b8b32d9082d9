from __future__ import annotations

from django.urls import include, path
from rest_framework.routers import SimpleRouter

from privacy.api.requests import DataSubjectRequestViewSet, RetentionView
from privacy.api.views import DataAccessLogViewSet, LeadHistoryViewSet

router = SimpleRouter()
router.register("privacy/access-log", DataAccessLogViewSet, basename="privacy-access-log")
router.register("privacy/requests", DataSubjectRequestViewSet, basename="privacy-requests")

history = LeadHistoryViewSet.as_view({"get": "list"})

urlpatterns = [
    path("", include(router.urls)),
    path("privacy/retention/", RetentionView.as_view(), name="privacy-retention"),
    path("leads/<uuid:lead_pk>/history/", history, name="lead-history"),
]
