from __future__ import annotations

from django.urls import URLPattern, URLResolver, include, path
from rest_framework.routers import SimpleRouter

from mentorados.api import views

router = SimpleRouter()
router.register("mentorados", views.MentoradoViewSet, basename="mentorado")

nested = SimpleRouter()
nested.register("evolucao-financeira", views.EvolucaoViewSet, basename="mentorado-evolucao")
nested.register("feedbacks", views.FeedbackViewSet, basename="mentorado-feedback")

urlpatterns: list[URLPattern | URLResolver] = [
    path("", include(router.urls)),
    path("mentorados/<uuid:mentorado_pk>/", include(nested.urls)),
]
