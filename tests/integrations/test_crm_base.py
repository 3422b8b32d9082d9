from __future__ import annotations

import pytest

from integrations.crm.base import (
    BaseCrmClient,
    CrmBatchInterrupted,
    CrmContact,
    CrmUpsertResult,
    normalize_email,
    normalize_phone,
    split_name,
)
from integrations.crm.hubspot import HubSpotClient
from integrations.crm.pipedrive import PipedriveClient
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


class _Flaky(BaseCrmClient):
    """A client whose provider answers per contact from a script (no HTTP)."""

    provider = "test"

    def __init__(self, script: dict[str, Exception | str]) -> None:
        super().__init__(base_url="http://127.0.0.1:9", secret="s3cret")
        self.script = script
        self.calls: list[str] = []

    def upsert_one(self, contact: CrmContact) -> CrmUpsertResult:
        self.calls.append(contact.lead_id)
        outcome = self.script[contact.lead_id]
        if isinstance(outcome, RetryableError):
            raise outcome
        if isinstance(outcome, PermanentError):
            return CrmUpsertResult(contact.lead_id, None, outcome)
        return CrmUpsertResult(contact.lead_id, str(outcome))


def _contacts(*ids: str) -> list[CrmContact]:
    return [CrmContact(lead_id=i, nome_completo=i) for i in ids]


def test_the_shared_loop_stops_calling_after_a_credential_failure() -> None:
    denied = PermanentError("bad token", provider="test", status_code=401)
    with _Flaky({"a": "1", "b": denied, "c": "3"}) as client:
        results = client._upsert_each(_contacts("a", "b", "c"), client.upsert_one)
    assert client.calls == ["a", "b"]
    assert [(r.lead_id, r.crm_id, r.error) for r in results] == [
        ("a", "1", None),
        ("b", None, denied),
        ("c", None, denied),
    ]


def test_the_shared_loop_turns_a_transient_failure_into_an_interrupted_batch() -> None:
    slow = RetryableError("slow down", provider="test", status_code=429)
    with (
        _Flaky({"a": "1", "b": slow, "c": "3"}) as client,
        pytest.raises(CrmBatchInterrupted) as caught,
    ):
        client._upsert_each(_contacts("a", "b", "c"), client.upsert_one)
    assert [r.crm_id for r in caught.value.completed] == ["1"]
    assert client.calls == ["a", "b"]


def test_both_clients_share_the_base_and_refuse_an_empty_secret() -> None:
    assert issubclass(HubSpotClient, BaseCrmClient)
    assert issubclass(PipedriveClient, BaseCrmClient)
    with pytest.raises(ValueError, match="api_token"):
        PipedriveClient(api_token="")
    with pytest.raises(ValueError, match="token"):
        HubSpotClient(token="")
