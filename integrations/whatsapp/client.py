"""WhatsApp Cloud API client: send text and template messages.

Request and error formats follow Meta's documentation:

* Text messages:
  https://developers.facebook.com/documentation/business-messaging/whatsapp/messages/text-messages/
  ``POST /<PHONE_NUMBER_ID>/messages`` with ``Authorization: Bearer <ACCESS_TOKEN>`` and
  ``{"messaging_product": "whatsapp", "recipient_type": "individual", "to": ..., "type": "text",
  "text": {"preview_url": ..., "body": ...}}``.
* Template messages (``template: {name, language: {code}, components: [{type: "body",
  parameters: [{type: "text", text}]}]}``; ``components`` is optional), as documented in
  WhatsApp's own SDK reference for the Template object:
  https://whatsapp.github.io/WhatsApp-Nodejs-SDK/api-reference/types/TemplateObject
* Error codes and the Graph error envelope ``{"error": {"message", "type", "code",
  "error_subcode", "error_data": {"messaging_product", "details"}, "fbtrace_id"}}``:
  https://developers.facebook.com/documentation/business-messaging/whatsapp/support/error-codes/

Classification (Meta recommends keying on ``code``, not on titles or HTTP status):

* HTTP 429, HTTP 5xx, timeouts, connection errors -> ``RetryableError``.
* Throttling codes 4 (app call limit), 80007 (WABA rate limit), 130429 (throughput),
  131048 (spam rate limit), 131056 (pair rate limit) -> ``RetryableError``.
* Codes Meta documents as temporary service conditions (2 "API Service", 131016 "Service
  unavailable", 133004 "Server temporarily unavailable") -> ``RetryableError``.
* Any other 4xx (100 invalid parameter, 190 expired token, 131026 undeliverable, 131047
  re-engagement window, ...) -> ``PermanentError`` with ``code`` set to Meta's code.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Self
from urllib.parse import quote

import httpx

from integrations import _http, net
from integrations.errors import IntegrationError, PermanentError, RetryableError, parse_retry_after

__all__ = ["THROTTLING_CODES", "TRANSIENT_CODES", "SendResult", "WhatsAppClient"]

logger = logging.getLogger(__name__)

PROVIDER = "whatsapp"
DEFAULT_BASE_URL = "https://graph.facebook.com/v25.0"

THROTTLING_CODES = frozenset({4, 80007, 130429, 131048, 131056})
TRANSIENT_CODES = frozenset({2, 131016, 133004})

_NON_DIGITS = re.compile(r"[^0-9]")


@dataclass(frozen=True)
class SendResult:
    """Meta accepted the message; ``wamid`` identifies it in later status webhooks."""

    wamid: str
    wa_id: str | None
    raw: dict[str, Any] = field(repr=False, compare=False)


class WhatsAppClient:
    """Synchronous client for one WhatsApp business phone number."""

    def __init__(
        self,
        *,
        base_url: str = DEFAULT_BASE_URL,
        phone_number_id: str,
        access_token: str,
        timeout: float = 10.0,
        http: httpx.Client | None = None,
    ) -> None:
        if not phone_number_id.strip():
            raise ValueError("phone_number_id must not be empty")
        if not access_token:
            raise ValueError("access_token must not be empty")
        self._base_url = base_url.rstrip("/")
        self.phone_number_id = phone_number_id.strip()
        self._access_token = access_token
        self.timeout = timeout
        self._owns_http = http is None
        self._http = http if http is not None else net.guarded_client(timeout=timeout)

    def __repr__(self) -> str:
        # The access token is deliberately absent.
        return (
            f"WhatsAppClient(base_url={self._base_url!r}, phone_number_id={self.phone_number_id!r})"
        )

    def close(self) -> None:
        """Close the underlying HTTP client if this object created it."""
        if self._owns_http:
            self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    # -- public API -------------------------------------------------------------------------

    def send_text(self, to: str, body: str, *, preview_url: bool = False) -> SendResult:
        """Send a free-form text message (only allowed inside the 24h customer-service window)."""
        if not body:
            raise ValueError("body must not be empty")
        payload = {
            "messaging_product": "whatsapp",
            "recipient_type": "individual",
            "to": _recipient(to),
            "type": "text",
            "text": {"preview_url": preview_url, "body": body},
        }
        return self._send(payload)

    def send_template(
        self,
        to: str,
        template_name: str,
        *,
        language: str = "pt_BR",
        body_parameters: Sequence[str] = (),
    ) -> SendResult:
        """Send an approved template; ``body_parameters`` fill ``{{1}}``, ``{{2}}``... in order."""
        if not template_name:
            raise ValueError("template_name must not be empty")
        if isinstance(body_parameters, str):
            # A bare string is a Sequence[str] too; treating it as characters is never intended.
            raise TypeError("body_parameters must be a sequence of strings, not a string")
        template: dict[str, Any] = {"name": template_name, "language": {"code": language}}
        if body_parameters:
            template["components"] = [
                {
                    "type": "body",
                    "parameters": [{"type": "text", "text": str(p)} for p in body_parameters],
                }
            ]
        payload = {
            "messaging_product": "whatsapp",
            "recipient_type": "individual",
            "to": _recipient(to),
            "type": "template",
            "template": template,
        }
        return self._send(payload)

    def phone_number(self) -> dict[str, Any]:
        """Meta's Graph API `GET /{phone_number_id}`: the number's fields when this token may
        read it (the proof used to bind a number to an organization), else an error."""
        url = f"{self._base_url}/{quote(self.phone_number_id, safe='')}"
        response = _http.send(
            self._http,
            "GET",
            url,
            provider=PROVIDER,
            timeout=self.timeout,
            headers={"Authorization": f"Bearer {self._access_token}"},
            params={"fields": "id,display_phone_number,verified_name"},
        )
        if not response.is_success:
            raise self._error_from(response)
        body = _http.json_body(response)
        return body if isinstance(body, dict) else {}

    # -- internals --------------------------------------------------------------------------

    def _send(self, payload: dict[str, Any]) -> SendResult:
        url = f"{self._base_url}/{quote(self.phone_number_id, safe='')}/messages"
        response = _http.send(
            self._http,
            "POST",
            url,
            provider=PROVIDER,
            timeout=self.timeout,
            headers={"Authorization": f"Bearer {self._access_token}"},
            json=payload,
        )
        if response.is_success:
            return self._parse_success(response)
        raise self._error_from(response)

    def _parse_success(self, response: httpx.Response) -> SendResult:
        body = _http.json_body(response)
        body = body if isinstance(body, dict) else {}
        messages = body.get("messages")
        first = messages[0] if isinstance(messages, list) and messages else None
        wamid = first.get("id") if isinstance(first, dict) else None
        if not isinstance(wamid, str) or not wamid:
            # Meta said 2xx, so the message may have gone out: never report it as retryable,
            # a retry could deliver it twice.
            raise PermanentError(
                "2xx response without messages[0].id",
                provider=PROVIDER,
                status_code=response.status_code,
                code="unexpected_response",
            )
        contacts = body.get("contacts")
        contact = contacts[0] if isinstance(contacts, list) and contacts else None
        wa_id = contact.get("wa_id") if isinstance(contact, dict) else None
        return SendResult(wamid=wamid, wa_id=wa_id if isinstance(wa_id, str) else None, raw=body)

    def _error_from(self, response: httpx.Response) -> IntegrationError:
        status = response.status_code
        body = _http.json_body(response)
        error = body.get("error") if isinstance(body, dict) else None
        error = error if isinstance(error, dict) else {}

        code = error.get("code")
        code = code if isinstance(code, int) and not isinstance(code, bool) else None
        message = error.get("message")
        message = message if isinstance(message, str) and message else f"HTTP {status}"
        error_data = error.get("error_data")
        details: dict[str, Any] = {
            key: error[key] for key in ("type", "error_subcode", "fbtrace_id") if key in error
        }
        if isinstance(error_data, dict) and "details" in error_data:
            details["details"] = error_data["details"]
        message = _http.redact(message, self._access_token)
        details = _http.redact_obj(details, self._access_token)

        retry_after = parse_retry_after(response.headers.get("Retry-After"))
        if status == 429 or status >= 500 or code in THROTTLING_CODES or code in TRANSIENT_CODES:
            logger.warning("whatsapp send failed, retryable: HTTP %s code=%s", status, code)
            return RetryableError(
                message,
                provider=PROVIDER,
                status_code=status,
                code=code,
                details=details,
                retry_after=retry_after,
            )
        logger.info("whatsapp send failed, permanent: HTTP %s code=%s", status, code)
        return PermanentError(
            message, provider=PROVIDER, status_code=status, code=code, details=details
        )


def _recipient(to: str) -> str:
    """Meta expects the recipient's number with country code, digits only."""
    digits = _NON_DIGITS.sub("", to)
    if not digits:
        raise ValueError("recipient phone number has no digits")
    return digits
