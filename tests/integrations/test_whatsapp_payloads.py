from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from integrations.whatsapp.payloads import (
    ChangeValue,
    InboundMessage,
    PayloadError,
    StatusUpdate,
    parse_notification,
    phone_number_ids,
)
from tests.integrations.helpers import FIXTURES, load_fixture

PNID = "106540352242922"
SAMPLES = sorted(p.name for p in FIXTURES.glob("wa_*.json"))
WEBHOOK_SAMPLES = [
    name for name in SAMPLES if load_fixture(name).get("object") == "whatsapp_business_account"
]


def _only_message(name: str) -> InboundMessage:
    [change] = parse_notification(load_fixture(name))
    [message] = change.messages
    return message


def _only_status(name: str) -> StatusUpdate:
    [change] = parse_notification(load_fixture(name))
    [status] = change.statuses
    return status


def test_it_parses_a_text_message_with_metadata_and_contacts() -> None:
    [change] = parse_notification(load_fixture("wa_text.json"))

    assert isinstance(change, ChangeValue)
    assert change.phone_number_id == PNID
    assert change.display_phone_number == "15550783881"
    assert change.contacts == {"16505551234": "Sheena Nelson"}
    assert change.statuses == []
    [message] = change.messages
    assert message.wamid == "wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQTRBNjU5OUFFRTAzODEwMTQ0RgA="
    assert message.from_phone == "16505551234"
    assert message.timestamp == datetime(2025, 6, 8, 20, 59, 43, tzinfo=UTC)
    assert message.type == "text"
    assert message.text == "Does it come in another color?"
    assert message.context_wamid is None
    assert message.raw["text"] == {"body": "Does it come in another color?"}


def test_it_uses_the_image_caption_as_text() -> None:
    message = _only_message("wa_image.json")
    assert (message.type, message.text) == ("image", "Black jacket")
    assert message.raw["image"]["id"] == "2754859441498128"


def test_it_returns_none_for_media_without_caption() -> None:
    data = load_fixture("wa_image.json")
    del data["entry"][0]["changes"][0]["value"]["messages"][0]["image"]["caption"]
    [change] = parse_notification(data)
    assert change.messages[0].text is None


def test_it_reads_quick_reply_button_text_and_reply_context() -> None:
    message = _only_message("wa_button.json")
    assert (message.type, message.text) == ("button", "Unsubscribe from Promos")
    assert message.context_wamid == "wamid.HBgLMTY0NjcwNDM1OTUVAgARGBI1QjJGRjI1RDY0RkE4Nzg4QzcA"


def test_it_reads_interactive_list_reply_title() -> None:
    message = _only_message("wa_interactive_list_reply.json")
    assert (message.type, message.text) == ("interactive", "Express Shipping")
    assert message.context_wamid is not None


def test_it_reads_interactive_button_reply_title() -> None:
    message = _only_message("wa_interactive_button_reply.json")
    assert (message.type, message.text) == ("interactive", "Change")


def test_it_reads_the_reaction_emoji() -> None:
    message = _only_message("wa_reaction.json")
    assert (message.type, message.text) == ("reaction", "👍")


def test_it_joins_location_name_and_address() -> None:
    message = _only_message("wa_location.json")
    assert message.text == "Main Street Beach, 1 Hacker Way, Menlo Park, CA 94025"


def test_it_keeps_unknown_message_types_without_text() -> None:
    message = _only_message("wa_unsupported.json")
    assert (message.type, message.text) == ("unsupported", None)
    assert message.raw["errors"][0]["code"] == 131051

    data = load_fixture("wa_text.json")
    msg = data["entry"][0]["changes"][0]["value"]["messages"][0]
    msg["type"] = "hologram"
    msg["hologram"] = {"whatever": 1}
    [change] = parse_notification(data)
    assert (change.messages[0].type, change.messages[0].text) == ("hologram", None)


@pytest.mark.parametrize(
    ("name", "status", "timestamp"),
    [
        ("wa_status_sent.json", "sent", 1750257422),
        ("wa_status_delivered.json", "delivered", 1750257423),
        ("wa_status_read.json", "read", 1750257480),
    ],
)
def test_it_parses_status_updates(name: str, status: str, timestamp: int) -> None:
    update = _only_status(name)
    assert update.wamid == "wamid.HBgLMTY1MDM4Nzk0MzkVAgARGBJDNjYzQkNBMzlGRkE0ODJERjcA"
    assert update.status == status
    assert update.timestamp == datetime.fromtimestamp(timestamp, tz=UTC)
    assert update.recipient_id == "16505551234"
    assert update.errors == []


def test_it_keeps_the_errors_of_a_failed_status() -> None:
    update = _only_status("wa_status_failed.json")
    assert update.status == "failed"
    [error] = update.errors
    assert error["code"] == 131047
    assert "24 hours" in error["error_data"]["details"]


def test_it_parses_a_multi_entry_batch_and_skips_other_fields() -> None:
    changes = parse_notification(load_fixture("wa_multi_entry.json"))

    assert [c.phone_number_id for c in changes] == [PNID, "208771239087612"]
    first, second = changes
    assert [m.text for m in first.messages] == [
        "Does it come in another color?",
        "Quero saber o preço",
    ]
    assert first.contacts["5511987654321"] == "João Pereira"
    assert [s.status for s in first.statuses] == ["delivered"]
    assert second.messages == []
    assert [(s.status, s.recipient_id) for s in second.statuses] == [("read", "5521998877665")]


def test_it_lists_phone_number_ids_for_routing() -> None:
    assert phone_number_ids(load_fixture("wa_multi_entry.json")) == [PNID, "208771239087612"]
    assert phone_number_ids(load_fixture("wa_text.json")) == [PNID]


@pytest.mark.parametrize(
    "junk",
    [
        None,
        1,
        "x",
        [],
        {},
        {"object": "page"},
        {"object": "whatsapp_business_account"},
        {"object": "whatsapp_business_account", "entry": "x"},
        {"object": "whatsapp_business_account", "entry": [1, {"changes": [None]}]},
    ],
)
def test_it_returns_no_phone_number_ids_for_junk(junk: object) -> None:
    assert phone_number_ids(junk) == []


@pytest.mark.parametrize(
    ("mutate", "reason"),
    [
        (lambda d: d.update(object="page"), "object"),
        (lambda d: d.pop("entry"), "entry"),
        (lambda d: d["entry"][0].update(changes={}), "changes"),
        (lambda d: _value(d).pop("metadata"), "metadata"),
        (lambda d: _value(d)["metadata"].update(phone_number_id=123), "phone_number_id"),
        (lambda d: _value(d).update(messages={"0": {}}), "messages"),
        (lambda d: _message(d).pop("id"), "message.id"),
        (lambda d: _message(d).update(timestamp="yesterday"), "timestamp"),
        (lambda d: _message(d).update(timestamp="99999999999999"), "timestamp"),
        (lambda d: _message(d).update(timestamp=True), "timestamp"),
        (lambda d: _message(d).update(type=None), "message.type"),
        (lambda d: _message(d).update({"from": "+"}), "digits"),
    ],
)
def test_it_raises_payload_error_with_a_reason(mutate: Any, reason: str) -> None:
    data = load_fixture("wa_text.json")
    mutate(data)
    with pytest.raises(PayloadError, match=reason):
        parse_notification(data)


def test_it_rejects_non_object_bodies() -> None:
    body: object
    for body in (None, [], "x", 3):
        with pytest.raises(PayloadError):
            parse_notification(body)


def test_it_accepts_integer_timestamps() -> None:
    data = load_fixture("wa_text.json")
    _message(data)["timestamp"] = 1749416383
    [change] = parse_notification(data)
    assert change.messages[0].timestamp == datetime(2025, 6, 8, 20, 59, 43, tzinfo=UTC)


def _value(data: dict[str, Any]) -> dict[str, Any]:
    value: dict[str, Any] = data["entry"][0]["changes"][0]["value"]
    return value


def _message(data: dict[str, Any]) -> dict[str, Any]:
    message: dict[str, Any] = _value(data)["messages"][0]
    return message


# -- property-based robustness --------------------------------------------------------------

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=20)
)
json_values = st.recursive(
    json_scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=30,
)


def _outcome(data: object) -> None:
    """parse_notification may return or raise PayloadError -- nothing else."""
    try:
        result = parse_notification(data)
    except PayloadError as exc:
        assert str(exc)  # noqa: PT017 - a property: any input, this exception only
        return
    assert isinstance(result, list)
    for change in result:
        assert isinstance(change.phone_number_id, str)
        for message in change.messages:
            assert isinstance(message.from_phone, str)
            assert message.from_phone.isdigit()
            assert message.text is None or isinstance(message.text, str)
            assert message.timestamp.tzinfo is UTC
    assert isinstance(phone_number_ids(data), list)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(json_values)
def test_it_only_ever_raises_payload_error_for_any_json_value(data: object) -> None:
    _outcome(data)


@settings(max_examples=300)
@given(json_values)
def test_it_only_ever_raises_payload_error_for_envelopes_with_junk(entry: object) -> None:
    _outcome({"object": "whatsapp_business_account", "entry": entry})
    _outcome({"object": "whatsapp_business_account", "entry": [{"changes": entry}]})
    _outcome(
        {
            "object": "whatsapp_business_account",
            "entry": [{"changes": [{"field": "messages", "value": entry}]}],
        }
    )


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    paths = [prefix]
    if isinstance(value, dict):
        for key, child in value.items():
            paths.extend(_paths(child, (*prefix, key)))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            paths.extend(_paths(child, (*prefix, index)))
    return paths


SAMPLE_PATHS = [
    (name, path) for name in WEBHOOK_SAMPLES for path in _paths(load_fixture(name)) if path
]


@st.composite
def mutated_samples(draw: st.DrawFn) -> object:
    name, path = draw(st.sampled_from(SAMPLE_PATHS))
    data = copy.deepcopy(load_fixture(name))
    parent = data
    for step in path[:-1]:
        parent = parent[step]
    if draw(st.booleans()):
        parent[path[-1]] = draw(json_values)
    elif isinstance(parent, dict):
        del parent[path[-1]]
    else:
        parent.pop(path[-1])
    return data


@settings(max_examples=500)
@given(mutated_samples())
def test_it_only_ever_raises_payload_error_for_mutated_samples(data: object) -> None:
    _outcome(data)


def test_it_parses_every_sample_fixture_and_survives_a_json_round_trip() -> None:
    assert len(WEBHOOK_SAMPLES) >= 12
    for name in WEBHOOK_SAMPLES:
        data = load_fixture(name)
        assert parse_notification(json.loads(json.dumps(data))) == parse_notification(data)
