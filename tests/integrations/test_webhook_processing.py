"""The notification job: messages stored once, leads matched or created, statuses advanced."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.utils import timezone

from integrations.jobs import process_whatsapp_notification, whatsapp_notifications_sweep
from integrations.models import (
    MessageDirection,
    MessageStatus,
    WebhookNotification,
    WhatsAppMessage,
)
from integrations.whatsapp.inbound import whatsapp_e164
from leads import signals
from leads.models import Lead
from tests.factories import LeadFactory
from tests.integrations.factories import WhatsAppAccountFactory, WhatsAppMessageFactory
from tests.integrations.helpers import FIXTURES, load_fixture
from tests.integrations.jobs import queues, run_jobs
from tests.integrations.webhook_helpers import (
    PNID,
    PNID_BR,
    notification,
    post_signed,
    status_entry,
    text_message,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def account(org_a):
    return WhatsAppAccountFactory(organization=org_a.org, phone_number_id=PNID)


@pytest.fixture
def replies() -> Iterator[list[dict[str, Any]]]:
    """Every lead_replied signal sent during the test."""
    sent: list[dict[str, Any]] = []

    def receiver(sender: Any, **kwargs: Any) -> None:
        sent.append({"sender": sender, **kwargs})

    signals.lead_replied.connect(receiver, dispatch_uid="test-replies")
    yield sent
    signals.lead_replied.disconnect(dispatch_uid="test-replies")


@pytest.fixture
def deliver(django_capture_on_commit_callbacks):
    """POST a signed body and run the jobs it enqueued, like the web process and a worker."""

    def run(body: Any, **kwargs: Any) -> Any:
        with django_capture_on_commit_callbacks(execute=True):
            response = post_signed(body, **kwargs)
        assert response.status_code == 200, response.content
        run_jobs()
        return response

    return run


def test_it_matches_a_known_lead_and_signals_the_reply(org_a, account, deliver, replies):
    lead = LeadFactory(organization=org_a.org, telefone="+5511987654321")
    deliver(notification(messages=[text_message("wamid.A1", "5511987654321", "Tenho interesse")]))

    message = WhatsAppMessage.objects.get()
    assert (message.lead, message.direction, message.status) == (lead, "in", "received")
    assert message.body == "Tenho interesse"
    assert message.received_at == datetime.fromtimestamp(1749416383, tz=UTC)
    assert message.account == account
    assert message.payload["id"] == "wamid.A1"
    [reply] = replies
    assert reply["sender"] is Lead
    assert reply["lead"] == lead
    assert reply["channel"] == "whatsapp"
    assert reply["message"] == "Tenho interesse"
    assert reply["received_at"] == message.received_at
    notification_row = WebhookNotification.objects.get()
    assert notification_row.processed_at is not None
    assert notification_row.error == ""
    assert notification_row.summary["replies"] == 1


@pytest.mark.parametrize(
    ("lead_phone", "sender"),
    [
        ("+5511987654321", "551187654321"),  # WhatsApp id without the ninth digit
        ("+551187654321", "5511987654321"),  # lead stored without it, WhatsApp sends it
    ],
)
def test_it_tolerates_the_ninth_digit_both_ways(
    org_a, account, deliver, replies, lead_phone, sender
):
    lead = LeadFactory(organization=org_a.org, telefone=lead_phone)
    deliver(notification(messages=[text_message("wamid.N9", sender, "oi")]))
    assert WhatsAppMessage.objects.get().lead == lead
    assert [r["lead"] for r in replies] == [lead]
    assert Lead.objects.count() == 1


def test_it_never_matches_a_lead_of_another_organization(org_a, org_b, account, deliver, replies):
    LeadFactory(organization=org_b.org, telefone="+5511987654321")
    account.auto_criar_leads = False
    account.save()
    deliver(notification(messages=[text_message("wamid.X", "5511987654321", "oi")]))
    assert WhatsAppMessage.objects.get().lead is None
    assert replies == []


def test_it_creates_a_lead_from_an_unknown_number(org_a, account, deliver, replies):
    contacts = [{"profile": {"name": "João Gonçalves"}, "wa_id": "551187654321"}]
    deliver(
        notification(
            contacts=contacts, messages=[text_message("wamid.NEW", "551187654321", "Olá!")]
        )
    )
    lead = Lead.objects.get()
    assert lead.organization == org_a.org
    assert lead.nome_completo == "João Gonçalves"
    assert lead.origem == "whatsapp"
    assert lead.telefone == "+5511987654321"  # the ninth digit is put back
    assert lead.telefone_chave == "551187654321"
    assert WhatsAppMessage.objects.get().lead == lead
    assert replies == []  # a first message is not a reply


def test_it_creates_one_lead_for_several_messages_of_a_new_number(org_a, account, deliver):
    messages = [text_message(f"wamid.M{i}", "5521998877665", f"msg {i}") for i in range(3)]
    deliver(notification(messages=messages))
    lead = Lead.objects.get()
    assert lead.nome_completo == "WhatsApp +5521998877665"
    assert set(WhatsAppMessage.objects.values_list("lead", flat=True)) == {lead.pk}


def test_it_attaches_to_an_existing_lead_with_the_same_number_but_no_match_key(
    org_a, account, deliver
):
    # A row stored before telefone_chave existed: lead_create's duplicate check finds it.
    legacy = LeadFactory(organization=org_a.org, telefone="+5511987654321", telefone_chave=None)
    deliver(notification(messages=[text_message("wamid.L", "5511987654321", "oi")]))
    assert Lead.objects.count() == 1
    assert WhatsAppMessage.objects.get().lead == legacy


def test_it_keeps_messages_of_unknown_numbers_when_lead_creation_is_off(org_a, account, deliver):
    account.auto_criar_leads = False
    account.save()
    deliver(notification(messages=[text_message("wamid.U", "5511912345678", "oi")]))
    message = WhatsAppMessage.objects.get()
    assert message.lead is None
    assert message.body == "oi"
    assert not Lead.objects.exists()


def test_it_processes_a_batch_of_many_entries(org_a, account, deliver, replies):
    known = [
        LeadFactory(organization=org_a.org, telefone=f"+55119{70000000 + i:08d}") for i in range(10)
    ]
    messages = [
        text_message(f"wamid.K{i}", (lead.telefone or "").lstrip("+"), f"resposta {i}")
        for i, lead in enumerate(known)
    ]
    messages += [text_message(f"wamid.U{i}", f"55219{80000000 + i:08d}", "novo") for i in range(30)]
    data = notification(messages=messages)
    data["entry"].append(copy.deepcopy(data["entry"][0]))  # the same change delivered twice
    deliver(data)

    assert WhatsAppMessage.objects.count() == 40
    assert Lead.objects.count() == 40
    assert sorted(r["message"] for r in replies) == sorted(f"resposta {i}" for i in range(10))
    assert WebhookNotification.objects.get().summary["new_messages"] == 40


AUDIO = {
    "from": "5511987654321",
    "id": "wamid.AUDIO1",
    "timestamp": "1749416383",
    "type": "audio",
    "audio": {
        "mime_type": "audio/ogg; codecs=opus",
        "sha256": "aGFzaA==",
        "id": "1003383421387256",
        "voice": True,
    },
}


@pytest.mark.parametrize(
    ("fixture", "message_type", "text"),
    [
        ("wa_image.json", "image", None),
        ("wa_button.json", "button", None),
        ("wa_interactive_button_reply.json", "interactive", None),
        ("wa_interactive_list_reply.json", "interactive", None),
        ("wa_reaction.json", "reaction", None),
        ("wa_location.json", "location", None),
        ("wa_unsupported.json", "unsupported", None),
        (None, "audio", None),
    ],
)
def test_it_stores_every_message_type(
    org_a, account, deliver, replies, fixture, message_type, text
):
    lead = LeadFactory(organization=org_a.org, telefone="+16505551234")
    if fixture is None:
        data = notification(messages=[{**AUDIO, "from": "16505551234"}])
    else:
        data = load_fixture(fixture)
    raw_message = data["entry"][0]["changes"][0]["value"]["messages"][0]
    deliver(data)

    message = WhatsAppMessage.objects.get()
    assert message.message_type == message_type
    assert message.lead == lead
    assert message.payload == raw_message
    [reply] = replies
    # The reply carries what a person would read, or the type when there is nothing to read.
    assert reply["message"] == (message.body or f"[{message_type}]")
    if message_type in ("button", "interactive", "reaction", "location"):
        assert message.body
    if message_type in ("audio", "unsupported"):
        assert message.body == ""


def test_it_ignores_a_redelivered_message(org_a, account, deliver, replies):
    LeadFactory(organization=org_a.org, telefone="+5511987654321")
    first = notification(messages=[text_message("wamid.R", "5511987654321", "oi")])
    deliver(first)
    deliver(first)  # same body: stored once
    again = notification(
        messages=[
            text_message("wamid.R", "5511987654321", "oi"),
            text_message("wamid.R2", "5511987654321", "tudo bem?"),
        ]
    )
    deliver(again)  # another body repeating a wamid
    assert WhatsAppMessage.objects.filter(wamid="wamid.R").count() == 1
    assert WhatsAppMessage.objects.count() == 2
    assert [r["message"] for r in replies] == ["oi", "tudo bem?"]
    assert WebhookNotification.objects.count() == 2


def outbound(org, wamid: str = "wamid.OUT1", **fields: Any) -> WhatsAppMessage:
    return WhatsAppMessageFactory(
        organization=org,
        direction=MessageDirection.OUT,
        wamid=wamid,
        status=fields.pop("status", MessageStatus.SENT),
        received_at=None,
        **fields,
    )


def test_it_advances_statuses_and_never_moves_them_backwards(org_a, account, deliver):
    message = outbound(org_a.org)
    deliver(notification(statuses=[status_entry("wamid.OUT1", "read", 1750000300)]))
    deliver(notification(statuses=[status_entry("wamid.OUT1", "delivered", 1750000200)]))
    deliver(notification(statuses=[status_entry("wamid.OUT1", "sent", 1750000100)]))
    deliver(notification(statuses=[status_entry("wamid.OUT1", "failed", 1750000400)]))

    message.refresh_from_db()
    assert message.status == "read"
    assert message.read_at == datetime.fromtimestamp(1750000300, tz=UTC)
    assert message.delivered_at == datetime.fromtimestamp(1750000200, tz=UTC)
    assert message.error == {}


def test_it_applies_statuses_in_order_within_one_batch(org_a, account, deliver):
    message = outbound(org_a.org)
    deliver(
        notification(
            statuses=[
                status_entry("wamid.OUT1", "delivered", 1750000200),
                status_entry("wamid.OUT1", "read", 1750000300),
                status_entry("wamid.OUT1", "delivered", 1750000250),
            ]
        )
    )
    message.refresh_from_db()
    assert message.status == "read"
    assert message.delivered_at == datetime.fromtimestamp(1750000200, tz=UTC)


def test_it_keeps_metas_error_on_a_failed_message(org_a, account, deliver):
    message = outbound(
        org_a.org, wamid="wamid.HBgLMTY1MDM4Nzk0MzkVAgARGBJDNjYzQkNBMzlGRkE0ODJERjcA"
    )
    data = load_fixture("wa_status_failed.json")
    deliver(data)
    message.refresh_from_db()
    assert message.status == "failed"
    assert message.failed_at == datetime.fromtimestamp(1750263773, tz=UTC)
    [error] = message.error["errors"]
    assert error["code"] == 131047
    assert "24 hours" in error["error_data"]["details"]


def test_it_logs_statuses_of_unknown_messages_without_failing(org_a, account, deliver):
    deliver(notification(statuses=[status_entry("wamid.NOPE", "delivered", 1750000200)]))
    row = WebhookNotification.objects.get()
    assert row.processed_at is not None
    assert row.error == ""
    assert row.summary["unknown_statuses"] == 1


def test_it_does_not_update_another_organizations_message(org_a, org_b, account, deliver):
    foreign = outbound(org_b.org, wamid="wamid.B")
    deliver(notification(statuses=[status_entry("wamid.B", "read", 1750000300)]))
    foreign.refresh_from_db()
    assert foreign.status == "sent"


def test_it_retries_only_what_failed_and_records_the_error(
    org_a, account, django_capture_on_commit_callbacks
):
    LeadFactory(organization=org_a.org, telefone="+5511987654321")
    calls: list[str] = []

    def flaky(sender: Any, message: str, **kwargs: Any) -> None:
        calls.append(message)
        if message == "quebra" and calls.count("quebra") == 1:
            raise RuntimeError("reply service down")

    signals.lead_replied.connect(flaky, dispatch_uid="test-flaky")
    try:
        data = notification(
            messages=[
                text_message("wamid.F1", "5511987654321", "ok 1"),
                text_message("wamid.F2", "5511987654321", "quebra"),
                text_message("wamid.F3", "5511987654321", "ok 2"),
            ]
        )
        with django_capture_on_commit_callbacks(execute=True):
            post_signed(data)
        run_jobs(allow_failures=True)
        row = WebhookNotification.objects.get()
        assert row.processed_at is None
        assert "wamid.F2" in row.error
        assert set(WhatsAppMessage.objects.values_list("wamid", flat=True)) == {
            "wamid.F1",
            "wamid.F3",
        }

        process_whatsapp_notification(
            notification_id=str(row.pk), organization_id=str(row.organization_id)
        )
    finally:
        signals.lead_replied.disconnect(dispatch_uid="test-flaky")
    row.refresh_from_db()
    assert row.processed_at is not None
    assert row.error == ""
    assert WhatsAppMessage.objects.count() == 3
    assert calls == ["ok 1", "quebra", "ok 2", "quebra"]


@pytest.mark.heavy
def test_it_replays_metas_documented_samples(org_a, org_b, deliver, replies):
    """Every sample notification from Meta's webhook reference, end to end."""
    WhatsAppAccountFactory(organization=org_a.org, phone_number_id=PNID)
    WhatsAppAccountFactory(organization=org_b.org, phone_number_id=PNID_BR)
    LeadFactory(organization=org_a.org, telefone="+16505551234")
    outbound(org_a.org, wamid="wamid.HBgLMTY1MDM4Nzk0MzkVAgARGBJDNjYzQkNBMzlGRkE0ODJERjcA")

    samples = sorted(
        path.name
        for path in FIXTURES.glob("wa_*.json")
        if load_fixture(path.name).get("object") == "whatsapp_business_account"
    )
    assert len(samples) == 14
    expected_wamids = set()
    for name in samples:
        data = load_fixture(name)
        for entry in data["entry"]:
            for change in entry["changes"]:
                for message in change["value"].get("messages", []):
                    expected_wamids.add(message["id"])
        deliver((FIXTURES / name).read_bytes())

    assert set(WhatsAppMessage.objects.filter(direction="in").values_list("wamid", flat=True)) == (
        expected_wamids
    )
    assert not WebhookNotification.objects.filter(processed_at__isnull=True).exists()
    assert not WebhookNotification.objects.exclude(error="").exists()
    # org B's number received the accented sample and created its lead.
    assert Lead.objects.get(organization=org_b.org).nome_completo == "João Gonçalves"
    assert WhatsAppMessage.objects.get(organization=org_b.org, direction="in").body == (
        "Olá, tudo bem? Ação às 9h"
    )
    assert replies
    assert all(r["lead"].organization == org_a.org for r in replies)
    sent = WhatsAppMessage.objects.get(direction="out")
    assert sent.status == "read"  # sent, delivered, failed and read arrived in another order
    assert sent.delivered_at is not None
    assert sent.read_at is not None


@pytest.mark.parametrize(
    ("digits", "expected"),
    [
        ("5511987654321", "+5511987654321"),
        ("551187654321", "+5511987654321"),
        ("551140028922", "+551140028922"),  # a landline keeps its eight digits
        ("16505551234", "+16505551234"),
        ("999", "+999"),
    ],
)
def test_it_turns_whatsapp_ids_into_e164(digits, expected):
    assert whatsapp_e164(digits) == expected


def test_the_sweep_requeues_stuck_notifications_and_prunes_old_ones(
    org_a, account, django_capture_on_commit_callbacks
):
    LeadFactory(organization=org_a.org, telefone="+5511987654321")
    with django_capture_on_commit_callbacks(execute=True):
        post_signed(notification(messages=[text_message("wamid.S", "5511987654321", "oi")]))
    for queue in queues():
        queue.empty()  # the job was lost (worker crash, Redis flush)
    stuck = WebhookNotification.objects.get()
    WebhookNotification.objects.filter(pk=stuck.pk).update(
        received_at=timezone.now() - timedelta(minutes=11)
    )
    old = WebhookNotification.objects.create(
        organization=org_a.org,
        account=account,
        raw_body=b"{}",
        body_sha256="0" * 64,
        received_at=timezone.now() - timedelta(days=31),
        processed_at=timezone.now() - timedelta(days=31),
    )

    with django_capture_on_commit_callbacks(execute=True):
        assert whatsapp_notifications_sweep() == 1
    run_jobs()
    assert not WebhookNotification.objects.filter(pk=old.pk).exists()
    stuck.refresh_from_db()
    assert stuck.processed_at is not None
    assert WhatsAppMessage.objects.get().wamid == "wamid.S"


@pytest.mark.parametrize("bad", ["\u0000", "\ud800"])
def test_it_stores_a_message_with_text_the_database_cannot_hold(org_a, account, deliver, bad):
    """NUL and a lone surrogate (as JSON escapes in Meta's body) are dropped, not fatal."""
    deliver(notification(messages=[text_message("wamid.NUL", "5511987654321", f"Oi{bad}!")]))

    message = WhatsAppMessage.objects.get()
    assert message.body == "Oi!"
    assert message.payload["text"]["body"] == "Oi!"
    assert WebhookNotification.objects.get().error == ""
