"""SSRF guard (integrations/net.py): outbound URLs are checked by their resolved addresses, in
the API, in the admin forms and again when the connection is made. A stub resolver stands in
for DNS (names such as 127.0.0.1.nip.io and localtest.me really do resolve to loopback)."""

from __future__ import annotations

import socket
import ssl
from typing import Any

import httpx
import pytest
from pytest_httpserver import HTTPServer

from integrations.crm import services as crm
from integrations.models import CRMConnection
from integrations.net import OutboundURLError, check_outbound_url, guarded_client
from integrations.push.fcm import FCMClient, ServiceAccount
from tests.factories import PASSWORD
from tests.integrations.factories import CRMConnectionFactory

pytestmark = pytest.mark.django_db

DNS = {
    "127.0.0.1.nip.io": ["127.0.0.1"],
    "localtest.me": ["127.0.0.1", "::1"],
    "intranet.example.com": ["10.1.2.3"],
    "metadata.example.com": ["169.254.169.254"],
    "mapped.example.com": ["::ffff:127.0.0.1"],
    "v6-private.example.com": ["fd12:3456::1"],
    "multicast.example.com": ["224.0.0.1"],
    "half.example.com": ["93.184.216.34", "192.168.0.10"],  # one bad address is enough
    "proxy.example.com": ["93.184.216.34", "2606:2800:220:1:248:1893:25c8:1946"],
}
REAL_GETADDRINFO = socket.getaddrinfo


@pytest.fixture
def resolver(monkeypatch, settings) -> dict[str, list[str]]:
    """socket.getaddrinfo answering from DNS above (loopback literals pass through)."""
    settings.INTEGRATIONS_ALLOW_PRIVATE_URLS = False

    def getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> list[Any]:
        name = str(host).rstrip(".").lower()
        if name not in DNS:
            return REAL_GETADDRINFO(host, port, *args, **kwargs)
        out = []
        for address in DNS[name]:
            family = socket.AF_INET6 if ":" in address else socket.AF_INET
            sockaddr = (address, int(port or 0), 0, 0) if ":" in address else (address, port)
            out.append((family, socket.SOCK_STREAM, 6, "", sockaddr))
        return out

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return DNS


INTERNAL = [
    "https://127.0.0.1.nip.io/",
    "https://localtest.me:8297/api",
    "https://intranet.example.com",
    "https://metadata.example.com/latest/meta-data",
    "https://mapped.example.com",
    "https://v6-private.example.com",
    "https://multicast.example.com",
    "https://half.example.com",
    "https://[::ffff:127.0.0.1]/",
    "https://[::1]/",
    "https://0.0.0.0/",
    "http://proxy.example.com",  # plain http
]


@pytest.mark.parametrize("url", INTERNAL)
def test_the_check_refuses_names_that_resolve_inward(resolver, url):
    with pytest.raises(OutboundURLError):
        check_outbound_url(url)


def test_the_check_accepts_a_public_name(resolver):
    check_outbound_url("https://proxy.example.com/v3")


def test_the_guard_is_on_unless_set_explicitly(monkeypatch):
    """Whatever DEBUG is, the setting defaults to off (the suite turns it on in conftest)."""
    import importlib

    import config.settings

    monkeypatch.setenv("DEBUG", "1")
    monkeypatch.delenv("INTEGRATIONS_ALLOW_PRIVATE_URLS", raising=False)
    fresh = importlib.reload(config.settings)
    try:
        assert fresh.DEBUG is True
        assert fresh.INTEGRATIONS_ALLOW_PRIVATE_URLS is False
    finally:
        monkeypatch.undo()
        importlib.reload(config.settings)


@pytest.mark.parametrize("url", ["https://127.0.0.1.nip.io:8297/", "https://localtest.me/"])
@pytest.mark.parametrize(
    ("route", "body"),
    [
        ("crm-connections/", {"provider": "hubspot", "token": "t0k3n"}),
        (
            "whatsapp-accounts/",
            {
                "phone_number_id": "123456",
                "access_token": "a",
                "app_secret": "b",
                "verify_token": "c",
            },
        ),
    ],
)
def test_the_api_refuses_names_that_resolve_inward(org_a, client_for, resolver, url, route, body):
    response = client_for(org_a.admin).post(
        f"/api/v1/integrations/{route}", {**body, "api_base_url": url}, format="json"
    )
    assert response.status_code == 400, response.content
    assert "api_base_url" in response.json()["details"]


def test_the_admin_form_refuses_names_that_resolve_inward(client, org_a, resolver):
    user = org_a.admin.user
    user.is_staff = True
    user.save()
    client.login(email=user.email, password=PASSWORD)
    response = client.post(
        "/admin/integrations/crmconnection/add/",
        {
            "organization": str(org_a.org.pk),
            "provider": "hubspot",
            "api_base_url": "https://127.0.0.1.nip.io:8297/",
            "ativo": "on",
            "novo_token": "segredo",
        },
    )
    assert response.status_code == 200  # the form again, with the error
    assert "Endereço interno não permitido" in response.content.decode()
    assert not CRMConnection.objects.exists()


def test_the_client_refuses_at_connect_time_and_sends_nothing(resolver, httpserver: HTTPServer):
    """A row stored before the check (or a name re-pointed since) is refused when connecting:
    "Testar conexão" no longer sends the token to an internal address."""
    httpserver.expect_request("/crm/v3/objects/contacts").respond_with_json({"results": []})
    connection = CRMConnectionFactory(
        api_base_url=f"http://localtest.me:{httpserver.port}", token="segredo-do-crm"
    )
    ok, message = crm.crm_connection_test(connection=connection)
    assert not ok
    # The guard's reason, not the transport's class name ("failed: ConnectError" before).
    assert message.endswith("GET /crm/v3/objects/contacts refused: Endereço interno não permitido.")
    connection.refresh_from_db()
    assert "refused: Endereço interno não permitido." in connection.last_error
    assert httpserver.log == []  # nothing reached the internal server, token included


def test_a_refused_connection_that_is_not_the_guard_keeps_the_transport_class(
    settings, refused_url
):
    """Only the guard's refusal is reworded: a port nobody listens on stays a ConnectError."""
    settings.INTEGRATIONS_ALLOW_PRIVATE_URLS = True
    connection = CRMConnectionFactory(api_base_url=refused_url, token="segredo")
    ok, message = crm.crm_connection_test(connection=connection)
    assert not ok
    assert message.endswith("GET /crm/v3/objects/contacts failed: ConnectError")


def test_the_guarded_client_connects_when_private_urls_are_allowed(
    resolver, settings, httpserver: HTTPServer
):
    httpserver.expect_request("/ping").respond_with_data("pong")
    with guarded_client(timeout=5) as http:
        with pytest.raises(httpx.ConnectError):
            http.get(f"http://localtest.me:{httpserver.port}/ping")
        settings.INTEGRATIONS_ALLOW_PRIVATE_URLS = True
        assert http.get(f"http://localtest.me:{httpserver.port}/ping").text == "pong"


def test_the_guarded_client_does_not_follow_redirects(settings, httpserver: HTTPServer):
    settings.INTEGRATIONS_ALLOW_PRIVATE_URLS = True
    httpserver.expect_request("/go").respond_with_data(
        "", status=302, headers={"Location": "http://169.254.169.254/latest/meta-data"}
    )
    with guarded_client(timeout=5) as http:
        response = http.get(httpserver.url_for("/go"))
    assert response.status_code == 302


def test_every_outbound_client_shares_one_verifying_tls_context():
    """One TLS context per process (loading the CA bundle costs ~20 ms a client), and it still
    verifies certificates and host names against the CA bundle."""

    def context_of(client: httpx.Client) -> ssl.SSLContext:
        return client._transport._pool._ssl_context  # type: ignore[attr-defined]

    account = ServiceAccount(
        project_id="p", client_email="e@p.iam.test", private_key="k", token_uri="https://t"
    )
    with guarded_client(timeout=5) as one, guarded_client(timeout=5) as two:
        shared = context_of(one)
        assert context_of(two) is shared
        assert context_of(FCMClient(account).http) is shared
    assert shared.verify_mode == ssl.CERT_REQUIRED
    assert shared.check_hostname
    assert shared.cert_store_stats()["x509_ca"] > 100
