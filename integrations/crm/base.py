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
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, ClassVar, Protocol, Self, runtime_checkable

import httpx

from integrations import _http, net
from integrations.errors import IntegrationError, PermanentError, RetryableError, parse_retry_after

__all__ = [
    "BaseCrmClient",
    "CrmBatchInterrupted",
    "CrmClient",
    "CrmContact",
    "CrmFieldSpec",
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
    temperatura: str | None = None
    lead_score: int | None = None
    closer: str | None = None  # the closer's email


@dataclass(frozen=True)
class CrmFieldSpec:
    """A CRM property / field one of our fields maps to, created when missing."""

    target: str  # HubSpot internal name / Pipedrive field name (or key)
    label: str
    numeric: bool = False


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


class BaseCrmClient:
    """What every CRM client shares: construction, the HTTP client's lifecycle, authenticated
    requests, error classification and the one-contact-at-a-time batch loop.

    A subclass sets ``provider`` (and ``retryable_statuses``/``error_detail_keys`` when its
    provider needs them) and implements ``_auth_headers``, ``_error_message``,
    ``_rate_limit_delay`` and ``upsert``. Errors are classified the same way for every
    provider: 429 -> ``RetryableError`` with the provider's delay, 5xx (and
    ``retryable_statuses``) -> ``RetryableError`` honouring ``Retry-After``, anything else ->
    ``PermanentError``; messages and details never carry the secret.
    """

    provider: ClassVar[str] = ""
    retryable_statuses: ClassVar[frozenset[int]] = frozenset()
    error_detail_keys: ClassVar[tuple[str, ...]] = ()
    error_code_key: ClassVar[str] = "code"

    def __init__(
        self,
        *,
        base_url: str,
        secret: str,
        timeout: float = 10.0,
        http: httpx.Client | None = None,
        credential_label: str = "token",
        field_keys: Mapping[str, str] | None = None,
    ) -> None:
        if not secret:
            raise ValueError(f"{credential_label} must not be empty")
        self._base_url = base_url.rstrip("/")
        self._secret = secret
        self.timeout = timeout
        self._owns_http = http is None
        self._http = http if http is not None else net.guarded_client(timeout=timeout)
        # Our field (integrations.crm.mapping) -> the CRM's property name / field key.
        self.field_keys: dict[str, str] = dict(field_keys or {})

    def __repr__(self) -> str:
        return f"{type(self).__name__}(base_url={self._base_url!r})"

    def close(self) -> None:
        if self._owns_http:
            self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    # -- hooks ----------------------------------------------------------------------------------

    def ensure_fields(self, specs: Mapping[str, CrmFieldSpec]) -> dict[str, str]:
        """Find or create the CRM field of each spec; returns our field -> the CRM's key."""
        raise NotImplementedError

    def prepare(self, specs: Mapping[str, CrmFieldSpec]) -> dict[str, str]:
        """``ensure_fields`` and use its keys for the following upserts."""
        self.field_keys = self.ensure_fields(specs)
        return self.field_keys

    def _auth_headers(self) -> dict[str, str]:
        raise NotImplementedError

    def _error_message(self, body: dict[str, Any]) -> str | None:
        raise NotImplementedError

    def _rate_limit_delay(self, response: httpx.Response, body: dict[str, Any]) -> float:
        raise NotImplementedError

    # -- shared plumbing ------------------------------------------------------------------------

    def _request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: dict[str, str] | None = None,
    ) -> httpx.Response:
        """One authenticated request; transport failures raise ``RetryableError``."""
        return _http.send(
            self._http,
            method,
            self._base_url + path,
            provider=self.provider,
            timeout=self.timeout,
            headers=self._auth_headers(),
            json=json,
            params=params,
        )

    def _error_from(self, response: httpx.Response) -> IntegrationError:
        status = response.status_code
        body = _http.json_body(response)
        body = body if isinstance(body, dict) else {}
        message = self._error_message(body) or f"HTTP {status}"
        message = _http.redact(message, self._secret)
        code = body.get(self.error_code_key)
        code = code if isinstance(code, str | int) and not isinstance(code, bool) else None
        details = _http.redact_obj(
            {k: body[k] for k in self.error_detail_keys if k in body}, self._secret
        )
        if status == 429:
            return RetryableError(
                message,
                provider=self.provider,
                status_code=status,
                code=code,
                details=details,
                retry_after=self._rate_limit_delay(response, body),
            )
        if status >= 500 or status in self.retryable_statuses:
            return RetryableError(
                message,
                provider=self.provider,
                status_code=status,
                code=code,
                details=details,
                retry_after=parse_retry_after(response.headers.get("Retry-After")),
            )
        return PermanentError(
            message, provider=self.provider, status_code=status, code=code, details=details
        )

    def _upsert_each(
        self,
        contacts: Sequence[CrmContact],
        upsert_one: Callable[[CrmContact], CrmUpsertResult],
    ) -> list[CrmUpsertResult]:
        """The batch contract for providers without a batch endpoint: one call per contact;
        after a credential failure the rest get the same error without a request; a
        ``RetryableError`` becomes ``CrmBatchInterrupted`` with the results so far."""
        results: list[CrmUpsertResult] = []
        fatal: IntegrationError | None = None
        try:
            for contact in contacts:
                if fatal is not None:
                    results.append(CrmUpsertResult(contact.lead_id, contact.crm_id, fatal))
                    continue
                result = upsert_one(contact)
                results.append(result)
                if is_credential_error(result.error):
                    fatal = result.error
        except RetryableError as exc:
            raise CrmBatchInterrupted(exc, results) from exc
        return results
