"""Follow-up steps and WhatsApp messages appear in the lead timeline next to the lead's own
history (both sources are registered by their apps)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from followup.engine import dispatch_due
from tests.factories import InteractionFactory, LeadFactory
from tests.followup.factories import EMAIL_STEP, make_execution, make_sequence
from tests.integrations.factories import WhatsAppMessageFactory

pytestmark = pytest.mark.django_db


def test_it_shows_followup_steps_and_whatsapp_messages_in_the_timeline(org_a, client_for):
    lead = LeadFactory(organization=org_a.org, closer=org_a.closer)
    InteractionFactory(lead=lead, data_interacao=timezone.now() - timedelta(days=2))
    WhatsAppMessageFactory(
        organization=org_a.org,
        lead=lead,
        body="Tenho interesse",
        received_at=timezone.now() - timedelta(days=1),
        created_at=timezone.now() - timedelta(days=1),
    )
    sequence = make_sequence(org_a.org, steps=[EMAIL_STEP], nome="Boas-vindas")
    make_execution(sequence, lead)
    dispatch_due()

    body = client_for(org_a.closer).get(f"/api/v1/leads/{lead.pk}/timeline/").json()
    kinds = [item["tipo"] for item in body["data"]]
    assert "followup_step" in kinds
    assert "whatsapp_message" in kinds
    assert (
        kinds.index("followup_step") < kinds.index("whatsapp_message") < kinds.index("interaction")
    )
    steps = [item for item in body["data"] if item["tipo"] == "followup_step"]
    assert {step["sequence_nome"] for step in steps} == {"Boas-vindas"}
    assert any(step["tipo_acao"] == "email" and step["step"] == 0 for step in steps)
    message = next(item for item in body["data"] if item["tipo"] == "whatsapp_message")
    assert message["body"] == "Tenho interesse"
    assert message["direction"] == "in"


def test_it_keeps_the_timeline_query_count_constant_with_all_sources(org_a, client_for):
    lead = LeadFactory(organization=org_a.org)
    for _ in range(10):
        WhatsAppMessageFactory(organization=org_a.org, lead=lead)
        InteractionFactory(lead=lead)
    client = client_for(org_a.admin)
    counts = []
    for limit in (1, 100):
        with CaptureQueriesContext(connection) as queries:
            assert (
                client.get(f"/api/v1/leads/{lead.pk}/timeline/", {"limit": limit}).status_code
                == 200
            )
        counts.append(len(queries))
    assert counts[0] == counts[1]
