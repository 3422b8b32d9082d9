"""Stateful stubs of the CRMs' field endpoints, following the providers' documented formats.

* HubSpot properties API: ``GET /crm/v3/properties/contacts`` -> ``{"results": [property...]}``;
  ``POST /crm/v3/properties/contacts`` with ``name``, ``label``, ``type``, ``fieldType`` and
  ``groupName`` -> 201 with the property, or 409 ``OBJECT_ALREADY_EXISTS``.
* Pipedrive ``GET /v1/personFields?start=&limit=`` -> ``{"success", "data": [field...],
  "additional_data": {"pagination": {"start", "limit", "more_items_in_collection",
  "next_start"}}}``; ``POST /v1/personFields`` ``{"name", "field_type"}`` -> 201 ``{"success",
  "data": {"id", "key", "name", "field_type"}}`` (the key is a 40-character hash).
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

HUBSPOT_PROPERTIES = "/crm/v3/properties/contacts"
PIPEDRIVE_FIELDS = "/v1/personFields"
HUBSPOT_DEFAULT_PROPERTIES = (
    "email",
    "firstname",
    "lastname",
    "phone",
    "company",
    "jobtitle",
    "hs_lead_status",
)


def _json(body: Any, status: int = 200) -> Response:
    return Response(json.dumps(body), status=status, content_type="application/json")


class HubSpotPropertiesStub:
    def __init__(self, server: HTTPServer, token: str, existing: tuple[str, ...] = ()) -> None:
        self.properties: dict[str, dict[str, Any]] = {
            name: {"name": name, "label": name, "type": "string", "fieldType": "text"}
            for name in (*HUBSPOT_DEFAULT_PROPERTIES, *existing)
        }
        self.created: list[dict[str, Any]] = []
        self.lists = 0
        auth = {"Authorization": f"Bearer {token}"}
        server.expect_request(HUBSPOT_PROPERTIES, method="GET", headers=auth).respond_with_handler(
            self._list
        )
        server.expect_request(HUBSPOT_PROPERTIES, method="POST", headers=auth).respond_with_handler(
            self._create
        )

    def _list(self, request: Request) -> Response:
        self.lists += 1
        return _json({"results": list(self.properties.values())})

    def _create(self, request: Request) -> Response:
        body = json.loads(request.data)
        missing = [
            k for k in ("name", "label", "type", "fieldType", "groupName") if not body.get(k)
        ]
        if missing:
            return _json({"status": "error", "message": f"missing {missing}"}, 400)
        if body["name"] in self.properties:
            message = f"Property named '{body['name']}' already exists."
            return _json(
                {"status": "error", "message": message, "category": "OBJECT_ALREADY_EXISTS"}, 409
            )
        self.properties[body["name"]] = body
        self.created.append(body)
        return _json(body, 201)


def pipedrive_key(name: str) -> str:
    return hashlib.sha1(name.encode()).hexdigest()  # noqa: S324 -- a stub's field key


class PipedriveFieldsStub:
    def __init__(
        self, server: HTTPServer, token: str, existing: tuple[str, ...] = (), page: int = 2
    ) -> None:
        self.fields: list[dict[str, Any]] = [
            {"id": 1, "key": "name", "name": "Name", "field_type": "varchar"},
            {"id": 2, "key": "email", "name": "Email", "field_type": "varchar"},
        ]
        self.fields += [
            {"id": 10 + i, "key": pipedrive_key(n), "name": n, "field_type": "varchar"}
            for i, n in enumerate(existing)
        ]
        self.created: list[dict[str, Any]] = []
        self.page = page  # Pipedrive's page size is the request's limit; the stub caps it
        auth = {"x-api-token": token}
        server.expect_request(PIPEDRIVE_FIELDS, method="GET", headers=auth).respond_with_handler(
            self._list
        )
        server.expect_request(PIPEDRIVE_FIELDS, method="POST", headers=auth).respond_with_handler(
            self._create
        )

    def _list(self, request: Request) -> Response:
        start = int(request.args.get("start", "0"))
        limit = min(int(request.args.get("limit", "100")), self.page)
        chunk = self.fields[start : start + limit]
        more = start + limit < len(self.fields)
        pagination = {"start": start, "limit": limit, "more_items_in_collection": more}
        if more:
            pagination["next_start"] = start + limit
        return _json(
            {"success": True, "data": chunk, "additional_data": {"pagination": pagination}}
        )

    def _create(self, request: Request) -> Response:
        body = json.loads(request.data)
        if not body.get("name") or body.get("field_type") not in ("varchar", "double", "text"):
            return _json({"success": False, "error": "name and field_type required"}, 400)
        field = {
            "id": 100 + len(self.created),
            "key": pipedrive_key(body["name"]),
            "name": body["name"],
            "field_type": body["field_type"],
        }
        self.fields.append(field)
        self.created.append(body)
        return _json({"success": True, "data": field}, 201)
