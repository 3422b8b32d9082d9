"""Gateway webhooks: tokens managed by admins (API and admin), JSON and Twilio bodies going
through the same inbound path as Meta's notifications."""

from __future__ import annotations

import hashlib
import json
import logging
import re
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode, urlsplit

import pytest
from django.test import Client

from followup.models import ExecutionStatus
from integrations.models import WebhookNotification, WhatsAppGateway, WhatsAppMessage
from integrations.whatsapp.gateway import twilio_signature
from leads.models import Lead, LeadInteraction
from tests.factories import LeadFactory
from tests.followup.factories import make_execution, make_sequence
from tests.integrations.jobs import run_jobs

pytestmark = pytest.mark.django_db

API = "/api/v1/integrations/whatsapp-gateways/"
TWILIO_TOKEN = "twilio-auth-token-0123456789abcdef"


@pytest.fixture
def gateway(org_a, client_for, settings) -> dict[str, Any]:
    """A gateway created through the API: its row and its webhook path."""
    settings.PUBLIC_BASE_URL = "https://app.example.com"
    response = client_for(org_a.admin).post(API, {"nome": "Z-API"}, format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    return {"id": body["id"], "path": urlsplit(body["webhook_url"]).path, "body": body}


@pytest.fixture
def post(django_capture_on_commit_callbacks):
    """POST to a gateway URL like the gateway would, then run the jobs like a worker."""

    def run(path: str, data: Any, *, form: bool = False, **headers: Any) -> Any:
        client = Client()
        with django_capture_on_commit_callbacks(execute=True):
            if form:
                response = client.post(
                    path,
                    urlencode(data),
                    content_type="application/x-www-form-urlencoded",
                    **headers,
                )
            else:
                raw = data if isinstance(data, bytes | str) else json.dumps(data)
                response = client.post(path, raw, content_type="application/json", **headers)
        run_jobs()
        return response

    return run


# -- the token, through the API ------------------------------------------------------------------


def test_it_answers_the_full_webhook_url_once_and_stores_only_a_hash(org_a, client_for, gateway):
    url = gateway["body"]["webhook_url"]
    assert url.startswith("https://app.example.com/webhooks/whatsapp/gateway/")
    token = gateway["path"].split("/")[-2]
    assert len(token) >= 40

    row = WhatsAppGateway.objects.get(pk=gateway["id"])
    assert row.organization == org_a.org
    assert row.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert row.token_inicio == token[:6]
    stored = json.dumps(list(WhatsAppGateway.objects.values()), default=str)
    assert token not in stored

    listed = client_for(org_a.admin).get(API).json()["data"]
    detail = client_for(org_a.admin).get(f"{API}{row.pk}/").json()
    for item in (listed[0], detail):
        assert "webhook_url" not in item
        assert token not in json.dumps(item)
        assert item["ativo"] is True
        assert item["assinatura_twilio"] is False


@pytest.mark.parametrize("role", ["gestor", "closer", "sdr", "mentor"])
def test_only_admins_manage_gateways(org_a, client_for, role):
    client = client_for(getattr(org_a, role))
    assert client.get(API).status_code == 403
    assert client.post(API, {"nome": "x"}, format="json").status_code == 403
    assert not WhatsAppGateway.objects.exists()


def test_rotation_replaces_the_url(org_a, client_for, gateway, post):
    response = client_for(org_a.admin).post(f"{API}{gateway['id']}/rotate/")
    assert response.status_code == 200, response.content
    new_path = urlsplit(response.json()["webhook_url"]).path
    assert new_path != gateway["path"]
    assert response.json()["rotated_at"] is not None

    message = {"from": "5511987654321", "body": "Oi", "timestamp": 1764950400}
    assert post(gateway["path"], message).status_code == 404
    assert post(new_path, message).status_code == 200
    assert WhatsAppMessage.objects.count() == 1


def test_revocation_makes_the_url_a_404_and_stores_nothing(org_a, client_for, gateway, post):
    assert client_for(org_a.admin).delete(f"{API}{gateway['id']}/").status_code == 204

    response = post(gateway["path"], {"from": "5511987654321", "body": "Oi", "timestamp": 1})
    assert response.status_code == 404
    assert set(response.json()) == {"error", "details"}
    assert not WebhookNotification.objects.exists()
    assert not WhatsAppMessage.objects.exists()
    item = client_for(org_a.admin).get(f"{API}{gateway['id']}/").json()
    assert item["ativo"] is False
    assert item["revoked_at"] is not None
    again = client_for(org_a.admin).post(f"{API}{gateway['id']}/rotate/")
    assert again.status_code == 409


def test_a_wrong_token_is_a_404_with_nothing_stored(gateway, post):
    response = post(
        "/webhooks/whatsapp/gateway/not-a-token/", {"from": "1", "body": "", "timestamp": 1}
    )
    assert response.status_code == 404
    assert not WebhookNotification.objects.exists()


def test_the_twilio_token_is_write_only_and_can_be_cleared(org_a, client_for, gateway):
    url = f"{API}{gateway['id']}/"
    response = client_for(org_a.admin).patch(
        url, {"twilio_auth_token": TWILIO_TOKEN}, format="json"
    )
    assert response.status_code == 200
    assert response.json()["assinatura_twilio"] is True
    assert TWILIO_TOKEN not in response.content.decode()
    assert WhatsAppGateway.objects.get().twilio_auth_token == TWILIO_TOKEN

    response = client_for(org_a.admin).patch(url, {"twilio_auth_token": ""}, format="json")
    assert response.json()["assinatura_twilio"] is False


# -- JSON bodies ------------------------------------------------------------------------------


def test_a_json_message_goes_through_the_inbound_path(org_a, gateway, post):
    """Lead matched by phone even without Brazil's ninth digit; reply handling stops the
    lead's follow-ups and records the interaction."""
    lead = LeadFactory(organization=org_a.org, telefone="+5511987654321", closer=org_a.closer)
    execution = make_execution(make_sequence(org_a.org), lead)

    response = post(
        gateway["path"],
        {"from": "551187654321", "body": "Tenho interesse", "timestamp": 1764950400},
    )

    assert response.status_code == 200, response.content
    assert response.json() == {"status": "accepted"}
    message = WhatsAppMessage.objects.get()
    assert (message.lead, message.direction, message.status) == (lead, "in", "received")
    assert message.body == "Tenho interesse"
    assert message.received_at == datetime.fromtimestamp(1764950400, tz=UTC)
    assert message.organization == org_a.org
    execution.refresh_from_db()
    assert execution.status == ExecutionStatus.RESPONDED
    interaction = LeadInteraction.objects.get(lead=lead)
    assert interaction.detalhes_completos == "Tenho interesse"
    notification = WebhookNotification.objects.get()
    assert notification.processed_at is not None
    assert notification.error == ""


@pytest.mark.parametrize(
    ("timestamp", "expected"),
    [
        ("2026-12-05T14:30:00Z", datetime(2026, 12, 5, 14, 30, tzinfo=UTC)),
        ("2026-12-05T11:30:00-03:00", datetime(2026, 12, 5, 14, 30, tzinfo=UTC)),
        # Without an offset: the organization's time zone (America/Sao_Paulo, UTC-3).
        ("2026-12-05T11:30:00", datetime(2026, 12, 5, 14, 30, tzinfo=UTC)),
        ("1764945000", datetime(2025, 12, 5, 14, 30, tzinfo=UTC)),
        (1764945000.5, datetime(2025, 12, 5, 14, 30, 0, 500000, tzinfo=UTC)),
    ],
)
def test_it_reads_iso_8601_and_unix_timestamps(org_a, gateway, post, timestamp, expected):
    assert org_a.org.timezone == "America/Sao_Paulo"
    response = post(
        gateway["path"], {"from": "+55 11 98765-4321", "body": "x", "timestamp": timestamp}
    )

    assert response.status_code == 200, response.content
    assert WhatsAppMessage.objects.get().received_at == expected


def test_a_redelivery_is_stored_once(gateway, post):
    message = {"from": "5511987654321", "body": "Oi", "timestamp": 1764950400}
    assert post(gateway["path"], message).json() == {"status": "accepted"}
    assert post(gateway["path"], message).json() == {"status": "duplicate"}
    # Same message, different bytes (key order, spacing): the hash of sender, time and text.
    reordered = json.dumps(
        {"timestamp": 1764950400, "body": "Oi", "from": "5511987654321"}, indent=1
    )
    assert post(gateway["path"], reordered).status_code == 200

    assert WebhookNotification.objects.count() == 2
    assert WhatsAppMessage.objects.count() == 1


def test_a_provider_id_deduplicates(gateway, post):
    for text in ("primeira", "reenvio editado"):
        body = {
            "id": "3EB0C767D82A",
            "from": "5511987654321",
            "body": text,
            "timestamp": 1764950400,
        }
        assert post(gateway["path"], body).status_code == 200

    assert WhatsAppMessage.objects.get().body == "primeira"


def test_unknown_numbers_are_kept_and_become_leads_per_setting(org_a, client_for, gateway, post):
    body = {"from": "5521998765432", "body": "Olá", "timestamp": 1764950400, "name": "Ana Lima"}
    post(gateway["path"], body)

    lead = Lead.objects.get()
    assert (lead.nome_completo, lead.telefone, lead.origem) == (
        "Ana Lima",
        "+5521998765432",
        "whatsapp",
    )
    assert WhatsAppMessage.objects.get().lead == lead

    client_for(org_a.admin).patch(
        f"{API}{gateway['id']}/", {"auto_criar_leads": False}, format="json"
    )
    post(gateway["path"], {"from": "5531998765432", "body": "Oi", "timestamp": 1764950400})
    assert Lead.objects.count() == 1
    kept = WhatsAppMessage.objects.get(from_phone="5531998765432")
    assert kept.lead is None
    assert kept.body == "Oi"


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"[1, 2]",
        json.dumps({"body": "x", "timestamp": 1}).encode(),
        json.dumps({"from": "5511987654321", "timestamp": 1764950400}).encode(),
        json.dumps({"from": "5511987654321", "body": "x"}).encode(),
        json.dumps({"from": "abc", "body": "x", "timestamp": 1764950400}).encode(),
        json.dumps({"from": "5511987654321", "body": 12, "timestamp": 1764950400}).encode(),
        json.dumps({"from": "5511987654321", "body": "x", "timestamp": "ontem"}).encode(),
        json.dumps({"from": "5511987654321", "body": "x", "timestamp": 99999999999999}).encode(),
        json.dumps({"from": "5511987654321", "body": "x", "timestamp": True}).encode(),
    ],
)
def test_bad_bodies_are_a_400_with_nothing_stored(gateway, post, body):
    response = post(gateway["path"], body)

    assert response.status_code == 400, response.content
    assert set(response.json()) == {"error", "details"}
    assert not WebhookNotification.objects.exists()
    assert not WhatsAppMessage.objects.exists()


def test_the_token_never_reaches_the_logs(gateway, post, caplog):
    token = gateway["path"].split("/")[-2]
    with caplog.at_level(logging.DEBUG):
        post(gateway["path"], b"not json")
        post(gateway["path"], {"from": "5511987654321", "body": "x", "timestamp": 1764950400})
    assert caplog.records
    assert token not in caplog.text


# -- Twilio -----------------------------------------------------------------------------------


def twilio_form(**extra: str) -> dict[str, str]:
    return {
        "MessageSid": "SM1f0e8ae6ade43cb3c0ce4525424e404f",
        "AccountSid": "AC0123456789abcdef0123456789abcdef",
        "From": "whatsapp:+5511987654321",
        "To": "whatsapp:+14155238886",
        "Body": "Quero saber mais",
        "NumMedia": "0",
        "ProfileName": "Maria",
        **extra,
    }


def test_it_reads_twilios_form_fields(org_a, gateway, post):
    lead = LeadFactory(organization=org_a.org, telefone="+5511987654321")

    response = post(gateway["path"], twilio_form(), form=True)

    assert response.status_code == 200, response.content
    message = WhatsAppMessage.objects.get()
    assert (message.lead, message.body) == (lead, "Quero saber mais")
    assert message.payload["MessageSid"] == "SM1f0e8ae6ade43cb3c0ce4525424e404f"
    # Twilio retries with the same MessageSid: stored once.
    post(gateway["path"], twilio_form(), form=True)
    assert WhatsAppMessage.objects.count() == 1


def test_it_verifies_twilios_signature_when_a_token_is_set(org_a, gateway, post):
    WhatsAppGateway.objects.filter(pk=gateway["id"]).update(twilio_auth_token="")
    row = WhatsAppGateway.objects.get(pk=gateway["id"])
    row.twilio_auth_token = TWILIO_TOKEN
    row.save()
    form = twilio_form()
    # Twilio signs the URL it called (the test client's host) and the sorted parameters.
    url = "http://testserver" + gateway["path"]
    good = twilio_signature(url, form.items(), TWILIO_TOKEN)

    assert post(gateway["path"], form, form=True).status_code == 401
    assert (
        post(gateway["path"], form, form=True, HTTP_X_TWILIO_SIGNATURE="bm9wZQ==").status_code
        == 401
    )
    tampered = twilio_form(Body="outra coisa")
    assert (
        post(gateway["path"], tampered, form=True, HTTP_X_TWILIO_SIGNATURE=good).status_code == 401
    )
    assert not WebhookNotification.objects.exists()

    assert post(gateway["path"], form, form=True, HTTP_X_TWILIO_SIGNATURE=good).status_code == 200
    assert WhatsAppMessage.objects.get().body == "Quero saber mais"


@pytest.mark.parametrize(
    ("caller", "expected"),
    [
        ("+14158675309", "RSOYDt4T1cUTdK1PDd93/VVr8B8="),
        ("+12349013030", "0/KCTR6DLpKmkAf8muzZqo1nDgQ="),
    ],
)
def test_twilios_published_example_signatures(caller, expected):
    """The worked example of Twilio's request-validation docs (auth token 12345); its docs
    have shown it with two caller numbers over the years."""
    params = {
        "CallSid": "CA1234567890ABCDE",
        "Caller": caller,
        "Digits": "1234",
        "From": caller,
        "To": "+18005551212",
    }
    url = "https://mycompany.com/myapp.php?foo=1&bar=2"
    assert twilio_signature(url, params.items(), "12345") == expected


@pytest.mark.parametrize("missing", ["From", "Body", "MessageSid"])
def test_twilio_bodies_without_their_fields_are_a_400(gateway, post, missing):
    form = twilio_form()
    del form[missing]
    assert post(gateway["path"], form, form=True).status_code == 400
    assert not WebhookNotification.objects.exists()


# -- admin ------------------------------------------------------------------------------------


def staff_client(membership) -> Client:
    user = membership.user
    user.is_staff = True
    user.save()
    client = Client()
    client.force_login(user)
    return client


ADMIN = "/admin/integrations/whatsappgateway/"


def shown_urls(response: Any) -> list[str]:
    text = " ".join(str(m) for m in response.context["messages"])
    return re.findall(r"https?://\S+/webhooks/whatsapp/gateway/[^/\s]+/", text)


def test_admins_create_rotate_and_revoke_in_the_admin(org_a, post):
    client = staff_client(org_a.admin)
    form = {"organization": str(org_a.org.pk), "nome": "Evolution", "auto_criar_leads": "on"}
    response = client.post(f"{ADMIN}add/", form, follow=True)
    assert response.status_code == 200
    gateway = WhatsAppGateway.objects.get()
    (url,) = shown_urls(response)
    path = urlsplit(url).path
    assert gateway.token_hash == hashlib.sha256(path.split("/")[-2].encode()).hexdigest()
    # Shown once: the change page does not carry it.
    assert path not in client.get(f"{ADMIN}{gateway.pk}/change/").content.decode()

    response = client.post(
        ADMIN, {"action": "rotate_tokens", "_selected_action": [str(gateway.pk)]}, follow=True
    )
    (new_url,) = shown_urls(response)
    message = {"from": "5511987654321", "body": "Oi", "timestamp": 1764950400}
    assert post(path, message).status_code == 404
    new_path = urlsplit(new_url).path
    assert post(new_path, message).status_code == 200

    client.post(ADMIN, {"action": "revoke", "_selected_action": [str(gateway.pk)]})
    assert post(new_path, message).status_code == 404
    assert WhatsAppGateway.objects.get().revoked_at is not None


def test_the_admin_shows_only_the_staff_members_organizations(org_a, org_b, client_for):
    client_for(org_b.admin).post(API, {"nome": "B"}, format="json")
    other = WhatsAppGateway.objects.get()
    client = staff_client(org_a.admin)

    assert client.get(ADMIN).status_code == 200
    assert "B" not in [str(g) for g in client.get(ADMIN).context["cl"].result_list]
    assert client.get(f"{ADMIN}{other.pk}/change/").status_code in (302, 404)
    client.post(ADMIN, {"action": "revoke", "_selected_action": [str(other.pk)]})
    assert WhatsAppGateway.objects.get().revoked_at is None
    response = client.post(f"{ADMIN}add/", {"organization": str(org_b.org.pk), "nome": "x"})
    assert response.status_code == 200  # form error: not a choice
    assert WhatsAppGateway.objects.count() == 1


# -- consent: a STOP word revokes WhatsApp ----------------------------------------------------


@pytest.mark.parametrize(
    ("text", "revoked"),
    [
        ("PARAR", True),
        (" sair ", True),
        ("Stop!", True),
        ("quero parar de receber", False),
        ("paradas", False),
    ],
)
def test_a_stop_word_alone_revokes_whatsapp(org_a, gateway, post, text, revoked):
    from leads.models import ConsentRecord

    lead = LeadFactory(organization=org_a.org, telefone="+5511987654321")
    post(gateway["path"], {"from": "5511987654321", "body": text, "timestamp": 1764950400})

    lead.refresh_from_db()
    assert lead.opt_out_whatsapp is revoked
    entries = ConsentRecord.objects.filter(lead=lead)
    assert entries.count() == int(revoked)
    if revoked:
        entry = entries.get()
        assert (entry.canal, entry.estado, entry.origem) == ("whatsapp", "revogado", "whatsapp")
        assert entry.evidencia["mensagem_id"] == str(WhatsAppMessage.objects.get().pk)
