"""Factories for the integrations models (secrets are fixed test values)."""

from __future__ import annotations

import factory
from django.utils import timezone

from integrations.models import (
    CRMConnection,
    MessageDirection,
    MessageStatus,
    WhatsAppAccount,
    WhatsAppMessage,
    hash_verify_token,
)
from tests.factories import ModelFactory, OrganizationFactory

ACCESS_TOKEN = "EAAGtest-access-token-0123456789"
APP_SECRET = "app-secret-0123456789abcdef0123"
VERIFY_TOKEN = "verify-token-minha-mentoria"
CRM_TOKEN = "pat-na1-crm-token-0123456789"
# Nothing listens on port 9 (discard): a factory default must never reach the real Meta.
UNREACHABLE = "http://127.0.0.1:9"


class WhatsAppAccountFactory(ModelFactory[WhatsAppAccount]):
    class Meta:
        model = WhatsAppAccount

    organization = factory.SubFactory(OrganizationFactory)
    phone_number_id = factory.Sequence(lambda n: f"9{n:014d}")
    access_token = ACCESS_TOKEN
    app_secret = APP_SECRET
    verify_token_hash = factory.LazyFunction(lambda: hash_verify_token(VERIFY_TOKEN))
    api_base_url = UNREACHABLE + "/v25.0"


class CRMConnectionFactory(ModelFactory[CRMConnection]):
    class Meta:
        model = CRMConnection

    organization = factory.SubFactory(OrganizationFactory)
    provider = "hubspot"
    token = CRM_TOKEN
    api_base_url = UNREACHABLE


class WhatsAppMessageFactory(ModelFactory[WhatsAppMessage]):
    class Meta:
        model = WhatsAppMessage

    organization = factory.SubFactory(OrganizationFactory)
    direction = MessageDirection.IN
    wamid = factory.Sequence(lambda n: f"wamid.TEST{n:08d}")
    from_phone = "5511987654321"
    phone_key = "551187654321"
    message_type = "text"
    body = "Oi"
    status = MessageStatus.RECEIVED
    received_at = factory.LazyFunction(timezone.now)
