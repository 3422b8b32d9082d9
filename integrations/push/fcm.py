"""Firebase Cloud Messaging HTTP v1 client: service-account OAuth and one message per device.

Authentication (Google's OAuth 2.0 for server-to-server applications): a JWT signed RS256 with
the service account's private key (`iss` = client_email, `scope` = firebase.messaging, `aud` =
token_uri, one hour) is exchanged at `token_uri` (`grant_type=urn:ietf:params:oauth:grant-type:
jwt-bearer`) for an access token, cached in Redis (shared by every worker) until shortly before
`expires_in`.

Sending: `POST {base}/v1/projects/{project_id}/messages:send` with `{"message": {"token", ...}}`
per device. Outcomes:

- 200: delivered to FCM.
- the token is dead: 404 `UNREGISTERED`, 400 with an `FcmError` detail `INVALID_ARGUMENT` (a
  malformed token; a bad *payload* comes as `google.rpc.BadRequest` instead and is not the
  token's fault), 403 `SENDER_ID_MISMATCH` (a token of another Firebase project) -> `INVALID`.
- 401: the access token expired early -> one new token, one retry.
- 429, 5xx, timeouts -> `RetryableError` (the job retries later).
- anything else -> `PermanentError` (logged; retrying cannot help).
"""

from __future__ import annotations

import enum
import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import jwt
from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ImproperlyConfigured

from integrations._http import send
from integrations.errors import PermanentError, RetryableError, parse_retry_after
from integrations.net import tls_context

logger = logging.getLogger("integrations.push")

PROVIDER = "fcm"
SCOPE = "https://www.googleapis.com/auth/firebase.messaging"
DEFAULT_TOKEN_URI = "https://oauth2.googleapis.com/token"  # noqa: S105 (a URL, not a secret)
GRANT_TYPE = "urn:ietf:params:oauth:grant-type:jwt-bearer"
TIMEOUT = 10.0
_CACHE_KEY = "fcm:access-token:{email}"
_FCM_ERROR = "type.googleapis.com/google.firebase.fcm.v1.FcmError"
_DEAD_TOKEN_CODES = {"UNREGISTERED", "INVALID_ARGUMENT", "SENDER_ID_MISMATCH"}


class SendOutcome(enum.Enum):
    SENT = "sent"
    INVALID = "invalid"  # the token will never work again: forget the device


@dataclass(frozen=True)
class ServiceAccount:
    project_id: str
    client_email: str
    private_key: str
    token_uri: str

    @classmethod
    def from_info(cls, info: dict[str, Any]) -> ServiceAccount:
        try:
            return cls(
                project_id=info["project_id"],
                client_email=info["client_email"],
                private_key=info["private_key"],
                token_uri=info.get("token_uri") or DEFAULT_TOKEN_URI,
            )
        except KeyError as exc:
            raise ImproperlyConfigured(f"FCM service account: missing {exc.args[0]}") from None


def configured_account() -> ServiceAccount | None:
    """The service account from FCM_SERVICE_ACCOUNT (a JSON file path or the JSON itself)."""
    value = (settings.FCM_SERVICE_ACCOUNT or "").strip()
    if not value:
        return None
    text = value if value.startswith("{") else Path(value).read_text(encoding="utf-8")
    return ServiceAccount.from_info(json.loads(text))


class FCMClient:
    def __init__(
        self,
        account: ServiceAccount,
        *,
        base_url: str | None = None,
        http: httpx.Client | None = None,
    ) -> None:
        self.account = account
        self.base_url = (base_url or settings.FCM_BASE_URL).rstrip("/")
        self.http = http or httpx.Client(verify=tls_context())

    # -- OAuth ------------------------------------------------------------------------------

    def _assertion(self) -> str:
        now = int(time.time())
        claims = {
            "iss": self.account.client_email,
            "scope": SCOPE,
            "aud": self.account.token_uri,
            "iat": now,
            "exp": now + 3600,
        }
        return jwt.encode(claims, self.account.private_key, algorithm="RS256")

    def access_token(self, *, refresh: bool = False) -> str:
        key = _CACHE_KEY.format(email=self.account.client_email)
        if not refresh:
            cached = cache.get(key)
            if cached:
                return str(cached)
        try:
            response = self.http.post(
                self.account.token_uri,
                data={"grant_type": GRANT_TYPE, "assertion": self._assertion()},
                timeout=TIMEOUT,
            )
        except httpx.TransportError as exc:
            raise RetryableError(
                f"token exchange failed: {type(exc).__name__}", provider=PROVIDER
            ) from exc
        if response.status_code >= 500 or response.status_code == 429:
            raise RetryableError(
                f"token exchange answered {response.status_code}", provider=PROVIDER
            )
        if response.status_code != 200:
            # invalid_grant (revoked key, clock skew), invalid_client: an operator must act.
            raise PermanentError(
                f"token exchange refused: {response.status_code} {response.text[:200]}",
                provider=PROVIDER,
            )
        body = response.json()
        token = str(body["access_token"])
        # Keep a margin so a token never expires between the cache read and FCM's check.
        ttl = max(int(body.get("expires_in", 3600)) - 120, 30)
        cache.set(key, token, ttl)
        return token

    # -- messages ---------------------------------------------------------------------------

    def send(self, *, token: str, message: dict[str, Any]) -> SendOutcome:
        url = f"{self.base_url}/v1/projects/{self.account.project_id}/messages:send"
        body = {"message": {**message, "token": token}}
        response = self._post(url, body, self.access_token())
        if response.status_code == 401:
            response = self._post(url, body, self.access_token(refresh=True))
        if response.status_code == 200:
            return SendOutcome.SENT
        if _dead_token(response):
            return SendOutcome.INVALID
        if response.status_code == 429 or response.status_code >= 500:
            raise RetryableError(
                f"messages:send answered {response.status_code}",
                provider=PROVIDER,
                status_code=response.status_code,
                retry_after=parse_retry_after(response.headers.get("Retry-After")),
            )
        raise PermanentError(
            f"messages:send answered {response.status_code}: {response.text[:300]}",
            provider=PROVIDER,
            status_code=response.status_code,
        )

    def _post(self, url: str, body: dict[str, Any], access_token: str) -> httpx.Response:
        return send(
            self.http,
            "POST",
            url,
            provider=PROVIDER,
            timeout=TIMEOUT,
            headers={"Authorization": f"Bearer {access_token}"},
            json=body,
        )


def _dead_token(response: httpx.Response) -> bool:
    if response.status_code not in (400, 403, 404):
        return False
    try:
        error = response.json().get("error", {})
    except ValueError:
        return False
    for detail in error.get("details") or []:
        if detail.get("@type") == _FCM_ERROR and detail.get("errorCode") in _DEAD_TOKEN_CODES:
            return True
    # Older answers name the state only in `status` (404 NOT_FOUND for an unregistered token).
    return response.status_code == 404 and error.get("status") == "NOT_FOUND"
