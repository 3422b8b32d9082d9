"""/webhooks/whatsapp/: the GET handshake and what a POST stores, before any processing."""

from __future__ import annotations

import json

import pytest
from django.test import Client
from prometheus_client import REGISTRY

from integrations.models import WebhookNotification
from integrations.whatsapp.signature import sign
from tests.integrations.factories import APP_SECRET, VERIFY_TOKEN, WhatsAppAccountFactory
from tests.integrations.helpers import fixture_bytes, load_fixture
from tests.integrations.jobs import queued_jobs
from tests.integrations.webhook_helpers import (
    PNID,
    PNID_BR,
    URL,
    compact,
    notification,
    post_signed,
    text_message,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def account(org_a):
    return WhatsAppAccountFactory(organization=org_a.org, phone_number_id=PNID)


def metric(outcome: str) -> float:
    value = REGISTRY.get_sample_value(
        "webhook_notifications_total", {"provider": "whatsapp", "outcome": outcome}
    )
    return value or 0.0


def notification_jobs() -> list:
    return [j for j in queued_jobs() if j.func_name.endswith("process_whatsapp_notification")]


# -- GET handshake ----------------------------------------------------------------------------


def test_it_answers_the_challenge_as_plain_text_when_the_token_matches(account):
    response = Client().get(
        URL,
        {"hub.mode": "subscribe", "hub.verify_token": VERIFY_TOKEN, "hub.challenge": "1158201444"},
    )
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    assert response.content == b"1158201444"


@pytest.mark.parametrize(
    "params",
    [
        {"hub.mode": "subscribe", "hub.verify_token": "errado", "hub.challenge": "1"},
        {"hub.mode": "unsubscribe", "hub.verify_token": VERIFY_TOKEN, "hub.challenge": "1"},
        {"hub.verify_token": VERIFY_TOKEN, "hub.challenge": "1"},
        {"hub.mode": "subscribe", "hub.challenge": "1"},
        {"hub.mode": "subscribe", "hub.verify_token": VERIFY_TOKEN},
        {"hub.mode": "subscribe", "hub.verify_token": "", "hub.challenge": "1"},
    ],
)
def test_it_refuses_the_handshake_without_a_matching_token(account, params):
    response = Client().get(URL, params)
    assert response.status_code == 403
    assert response.json()["error"]


def test_it_refuses_the_handshake_for_an_inactive_account(org_a):
    WhatsAppAccountFactory(organization=org_a.org, ativo=False)
    response = Client().get(
        URL, {"hub.mode": "subscribe", "hub.verify_token": VERIFY_TOKEN, "hub.challenge": "1"}
    )
    assert response.status_code == 403


# -- POST: signature first --------------------------------------------------------------------


def test_it_stores_a_signed_notification_and_enqueues_its_job(
    account, django_capture_on_commit_callbacks
):
    raw = fixture_bytes("wa_text.json")
    before = metric("accepted")
    with django_capture_on_commit_callbacks(execute=True):
        response = post_signed(raw)

    assert response.status_code == 200
    assert response.json() == {"status": "accepted"}
    stored = WebhookNotification.objects.get()
    assert bytes(stored.raw_body) == raw
    assert stored.account == account
    assert stored.organization == account.organization
    assert stored.processed_at is None
    [job] = notification_jobs()
    assert job.origin == "high"
    assert job.kwargs["notification_id"] == str(stored.pk)
    assert metric("accepted") == before + 1


@pytest.mark.parametrize(
    "signature",
    [
        None,
        "",
        "sha256=",
        "sha1=" + "0" * 40,
        "sha256=" + "z" * 64,
        "sha256=" + "0" * 63,
        sign(b"{}", APP_SECRET),  # well formed, but for another body
        sign(fixture_bytes("wa_text.json"), "outro-segredo"),
    ],
)
def test_it_rejects_missing_malformed_or_wrong_signatures_and_stores_nothing(
    account, signature, django_capture_on_commit_callbacks
):
    before = metric("rejected")
    with django_capture_on_commit_callbacks(execute=True):
        response = post_signed(fixture_bytes("wa_text.json"), signature=signature)
    assert response.status_code == 401
    assert set(response.json()) == {"error", "details"}
    assert not WebhookNotification.objects.exists()
    assert not notification_jobs()
    assert metric("rejected") == before + 1


def test_it_verifies_accented_text_over_the_escaped_bytes_meta_signs(org_a):
    WhatsAppAccountFactory(organization=org_a.org, phone_number_id=PNID_BR)
    raw = fixture_bytes("wa_text_accented_raw.json")
    assert b"Ol\\u00e1" in raw
    signature = sign(raw, APP_SECRET)

    reserialized = json.dumps(json.loads(raw), ensure_ascii=False).encode("utf-8")
    assert post_signed(reserialized, signature=signature).status_code == 401
    assert not WebhookNotification.objects.exists()

    assert post_signed(raw, signature=signature).status_code == 200
    assert bytes(WebhookNotification.objects.get().raw_body) == raw


def test_it_rejects_a_tampered_body(account):
    raw = fixture_bytes("wa_text.json")
    signature = sign(raw, APP_SECRET)
    tampered = raw.replace(b"another color", b"another colour")
    assert post_signed(tampered, signature=signature).status_code == 401
    assert not WebhookNotification.objects.exists()


def test_it_answers_200_and_stores_nothing_for_an_unknown_phone_number_id(account):
    before = metric("ignored")
    body = notification(
        pnid="555000111", messages=[text_message("wamid.X1", "5511987654321", "oi")]
    )
    # Unknown accounts are not asked to prove anything: there is no secret to check against.
    response = post_signed(body, signature="sha256=" + "0" * 64)
    assert response.status_code == 200
    assert response.json() == {"status": "ignored"}
    assert not WebhookNotification.objects.exists()
    assert metric("ignored") == before + 1


def test_it_ignores_notifications_for_an_inactive_account(org_a):
    WhatsAppAccountFactory(organization=org_a.org, phone_number_id=PNID, ativo=False)
    assert post_signed(fixture_bytes("wa_text.json")).status_code == 200
    assert not WebhookNotification.objects.exists()


def test_it_refuses_bodies_over_the_size_limit(account, settings):
    settings.WHATSAPP_WEBHOOK_MAX_BYTES = 2000
    data = notification(messages=[text_message("wamid.BIG", "5511987654321", "x" * 3000)])
    before = metric("too_large")
    response = post_signed(data)
    assert response.status_code == 413
    assert response.json()["error"]
    assert not WebhookNotification.objects.exists()
    assert metric("too_large") == before + 1


def test_it_answers_400_for_a_signed_body_that_is_not_json_and_keeps_it_for_the_record(
    account, django_capture_on_commit_callbacks
):
    raw = b"isto nao e json \xff"
    with django_capture_on_commit_callbacks(execute=True):
        response = post_signed(raw)
    assert response.status_code == 400
    assert response.json()["error"]
    stored = WebhookNotification.objects.get()
    assert bytes(stored.raw_body) == raw
    assert stored.error.startswith("malformed")
    assert stored.processed_at is not None
    assert not notification_jobs()


def test_it_answers_401_for_an_unsigned_body_that_is_not_json(account):
    assert post_signed(b"isto nao e json", secret="outro").status_code == 401
    assert not WebhookNotification.objects.exists()


@pytest.mark.parametrize(
    "mutate",
    [
        lambda d: d["entry"][0]["changes"][0]["value"]["messages"][0].pop("id"),
        lambda d: d["entry"][0]["changes"][0]["value"]["messages"][0].update(timestamp="ontem"),
        lambda d: d["entry"][0]["changes"][0]["value"].update(messages={"not": "a list"}),
        lambda d: d["entry"][0]["changes"][0]["value"]["messages"].append("junk"),
    ],
)
def test_it_answers_400_for_signed_json_with_a_broken_structure(account, mutate):
    data = load_fixture("wa_text.json")
    mutate(data)
    response = post_signed(data)
    assert response.status_code == 400
    assert WebhookNotification.objects.get().error.startswith("malformed")


def test_it_answers_200_for_signed_changes_of_other_webhook_fields(account):
    data = {
        "object": "whatsapp_business_account",
        "entry": [
            {
                "id": "1",
                "changes": [
                    {
                        "field": "message_template_status_update",
                        "value": {"event": "APPROVED", "message_template_name": "boas_vindas"},
                    }
                ],
            }
        ],
    }
    response = post_signed(data)
    assert response.status_code == 200
    assert response.json() == {"status": "ignored"}
    assert not WebhookNotification.objects.exists()


def test_it_stores_a_redelivered_body_once(account, django_capture_on_commit_callbacks):
    raw = fixture_bytes("wa_text.json")
    with django_capture_on_commit_callbacks(execute=True):
        assert post_signed(raw).json() == {"status": "accepted"}
    with django_capture_on_commit_callbacks(execute=True):
        assert post_signed(raw).json() == {"status": "duplicate"}
    assert WebhookNotification.objects.count() == 1


def test_it_only_lets_the_signing_account_act_on_a_body(org_a, org_b):
    mine = WhatsAppAccountFactory(organization=org_a.org, phone_number_id=PNID)
    WhatsAppAccountFactory(
        organization=org_b.org, phone_number_id=PNID_BR, app_secret="segredo-da-org-b"
    )
    # Org A's secret signs a body naming org B's number too: only org A's part is stored.
    data = load_fixture("wa_multi_entry.json")
    assert post_signed(data).status_code == 200
    [stored] = WebhookNotification.objects.all()
    assert stored.account == mine

    # Signed with org A's secret but naming only org B's number: refused.
    only_b = notification(pnid=PNID_BR, messages=[text_message("wamid.B1", "5511987654321", "oi")])
    assert post_signed(only_b).status_code == 401
    assert WebhookNotification.objects.count() == 1


def test_it_stores_one_notification_per_signing_account_in_a_shared_app(org_a, org_b):
    WhatsAppAccountFactory(organization=org_a.org, phone_number_id=PNID)
    WhatsAppAccountFactory(organization=org_b.org, phone_number_id=PNID_BR)  # same Meta app
    assert post_signed(load_fixture("wa_multi_entry.json")).status_code == 200
    stored = WebhookNotification.objects.order_by("organization__nome")
    assert [n.organization for n in stored] == [org_a.org, org_b.org]


def test_it_allows_only_get_and_post(account):
    assert Client().put(URL, data=compact({}), content_type="application/json").status_code == 405
