"""Error hierarchy shared by every provider client (WhatsApp, HubSpot, Pipedrive).

Callers only need to distinguish two outcomes:

* ``RetryableError`` -- the same request may succeed later (HTTP 429, 5xx, timeouts, connection
  failures, provider throttling codes). ``retry_after`` carries the provider's hint in seconds
  when there is one.
* ``PermanentError`` -- retrying the same request cannot help (bad token, invalid recipient,
  validation errors, Meta 131047 re-engagement window, ...).

Messages, reprs and ``details`` are built from provider responses only; clients never put
credentials in them (see ``integrations._http.redact``).

``Retry-After`` parsing follows RFC 9110 section 10.2.3: either delay-seconds or an HTTP-date.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

from config.errors import ProviderError

__all__ = [
    "IntegrationError",
    "PermanentError",
    "RetryableError",
    "parse_retry_after",
]

# delay-seconds is 1*DIGIT in the RFC; a fractional part is tolerated because some proxies send it.
_DELAY_SECONDS = re.compile(r"[0-9]{1,10}(?:\.[0-9]{1,6})?")


class IntegrationError(ProviderError):
    """Base class for every failure reported by an integration client."""

    def __init__(
        self,
        message: str,
        *,
        provider: str,
        status_code: int | None = None,
        code: int | str | None = None,
        details: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.provider = provider
        self.status_code = status_code
        self.code = code
        self.message = message
        self.details: dict[str, Any] = dict(details or {})

    def __str__(self) -> str:
        parts = [f"[{self.provider}]"]
        if self.status_code is not None:
            parts.append(f"HTTP {self.status_code}")
        if self.code is not None:
            parts.append(f"code={self.code}")
        parts.append(self.message)
        return " ".join(parts)

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(provider={self.provider!r}, status_code={self.status_code!r}, "
            f"code={self.code!r}, message={self.message!r})"
        )


class RetryableError(IntegrationError):
    """The request may succeed if sent again later; ``retry_after`` is a hint in seconds."""

    def __init__(
        self,
        message: str,
        *,
        provider: str,
        status_code: int | None = None,
        code: int | str | None = None,
        details: Mapping[str, Any] | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(
            message, provider=provider, status_code=status_code, code=code, details=details
        )
        self.retry_after = retry_after

    def __repr__(self) -> str:
        return f"{super().__repr__()[:-1]}, retry_after={self.retry_after!r})"


class PermanentError(IntegrationError):
    """Sending the same request again cannot succeed without a change (data, token, opt-in)."""

    retryable = False


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Return the delay in seconds described by a ``Retry-After`` header value, or None.

    Accepts delay-seconds (``"120"``) or an HTTP-date (``"Wed, 21 Oct 2015 07:28:00 GMT"``).
    Dates in the past yield 0.0. Anything unparseable yields None, never an exception, because
    the header comes from the network.
    """
    if value is None:
        return None
    text = value.strip()
    if not text:
        return None
    if _DELAY_SECONDS.fullmatch(text):
        return float(text)
    try:
        moment = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if moment is None:  # pragma: no cover - older Pythons returned None instead of raising
        return None
    if moment.tzinfo is None:
        # RFC 9110 dates are always GMT; a naive result means the zone was "-0000".
        moment = moment.replace(tzinfo=UTC)
    reference = now or datetime.now(UTC)
    delay = (moment - reference).total_seconds()
    if not math.isfinite(delay):  # pragma: no cover - defensive
        return None
    return max(0.0, delay)
