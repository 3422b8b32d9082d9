"""whatsapp_send_to_lead / whatsapp_window_open over real HTTP to a Cloud API stub."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from django.utils import timezone
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from integrations.errors import PermanentError, RetryableError
from integrations.models import MessageStatus, WhatsAppMessage
from integrations.whatsapp.services import whatsapp_send_to_lead, whatsapp_window_open
from tests.factories import LeadFactory
from tests.integrations.factories import (
    ACCESS_TOKEN,
    WhatsAppAccountFactory,
    WhatsAppMessageFactory,
)
from tests.integrations.helpers import load_fixture

pytestmark = pytest.mark.django_db

PNID = "106540352242922"
PATH = f"/v25.0/{PNID}/messages"
AUTH = {"Authorization": f"Bearer {ACCESS_TOKEN}"}
WAMID = "wamid.HBgNNTUxMTk4NzY1NDMyMRUCABEYEjdBQzQ1NkJDMEI5RjU4NjlFNgA="


def text_body(to: str, body: str) -> dict:
    return {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": to,
        "type": "text",
        "text": {"preview_url": False, "body": body},
    }


def template_body(to: str, name: str) -> dict:
    return {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": to,
        "type": "template",
        "template": {"name": name, "language": {"code": "pt_BR"}},
    }


@pytest.fixture
def account(org_a, httpserver: HTTPServer):
    return WhatsAppAccountFactory(
        organization=org_a.org, phone_number_id=PNID, api_base_url=httpserver.url_for("/v25.0")
    )


@pytest.fixture
def lead(org_a):
    return LeadFactory(organization=org_a.org, telefone="+5511987654321")


def inbound(lead, *, hours_ago: float, from_phone: str = "5511987654321") -> WhatsAppMessage:
    return WhatsAppMessageFactory(
        organization=lead.organization,
        lead=lead,
        from_phone=from_phone,
        phone_key="551187654321",
        received_at=timezone.now() - timedelta(hours=hours_ago),
    )


def test_it_opens_the_window_for_24_hours_after_an_inbound_message(lead):
    assert not whatsapp_window_open(lead=lead)
    inbound(lead, hours_ago=24.1)
    assert not whatsapp_window_open(lead=lead)
    inbound(lead, hours_ago=23.9)
    assert whatsapp_window_open(lead=lead)


def test_it_ignores_outbound_messages_and_other_organizations_for_the_window(lead, org_b):
    WhatsAppMessageFactory(
        organization=lead.organization, direction="out", status="sent", phone_key="551187654321"
    )
    WhatsAppMessageFactory(organization=org_b.org, phone_key="551187654321")
    assert not whatsapp_window_open(lead=lead)


def test_it_sends_text_inside_the_window_and_records_the_wamid(account, lead, httpserver):
    inbound(lead, hours_ago=1)
    httpserver.expect_oneshot_request(
        PATH, method="POST", headers=AUTH, json=text_body("5511987654321", "Olá, Ação às 9h?")
    ).respond_with_json(load_fixture("wa_send_response.json"))

    message = whatsapp_send_to_lead(
        lead=lead, text="Olá, Ação às 9h?", template_name="boas_vindas", idempotency_key="k1"
    )

    message.refresh_from_db()
    assert message.wamid == WAMID
    assert message.status == MessageStatus.SENT
    assert message.direction == "out"
    assert message.message_type == "text"
    assert message.body == "Olá, Ação às 9h?"
    assert message.lead == lead
    assert message.account == account
    assert message.sent_at is not None
    assert message.error == {}


def test_it_replies_to_the_whatsapp_id_meta_gave_us(account, lead, httpserver):
    inbound(lead, hours_ago=1, from_phone="551187654321")  # without the ninth digit
    httpserver.expect_oneshot_request(
        PATH, method="POST", json=text_body("551187654321", "oi")
    ).respond_with_json(load_fixture("wa_send_response.json"))
    whatsapp_send_to_lead(lead=lead, text="oi", template_name=None, idempotency_key="k-to")


def test_it_sends_the_template_outside_the_window(account, lead, httpserver):
    inbound(lead, hours_ago=30)
    httpserver.expect_oneshot_request(
        PATH, method="POST", headers=AUTH, json=template_body("5511987654321", "retomada_contato")
    ).respond_with_json(load_fixture("wa_send_response.json"))

    message = whatsapp_send_to_lead(
        lead=lead, text="Texto livre", template_name="retomada_contato", idempotency_key="k2"
    )
    assert (message.message_type, message.template_name, message.wamid) == (
        "template",
        "retomada_contato",
        WAMID,
    )


def test_it_refuses_free_text_outside_the_window_without_a_template(account, lead):
    with pytest.raises(PermanentError) as caught:
        whatsapp_send_to_lead(lead=lead, text="oi", template_name=None, idempotency_key="k3")
    assert caught.value.code == "window_closed"
    assert not WhatsAppMessage.objects.exists()  # nothing was attempted


def test_it_never_sends_twice_for_the_same_key(account, lead, httpserver):
    inbound(lead, hours_ago=1)
    httpserver.expect_oneshot_request(PATH, method="POST").respond_with_json(
        load_fixture("wa_send_response.json")
    )
    first = whatsapp_send_to_lead(lead=lead, text="oi", template_name=None, idempotency_key="k4")
    second = whatsapp_send_to_lead(lead=lead, text="oi", template_name=None, idempotency_key="k4")
    assert first.pk == second.pk
    assert len(httpserver.log) == 1
    assert WhatsAppMessage.objects.filter(direction="out").count() == 1


def test_it_raises_retryable_on_429_and_sends_on_the_retry(account, lead, httpserver):
    inbound(lead, hours_ago=1)
    httpserver.expect_ordered_request(PATH, method="POST").respond_with_json(
        load_fixture("wa_error_130429.json"), status=429, headers={"Retry-After": "17"}
    )
    httpserver.expect_ordered_request(PATH, method="POST").respond_with_json(
        load_fixture("wa_send_response.json")
    )
    with pytest.raises(RetryableError) as caught:
        whatsapp_send_to_lead(lead=lead, text="oi", template_name=None, idempotency_key="k5")
    assert caught.value.retry_after == 17
    row = WhatsAppMessage.objects.get(idempotency_key="k5")
    assert row.status == MessageStatus.PENDING
    assert row.send_started_at is None  # released: Meta refused it, nothing went out
    assert row.error["status_code"] == 429

    message = whatsapp_send_to_lead(lead=lead, text="oi", template_name=None, idempotency_key="k5")
    assert message.pk == row.pk
    assert message.wamid == WAMID
    assert len(httpserver.log) == 2


def test_it_raises_retryable_on_server_errors(account, lead, httpserver):
    inbound(lead, hours_ago=1)
    httpserver.expect_oneshot_request(PATH, method="POST").respond_with_data(
        "<html>bad gateway</html>", status=502
    )
    with pytest.raises(RetryableError):
        whatsapp_send_to_lead(lead=lead, text="oi", template_name=None, idempotency_key="k6")


def test_it_raises_retryable_when_the_connection_is_refused(org_a, lead, refused_url):
    WhatsAppAccountFactory(organization=org_a.org, api_base_url=refused_url)
    inbound(lead, hours_ago=1)
    with pytest.raises(RetryableError):
        whatsapp_send_to_lead(lead=lead, text="oi", template_name=None, idempotency_key="k7")
    row = WhatsAppMessage.objects.get(idempotency_key="k7")
    assert (row.status, row.send_started_at) == (MessageStatus.PENDING, None)


def test_it_never_resends_after_a_timeout_with_an_unknown_outcome(
    account, lead, httpserver, settings
):
    settings.WHATSAPP_SEND_TIMEOUT = 0.3
    inbound(lead, hours_ago=1)

    calls: list[bytes] = []

    def slow(request: Request) -> Response:
        calls.append(request.get_data())
        time.sleep(0.8)  # Meta may well have sent it: the answer is lost
        return Response("{}", content_type="application/json")

    httpserver.expect_oneshot_request(PATH, method="POST").respond_with_handler(slow)
    with pytest.raises(RetryableError):
        whatsapp_send_to_lead(lead=lead, text="oi", template_name=None, idempotency_key="k8")
    row = WhatsAppMessage.objects.get(idempotency_key="k8")
    assert row.status == MessageStatus.FAILED
    assert row.error["code"] == "uncertain_outcome"

    with pytest.raises(PermanentError) as caught:
        whatsapp_send_to_lead(lead=lead, text="oi", template_name=None, idempotency_key="k8")
    assert caught.value.code == "uncertain_outcome"
    assert len(calls) == 1
    # Let the stub finish the abandoned answer so that it does not leak into the next test.
    deadline = time.monotonic() + 5
    while not httpserver.log and time.monotonic() < deadline:
        time.sleep(0.05)


def test_it_records_permanent_errors_such_as_131047(account, lead, httpserver):
    inbound(lead, hours_ago=1)
    httpserver.expect_oneshot_request(PATH, method="POST").respond_with_json(
        load_fixture("wa_error_131047.json"), status=400
    )
    with pytest.raises(PermanentError) as caught:
        whatsapp_send_to_lead(lead=lead, text="oi", template_name=None, idempotency_key="k9")
    assert caught.value.code == 131047
    row = WhatsAppMessage.objects.get(idempotency_key="k9")
    assert row.status == MessageStatus.FAILED
    assert row.failed_at is not None
    assert row.error["code"] == 131047
    assert row.error["status_code"] == 400
    assert "24 hours" in row.error["details"]["details"]
    assert ACCESS_TOKEN not in str(row.error)

    with pytest.raises(PermanentError) as again:
        whatsapp_send_to_lead(lead=lead, text="oi", template_name=None, idempotency_key="k9")
    assert again.value.code == 131047
    assert len(httpserver.log) == 1


def test_it_does_not_resend_a_claim_left_by_a_worker_that_died(account, lead, httpserver):
    inbound(lead, hours_ago=1)
    WhatsAppMessageFactory(
        organization=lead.organization,
        direction="out",
        wamid=None,
        status=MessageStatus.PENDING,
        idempotency_key="k10",
        send_started_at=timezone.now() - timedelta(minutes=5),
    )
    with pytest.raises(PermanentError) as caught:
        whatsapp_send_to_lead(lead=lead, text="oi", template_name=None, idempotency_key="k10")
    assert caught.value.code == "uncertain_outcome"
    assert WhatsAppMessage.objects.get(idempotency_key="k10").status == MessageStatus.FAILED
    assert httpserver.log == []


def test_it_asks_to_retry_while_another_worker_is_sending_the_same_key(account, lead, httpserver):
    inbound(lead, hours_ago=1)
    WhatsAppMessageFactory(
        organization=lead.organization,
        direction="out",
        wamid=None,
        status=MessageStatus.PENDING,
        idempotency_key="k11",
        send_started_at=timezone.now() - timedelta(seconds=3),
    )
    with pytest.raises(RetryableError) as caught:
        whatsapp_send_to_lead(lead=lead, text="oi", template_name=None, idempotency_key="k11")
    assert caught.value.code == "in_flight"
    assert httpserver.log == []


@pytest.mark.parametrize("setup", ["no_account", "inactive", "other_org"])
def test_it_needs_an_active_account_of_the_leads_organization(org_a, org_b, lead, setup):
    if setup == "inactive":
        WhatsAppAccountFactory(organization=org_a.org, ativo=False)
    if setup == "other_org":
        WhatsAppAccountFactory(organization=org_b.org)
    inbound(lead, hours_ago=1)
    with pytest.raises(PermanentError) as caught:
        whatsapp_send_to_lead(lead=lead, text="oi", template_name=None, idempotency_key="k12")
    assert caught.value.code == "no_account"
    assert not WhatsAppMessage.objects.filter(direction="out").exists()


def test_it_does_not_message_leads_who_opted_out(account, org_a):
    lead = LeadFactory(organization=org_a.org, opt_out_whatsapp=True)
    with pytest.raises(PermanentError) as caught:
        whatsapp_send_to_lead(lead=lead, text=None, template_name="t", idempotency_key="k13")
    assert caught.value.code == "opted_out"


def test_it_needs_a_phone(account, org_a):
    lead = LeadFactory(organization=org_a.org, telefone=None, telefone_chave=None)
    with pytest.raises(PermanentError) as caught:
        whatsapp_send_to_lead(lead=lead, text=None, template_name="t", idempotency_key="k14")
    assert caught.value.code == "no_phone"
