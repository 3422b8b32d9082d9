"""The follow-up engine's WhatsApp steps through the real integration, over HTTP to a stub of
Meta's Cloud API (no fake channel): text inside the 24-hour window, the template outside it,
a skip without a template, Meta's permanent error failing the execution."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from pytest_httpserver import HTTPServer

from followup.engine import dispatch_due
from followup.models import ExecutionStatus, FollowupExecutionLog
from integrations.models import MessageStatus, WhatsAppMessage
from organizations.models import Notification
from tests.factories import LeadFactory
from tests.followup.factories import WHATSAPP_STEP, make_execution, make_sequence
from tests.integrations.factories import (
    ACCESS_TOKEN,
    WhatsAppAccountFactory,
    WhatsAppMessageFactory,
)
from tests.integrations.helpers import load_fixture

pytestmark = pytest.mark.django_db

PNID = "106540352242922"
PATH = f"/v25.0/{PNID}/messages"


@pytest.fixture
def account(org_a, httpserver: HTTPServer):
    return WhatsAppAccountFactory(
        organization=org_a.org, phone_number_id=PNID, api_base_url=httpserver.url_for("/v25.0")
    )


@pytest.fixture
def lead(org_a):
    return LeadFactory(
        organization=org_a.org,
        nome_completo="Joana Prado",
        telefone="+5511987654321",
        closer=org_a.closer,
    )


def replied_recently(lead) -> None:
    WhatsAppMessageFactory(
        organization=lead.organization,
        lead=lead,
        from_phone="5511987654321",
        phone_key="551187654321",
        received_at=timezone.now() - timedelta(hours=2),
    )


def test_it_sends_the_step_text_inside_the_window(org_a, account, lead, httpserver):
    replied_recently(lead)
    sequence = make_sequence(org_a.org, steps=[WHATSAPP_STEP])
    execution = make_execution(sequence, lead)
    httpserver.expect_oneshot_request(
        PATH,
        method="POST",
        headers={"Authorization": f"Bearer {ACCESS_TOKEN}"},
        json={
            "messaging_product": "whatsapp",
            "recipient_type": "individual",
            "to": "5511987654321",
            "type": "text",
            "text": {"preview_url": False, "body": "Oi Joana!"},
        },
    ).respond_with_json(load_fixture("wa_send_response.json"))

    dispatch_due()

    httpserver.check_assertions()
    execution.refresh_from_db()
    assert execution.status == ExecutionStatus.COMPLETED
    assert execution.steps_executados[0]["success"] is True
    sent = WhatsAppMessage.objects.get(direction="out", lead=lead)
    assert sent.status == MessageStatus.SENT
    assert (sent.wamid or "").startswith("wamid.")
    # A second pass has nothing to do and sends nothing.
    dispatch_due()
    assert WhatsAppMessage.objects.filter(direction="out").count() == 1


def test_it_sends_the_template_outside_the_window(org_a, account, lead, httpserver):
    sequence = make_sequence(org_a.org, steps=[WHATSAPP_STEP])
    execution = make_execution(sequence, lead)
    httpserver.expect_oneshot_request(
        PATH,
        method="POST",
        json={
            "messaging_product": "whatsapp",
            "recipient_type": "individual",
            "to": "5511987654321",
            "type": "template",
            "template": {"name": "retomada_contato", "language": {"code": "pt_BR"}},
        },
    ).respond_with_json(load_fixture("wa_send_response.json"))

    dispatch_due()

    httpserver.check_assertions()
    execution.refresh_from_db()
    assert execution.status == ExecutionStatus.COMPLETED
    assert WhatsAppMessage.objects.get(direction="out").message_type == "template"


def test_it_skips_a_step_without_template_outside_the_window(org_a, account, lead, httpserver):
    step = {**WHATSAPP_STEP, "template_name": ""}
    sequence = make_sequence(org_a.org, steps=[step])
    execution = make_execution(sequence, lead)

    dispatch_due()

    assert httpserver.log == []
    execution.refresh_from_db()
    # Nothing reached the lead: the execution says so, with the reason.
    assert execution.status == ExecutionStatus.NOTHING_SENT
    assert execution.motivos_sem_envio == ["fora_da_janela"]
    assert execution.steps_executados[0]["success"] is False
    assert FollowupExecutionLog.objects.filter(execution=execution, level="warning").exists()


def test_it_fails_the_execution_on_metas_permanent_error(org_a, account, lead, httpserver):
    replied_recently(lead)
    sequence = make_sequence(org_a.org, steps=[WHATSAPP_STEP])
    execution = make_execution(sequence, lead)
    httpserver.expect_oneshot_request(PATH, method="POST").respond_with_json(
        {
            "error": {
                "message": "Re-engagement message",
                "type": "OAuthException",
                "code": 131047,
                "error_data": {"details": "More than 24 hours have passed"},
                "fbtrace_id": "AbC",
            }
        },
        status=400,
    )

    dispatch_due()

    execution.refresh_from_db()
    assert execution.status == ExecutionStatus.FAILED
    message = WhatsAppMessage.objects.get(direction="out")
    assert message.status == MessageStatus.FAILED
    assert Notification.objects.filter(recipient=org_a.closer, tipo="followup_failed").exists()


def test_it_retries_later_when_meta_throttles(org_a, account, lead, httpserver):
    replied_recently(lead)
    sequence = make_sequence(org_a.org, steps=[WHATSAPP_STEP])
    execution = make_execution(sequence, lead)
    httpserver.expect_oneshot_request(PATH, method="POST").respond_with_json(
        {"error": {"message": "Rate limit hit", "code": 130429}},
        status=429,
        headers={"Retry-After": "120"},
    )

    dispatch_due()

    execution.refresh_from_db()
    assert execution.status == ExecutionStatus.ACTIVE
    assert execution.tentativas == 1
    assert execution.proxima_execucao is not None
    assert execution.proxima_execucao >= timezone.now() + timedelta(seconds=110)
