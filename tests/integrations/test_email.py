"""Email goes out through Django's backends: SMTP (EMAIL_URL) or Brevo's API (Anymail).

Both over the wire: a local SMTP server (aiosmtpd) and an HTTP stub standing in for Brevo.
The settings wiring is checked in a fresh interpreter, since settings are read at start-up.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from email import message_from_bytes
from email.header import decode_header, make_header
from typing import Any, cast

import pytest
from aiosmtpd.controller import Controller
from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection
from pytest_httpserver import HTTPServer

BREVO_KEY = "xkeysib-test-0123456789"
SCRIPT = """
import django
django.setup()
from django.conf import settings
from django.core.mail import send_mail
print(settings.EMAIL_BACKEND)
send_mail(
    "Assunto de teste", "Corpo de teste", "Leads <no-reply@mentoria.test>", ["ana@cliente.com.br"]
)
"""


class Collector:
    def __init__(self) -> None:
        self.envelopes: list[Any] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.envelopes.append(envelope)
        return "250 Message accepted for delivery"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def smtp() -> Iterator[tuple[Collector, int]]:
    collector = Collector()
    port = free_port()
    controller = Controller(collector, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield collector, port
    finally:
        controller.stop()


def run_django(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    base = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("EMAIL_", "BREVO_", "PYTEST_"))
    }
    base["DJANGO_SETTINGS_MODULE"] = "config.settings"
    return subprocess.run(
        [sys.executable, "-c", SCRIPT],
        env={**base, **env},
        cwd=settings.BASE_DIR,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def header(message: Any, name: str) -> str:
    return str(make_header(decode_header(message[name])))


def test_it_sends_through_smtp(smtp):
    collector, port = smtp
    connection = get_connection(
        "django.core.mail.backends.smtp.EmailBackend", host="127.0.0.1", port=port, timeout=5
    )
    email = EmailMultiAlternatives(
        subject="Sua mentoria: próximos passos",
        body="Olá, Ana! Ação às 9h.",
        from_email="Leads <no-reply@mentoria.test>",
        to=["ana@cliente.com.br"],
        headers={"List-Unsubscribe": "<https://leads.test/u/abc>"},
        connection=connection,
    )
    email.attach_alternative("<p>Olá, Ana!</p>", "text/html")
    assert email.send() == 1

    [envelope] = collector.envelopes
    assert envelope.mail_from == "no-reply@mentoria.test"
    assert envelope.rcpt_tos == ["ana@cliente.com.br"]
    message = message_from_bytes(envelope.content)
    assert header(message, "Subject") == "Sua mentoria: próximos passos"
    assert message["List-Unsubscribe"] == "<https://leads.test/u/abc>"
    parts = {part.get_content_type(): part for part in message.walk()}
    assert (
        cast(bytes, parts["text/plain"].get_payload(decode=True)).decode()
        == "Olá, Ana! Ação às 9h."
    )
    assert cast(bytes, parts["text/html"].get_payload(decode=True)).decode() == "<p>Olá, Ana!</p>"


def test_it_configures_smtp_from_email_url(smtp):
    collector, port = smtp
    result = run_django({"EMAIL_URL": f"smtp://127.0.0.1:{port}"})
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "django.core.mail.backends.smtp.EmailBackend"
    [envelope] = collector.envelopes
    assert envelope.rcpt_tos == ["ana@cliente.com.br"]
    assert b"Corpo de teste" in envelope.content


def expect_brevo(httpserver: HTTPServer, received: list[dict[str, Any]]) -> None:
    def handler(request: Any) -> Any:
        from werkzeug import Response

        received.append({"headers": dict(request.headers), "json": json.loads(request.data)})
        return Response(
            json.dumps({"messageId": "<202611291200.123456@smtp-relay.mailin.fr>"}),
            status=201,
            content_type="application/json",
        )

    httpserver.expect_oneshot_request("/v3/smtp/email", method="POST").respond_with_handler(handler)


def test_it_sends_through_brevos_api(httpserver):
    received: list[dict[str, Any]] = []
    expect_brevo(httpserver, received)
    connection = get_connection(
        "anymail.backends.brevo.EmailBackend",
        api_key=BREVO_KEY,
        api_url=httpserver.url_for("/v3/"),
    )
    email = EmailMultiAlternatives(
        subject="Sua mentoria: próximos passos",
        body="Olá, Ana!",
        from_email="Mentoria Alfa <no-reply@mentoria.test>",
        to=["Ana Souza <ana@cliente.com.br>"],
        reply_to=["closer@mentoria.test"],
        headers={"List-Unsubscribe": "<https://leads.test/u/abc>"},
        connection=connection,
    )
    email.attach_alternative("<p>Olá, Ana!</p>", "text/html")
    assert email.send() == 1

    [request] = received
    assert request["headers"]["Api-Key"] == BREVO_KEY
    assert request["headers"]["Content-Type"] == "application/json"
    assert request["json"] == {
        "sender": {"email": "no-reply@mentoria.test", "name": "Mentoria Alfa"},
        "to": [{"email": "ana@cliente.com.br", "name": "Ana Souza"}],
        "replyTo": {"email": "closer@mentoria.test"},
        "subject": "Sua mentoria: próximos passos",
        "textContent": "Olá, Ana!",
        "htmlContent": "<p>Olá, Ana!</p>",
        "headers": {"List-Unsubscribe": "<https://leads.test/u/abc>"},
    }
    status = email.anymail_status  # type: ignore[attr-defined]  # set by Anymail on send
    assert status.message_id == "<202611291200.123456@smtp-relay.mailin.fr>"
    assert status.status == {"queued"}


def test_it_configures_brevo_from_the_environment(httpserver):
    received: list[dict[str, Any]] = []
    expect_brevo(httpserver, received)
    result = run_django(
        {
            "EMAIL_PROVIDER": "brevo",
            "BREVO_API_KEY": BREVO_KEY,
            "BREVO_API_URL": httpserver.url_for("/v3/"),
        }
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "anymail.backends.brevo.EmailBackend"
    [request] = received
    assert request["headers"]["Api-Key"] == BREVO_KEY
    assert request["json"]["subject"] == "Assunto de teste"
    assert request["json"]["to"] == [{"email": "ana@cliente.com.br"}]


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"EMAIL_PROVIDER": "brevo"}, "BREVO_API_KEY must be set"),
        ({"EMAIL_PROVIDER": "sendgrid"}, "Unknown EMAIL_PROVIDER"),
    ],
)
def test_it_refuses_an_incomplete_provider_configuration(env, message):
    result = run_django(env)
    assert result.returncode != 0
    assert message in result.stderr
