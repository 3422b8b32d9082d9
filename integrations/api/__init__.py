"""Integrations endpoints: WhatsApp accounts, CRM connections, lead CRM sync."""

from __future__ import annotations

from integrations.api.crm import CRMConnectionViewSet, LeadCrmSyncView
from integrations.api.whatsapp import WhatsAppAccountViewSet, WhatsAppGatewayViewSet

__all__ = [
    "CRMConnectionViewSet",
    "LeadCrmSyncView",
    "WhatsAppAccountViewSet",
    "WhatsAppGatewayViewSet",
]
