from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from integrations.errors import PermanentError, RetryableError
from integrations.whatsapp.client import SendResult, WhatsAppClient
from tests.integrations.helpers import load_fixture

TOKEN = "EAAG-test-access-token-123"
PNID = "106540352242922"
PATH = f"/v25.0/{PNID}/messages"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def client(httpserver: HTTPServer) -> Iterator[WhatsAppClient]:
    with WhatsAppClient(
        base_url=httpserver.url_for("/v25.0"),
        phone_number_id=PNID,
        access_token=TOKEN,
        timeout=2.0,
    ) as wa:
        yield wa


def _assert_no_token(err: Exception) -> None:
    assert TOKEN not in str(err)
    assert TOKEN not in repr(err)
    details = getattr(err, "details", {})
    assert TOKEN not in repr(details)


def test_it_sends_text_with_the_documented_body(
    httpserver: HTTPServer, client: WhatsAppClient
) -> None:
    httpserver.expect_oneshot_request(
        PATH,
        method="POST",
        headers=AUTH,
        json={
            "messaging_product": "whatsapp",
            "recipient_type": "individual",
            "to": "5511987654321",
            "type": "text",
            "text": {"preview_url": False, "body": "Olá, Maria! Ação às 9h?"},
        },
    ).respond_with_json(load_fixture("wa_send_response.json"))

    result = client.send_text("+55 (11) 98765-4321", "Olá, Maria! Ação às 9h?")

    assert result == SendResult(
        wamid="wamid.HBgNNTUxMTk4NzY1NDMyMRUCABEYEjdBQzQ1NkJDMEI5RjU4NjlFNgA=",
        wa_id="5511987654321",
        raw={},
    )
    assert result.raw == load_fixture("wa_send_response.json")


def test_it_sends_preview_url_when_asked(httpserver: HTTPServer, client: WhatsAppClient) -> None:
    httpserver.expect_oneshot_request(
        PATH,
        method="POST",
        headers=AUTH,
        json={
            "messaging_product": "whatsapp",
            "recipient_type": "individual",
            "to": "5511987654321",
            "type": "text",
            "text": {"preview_url": True, "body": "Veja https://example.com.br"},
        },
    ).respond_with_json(load_fixture("wa_send_response.json"))

    client.send_text("5511987654321", "Veja https://example.com.br", preview_url=True)


def test_it_sends_template_with_body_parameters(
    httpserver: HTTPServer, client: WhatsAppClient
) -> None:
    httpserver.expect_oneshot_request(
        PATH,
        method="POST",
        headers=AUTH,
        json={
            "messaging_product": "whatsapp",
            "recipient_type": "individual",
            "to": "5511987654321",
            "type": "template",
            "template": {
                "name": "lembrete_reuniao",
                "language": {"code": "pt_BR"},
                "components": [
                    {
                        "type": "body",
                        "parameters": [
                            {"type": "text", "text": "Maria"},
                            {"type": "text", "text": "terça às 9h"},
                        ],
                    }
                ],
            },
        },
    ).respond_with_json(load_fixture("wa_send_response.json"))

    result = client.send_template(
        "+5511987654321", "lembrete_reuniao", body_parameters=["Maria", "terça às 9h"]
    )

    assert result.wamid.startswith("wamid.")


def test_it_omits_components_for_templates_without_parameters(
    httpserver: HTTPServer, client: WhatsAppClient
) -> None:
    httpserver.expect_oneshot_request(
        PATH,
        method="POST",
        headers=AUTH,
        json={
            "messaging_product": "whatsapp",
            "recipient_type": "individual",
            "to": "16505551234",
            "type": "template",
            "template": {"name": "hello_world", "language": {"code": "en_US"}},
        },
    ).respond_with_json(load_fixture("wa_send_response.json"))

    client.send_template("16505551234", "hello_world", language="en_US")


def test_it_rejects_a_bare_string_as_body_parameters(client: WhatsAppClient) -> None:
    with pytest.raises(TypeError):
        client.send_template("5511987654321", "x", body_parameters="Maria")


def test_it_rejects_recipients_without_digits_before_sending(client: WhatsAppClient) -> None:
    with pytest.raises(ValueError, match="digits"):
        client.send_text("+", "oi")


def test_it_classifies_http_429_as_retryable_with_retry_after(
    httpserver: HTTPServer, client: WhatsAppClient
) -> None:
    httpserver.expect_oneshot_request(PATH, method="POST").respond_with_json(
        load_fixture("wa_error_130429.json"), status=429, headers={"Retry-After": "7"}
    )

    with pytest.raises(RetryableError) as excinfo:
        client.send_text("5511987654321", "oi")

    err = excinfo.value
    assert (err.status_code, err.code, err.retry_after) == (429, 130429, 7.0)
    assert err.details["fbtrace_id"] == "Az8or2yhqkZfEZ-_4Qn_Bam"
    assert "too many messages" in err.details["details"]


@pytest.mark.parametrize("code", [4, 80007, 130429, 131048, 131056, 2, 131016, 133004])
def test_it_classifies_meta_throttling_and_transient_codes_as_retryable(
    httpserver: HTTPServer, client: WhatsAppClient, code: int
) -> None:
    body = {"error": {"message": f"(#{code}) x", "type": "OAuthException", "code": code}}
    httpserver.expect_oneshot_request(PATH, method="POST").respond_with_json(body, status=400)

    with pytest.raises(RetryableError) as excinfo:
        client.send_text("5511987654321", "oi")

    assert excinfo.value.code == code
    assert excinfo.value.retry_after is None


def test_it_classifies_http_500_as_retryable(
    httpserver: HTTPServer, client: WhatsAppClient
) -> None:
    httpserver.expect_oneshot_request(PATH, method="POST").respond_with_data(
        "<html>Bad Gateway</html>", status=502, content_type="text/html"
    )

    with pytest.raises(RetryableError) as excinfo:
        client.send_text("5511987654321", "oi")

    assert excinfo.value.status_code == 502
    assert excinfo.value.code is None


def test_it_classifies_a_timeout_as_retryable(httpserver: HTTPServer) -> None:
    def slow(_request: Request) -> Response:
        time.sleep(0.5)
        return Response("{}", content_type="application/json")

    httpserver.expect_oneshot_request(PATH, method="POST").respond_with_handler(slow)
    client = WhatsAppClient(
        base_url=httpserver.url_for("/v25.0"),
        phone_number_id=PNID,
        access_token=TOKEN,
        timeout=0.1,
    )

    with pytest.raises(RetryableError, match="timed out") as excinfo:
        client.send_text("5511987654321", "oi")

    _assert_no_token(excinfo.value)
    client.close()
    time.sleep(0.5)  # let the stub finish its slow answer before the next test


def test_it_classifies_connection_refused_as_retryable(refused_url: str) -> None:
    with (
        WhatsAppClient(
            base_url=refused_url, phone_number_id=PNID, access_token=TOKEN, timeout=1.0
        ) as client,
        pytest.raises(RetryableError, match="ConnectError") as excinfo,
    ):
        client.send_text("5511987654321", "oi")

    assert isinstance(excinfo.value.__cause__, httpx.ConnectError)
    _assert_no_token(excinfo.value)


def test_it_classifies_131047_re_engagement_as_permanent(
    httpserver: HTTPServer, client: WhatsAppClient
) -> None:
    httpserver.expect_oneshot_request(PATH, method="POST").respond_with_json(
        load_fixture("wa_error_131047.json"), status=400
    )

    with pytest.raises(PermanentError) as excinfo:
        client.send_text("5511987654321", "oi")

    err = excinfo.value
    assert (err.provider, err.status_code, err.code) == ("whatsapp", 400, 131047)
    assert err.message == "(#131047) Re-engagement message"
    assert "24 hours" in err.details["details"]
    assert err.details["type"] == "OAuthException"


def test_it_classifies_an_expired_token_as_permanent(
    httpserver: HTTPServer, client: WhatsAppClient
) -> None:
    httpserver.expect_oneshot_request(PATH, method="POST").respond_with_json(
        load_fixture("wa_error_190.json"), status=401
    )

    with pytest.raises(PermanentError) as excinfo:
        client.send_text("5511987654321", "oi")

    assert (excinfo.value.status_code, excinfo.value.code) == (401, 190)
    assert excinfo.value.details["error_subcode"] == 463


def test_it_never_puts_the_token_in_errors_even_if_echoed(
    httpserver: HTTPServer, client: WhatsAppClient
) -> None:
    body = {
        "error": {
            "message": f"Invalid OAuth access token {TOKEN}",
            "type": "OAuthException",
            "code": 190,
            "error_data": {"details": f"token={TOKEN}"},
            "fbtrace_id": "abc",
        }
    }
    httpserver.expect_oneshot_request(PATH, method="POST").respond_with_json(body, status=401)

    with pytest.raises(PermanentError) as excinfo:
        client.send_text("5511987654321", "oi")

    _assert_no_token(excinfo.value)
    assert TOKEN not in repr(client)


def test_it_treats_a_2xx_without_message_id_as_permanent(
    httpserver: HTTPServer, client: WhatsAppClient
) -> None:
    httpserver.expect_oneshot_request(PATH, method="POST").respond_with_json(
        {"messaging_product": "whatsapp", "messages": []}
    )

    with pytest.raises(PermanentError) as excinfo:
        client.send_text("5511987654321", "oi")

    assert excinfo.value.code == "unexpected_response"


def test_it_uses_a_caller_supplied_http_client_without_closing_it(httpserver: HTTPServer) -> None:
    httpserver.expect_oneshot_request(PATH, method="POST", headers=AUTH).respond_with_json(
        load_fixture("wa_send_response.json")
    )
    with httpx.Client() as shared:
        with WhatsAppClient(
            base_url=httpserver.url_for("/v25.0"),
            phone_number_id=PNID,
            access_token=TOKEN,
            http=shared,
        ) as client:
            client.send_text("5511987654321", "oi")
        assert not shared.is_closed
        # The token travels per request, never as a default header of a shared client.
        assert "authorization" not in shared.headers
