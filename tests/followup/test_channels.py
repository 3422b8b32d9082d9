"""Channels: email (locmem and real SMTP), unsubscribe page, WhatsApp contract mapping."""

from __future__ import annotations

import types
from datetime import timedelta
from typing import Any, cast

import environ
import pytest
from django.core import mail
from django.core.signing import BadSignature

from followup.channels import (
    ChannelError,
    Rendered,
    WhatsAppChannel,
    make_unsubscribe_token,
    read_unsubscribe_token,
)
from followup.engine import dispatch_due
from followup.models import ExecutionStatus, LogEvent
from integrations.errors import PermanentError, RetryableError
from leads import messaging
from leads.models import Lead
from tests.factories import LeadFactory
from tests.followup.factories import EMAIL_STEP, WHATSAPP_STEP, make_execution, make_sequence
from tests.followup.smtp_stub import smtp_port, smtp_server

pytestmark = pytest.mark.django_db


def test_an_email_carries_the_rendered_texts_and_unsubscribe_links(org_a):
    lead = LeadFactory(
        organization=org_a.org,
        closer=org_a.closer,
        nome_completo="João <b>Silva</b>",
        empresa="Clínica & Cia",
    )
    execution = make_execution(make_sequence(org_a.org), lead)

    dispatch_due()

    [message] = mail.outbox
    url = message.extra_headers["List-Unsubscribe"].strip("<>")
    assert url.startswith("https://app.exemplo.com.br/unsubscribe/")
    assert message.extra_headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert message.extra_headers["Message-ID"].startswith(f"<followup.{execution.pk}.0@")
    assert message.subject == "Oi João"
    assert "Olá João <b>Silva</b>, da Clínica & Cia." in message.body  # plain text, as typed
    assert url in message.body
    html, mimetype = message.alternatives[0]  # type: ignore[attr-defined]  # an EmailMultiAlternatives
    assert mimetype == "text/html"
    assert "João &lt;b&gt;Silva&lt;/b&gt;" in html
    assert "Clínica &amp; Cia" in html
    assert f'href="{url}"' in html
    token = url.rstrip("/").rsplit("/", 1)[1]
    assert read_unsubscribe_token(token) == str(lead.pk)


def test_a_lead_without_email_has_the_step_skipped(org_a):
    execution = make_execution(
        make_sequence(org_a.org), LeadFactory(organization=org_a.org, email=None)
    )
    assert dispatch_due().skipped == 1
    assert mail.outbox == []
    assert execution.logs.filter(evento=LogEvent.SKIPPED).exists()


def smtp_settings(settings: Any, port: int) -> None:
    """Configure email exactly as EMAIL_URL=smtp://127.0.0.1:<port> does in settings.py."""
    for name, value in environ.Env.email_url_config(f"smtp://127.0.0.1:{port}").items():
        setattr(settings, name, value)
    settings.EMAIL_TIMEOUT = 5


def test_it_delivers_over_real_smtp(org_a, settings):
    lead = LeadFactory(organization=org_a.org, nome_completo="Maria Clara")
    make_execution(make_sequence(org_a.org, steps=[EMAIL_STEP]), lead)
    with smtp_server() as (controller, handler):
        smtp_settings(settings, smtp_port(controller))
        stats = dispatch_due()
        received = list(handler.received)

    assert stats.sent == 1
    [item] = received
    assert item.rcpt_tos == [lead.email]
    assert item.message["Subject"] == "Oi Maria"
    assert item.message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    # Long headers are folded on the wire; unfolded, it is the angle-bracketed URL.
    unfolded = "".join(str(item.message["List-Unsubscribe"]).split())
    assert unfolded.startswith("<https://app.exemplo.com.br/unsubscribe/")
    parts = {part.get_content_type(): part for part in item.message.walk()}
    text = cast(bytes, parts["text/plain"].get_payload(decode=True)).decode()
    assert "Olá Maria Clara" in text
    assert "/unsubscribe/" in text


def test_a_recipient_the_smtp_server_refuses_permanently_fails_the_execution(org_a, settings):
    lead = LeadFactory(organization=org_a.org, email="naoexiste@cliente.com.br")
    execution = make_execution(make_sequence(org_a.org), lead)
    with smtp_server() as (controller, handler):
        handler.refuse[lead.email or ""] = "550 5.1.1 Mailbox does not exist"
        smtp_settings(settings, smtp_port(controller))
        stats = dispatch_due()

    assert stats.failed == 1
    execution.refresh_from_db()
    assert execution.status == ExecutionStatus.FAILED
    assert "550" in execution.logs.get(evento=LogEvent.FAILED).error


def test_a_temporary_smtp_refusal_is_retried(org_a, settings):
    lead = LeadFactory(organization=org_a.org, email="cheio@cliente.com.br")
    execution = make_execution(make_sequence(org_a.org), lead)
    with smtp_server() as (controller, handler):
        handler.refuse[lead.email or ""] = "452 4.2.2 Mailbox full"
        smtp_settings(settings, smtp_port(controller))
        assert dispatch_due().retried == 1
    execution.refresh_from_db()
    assert execution.status == ExecutionStatus.ACTIVE
    assert execution.tentativas == 1


def test_an_unreachable_smtp_server_is_retried(org_a, settings):
    execution = make_execution(make_sequence(org_a.org), LeadFactory(organization=org_a.org))
    with smtp_server() as (controller, _handler):
        port = smtp_port(controller)
    smtp_settings(settings, port)  # the server is gone now

    assert dispatch_due().retried == 1
    execution.refresh_from_db()
    assert execution.tentativas == 1


# --- unsubscribe page ---------------------------------------------------------------------------


def unsubscribe_url(lead: Lead) -> str:
    return f"/unsubscribe/{make_unsubscribe_token(lead)}/"


def test_get_asks_for_confirmation_and_changes_nothing(org_a, client):
    lead = LeadFactory(organization=org_a.org)
    response = client.get(unsubscribe_url(lead))
    assert response.status_code == 200
    assert "Confirmar descadastro" in response.content.decode()
    lead.refresh_from_db()
    assert lead.opt_out_email is False


def test_post_opts_the_lead_out_of_email(org_a, client):
    lead = LeadFactory(organization=org_a.org)
    response = client.post(unsubscribe_url(lead))
    assert response.status_code == 200
    assert "Descadastro confirmado" in response.content.decode()
    lead.refresh_from_db()
    assert lead.opt_out_email is True
    assert lead.opt_out_whatsapp is False
    assert "já está descadastrado" in client.get(unsubscribe_url(lead)).content.decode()


def test_one_click_unsubscribe_from_a_mail_provider_works_without_csrf(org_a):
    from django.test import Client

    lead = LeadFactory(organization=org_a.org)
    response = Client(enforce_csrf_checks=True).post(
        unsubscribe_url(lead),
        data="List-Unsubscribe=One-Click",
        content_type="application/x-www-form-urlencoded",
    )
    assert response.status_code == 200
    lead.refresh_from_db()
    assert lead.opt_out_email is True


def test_later_email_steps_are_skipped_after_unsubscribing(org_a, client):
    lead = LeadFactory(organization=org_a.org)
    sequence = make_sequence(org_a.org, steps=[EMAIL_STEP, EMAIL_STEP])
    make_execution(sequence, lead)
    client.post(unsubscribe_url(lead))

    stats = dispatch_due()

    assert stats.skipped == 2
    assert mail.outbox == []


@pytest.mark.parametrize(
    "token",
    [
        "lixo",
        "eyJsIjoiMSJ9:1xXfeq:assinatura-falsa",
        "a" * 300,
        "%00",
    ],
)
def test_an_invalid_token_is_a_400_page(org_a, client, token):
    for method in (client.get, client.post):
        response = method(f"/unsubscribe/{token}/")
        assert response.status_code == 400
        assert "Link inválido" in response.content.decode()


def test_a_tampered_token_is_refused(org_a, client):
    lead = LeadFactory(organization=org_a.org)
    other = LeadFactory(organization=org_a.org)
    token = make_unsubscribe_token(lead)
    _payload, rest = token.split(":", 1)
    forged = make_unsubscribe_token(other).split(":", 1)[0] + ":" + rest
    with pytest.raises(BadSignature):
        read_unsubscribe_token(forged)
    assert client.post(f"/unsubscribe/{forged}/").status_code == 400
    other.refresh_from_db()
    assert other.opt_out_email is False


def test_a_deleted_lead_gets_a_calm_answer(org_a, client):
    lead = LeadFactory(organization=org_a.org)
    url = unsubscribe_url(lead)
    lead.delete()
    assert client.post(url).status_code == 200
    assert client.get(url).status_code == 200


def test_other_methods_are_refused(org_a, client):
    lead = LeadFactory(organization=org_a.org)
    assert client.put(unsubscribe_url(lead)).status_code == 405


# --- WhatsApp channel against the integrations contract -------------------------------------


def install_whatsapp_services(monkeypatch, *, window: bool, error: Exception | None = None):
    """A stand-in sender (leads.messaging's port) with exactly the documented contract of
    integrations.whatsapp.services."""
    calls: list[dict[str, Any]] = []

    def whatsapp_window_open(*, lead):
        return window

    def whatsapp_send_to_lead(*, lead, text, template_name, idempotency_key):
        calls.append(
            {"text": text, "template_name": template_name, "idempotency_key": idempotency_key}
        )
        if error is not None:
            raise error
        return types.SimpleNamespace(wamid="wamid.TESTE")

    sender = types.SimpleNamespace(
        whatsapp_window_open=whatsapp_window_open, whatsapp_send_to_lead=whatsapp_send_to_lead
    )
    monkeypatch.setattr(messaging, "_sender", sender)
    return calls


def whatsapp_execution(org_a, step=WHATSAPP_STEP):
    lead = LeadFactory(organization=org_a.org)
    return make_execution(make_sequence(org_a.org, steps=[step]), lead), lead


def test_whatsapp_sends_text_and_template_name_with_the_step_key(org_a, monkeypatch):
    calls = install_whatsapp_services(monkeypatch, window=True)
    execution, lead = whatsapp_execution(org_a)

    result = WhatsAppChannel().send(WHATSAPP_STEP, execution, lead, Rendered(mensagem="Oi Ana!"))

    assert result.sent
    assert result.external_id == "wamid.TESTE"
    assert calls == [
        {
            "text": "Oi Ana!",
            "template_name": "retomada_contato",
            "idempotency_key": f"followup:{execution.pk}:0",
        }
    ]


def test_whatsapp_outside_the_window_without_template_is_skipped(org_a, monkeypatch):
    calls = install_whatsapp_services(monkeypatch, window=False)
    step = {**WHATSAPP_STEP, "template_name": ""}
    execution, lead = whatsapp_execution(org_a, step)

    result = WhatsAppChannel().send(step, execution, lead, Rendered(mensagem="Oi"))

    assert not result.sent
    assert "24 horas" in result.detail
    assert calls == []


def test_whatsapp_outside_the_window_with_template_sends(org_a, monkeypatch):
    calls = install_whatsapp_services(monkeypatch, window=False)
    execution, lead = whatsapp_execution(org_a)
    assert WhatsAppChannel().send(WHATSAPP_STEP, execution, lead, Rendered(mensagem="Oi")).sent
    assert calls[0]["template_name"] == "retomada_contato"


@pytest.mark.parametrize(
    ("error", "retryable"),
    [
        (RetryableError("HTTP 429", provider="whatsapp", retry_after=120), True),
        (PermanentError("(#131026) undeliverable", provider="whatsapp"), False),
    ],
)
def test_whatsapp_errors_map_to_channel_errors(org_a, monkeypatch, error, retryable):
    install_whatsapp_services(monkeypatch, window=True, error=error)
    execution, lead = whatsapp_execution(org_a)

    with pytest.raises(ChannelError) as caught:
        WhatsAppChannel().send(WHATSAPP_STEP, execution, lead, Rendered(mensagem="Oi"))

    assert caught.value.retryable is retryable
    if isinstance(error, RetryableError):
        assert caught.value.retry_after == 120


def test_whatsapp_retry_after_stretches_the_backoff(org_a, monkeypatch):
    from django.utils import timezone

    install_whatsapp_services(
        monkeypatch,
        window=True,
        error=RetryableError("HTTP 429", provider="whatsapp", retry_after=3600),
    )
    execution, _lead = whatsapp_execution(org_a)
    now = timezone.now()

    assert dispatch_due(now=now).retried == 1

    execution.refresh_from_db()
    assert execution.proxima_execucao == now + timedelta(seconds=3600)


def test_whatsapp_an_unexpected_error_reaches_the_engine_which_retries(org_a, monkeypatch):
    from django.utils import timezone

    install_whatsapp_services(monkeypatch, window=True, error=TimeoutError("read timeout"))
    execution, lead = whatsapp_execution(org_a)
    with pytest.raises(TimeoutError):
        WhatsAppChannel().send(WHATSAPP_STEP, execution, lead, Rendered(mensagem="Oi"))

    assert dispatch_due(now=timezone.now()).retried == 1


def test_the_integrations_app_registers_its_whatsapp_services():
    from integrations.whatsapp import services

    assert messaging.whatsapp_sender() is services


def test_whatsapp_without_a_registered_sender_fails_permanently(org_a, monkeypatch):
    monkeypatch.setattr(messaging, "_sender", None)
    execution, lead = whatsapp_execution(org_a)
    with pytest.raises(ChannelError) as caught:
        WhatsAppChannel().send(WHATSAPP_STEP, execution, lead, Rendered(mensagem="Oi"))
    assert caught.value.retryable is False


def test_whatsapp_to_a_lead_without_phone_is_skipped(org_a, monkeypatch):
    calls = install_whatsapp_services(monkeypatch, window=True)
    execution, lead = whatsapp_execution(org_a)
    lead.telefone = None
    assert not WhatsAppChannel().send(WHATSAPP_STEP, execution, lead, Rendered()).sent
    assert calls == []
