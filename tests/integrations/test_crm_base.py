from __future__ import annotations

import pytest

from integrations.crm.base import (
    CrmBatchInterrupted,
    CrmUpsertResult,
    normalize_email,
    normalize_phone,
    split_name,
)
from integrations.errors import PermanentError, RetryableError


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("+55 (11) 98765-4321", "+5511987654321"),
        ("11 98765-4321", "11987654321"),
        ("  +1 650-555-1234 ", "+16505551234"),
        ("", None),
        ("+", None),
        (None, None),
    ],
)
def test_it_normalizes_phones_to_digits_keeping_the_plus(
    raw: str | None, expected: str | None
) -> None:
    assert normalize_phone(raw) == expected


def test_it_normalizes_emails_for_case_insensitive_matching() -> None:
    assert normalize_email("  Maria@Empresa.COM.br ") == "maria@empresa.com.br"
    assert normalize_email("   ") is None
    assert normalize_email(None) is None


def test_it_splits_portuguese_names_into_first_and_rest() -> None:
    assert split_name("Maria da Silva Souza") == ("Maria", "da Silva Souza")
    assert split_name("  Ana  ") == ("Ana", "")
    assert split_name("") == ("", "")


def test_it_reports_ok_only_without_an_error() -> None:
    assert CrmUpsertResult("l", "1").ok
    assert not CrmUpsertResult("l", None, PermanentError("x", provider="p")).ok


def test_it_carries_the_cause_of_an_interrupted_batch() -> None:
    cause = RetryableError("slow down", provider="hubspot", status_code=429, retry_after=4.0)
    done = [CrmUpsertResult("l", "1")]

    interrupted = CrmBatchInterrupted(cause, done)

    assert isinstance(interrupted, RetryableError)
    assert (interrupted.provider, interrupted.status_code, interrupted.retry_after) == (
        "hubspot",
        429,
        4.0,
    )
    assert interrupted.completed == done
