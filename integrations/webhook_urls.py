"""Webhook endpoints, mounted at /webhooks/ by config/urls.py: no JWT, each verified its own way."""

from __future__ import annotations

from django.urls import path

from integrations.crm.webhook import hubspot_webhook, pipedrive_webhook
from integrations.whatsapp.webhook import whatsapp_gateway_webhook, whatsapp_webhook

urlpatterns = [
    path("whatsapp/", whatsapp_webhook, name="whatsapp-webhook"),
    path(
        "whatsapp/gateway/<str:token>/",
        whatsapp_gateway_webhook,
        name="whatsapp-gateway-webhook",
    ),
    path("crm/hubspot/<uuid:connection_id>/", hubspot_webhook, name="crm-webhook-hubspot"),
    path("crm/pipedrive/<uuid:connection_id>/", pipedrive_webhook, name="crm-webhook-pipedrive"),
]
