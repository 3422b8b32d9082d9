from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from integrations._http import redact, redact_obj
from integrations.errors import IntegrationError, PermanentError, RetryableError, parse_retry_after

NOW = datetime(2025, 3, 4, 12, 0, 0, tzinfo=UTC)


def test_it_parses_retry_after_seconds() -> None:
    assert parse_retry_after("120") == 120.0
    assert parse_retry_after(" 3 ") == 3.0
    assert parse_retry_after("0") == 0.0
    assert parse_retry_after("1.5") == 1.5


def test_it_parses_retry_after_http_date_relative_to_now() -> None:
    assert parse_retry_after("Tue, 04 Mar 2025 12:00:30 GMT", now=NOW) == 30.0


def test_it_clamps_retry_after_dates_in_the_past_to_zero() -> None:
    assert parse_retry_after("Tue, 04 Mar 2025 11:00:00 GMT", now=NOW) == 0.0


def test_it_returns_none_for_missing_or_garbage_retry_after() -> None:
    for value in (None, "", "   ", "soon", "-5", "inf", "nan", "1e3", "١٢"):
        assert parse_retry_after(value) is None, value


@given(st.text())
def test_it_never_raises_on_any_retry_after_value(value: str) -> None:
    result = parse_retry_after(value, now=NOW)
    assert result is None or result >= 0.0


def test_it_keeps_error_attributes_and_a_readable_str() -> None:
    err = PermanentError(
        "Re-engagement message",
        provider="whatsapp",
        status_code=400,
        code=131047,
        details={"fbtrace_id": "x"},
    )
    assert isinstance(err, IntegrationError)
    assert (err.provider, err.status_code, err.code, err.message) == (
        "whatsapp",
        400,
        131047,
        "Re-engagement message",
    )
    assert err.details == {"fbtrace_id": "x"}
    assert str(err) == "[whatsapp] HTTP 400 code=131047 Re-engagement message"


def test_it_exposes_retry_after_on_retryable_errors() -> None:
    err = RetryableError("slow down", provider="hubspot", status_code=429, retry_after=10.0)
    assert err.retry_after == 10.0
    assert "retry_after=10.0" in repr(err)
    assert isinstance(err, IntegrationError)
    assert not isinstance(err, PermanentError)


def test_it_redacts_secrets_from_text_and_nested_structures() -> None:
    assert redact("token abc123 leaked", "abc123") == "token *** leaked"
    assert redact("nothing", "") == "nothing"
    assert redact_obj({"a": ["x abc123", {"abc123": 1}]}, "abc123") == {"a": ["x ***", {"***": 1}]}
