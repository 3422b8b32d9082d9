"""Small HTTP plumbing shared by the provider clients (not part of the public API).

Transport failures are mapped to ``RetryableError`` here so every client classifies timeouts and
refused connections the same way. Credentials travel only in request headers, never in URLs, so
they cannot leak through httpx exception messages.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import httpx

from integrations.errors import RetryableError
from integrations.net import refusal

logger = logging.getLogger("integrations.http")

_REDACTED = "***"


def redact(text: str, *secrets: str) -> str:
    """Replace every occurrence of each secret in ``text``.

    Defence in depth: providers do not echo credentials, but a proxy or a future API change
    might, and error messages end up in logs and in the database.
    """
    for secret in secrets:
        if secret:
            text = text.replace(secret, _REDACTED)
    return text


def redact_obj(value: Any, *secrets: str) -> Any:
    """``redact`` applied to every string inside a JSON-like structure."""
    if isinstance(value, str):
        return redact(value, *secrets)
    if isinstance(value, Mapping):
        return {redact(str(k), *secrets): redact_obj(v, *secrets) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact_obj(v, *secrets) for v in value]
    return value


def send(
    http: httpx.Client,
    method: str,
    url: str,
    *,
    provider: str,
    timeout: float,
    headers: Mapping[str, str],
    json: Any = None,
    params: Mapping[str, str] | None = None,
) -> httpx.Response:
    """Send one request; timeouts and connection errors become ``RetryableError``.

    ``timeout`` is applied per request so it is honoured even with a caller-supplied client.
    """
    path = httpx.URL(url).path
    try:
        return http.request(
            method, url, headers=dict(headers), json=json, params=params, timeout=timeout
        )
    except httpx.TimeoutException as exc:
        logger.warning("%s %s %s timed out after %ss", provider, method, path, timeout)
        raise RetryableError(
            f"{method} {path} timed out after {timeout}s ({type(exc).__name__})",
            provider=provider,
        ) from exc
    except httpx.TransportError as exc:
        # ConnectError (refused, DNS), RemoteProtocolError, ReadError...: the request may not
        # have reached the provider, or the answer was lost; both are worth retrying. The
        # outbound guard refusing the host's addresses (integrations.net) keeps its reason, so
        # the connection's last error says why ("Endereço interno não permitido."); it stays
        # retryable, as a name re-pointed inward may be pointed back.
        refused = refusal(exc)
        reason = str(refused) if refused is not None else type(exc).__name__
        logger.warning("%s %s %s transport error: %s", provider, method, path, reason)
        verb = "refused" if refused is not None else "failed"
        raise RetryableError(f"{method} {path} {verb}: {reason}", provider=provider) from exc


def json_body(response: httpx.Response) -> Any:
    """The decoded JSON body, or None when the body is empty or not JSON (e.g. an HTML 502)."""
    try:
        return response.json()
    except ValueError:
        return None


def header_float(response: httpx.Response, name: str) -> float | None:
    """A non-negative numeric header value, or None when absent or malformed."""
    raw = response.headers.get(name)
    if raw is None:
        return None
    try:
        value = float(raw.strip())
    except ValueError:
        return None
    if value != value or value < 0 or value == float("inf"):  # NaN, negative, infinite
        return None
    return value
