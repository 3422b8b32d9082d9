from __future__ import annotations

from django.urls import include, path
from rest_framework.routers import SimpleRouter

from leads.api import views
from leads.api.consents import LeadConsentViewSet
from leads.api.csv_views import LeadImportViewSet
from leads.api.routing import MemberAbsenceViewSet, RoutingRuleViewSet

router = SimpleRouter()
router.register("leads", views.LeadViewSet, basename="lead")
router.register("tasks", views.TaskViewSet, basename="task")
router.register("imports", LeadImportViewSet, basename="lead-import")
router.register("routing-rules", RoutingRuleViewSet, basename="routing-rule")

absences = SimpleRouter()
absences.register("absences", MemberAbsenceViewSet, basename="member-absence")

interactions = SimpleRouter()
interactions.register("interactions", views.InteractionViewSet, basename="lead-interaction")

qualification = views.QualificationViewSet.as_view({"get": "retrieve", "put": "update"})

consents = LeadConsentViewSet.as_view({"get": "retrieve", "put": "update"})

urlpatterns = [
    path("", include(router.urls)),
    path("leads/<uuid:lead_pk>/", include(interactions.urls)),
    path("members/<uuid:member_pk>/", include(absences.urls)),
    path("leads/<uuid:lead_pk>/qualification/", qualification, name="lead-qualification"),
    path("leads/<uuid:lead_pk>/consents/", consents, name="lead-consents"),
]
