"""Outbound webhooks: subscriptions, Standard Webhooks signatures over real HTTP, retries with
backoff, automatic disabling, replay, the SSRF guard and tenancy."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from integrations import net
from integrations.jobs import webhook_deliveries_sweep
from integrations.outbound import services
from integrations.outbound.models import DeliveryStatus, WebhookDelivery, WebhookEndpoint
from organizations.models import Notification
from tests.integrations.jobs import run_jobs

pytestmark = pytest.mark.django_db

URL = "/api/v1/integrations/webhook-endpoints/"


def verify(secret: str, headers: Any, body: bytes) -> bool:
    """The receiver's side of the spec, written from its text (not from our signing module)."""
    key = base64.b64decode(secret.split("_", 1)[1])
    signed = f"{headers['webhook-id']}.{headers['webhook-timestamp']}.".encode() + body
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    return any(sig == f"v1,{expected}" for sig in headers["webhook-signature"].split(" "))


def subscribe(client: Any, url: str, eventos: list[str]) -> dict[str, Any]:
    response = client.post(URL, {"url": url, "eventos": eventos}, format="json")
    assert response.status_code == 201, response.json()
    body: dict[str, Any] = response.json()
    return body


def test_it_returns_the_secret_once_and_never_again(org_a, client_for, httpserver):
    client = client_for(org_a.admin)
    created = subscribe(client, httpserver.url_for("/hook"), ["lead.created"])
    assert created["secret"].startswith("whsec_")
    assert len(base64.b64decode(created["secret"][6:])) == 24
    detail = client.get(f"{URL}{created['id']}/").json()
    assert "secret" not in detail
    assert all("secret" not in item for item in client.get(URL).json()["data"])


@pytest.mark.parametrize("role", ["gestor", "closer", "sdr", "mentor"])
def test_it_is_for_admins_only(org_a, client_for, role):
    response = client_for(org_a.member(role)).post(
        URL, {"url": "https://example.com/h", "eventos": ["lead.created"]}, format="json"
    )
    assert response.status_code == 403
    assert WebhookEndpoint.objects.count() == 0


@pytest.mark.parametrize(
    "body",
    [
        {"url": "https://example.com/h", "eventos": []},
        {"url": "https://example.com/h", "eventos": ["lead.deleted"]},
        {"url": "not a url", "eventos": ["lead.created"]},
        {"eventos": ["lead.created"]},
    ],
)
def test_it_refuses_bad_input_and_writes_nothing(org_a, client_for, body):
    response = client_for(org_a.admin).post(URL, body, format="json")
    assert response.status_code == 400
    assert set(response.json()) == {"error", "details"}
    assert WebhookEndpoint.objects.count() == 0


@pytest.mark.parametrize(
    ("host", "address"),
    [
        ("127.0.0.1.nip.io", "127.0.0.1"),
        ("localtest.me", "127.0.0.1"),
        ("internal.example.com", "10.1.2.3"),
        ("meta.example.com", "169.254.169.254"),
        ("v6.example.com", "::1"),
        ("mapped.example.com", "::ffff:192.168.0.1"),
    ],
)
def test_it_refuses_names_that_resolve_inward(
    org_a, client_for, settings, monkeypatch, host, address
):
    settings.INTEGRATIONS_ALLOW_PRIVATE_URLS = False
    monkeypatch.setattr(net, "resolve", lambda h, p: [address])
    response = client_for(org_a.admin).post(
        URL, {"url": f"https://{host}/hook", "eventos": ["lead.created"]}, format="json"
    )
    assert response.status_code == 400
    assert "url" in response.json()["details"]
    assert WebhookEndpoint.objects.count() == 0


def test_it_accepts_a_public_https_url(org_a, client_for, settings, monkeypatch):
    settings.INTEGRATIONS_ALLOW_PRIVATE_URLS = False
    monkeypatch.setattr(net, "resolve", lambda h, p: ["93.184.215.14"])
    subscribe(client_for(org_a.admin), "https://hooks.example.com/x", ["lead.created"])


def test_a_new_lead_is_delivered_signed_to_subscribers_only(
    org_a, client_for, httpserver: HTTPServer, django_capture_on_commit_callbacks
):
    admin = client_for(org_a.admin)
    created = subscribe(admin, httpserver.url_for("/hook"), ["lead.created"])
    subscribe(admin, httpserver.url_for("/other"), ["feedback.created"])
    received: list[Request] = []

    def handler(request: Request) -> Response:
        received.append(request)
        return Response("ok", status=200)

    httpserver.expect_request("/hook", method="POST").respond_with_handler(handler)
    with django_capture_on_commit_callbacks(execute=True):
        lead = client_for(org_a.closer).post(
            "/api/v1/leads/", {"nome_completo": "Sérgio Dias", "email": "s@x.com"}, format="json"
        )
    assert lead.status_code == 201
    run_jobs()

    assert len(received) == 1
    request = received[0]
    body = request.get_data()
    assert verify(created["secret"], request.headers, body)
    assert request.headers["webhook-id"].startswith("msg_")
    payload = json.loads(body)
    assert payload["type"] == "lead.created"
    assert payload["data"]["id"] == lead.json()["id"]
    assert payload["data"]["nome_completo"] == "Sérgio Dias"
    delivery = WebhookDelivery.objects.get()
    assert delivery.status == DeliveryStatus.ENTREGUE
    assert delivery.tentativas == 1
    assert WebhookEndpoint.objects.get(pk=created["id"]).ultimo_sucesso_em is not None


def test_failures_back_off_then_give_up_and_disable_the_endpoint(
    org_a, client_for, httpserver: HTTPServer, settings, django_capture_on_commit_callbacks
):
    settings.WEBHOOK_RETRY_SCHEDULE = [5, 60]
    created = subscribe(client_for(org_a.admin), httpserver.url_for("/hook"), ["lead.created"])
    httpserver.expect_request("/hook").respond_with_data("boom", status=503)
    with django_capture_on_commit_callbacks(execute=True):
        client_for(org_a.closer).post("/api/v1/leads/", {"nome_completo": "Ana"}, format="json")
    before = timezone.now()
    run_jobs()
    after = timezone.now()
    delivery = WebhookDelivery.objects.get()
    assert delivery.status == DeliveryStatus.PENDENTE
    assert delivery.tentativas == 1
    assert delivery.ultimo_status_http == 503
    assert "boom" in delivery.ultimo_erro
    first_retry = delivery.proxima_tentativa
    assert first_retry is not None
    assert before + timedelta(seconds=5) <= first_retry <= after + timedelta(seconds=5)

    # Not due yet: the sweep leaves it alone.
    assert webhook_deliveries_sweep() == 0
    for expected_attempts in (2, 3):
        WebhookDelivery.objects.filter(pk=delivery.pk).update(proxima_tentativa=timezone.now())
        with django_capture_on_commit_callbacks(execute=True):
            assert webhook_deliveries_sweep() == 1
        run_jobs()
        delivery.refresh_from_db()
        assert delivery.tentativas == expected_attempts

    assert delivery.status == DeliveryStatus.FALHOU
    endpoint = WebhookEndpoint.objects.get(pk=created["id"])
    assert endpoint.ativo is False
    assert endpoint.desativado_em is not None
    note = Notification.objects.get(tipo="webhook_disabled")
    assert note.recipient == org_a.admin
    assert len(httpserver.log) == 3


def test_a_success_in_the_meantime_keeps_the_endpoint_on(
    org_a, client_for, httpserver: HTTPServer, settings
):
    settings.WEBHOOK_RETRY_SCHEDULE = []
    created = subscribe(client_for(org_a.admin), httpserver.url_for("/hook"), ["lead.created"])
    endpoint = WebhookEndpoint.objects.get(pk=created["id"])
    [delivery] = services.webhook_event_record(
        organization_id=org_a.org.pk, event_type="lead.created", data={"id": 1}
    )
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(
        ultimo_sucesso_em=timezone.now() + timedelta(seconds=1)
    )
    httpserver.expect_request("/hook").respond_with_data("no", status=500)
    assert services.webhook_delivery_attempt(delivery_id=delivery.pk) == DeliveryStatus.FALHOU
    endpoint.refresh_from_db()
    assert endpoint.ativo is True


def test_a_redirect_is_a_failed_attempt_not_followed(
    org_a, client_for, httpserver: HTTPServer, settings
):
    settings.WEBHOOK_RETRY_SCHEDULE = [60]
    subscribe(client_for(org_a.admin), httpserver.url_for("/hook"), ["lead.created"])
    httpserver.expect_request("/hook").respond_with_response(
        Response(status=302, headers={"Location": "http://169.254.169.254/"})
    )
    [delivery] = services.webhook_event_record(
        organization_id=org_a.org.pk, event_type="lead.created", data={"id": 1}
    )
    assert services.webhook_delivery_attempt(delivery_id=delivery.pk) == DeliveryStatus.PENDENTE
    delivery.refresh_from_db()
    assert delivery.ultimo_status_http == 302
    assert len(httpserver.log) == 1


def test_the_guard_applies_at_connection_time(org_a, client_for, settings, monkeypatch):
    """The name now points inward (DNS rebinding since the URL was saved): the guarded client
    resolves it once, as it connects, refuses, and the attempt keeps the guard's reason."""
    settings.WEBHOOK_RETRY_SCHEDULE = [60]
    created = subscribe(client_for(org_a.admin), "https://hooks.example.com/x", ["lead.created"])
    settings.INTEGRATIONS_ALLOW_PRIVATE_URLS = False
    lookups: list[str] = []

    def resolve(host: str, port: int) -> list[str]:
        lookups.append(host)
        return ["127.0.0.1"]

    monkeypatch.setattr(net, "resolve", resolve)
    [delivery] = services.webhook_event_record(
        organization_id=org_a.org.pk, event_type="lead.created", data={"id": 1}
    )
    assert services.webhook_delivery_attempt(delivery_id=delivery.pk) == DeliveryStatus.PENDENTE
    delivery.refresh_from_db()
    assert delivery.ultimo_status_http is None
    assert delivery.ultimo_erro == "Endereço interno não permitido."
    assert lookups == ["hooks.example.com"]  # one lookup an attempt
    assert str(delivery.endpoint_id) == created["id"]


def test_a_stored_url_that_is_not_https_is_refused_before_any_lookup(
    org_a, client_for, settings, monkeypatch
):
    settings.WEBHOOK_RETRY_SCHEDULE = [60]
    created = subscribe(client_for(org_a.admin), "https://hooks.example.com/x", ["lead.created"])
    WebhookEndpoint.objects.filter(pk=created["id"]).update(url="http://hooks.example.com/x")
    settings.INTEGRATIONS_ALLOW_PRIVATE_URLS = False
    monkeypatch.setattr(net, "resolve", lambda h, p: pytest.fail("resolved"))
    [delivery] = services.webhook_event_record(
        organization_id=org_a.org.pk, event_type="lead.created", data={"id": 1}
    )
    assert services.webhook_delivery_attempt(delivery_id=delivery.pk) == DeliveryStatus.PENDENTE
    delivery.refresh_from_db()
    assert delivery.ultimo_erro == "Use um endereço https."


def test_an_attempt_is_claimed_once(org_a, client_for, httpserver: HTTPServer):
    subscribe(client_for(org_a.admin), httpserver.url_for("/hook"), ["lead.created"])
    httpserver.expect_oneshot_request("/hook").respond_with_data("ok")
    [delivery] = services.webhook_event_record(
        organization_id=org_a.org.pk, event_type="lead.created", data={"id": 1}
    )
    assert services.webhook_delivery_attempt(delivery_id=delivery.pk) == DeliveryStatus.ENTREGUE
    # A second job for the same delivery (a sweep racing the first job) finds nothing to do.
    assert services.webhook_delivery_attempt(delivery_id=delivery.pk) is None


def test_replay_sends_the_same_event_again(
    org_a, client_for, httpserver: HTTPServer, django_capture_on_commit_callbacks
):
    admin = client_for(org_a.admin)
    created = subscribe(admin, httpserver.url_for("/hook"), ["lead.created"])
    httpserver.expect_request("/hook").respond_with_data("ok")
    [delivery] = services.webhook_event_record(
        organization_id=org_a.org.pk, event_type="lead.created", data={"id": 7}
    )
    services.webhook_delivery_attempt(delivery_id=delivery.pk)
    base = f"{URL}{created['id']}/deliveries/"
    listed = admin.get(base).json()["data"]
    assert [item["id"] for item in listed] == [str(delivery.pk)]
    with django_capture_on_commit_callbacks(execute=True):
        response = admin.post(f"{base}{delivery.pk}/replay/")
    assert response.status_code == 202
    run_jobs()
    ids = [entry[0].headers["webhook-id"] for entry in httpserver.log]
    assert ids == [delivery.mensagem_id, delivery.mensagem_id]
    assert WebhookDelivery.objects.filter(replay_of=delivery, status="entregue").count() == 1


def test_other_organizations_endpoints_and_deliveries_are_404(org_a, org_b, client_for):
    created = subscribe(client_for(org_a.admin), "https://example.com/h", ["lead.created"])
    [delivery] = services.webhook_event_record(
        organization_id=org_a.org.pk, event_type="lead.created", data={"id": 1}
    )
    other = client_for(org_b.admin)
    assert other.get(f"{URL}{created['id']}/").status_code == 404
    assert other.patch(f"{URL}{created['id']}/", {"ativo": False}, format="json").status_code == 404
    assert other.delete(f"{URL}{created['id']}/").status_code == 404
    base = f"{URL}{created['id']}/deliveries/"
    assert other.get(base).status_code == 404
    assert other.post(f"{base}{delivery.pk}/replay/").status_code == 404
    assert other.get(URL).json()["data"] == []
    assert WebhookEndpoint.objects.get(pk=created["id"]).ativo is True
    assert WebhookDelivery.objects.count() == 1


def test_events_of_other_apps_reach_their_subscribers(org_a, client_for):
    from tests.mentorados.factories import MentoradoFactory

    subscribe(client_for(org_a.admin), "https://example.com/h", ["feedback.created"])
    mentorado = MentoradoFactory(organization=org_a.org)
    response = client_for(org_a.gestor).post(
        f"/api/v1/mentorados/{mentorado.pk}/feedbacks/",
        {"nota_nps": 9, "nota_geral": 8},
        format="json",
    )
    assert response.status_code == 201, response.json()
    delivery = WebhookDelivery.objects.get()
    assert delivery.evento == "feedback.created"
    assert delivery.payload["data"]["nota_nps"] == 9
    assert delivery.payload["data"]["mentorado_id"] == str(mentorado.pk)
