"""Replies: the service, the responses endpoint and the lead_replied signal."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from followup import services
from followup.models import ExecutionStatus, LogEvent
from leads import signals
from leads.models import Lead, LeadInteraction
from organizations.models import Notification, Organization
from tests.factories import LeadFactory
from tests.followup.factories import make_execution, make_sequence

pytestmark = pytest.mark.django_db

URL = "/api/v1/followup/responses/"


def test_a_reply_marks_every_unfinished_execution_responded(org_a):
    lead = LeadFactory(organization=org_a.org, closer=org_a.closer)
    active = make_execution(make_sequence(org_a.org), lead)
    paused = make_execution(make_sequence(org_a.org), lead, status="paused")
    done = make_execution(make_sequence(org_a.org), lead, status="completed")
    someone_else = make_execution(make_sequence(org_a.org), LeadFactory(organization=org_a.org))
    received = timezone.now() - timedelta(minutes=3)

    result = services.followup_register_reply(
        lead=lead, channel="whatsapp", message="Quero saber mais", received_at=received
    )

    assert result.responded == 2
    for execution in (active, paused):
        execution.refresh_from_db()
        assert execution.status == ExecutionStatus.RESPONDED
        assert execution.data_resposta == received
        assert execution.logs.filter(evento=LogEvent.RESPONDED).exists()
    for execution, status in ((done, "completed"), (someone_else, "active")):
        execution.refresh_from_db()
        assert execution.status == status
    interaction = LeadInteraction.objects.get(pk=result.interaction_id)
    assert (interaction.tipo_interacao, interaction.resultado) == ("whatsapp", "contato_realizado")
    assert interaction.closer == org_a.closer
    assert interaction.detalhes_completos == "Quero saber mais"
    notification = Notification.objects.get(tipo="lead_responded")
    assert notification.recipient == org_a.closer
    assert notification.payload["lead_id"] == str(lead.pk)


def test_a_reply_to_a_lead_without_closer_is_recorded_by_the_system(org_a):
    lead = LeadFactory(organization=org_a.org)
    result = services.followup_register_reply(lead=lead, channel="email", message="Oi")
    interaction = LeadInteraction.objects.get(pk=result.interaction_id)
    assert interaction.closer is None
    assert interaction.tipo_interacao == "email"
    assert not Notification.objects.exists()


def test_the_lead_replied_signal_runs_the_reply_service(org_a):
    """The WhatsApp webhook sends this signal; nothing else needs wiring."""
    lead = LeadFactory(organization=org_a.org, closer=org_a.closer)
    execution = make_execution(make_sequence(org_a.org), lead)

    signals.lead_replied.send(
        sender=Lead, lead=lead, channel="whatsapp", message="Oi!", received_at=timezone.now()
    )

    execution.refresh_from_db()
    assert execution.status == ExecutionStatus.RESPONDED


def test_the_endpoint_registers_a_reply(org_a, client_for):
    lead = LeadFactory(organization=org_a.org, closer=org_a.closer)
    execution = make_execution(make_sequence(org_a.org), lead)

    response = client_for(org_a.closer).post(
        URL, {"lead_id": str(lead.pk), "channel": "email", "message": "Pode ligar"}, format="json"
    )

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["success"] is True
    assert body["responded"] == 1
    assert "1" in body["message"]
    execution.refresh_from_db()
    assert execution.status == ExecutionStatus.RESPONDED
    assert LeadInteraction.objects.filter(pk=body["interaction_id"], lead=lead).exists()


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"channel": "email", "message": "x"},
        {"lead_id": "nao-e-uuid", "channel": "email", "message": "x"},
        {"lead_id": "LEAD", "channel": "telegrama", "message": "x"},
        {"lead_id": "LEAD", "channel": "email", "message": ""},
        {"lead_id": "LEAD", "channel": "email", "message": "x", "received_at": "2999-01-01T00:00Z"},
        {"lead_id": "LEAD", "channel": "email", "message": "x", "received_at": "ontem"},
    ],
)
def test_the_endpoint_refuses_bad_input_and_writes_nothing(org_a, client_for, body):
    lead = LeadFactory(organization=org_a.org)
    execution = make_execution(make_sequence(org_a.org), lead)
    body = {k: (str(lead.pk) if v == "LEAD" else v) for k, v in body.items()}

    response = client_for(org_a.admin).post(URL, body, format="json")

    assert response.status_code == 400
    assert set(response.json()) == {"error", "details"}
    execution.refresh_from_db()
    assert execution.status == ExecutionStatus.ACTIVE
    assert not LeadInteraction.objects.exists()


def test_another_organizations_lead_is_a_400(org_a, org_b, client_for):
    lead = LeadFactory(organization=org_b.org)
    execution = make_execution(make_sequence(org_b.org), lead)
    response = client_for(org_a.admin).post(
        URL, {"lead_id": str(lead.pk), "channel": "email", "message": "x"}, format="json"
    )
    assert response.status_code == 400
    assert "lead_id" in response.json()["details"]
    execution.refresh_from_db()
    assert execution.status == ExecutionStatus.ACTIVE


def test_a_lead_the_seller_cannot_see_is_a_400(org_a, client_for):
    Organization.objects.filter(pk=org_a.org.pk).update(visibilidade_leads="atribuidos")
    lead = LeadFactory(organization=org_a.org)
    response = client_for(org_a.closer).post(
        URL, {"lead_id": str(lead.pk), "channel": "email", "message": "x"}, format="json"
    )
    assert response.status_code == 400


def test_mentors_cannot_register_replies(org_a, client_for):
    lead = LeadFactory(organization=org_a.org)
    response = client_for(org_a.mentor).post(
        URL, {"lead_id": str(lead.pk), "channel": "email", "message": "x"}, format="json"
    )
    assert response.status_code == 403
    assert not LeadInteraction.objects.exists()


def test_only_post_is_allowed(org_a, client_for):
    assert client_for(org_a.admin).get(URL).status_code == 405
