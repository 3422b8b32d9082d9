"""Provider-neutral CRM values and the ``CrmClient`` protocol.

Batch contract shared by every CRM client (``upsert(contacts) -> list[CrmUpsertResult]``):

* One result per input contact, in input order.
* A contact-level failure (validation, duplicate, ...) is reported in that contact's result and
  does not stop the others.
* A ``RetryableError`` (429, 5xx, timeout, connection error) aborts the batch and propagates as
  ``CrmBatchInterrupted``, a ``RetryableError`` subclass that also carries the results already
  obtained, so the caller can persist CRM ids of records created before the interruption
  instead of creating them again on retry.
* Credential failures (HTTP 401/403) cannot succeed for any contact: the first one is reported
  for every remaining contact without sending further requests.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol, runtime_checkable

from integrations.errors import IntegrationError, PermanentError, RetryableError

__all__ = [
    "CrmBatchInterrupted",
    "CrmClient",
    "CrmContact",
    "CrmUpsertResult",
    "is_credential_error",
    "normalize_email",
    "normalize_phone",
    "split_name",
]

_PHONE_JUNK = re.compile(r"[^0-9]")


@dataclass(frozen=True)
class CrmContact:
    """A lead as the CRM clients see it.

    ``telefone`` should be E.164 (``+5511987654321``); spaces and punctuation are stripped
    before sending. ``None`` means "unknown": clients never use it to clear a CRM field.
    ``crm_id`` is the record id previously returned by the same CRM, if any.
    """

    lead_id: str
    nome_completo: str
    email: str | None = None
    telefone: str | None = None
    empresa: str | None = None
    cargo: str | None = None
    status: str | None = None
    origem: str | None = None
    valor_potencial: Decimal | None = None
    crm_id: str | None = None


@dataclass(frozen=True)
class CrmUpsertResult:
    """Outcome for one contact: ``crm_id`` on success, ``error`` on failure.

    ``created`` is True/False when the CRM told us whether the record is new, else None.
    """

    lead_id: str
    crm_id: str | None
    error: IntegrationError | None = None
    created: bool | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


class CrmBatchInterrupted(RetryableError):
    """A retryable failure stopped a batch; ``completed`` holds the results obtained before it.

    ``completed`` is in input order and only covers contacts that were fully processed.
    """

    def __init__(self, cause: RetryableError, completed: list[CrmUpsertResult]) -> None:
        super().__init__(
            cause.message,
            provider=cause.provider,
            status_code=cause.status_code,
            code=cause.code,
            details=cause.details,
            retry_after=cause.retry_after,
        )
        self.completed = completed


@runtime_checkable
class CrmClient(Protocol):
    def upsert(self, contacts: Sequence[CrmContact]) -> list[CrmUpsertResult]:
        """Create or update each contact; see the module docstring for the batch contract."""
        ...


def is_credential_error(error: IntegrationError | None) -> bool:
    """True for errors that will repeat for every contact (bad or under-scoped token)."""
    return isinstance(error, PermanentError) and error.status_code in (401, 403)


def normalize_email(email: str | None) -> str | None:
    """Trimmed, lower-cased email, or None when empty. Both CRMs match emails case-insensitively."""
    if email is None:
        return None
    cleaned = email.strip().lower()
    return cleaned or None


def normalize_phone(phone: str | None) -> str | None:
    """Digits, keeping a leading ``+``: ``"+55 (11) 98765-4321"`` -> ``"+5511987654321"``."""
    if phone is None:
        return None
    stripped = phone.strip()
    digits = _PHONE_JUNK.sub("", stripped)
    if not digits:
        return None
    return f"+{digits}" if stripped.startswith("+") else digits


def split_name(nome_completo: str) -> tuple[str, str]:
    """(first name, rest) -- "Maria da Silva Souza" -> ("Maria", "da Silva Souza")."""
    parts = nome_completo.split()
    if not parts:
        return "", ""
    return parts[0], " ".join(parts[1:])
