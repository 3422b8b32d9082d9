from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from integrations.selectors import whatsapp_timeline_entries
from tests.factories import LeadFactory
from tests.integrations.factories import WhatsAppMessageFactory

pytestmark = pytest.mark.django_db


def test_it_lists_a_leads_messages_for_the_timeline_newest_first(org_a, org_b):
    lead = LeadFactory(organization=org_a.org)
    now = timezone.now()
    inbound = WhatsAppMessageFactory(
        organization=org_a.org, lead=lead, body="Oi", received_at=now - timedelta(hours=2)
    )
    outbound = WhatsAppMessageFactory(
        organization=org_a.org,
        lead=lead,
        direction="out",
        status="failed",
        message_type="template",
        body="",
        template_name="retomada",
        received_at=None,
        sent_at=None,
        error={"errors": [{"code": 131047, "title": "Re-engagement message"}]},
    )
    WhatsAppMessageFactory(organization=org_a.org)  # another number
    WhatsAppMessageFactory(organization=org_b.org, lead=None)

    entries = whatsapp_timeline_entries(lead=lead)
    assert [e["id"] for e in entries] == [str(outbound.pk), str(inbound.pk)]
    assert entries[0]["body"] == "retomada"
    assert entries[0]["error"] == "Re-engagement message"
    assert entries[0]["at"] == outbound.created_at
    assert entries[1] == {
        "tipo": "whatsapp",
        "id": str(inbound.pk),
        "at": inbound.received_at,
        "direction": "in",
        "message_type": "text",
        "body": "Oi",
        "status": "received",
        "error": None,
    }


def test_it_seeds_a_demo_conversation(org_a):
    import random

    from integrations import demo
    from integrations.models import WhatsAppAccount, WhatsAppMessage
    from organizations.demo import DemoContext

    leads = LeadFactory.create_batch(5, organization=org_a.org)
    summary = demo.seed(DemoContext(organization=org_a.org, rng=random.Random(1)))
    assert summary == "1 WhatsApp account (inactive), 6 messages"
    assert WhatsAppAccount.objects.get().ativo is False
    assert WhatsAppMessage.objects.filter(direction="in").count() == 4
    assert set(WhatsAppMessage.objects.values_list("lead", flat=True)) <= {
        lead.pk for lead in leads
    }
