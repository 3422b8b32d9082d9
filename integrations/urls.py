from __future__ import annotations

from django.urls import include, path
from rest_framework.routers import SimpleRouter

from integrations import api
from integrations.outbound import api as outbound_api

router = SimpleRouter()
router.register(
    "integrations/whatsapp-accounts", api.WhatsAppAccountViewSet, basename="whatsapp-account"
)
router.register(
    "integrations/whatsapp-gateways", api.WhatsAppGatewayViewSet, basename="whatsapp-gateway"
)
router.register("integrations/crm-connections", api.CRMConnectionViewSet, basename="crm-connection")
router.register(
    "integrations/webhook-endpoints",
    outbound_api.WebhookEndpointViewSet,
    basename="webhook-endpoint",
)
deliveries = SimpleRouter()
deliveries.register("deliveries", outbound_api.WebhookDeliveryViewSet, basename="webhook-delivery")

urlpatterns = [
    path("", include(router.urls)),
    path("integrations/webhook-endpoints/<uuid:endpoint_pk>/", include(deliveries.urls)),
    path("leads/<uuid:lead_pk>/sync-crm/", api.LeadCrmSyncView.as_view(), name="lead-sync-crm"),
]
