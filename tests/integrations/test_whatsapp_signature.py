from __future__ import annotations

import hashlib
import hmac
import json

from hypothesis import given
from hypothesis import strategies as st

from integrations.whatsapp.payloads import parse_notification
from integrations.whatsapp.signature import sign, verify_signature
from tests.integrations.helpers import fixture_bytes

SECRET = "0123456789abcdef0123456789abcdef"


def test_it_signs_like_meta_with_a_sha256_prefix() -> None:
    body = b'{"object":"whatsapp_business_account"}'
    expected = hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    assert sign(body, SECRET) == f"sha256={expected}"


def test_it_verifies_the_raw_escaped_bytes_meta_sends() -> None:
    raw = fixture_bytes("wa_text_accented_raw.json")
    assert b"Ol\\u00e1" in raw  # Meta escapes non-ASCII characters in what it signs

    assert verify_signature(raw, sign(raw, SECRET), SECRET)

    [change] = parse_notification(json.loads(raw))
    assert change.messages[0].text == "Olá, tudo bem? Ação às 9h"
    assert change.contacts == {"5511987654321": "João Gonçalves"}


def test_it_rejects_a_reserialized_body_even_with_identical_content() -> None:
    raw = fixture_bytes("wa_text_accented_raw.json")
    header = sign(raw, SECRET)
    data = json.loads(raw)
    for reserialized in (
        json.dumps(data, ensure_ascii=False).encode("utf-8"),
        json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode("utf-8"),
        json.dumps(data).encode("utf-8"),  # escaped, but with different separators
    ):
        assert json.loads(reserialized) == data
        assert not verify_signature(reserialized, header, SECRET)


def test_it_rejects_tampered_bodies_and_wrong_secrets() -> None:
    raw = fixture_bytes("wa_text_accented_raw.json")
    header = sign(raw, SECRET)
    assert not verify_signature(raw.replace(b"9h", b"8h"), header, SECRET)
    assert not verify_signature(raw, header, SECRET + "x")


def test_it_accepts_uppercase_hex_and_surrounding_whitespace() -> None:
    raw = b"{}"
    digest = sign(raw, SECRET).removeprefix("sha256=")
    assert verify_signature(raw, f"  sha256={digest.upper()} ", SECRET)


def test_it_returns_false_for_missing_or_malformed_headers() -> None:
    raw = b"{}"
    good = sign(raw, SECRET)
    for header in (
        None,
        "",
        "sha256=",
        "sha1=" + good.removeprefix("sha256="),
        good.removeprefix("sha256="),
        good + "00",
        "sha256=zz",
        "sha256=ação",
        "sha256=\udcff",
    ):
        assert not verify_signature(raw, header, SECRET), header


def test_it_returns_false_without_an_app_secret() -> None:
    raw = b"{}"
    assert not verify_signature(raw, sign(raw, ""), "")


@given(st.binary(), st.one_of(st.none(), st.text()), st.text())
def test_it_never_raises_whatever_the_inputs(raw: bytes, header: str | None, secret: str) -> None:
    assert verify_signature(raw, header, secret) in (True, False)


@given(st.binary(), st.text(min_size=1))
def test_it_always_verifies_its_own_signatures(raw: bytes, secret: str) -> None:
    try:
        header = sign(raw, secret)
    except UnicodeEncodeError:  # lone surrogates cannot be a real app secret
        return
    assert verify_signature(raw, header, secret)
