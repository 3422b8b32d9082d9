"""Pipedrive client (API v2): create or update persons from leads.

Endpoints and formats, all relative to ``https://api.pipedrive.com/api/v2``:

* ``PATCH /persons/{id}``, ``POST /persons`` with ``{"name", "emails": [{"value", "primary",
  "label"}], "phones": [{"value", "primary", "label"}]}``; responses are
  ``{"success": true, "data": {"id", ...}}``.
* ``GET /persons/search?term=...&fields=email|phone&exact_match=true``; results are
  ``{"data": {"items": [{"result_score", "item": {"id", "name", "emails": [...],
  "phones": [...]}}]}}``.
  https://github.com/pipedrive/client-php/blob/master/docs/versions/v2/Api/PersonsApi.md
  (generated from Pipedrive's OpenAPI spec; reference at
  https://developers.pipedrive.com/docs/api/v1/Persons)
* Authentication: API token in the ``x-api-token`` header (preferred over the ``api_token``
  query parameter, which would put the secret in URLs and access logs).
  https://pipedrive.readme.io/docs/core-api-concepts-authentication
* Rate limits: HTTP 429; responses carry ``x-ratelimit-limit``, ``x-ratelimit-remaining`` and
  ``x-ratelimit-reset`` (seconds left in the 2-second window). ``Retry-After`` wins when sent,
  then ``x-ratelimit-reset``, then a 2 s default (one window).
  https://pipedrive.readme.io/docs/core-api-concepts-rate-limiting

Mapping: ``nome_completo`` -> ``name`` (falls back to email, phone, then "Lead <id>" because
Pipedrive requires a name); ``email`` -> primary ``emails`` entry labelled ``work``;
``telefone`` -> primary ``phones`` entry labelled ``mobile`` (all three fixed). The mapped
fields (``integrations.crm.mapping``: empresa, cargo, status, origem, temperatura, lead_score,
valor_potencial, closer) go to person custom fields, ``custom_fields: {key: value}``, with the
keys ``ensure_fields`` found or created (``GET``/``POST /v1/personFields``).

Updates send the arrays above; Pipedrive v2 replaces a person's ``emails``/``phones`` with the
array given, so this client treats the lead tracker as the source of truth for them.

Flow of ``upsert_person``: PATCH by ``crm_id`` when known (404 -> the person was deleted, fall
back); search by email, then by phone when email finds nothing; PATCH the hit, else POST.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any
from urllib.parse import quote

import httpx

from integrations import _http
from integrations.crm.base import (
    BaseCrmClient,
    CrmContact,
    CrmFieldSpec,
    CrmUpsertResult,
    normalize_email,
    normalize_phone,
)
from integrations.errors import PermanentError, parse_retry_after

__all__ = ["PipedriveClient"]

logger = logging.getLogger(__name__)

PROVIDER = "pipedrive"
DEFAULT_BASE_URL = "https://api.pipedrive.com"
DEFAULT_RATE_LIMIT_DELAY = 2.0

_PERSONS = "/api/v2/persons"
_FIELDS = "/v1/personFields"


class _NotFound(Exception):
    """Internal signal: the person addressed by id does not exist (any more)."""


class PipedriveClient(BaseCrmClient):
    """Synchronous Pipedrive persons client; implements ``CrmClient``."""

    provider = PROVIDER
    error_detail_keys = ("error_info", "errorCode")

    def __init__(
        self,
        *,
        base_url: str = DEFAULT_BASE_URL,
        api_token: str,
        timeout: float = 10.0,
        http: httpx.Client | None = None,
        field_keys: Mapping[str, str] | None = None,
    ) -> None:
        # Our field -> Pipedrive person field key (found or created by ``ensure_fields``).
        self._field_keys = dict(field_keys or {})
        super().__init__(
            base_url=base_url,
            secret=api_token,
            timeout=timeout,
            http=http,
            credential_label="api_token",
        )

    # -- public API -------------------------------------------------------------------------

    def upsert(self, contacts: Sequence[CrmContact]) -> list[CrmUpsertResult]:
        """Upsert person by person (Pipedrive has no batch upsert); see ``crm.base``."""
        return self._upsert_each(contacts, self.upsert_person)

    def ensure_fields(self, specs: Mapping[str, CrmFieldSpec]) -> dict[str, str]:
        """Find each spec's person field by name (or key), creating the missing ones; returns
        our field -> field key.

        ``GET /v1/personFields`` (paged by ``start``/``limit``, ``additional_data.pagination``)
        lists the fields; ``POST /v1/personFields`` ``{"name", "field_type": "varchar" |
        "double"}`` creates one and answers its ``data.key``.
        """
        existing = self._person_fields()
        keys: dict[str, str] = {}
        for field, spec in specs.items():
            key = existing.get(spec.target) or existing.get(spec.target.casefold())
            if key is None:
                field_type = "double" if spec.numeric else "varchar"
                response = self._send(
                    "POST", _FIELDS, json={"name": spec.target, "field_type": field_type}
                )
                key = _data_key(response)
                if key is None:
                    raise self._error_from(response)
                existing[spec.target.casefold()] = key
            keys[field] = key
        return keys

    def _person_fields(self) -> dict[str, str]:
        """Field name (case-folded) and key -> key, over every page."""
        found: dict[str, str] = {}
        start = 0
        while True:
            response = self._send("GET", _FIELDS, params={"start": str(start), "limit": "500"})
            if not response.is_success:
                raise self._error_from(response)
            body = _http.json_body(response)
            body = body if isinstance(body, dict) else {}
            for item in body.get("data") or []:
                if isinstance(item, dict) and isinstance(item.get("key"), str):
                    found[str(item.get("name", "")).casefold()] = item["key"]
                    found[item["key"]] = item["key"]
            pagination = (body.get("additional_data") or {}).get("pagination") or {}
            if not pagination.get("more_items_in_collection"):
                return found
            start = int(pagination.get("next_start") or start + 500)

    def check_credentials(self) -> None:
        """List one person; raises the classified error when the token is wrong."""
        response = self._send("GET", _PERSONS, params={"limit": "1"})
        if not response.is_success:
            raise self._error_from(response)

    def delete_person(self, person_id: str) -> bool:
        """Delete a person (``DELETE /api/v2/persons/{id}``): True when deleted, False on 404."""
        response = self._send("DELETE", f"{_PERSONS}/{person_id}")
        return response.status_code != 404

    def upsert_person(self, contact: CrmContact) -> CrmUpsertResult:
        """Create or update one person.

        Permanent failures are returned in the result; ``RetryableError`` is raised.
        """
        body = _person_body(contact, self.field_keys)
        try:
            if contact.crm_id:
                try:
                    return self._update(contact, contact.crm_id, body)
                except _NotFound:
                    logger.info("pipedrive person %s not found, searching", contact.crm_id)
            found = self._find(contact)
            if found is not None:
                try:
                    return self._update(contact, found, body)
                except _NotFound:
                    logger.info("pipedrive person %s vanished after search, creating", found)
            return self._create(contact, body)
        except PermanentError as error:
            return CrmUpsertResult(contact.lead_id, contact.crm_id, error)

    # -- steps ------------------------------------------------------------------------------

    def _update(self, contact: CrmContact, person_id: str, body: dict[str, Any]) -> CrmUpsertResult:
        response = self._send("PATCH", f"{_PERSONS}/{quote(person_id, safe='')}", json=body)
        if response.status_code == 404:
            raise _NotFound
        return CrmUpsertResult(contact.lead_id, self._person_id(response), None, False)

    def _create(self, contact: CrmContact, body: dict[str, Any]) -> CrmUpsertResult:
        response = self._send("POST", _PERSONS, json=body)
        return CrmUpsertResult(contact.lead_id, self._person_id(response), None, True)

    def _find(self, contact: CrmContact) -> str | None:
        email = normalize_email(contact.email)
        if email:
            found = self._search(email, "email")
            if found is not None:
                return found
        phone = normalize_phone(contact.telefone)
        if phone:
            return self._search(phone, "phone")
        return None

    def _search(self, term: str, field: str) -> str | None:
        response = self._send(
            "GET",
            f"{_PERSONS}/search",
            params={"term": term, "fields": field, "exact_match": "true"},
        )
        if not response.is_success:
            raise self._error_from(response)
        body = _http.json_body(response)
        data = body.get("data") if isinstance(body, dict) else None
        items = data.get("items") if isinstance(data, dict) else None
        candidates = [
            entry["item"]
            for entry in (items if isinstance(items, list) else [])
            if isinstance(entry, dict)
            and isinstance(entry.get("item"), dict)
            and entry["item"].get("id") not in (None, "")
        ]
        if not candidates:
            return None
        # exact_match already filters, but prefer an item that visibly carries the value.
        plural = "emails" if field == "email" else "phones"
        for item in candidates:
            values = item.get(plural)
            if isinstance(values, list) and any(
                isinstance(v, str) and v.strip().lower() == term for v in values
            ):
                return str(item["id"])
        return str(candidates[0]["id"])

    # -- HTTP and errors ----------------------------------------------------------------------

    def _send(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: dict[str, str] | None = None,
    ) -> httpx.Response:
        response = self._request(method, path, json=json, params=params)
        if response.is_success or response.status_code == 404:
            return response
        raise self._error_from(response)

    def _auth_headers(self) -> dict[str, str]:
        return {"x-api-token": self._secret}

    def _error_message(self, body: dict[str, Any]) -> str | None:
        message = body.get("error")
        return message if isinstance(message, str) and message else None

    def _rate_limit_delay(self, response: httpx.Response, body: dict[str, Any]) -> float:
        retry_after = parse_retry_after(response.headers.get("Retry-After"))
        if retry_after is not None:
            return retry_after
        reset = _http.header_float(response, "x-ratelimit-reset")
        if reset is not None:
            return reset
        return DEFAULT_RATE_LIMIT_DELAY

    def _person_id(self, response: httpx.Response) -> str:
        if response.status_code == 404:
            raise self._error_from(response)
        body = _http.json_body(response)
        data = body.get("data") if isinstance(body, dict) else None
        person_id = data.get("id") if isinstance(data, dict) else None
        if person_id in (None, ""):
            raise PermanentError(
                "2xx response without data.id",
                provider=PROVIDER,
                status_code=response.status_code,
                code="unexpected_response",
            )
        return str(person_id)


def _data_key(response: httpx.Response) -> str | None:
    body = _http.json_body(response) if response.is_success else None
    data = body.get("data") if isinstance(body, dict) else None
    key = data.get("key") if isinstance(data, dict) else None
    return key if isinstance(key, str) and key else None


def _custom_value(contact: CrmContact, field: str) -> Any:
    raw = getattr(contact, field, None)
    if raw is None or raw == "":
        return None
    if isinstance(raw, Decimal):
        return float(raw)
    return raw if isinstance(raw, int) else str(raw).strip()


def _person_body(contact: CrmContact, field_keys: Mapping[str, str]) -> dict[str, Any]:
    email = normalize_email(contact.email)
    phone = normalize_phone(contact.telefone)
    name = (contact.nome_completo or "").strip() or email or phone or f"Lead {contact.lead_id}"
    body: dict[str, Any] = {"name": name}
    if email:
        body["emails"] = [{"value": email, "primary": True, "label": "work"}]
    if phone:
        body["phones"] = [{"value": phone, "primary": True, "label": "mobile"}]
    custom = {key: _custom_value(contact, field) for field, key in field_keys.items()}
    custom = {key: value for key, value in custom.items() if value is not None}
    if custom:
        body["custom_fields"] = custom
    return body
