"""HubSpot CRM client: create or update contacts from leads.

Endpoints and formats (HubSpot CRM v3, private app token in ``Authorization: Bearer``):

* Batch upsert by unique property, at most 100 inputs per call:
  ``POST /crm/v3/objects/contacts/batch/upsert`` with
  ``{"inputs": [{"idProperty": "email", "id": "<email>", "objectWriteTraceId": "...",
  "properties": {...}}]}``; results carry ``id``, ``new`` and ``objectWriteTraceId``.
  https://developers.hubspot.com/docs/api-reference/legacy/crm/objects/contacts/batch/upsert-contacts
* Partial failures come back as ``207 Multi-Status`` with ``errors[]`` whose
  ``context.objectWriteTraceId`` names the failed inputs; that is why every input carries a
  unique trace id (the lead id).
  https://developers.hubspot.com/docs/api-reference/error-handling
* Contacts without email cannot be upserted by email: ``PATCH /crm/v3/objects/contacts/{id}``
  when the HubSpot id is known, else ``POST /crm/v3/objects/contacts``. Creating requires at
  least one of ``email``, ``firstname``, ``lastname``.
  https://developers.hubspot.com/docs/api-reference/latest/crm/objects/contacts/guide
* Rate limits: 429 responses; HubSpot's burst limits are per 10-second window and the
  ``X-HubSpot-RateLimit-*`` headers describe them. ``Retry-After`` is honoured when present
  (HubSpot sends it with 477 "Migration in progress"); otherwise a 10 s delay (one burst
  window) is suggested, or 1 h when the body says the DAILY policy was hit.
  https://developers.hubspot.com/docs/developer-tooling/platform/usage-guidelines

Property mapping: ``field_keys`` (our field -> property name, see ``integrations.crm.mapping``;
``BASIC_FIELD_MAP`` when not given) plus the fixed identity properties:

=================  =====================================================================
CrmContact         HubSpot contact property
=================  =====================================================================
nome_completo      ``firstname`` (first word) + ``lastname`` (the rest) -- fixed
email              ``email`` (trimmed, lower-cased; also the upsert key) -- fixed
telefone           default ``phone`` (digits, leading ``+`` kept)
status             default ``hs_lead_status`` -- an enumeration (NEW, OPEN, IN_PROGRESS,
                   OPEN_DEAL, UNQUALIFIED, ATTEMPTED_TO_CONTACT, CONNECTED, BAD_TIMING).
                   Values are translated with ``lead_status_map``; HubSpot's own values pass
                   through; anything else is omitted (an invalid enum value fails the write).
                   Mapped to another property, our status is sent as it is.
others             the value as text (numbers as their decimal text); custom properties are
                   created by ``ensure_fields`` (``GET``/``POST /crm/v3/properties/contacts``).
lead_id            not stored as a property; used as the batch trace id.
=================  =====================================================================

``None`` or blank values are omitted, never sent as "" (which would clear the field).

Contacts with an email always go through the email upsert, even when ``crm_id`` is known:
HubSpot keys contacts by email, so a lead whose email changed lands on (or creates) the record
for the new address. The result's ``crm_id`` then differs from ``contact.crm_id``, which the
caller can detect.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import quote

import httpx

from integrations import _http
from integrations.crm.base import (
    BaseCrmClient,
    CrmBatchInterrupted,
    CrmContact,
    CrmFieldSpec,
    CrmUpsertResult,
    is_credential_error,
    normalize_email,
    normalize_phone,
    split_name,
)
from integrations.errors import IntegrationError, PermanentError, RetryableError, parse_retry_after

__all__ = ["HUBSPOT_LEAD_STATUSES", "HubSpotClient"]

logger = logging.getLogger(__name__)

PROVIDER = "hubspot"
DEFAULT_BASE_URL = "https://api.hubapi.com"
BATCH_LIMIT = 100
DEFAULT_RATE_LIMIT_DELAY = 10.0
DAILY_LIMIT_DELAY = 3600.0

HUBSPOT_LEAD_STATUSES = frozenset(
    {
        "NEW",
        "OPEN",
        "IN_PROGRESS",
        "OPEN_DEAL",
        "UNQUALIFIED",
        "ATTEMPTED_TO_CONTACT",
        "CONNECTED",
        "BAD_TIMING",
    }
)

_CONTACTS = "/crm/v3/objects/contacts"
_PROPERTIES = "/crm/v3/properties/contacts"
# Properties of every portal (never created); the mapping used without an explicit one.
BUILTIN_PROPERTIES = frozenset(
    {"email", "firstname", "lastname", "phone", "mobilephone", "company", "jobtitle"}
    | {"hs_lead_status", "city", "state", "website", "lifecyclestage"}
)
BASIC_FIELD_MAP = {
    "telefone": "phone",
    "empresa": "company",
    "cargo": "jobtitle",
    "status": "hs_lead_status",
}

_Indexed = tuple[int, CrmContact]


class HubSpotClient(BaseCrmClient):
    """Synchronous HubSpot contacts client; implements ``CrmClient``."""

    provider = PROVIDER
    # 477 = portal being migrated between data centres; HubSpot sends Retry-After with it.
    retryable_statuses = frozenset({477})
    error_detail_keys = (
        "category",
        "subCategory",
        "correlationId",
        "policyName",
        "context",
        "errors",
    )
    error_code_key = "category"

    def __init__(
        self,
        *,
        base_url: str = DEFAULT_BASE_URL,
        token: str,
        timeout: float = 10.0,
        http: httpx.Client | None = None,
        lead_status_map: Mapping[str, str] | None = None,
        field_keys: Mapping[str, str] | None = None,
    ) -> None:
        # Our field -> property name (integrations.crm.mapping); identity fields are fixed.
        super().__init__(
            base_url=base_url,
            secret=token,
            timeout=timeout,
            http=http,
            field_keys=BASIC_FIELD_MAP if field_keys is None else field_keys,
        )
        # Keys are matched case-insensitively: the domain's status codes are not ours to fix.
        self._lead_status_map = {k.strip().lower(): v for k, v in (lead_status_map or {}).items()}

    # -- public API -------------------------------------------------------------------------

    def upsert(self, contacts: Sequence[CrmContact]) -> list[CrmUpsertResult]:
        return self.upsert_contacts(contacts)

    def check_credentials(self) -> None:
        """Read one contact; raises the classified error when the token or scope is wrong."""
        response = self._send("GET", f"{_CONTACTS}?limit=1", json=None)
        if not response.is_success:
            raise self._error_from(response)

    def gdpr_delete(self, *, crm_id: str | None, email: str | None) -> bool:
        """Permanently delete a contact (HubSpot's GDPR delete), by id or else by email.

        True when deleted, False when HubSpot has no such contact (404). HubSpot blocklists an
        unknown email it is asked to delete, which is what an anonymisation wants."""
        if crm_id:
            body: dict[str, str] = {"objectId": crm_id}
        elif email:
            body = {"objectId": email, "idProperty": "email"}
        else:
            raise ValueError("crm_id or email is required")
        response = self._send("POST", f"{_CONTACTS}/gdpr-delete", json=body)
        if response.status_code == 404:
            return False
        if not response.is_success:
            raise self._error_from(response)
        return True

    def ensure_fields(self, specs: Mapping[str, CrmFieldSpec]) -> dict[str, str]:
        """Create the contact properties of ``specs`` that the portal lacks; our field -> name.

        ``GET /crm/v3/properties/contacts`` lists the portal's properties; each missing one is
        created with ``POST /crm/v3/properties/contacts`` (``string``/``text``, or
        ``number``/``number``, in the ``contactinformation`` group). A 409 means it exists.
        """
        response = self._send("GET", _PROPERTIES, json=None)
        if not response.is_success:
            raise self._error_from(response)
        body = _http.json_body(response)
        results = body.get("results") if isinstance(body, dict) else None
        existing = {
            item.get("name") for item in (results or []) if isinstance(item, dict)
        } | BUILTIN_PROPERTIES
        for spec in specs.values():
            if spec.target in existing:
                continue
            kind = ("number", "number") if spec.numeric else ("string", "text")
            created = self._send(
                "POST",
                _PROPERTIES,
                json={
                    "name": spec.target,
                    "label": spec.label,
                    "groupName": "contactinformation",
                    "type": kind[0],
                    "fieldType": kind[1],
                },
            )
            if not created.is_success and created.status_code != 409:
                raise self._error_from(created)
            existing.add(spec.target)
        return {field: spec.target for field, spec in specs.items()}

    def upsert_contacts(self, contacts: Sequence[CrmContact]) -> list[CrmUpsertResult]:
        """Create or update every contact; one result per contact, in input order.

        Order of work: email upserts (idempotent) first, then PATCHes by id, then creates
        (not idempotent) last, so an interruption is least likely to strand new records.
        """
        results: list[CrmUpsertResult | None] = [None] * len(contacts)
        fatal: IntegrationError | None = None

        def record(index: int, result: CrmUpsertResult) -> None:
            nonlocal fatal
            results[index] = result
            if fatal is None and is_credential_error(result.error):
                fatal = result.error

        with_email: list[_Indexed] = []
        to_patch: list[_Indexed] = []
        to_create: list[_Indexed] = []
        for index, contact in enumerate(contacts):
            if normalize_email(contact.email):
                with_email.append((index, contact))
            elif contact.crm_id:
                to_patch.append((index, contact))
            else:
                to_create.append((index, contact))

        try:
            for chunk in _chunks(with_email):
                if fatal is not None:
                    for index, contact in chunk:
                        record(index, CrmUpsertResult(contact.lead_id, None, fatal))
                    continue
                for index, result in self._batch_upsert(chunk).items():
                    record(index, result)
            for index, contact in [*to_patch, *to_create]:
                if fatal is not None:
                    record(index, CrmUpsertResult(contact.lead_id, contact.crm_id, fatal))
                else:
                    record(index, self._upsert_without_email(contact))
        except RetryableError as exc:
            completed = [r for r in results if r is not None]
            raise CrmBatchInterrupted(exc, completed) from exc

        if any(r is None for r in results):  # every branch above records a result
            raise RuntimeError("a contact of the batch has no result")
        return [r for r in results if r is not None]

    # -- batch upsert by email ----------------------------------------------------------------

    def _batch_inputs(
        self, chunk: list[_Indexed]
    ) -> tuple[list[dict[str, Any]], dict[str, int], dict[str, int]]:
        """The batch upsert's inputs, and each contact's index by trace id and by email."""
        inputs: list[dict[str, Any]] = []
        by_trace: dict[str, int] = {}
        by_email: dict[str, int] = {}
        for index, contact in chunk:
            email = normalize_email(contact.email)
            if email is None:
                raise RuntimeError("email is None (chunks only contain contacts with one)")
            inputs.append(
                {
                    "idProperty": "email",
                    "id": email,
                    "objectWriteTraceId": contact.lead_id,
                    "properties": self._properties(contact, email),
                }
            )
            by_trace[contact.lead_id] = index
            by_email[email] = index
        return inputs, by_trace, by_email

    def _batch_upsert(self, chunk: list[_Indexed]) -> dict[int, CrmUpsertResult]:
        inputs, by_trace, by_email = self._batch_inputs(chunk)
        contacts = dict(chunk)

        response = self._send("POST", f"{_CONTACTS}/batch/upsert", json={"inputs": inputs})
        if response.status_code not in (200, 201, 207):
            error = self._error_from(response)
            if isinstance(error, RetryableError):
                raise error
            # The whole batch was rejected (malformed input, bad token, missing scope...).
            return {i: CrmUpsertResult(c.lead_id, c.crm_id, error) for i, c in chunk}

        body = _http.json_body(response)
        body = body if isinstance(body, dict) else {}
        out: dict[int, CrmUpsertResult] = {}

        raw_results = body.get("results")
        for item in raw_results if isinstance(raw_results, list) else []:
            if not isinstance(item, dict) or item.get("id") in (None, ""):
                continue
            located = _locate(item, by_trace, by_email)
            if located is None:
                continue
            created = item.get("new")
            out[located] = CrmUpsertResult(
                contacts[located].lead_id,
                str(item["id"]),
                None,
                created if isinstance(created, bool) else None,
            )

        raw_errors = body.get("errors")
        for item in raw_errors if isinstance(raw_errors, list) else []:
            if not isinstance(item, dict):
                continue
            error = self._batch_item_error(item, response.status_code)
            for index in _error_targets(item, by_trace, by_email):
                out.setdefault(
                    index, CrmUpsertResult(contacts[index].lead_id, contacts[index].crm_id, error)
                )

        _mark_missing(chunk, out, response.status_code)
        return out

    def _batch_item_error(self, item: dict[str, Any], status: int) -> IntegrationError:
        message = item.get("message")
        message = message if isinstance(message, str) and message else "batch item failed"
        category = item.get("category")
        category = category if isinstance(category, str) else None
        details = _http.redact_obj(
            {k: item[k] for k in ("category", "subCategory", "context", "errors") if k in item},
            self._secret,
        )
        message = _http.redact(message, self._secret)
        if category == "RATE_LIMITS":
            return RetryableError(
                message, provider=PROVIDER, status_code=status, code=category, details=details
            )
        return PermanentError(
            message, provider=PROVIDER, status_code=status, code=category, details=details
        )

    # -- single-record paths (no email) -------------------------------------------------------

    def _upsert_without_email(self, contact: CrmContact) -> CrmUpsertResult:
        properties = self._properties(contact, None)
        if contact.crm_id:
            if not properties:
                return _local_error(contact, "nothing to update: contact has no known fields")
            response = self._send(
                "PATCH",
                f"{_CONTACTS}/{quote(contact.crm_id, safe='')}",
                json={"properties": properties},
            )
            if response.is_success:
                return self._single_result(contact, response, created=False)
            if response.status_code != 404:
                return self._failed(contact, response)
            # The record was deleted or merged away in HubSpot: recreate it, as for a new lead.
            logger.info("hubspot contact %s not found, creating a new one", contact.crm_id)

        if "firstname" not in properties and "lastname" not in properties:
            return _local_error(contact, "HubSpot needs an email, first name or last name")
        response = self._send("POST", _CONTACTS, json={"properties": properties})
        if response.is_success:
            return self._single_result(contact, response, created=True)
        return self._failed(contact, response)

    def _single_result(
        self, contact: CrmContact, response: httpx.Response, *, created: bool
    ) -> CrmUpsertResult:
        body = _http.json_body(response)
        record_id = body.get("id") if isinstance(body, dict) else None
        if record_id in (None, ""):
            error = PermanentError(
                "2xx response without a record id",
                provider=PROVIDER,
                status_code=response.status_code,
                code="unexpected_response",
            )
            return CrmUpsertResult(contact.lead_id, contact.crm_id, error)
        return CrmUpsertResult(contact.lead_id, str(record_id), None, created)

    def _failed(self, contact: CrmContact, response: httpx.Response) -> CrmUpsertResult:
        error = self._error_from(response)
        if isinstance(error, RetryableError):
            raise error
        return CrmUpsertResult(contact.lead_id, contact.crm_id, error)

    # -- HTTP and errors ----------------------------------------------------------------------

    def _send(self, method: str, path: str, *, json: Any) -> httpx.Response:
        return self._request(method, path, json=json)

    def _auth_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self._secret}"}

    def _error_message(self, body: dict[str, Any]) -> str | None:
        message = body.get("message")
        return message if isinstance(message, str) and message else None

    def _rate_limit_delay(self, response: httpx.Response, body: dict[str, Any]) -> float:
        return _rate_limit_delay(response, body)

    # -- mapping ------------------------------------------------------------------------------

    def _properties(self, contact: CrmContact, email: str | None) -> dict[str, str]:
        first, last = split_name(contact.nome_completo or "")
        candidates = {"email": email, "firstname": first, "lastname": last}
        for field, target in self.field_keys.items():
            candidates[target] = self._value(contact, field, target)
        return {key: value for key, value in candidates.items() if value}

    def _value(self, contact: CrmContact, field: str, target: str) -> str | None:
        raw = getattr(contact, field, None)
        if raw is None:
            return None
        if field == "telefone":
            return normalize_phone(str(raw))
        if field == "status" and target == "hs_lead_status":
            return self._lead_status(str(raw))
        return str(raw).strip()

    def _lead_status(self, status: str | None) -> str | None:
        if not status or not status.strip():
            return None
        key = status.strip()
        mapped = self._lead_status_map.get(key.lower())
        if mapped:
            return mapped
        if key.upper() in HUBSPOT_LEAD_STATUSES:
            return key.upper()
        logger.debug("lead status %r has no HubSpot equivalent; hs_lead_status omitted", key)
        return None


def _chunks(items: list[_Indexed]) -> list[list[_Indexed]]:
    """Split into batches of at most BATCH_LIMIT with unique emails and lead ids per batch.

    HubSpot rejects a batch that names the same record twice, and duplicate trace ids would
    make 207 errors ambiguous; duplicates move to a later batch instead.
    """
    chunks: list[list[_Indexed]] = []
    keys: list[set[str]] = []
    for index, contact in items:
        email_key = "e:" + (normalize_email(contact.email) or "")
        lead_key = "l:" + contact.lead_id
        for chunk, seen in zip(chunks, keys, strict=True):
            if len(chunk) < BATCH_LIMIT and email_key not in seen and lead_key not in seen:
                chunk.append((index, contact))
                seen.update((email_key, lead_key))
                break
        else:
            chunks.append([(index, contact)])
            keys.append({email_key, lead_key})
    return chunks


def _mark_missing(chunk: list[_Indexed], out: dict[int, CrmUpsertResult], status: int) -> None:
    """Give every contact of `chunk` the response did not mention a retryable error."""
    for index, contact in chunk:
        if index not in out:
            # Upserting by email is idempotent, so sending this contact again is safe.
            out[index] = CrmUpsertResult(
                contact.lead_id,
                contact.crm_id,
                RetryableError(
                    "contact missing from the batch upsert response",
                    provider=PROVIDER,
                    status_code=status,
                    code="missing_result",
                ),
            )


def _locate(item: dict[str, Any], by_trace: dict[str, int], by_email: dict[str, int]) -> int | None:
    trace = item.get("objectWriteTraceId")
    if isinstance(trace, str) and trace in by_trace:
        return by_trace[trace]
    properties = item.get("properties")
    email = properties.get("email") if isinstance(properties, dict) else None
    if isinstance(email, str):
        return by_email.get(email.strip().lower())
    return None


def _error_targets(
    item: dict[str, Any], by_trace: dict[str, int], by_email: dict[str, int]
) -> list[int]:
    context = item.get("context")
    if not isinstance(context, dict):
        return []
    targets: list[int] = []
    for key, lookup in (("objectWriteTraceId", by_trace), ("ids", by_email)):
        values = context.get(key)
        for value in values if isinstance(values, list) else []:
            if not isinstance(value, str):
                continue
            index = lookup.get(value if key == "objectWriteTraceId" else value.strip().lower())
            if index is not None and index not in targets:
                targets.append(index)
    return targets


def _rate_limit_delay(response: httpx.Response, body: dict[str, Any]) -> float:
    retry_after = parse_retry_after(response.headers.get("Retry-After"))
    if retry_after is not None:
        return retry_after
    if body.get("policyName") == "DAILY":
        return DAILY_LIMIT_DELAY
    interval_ms = _http.header_float(response, "X-HubSpot-RateLimit-Interval-Milliseconds")
    if interval_ms:
        return interval_ms / 1000.0
    return DEFAULT_RATE_LIMIT_DELAY


def _local_error(contact: CrmContact, message: str) -> CrmUpsertResult:
    error = PermanentError(message, provider=PROVIDER, code="invalid_contact")
    return CrmUpsertResult(contact.lead_id, contact.crm_id, error)
