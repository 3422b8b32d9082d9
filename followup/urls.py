from __future__ import annotations

from django.urls import URLPattern, URLResolver, include, path
from rest_framework.routers import SimpleRouter

from followup.api import views

router = SimpleRouter()
router.register("followup/sequences", views.SequenceViewSet, basename="followup-sequence")
router.register("followup/executions", views.ExecutionViewSet, basename="followup-execution")

urlpatterns: list[URLPattern | URLResolver] = [
    path("followup/responses/", views.ResponseView.as_view(), name="followup-responses"),
    path("", include(router.urls)),
]
