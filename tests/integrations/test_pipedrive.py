from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import Any

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from integrations.crm.base import CrmBatchInterrupted, CrmClient, CrmContact, CrmUpsertResult
from integrations.crm.pipedrive import PipedriveClient
from integrations.errors import PermanentError, RetryableError
from tests.integrations.helpers import load_fixture

TOKEN = "0123456789abcdef0123456789abcdef01234567"
AUTH = {"x-api-token": TOKEN}
PERSONS = "/api/v2/persons"
SEARCH = "/api/v2/persons/search"

MARIA = CrmContact(
    lead_id="lead-1",
    nome_completo="Maria da Silva Souza",
    email="Maria@Empresa.com.br",
    telefone="+55 (11) 98765-4321",
    empresa="Empresa Ltda",
    status="qualificado",
)
MARIA_BODY: dict[str, Any] = {
    "name": "Maria da Silva Souza",
    "emails": [{"value": "maria@empresa.com.br", "primary": True, "label": "work"}],
    "phones": [{"value": "+5511987654321", "primary": True, "label": "mobile"}],
}
BY_EMAIL = {"term": "maria@empresa.com.br", "fields": "email", "exact_match": "true"}
BY_PHONE = {"term": "+5511987654321", "fields": "phone", "exact_match": "true"}


@pytest.fixture
def client(httpserver: HTTPServer) -> Iterator[PipedriveClient]:
    with PipedriveClient(base_url=httpserver.url_for(""), api_token=TOKEN, timeout=2.0) as pd:
        yield pd


def _json_checking_auth(payload: Any, status: int = 200) -> Callable[[Request], Response]:
    """Answer with JSON, after proving the token travels only in the x-api-token header."""

    def handler(request: Request) -> Response:
        assert "Authorization" not in request.headers
        assert "api_token" not in request.args
        assert TOKEN not in request.query_string.decode()
        return Response(json.dumps(payload), status=status, content_type="application/json")

    return handler


def test_it_implements_the_crm_client_protocol(client: PipedriveClient) -> None:
    assert isinstance(client, CrmClient)


def test_it_patches_a_known_person_by_crm_id(
    httpserver: HTTPServer, client: PipedriveClient
) -> None:
    contact = replace(MARIA, crm_id="42")
    httpserver.expect_oneshot_request(
        f"{PERSONS}/42", method="PATCH", headers=AUTH, query_string="", json=MARIA_BODY
    ).respond_with_handler(_json_checking_auth(load_fixture("pipedrive_person.json")))

    result = client.upsert_person(contact)

    assert result == CrmUpsertResult("lead-1", "42", None, False)


def test_it_updates_the_person_found_by_email(
    httpserver: HTTPServer, client: PipedriveClient
) -> None:
    httpserver.expect_ordered_request(
        SEARCH, method="GET", headers=AUTH, query_string=BY_EMAIL
    ).respond_with_handler(_json_checking_auth(load_fixture("pipedrive_search_hit.json")))
    httpserver.expect_ordered_request(
        f"{PERSONS}/42", method="PATCH", headers=AUTH, json=MARIA_BODY
    ).respond_with_handler(_json_checking_auth(load_fixture("pipedrive_person.json")))

    result = client.upsert_person(MARIA)

    assert result == CrmUpsertResult("lead-1", "42", None, False)


def test_it_creates_the_person_when_no_search_matches(
    httpserver: HTTPServer, client: PipedriveClient
) -> None:
    httpserver.expect_ordered_request(
        SEARCH, method="GET", headers=AUTH, query_string=BY_EMAIL
    ).respond_with_json(load_fixture("pipedrive_search_miss.json"))
    httpserver.expect_ordered_request(
        SEARCH, method="GET", headers=AUTH, query_string=BY_PHONE
    ).respond_with_json(load_fixture("pipedrive_search_miss.json"))
    httpserver.expect_ordered_request(
        PERSONS, method="POST", headers=AUTH, json=MARIA_BODY
    ).respond_with_json(load_fixture("pipedrive_person.json"), status=201)

    result = client.upsert_person(MARIA)

    assert result == CrmUpsertResult("lead-1", "42", None, True)


def test_it_falls_back_to_a_phone_search_when_email_finds_nobody(
    httpserver: HTTPServer, client: PipedriveClient
) -> None:
    httpserver.expect_ordered_request(
        SEARCH, method="GET", query_string=BY_EMAIL
    ).respond_with_json(load_fixture("pipedrive_search_miss.json"))
    httpserver.expect_ordered_request(
        SEARCH, method="GET", query_string=BY_PHONE
    ).respond_with_json(load_fixture("pipedrive_search_hit.json"))
    httpserver.expect_ordered_request(
        f"{PERSONS}/42", method="PATCH", json=MARIA_BODY
    ).respond_with_json(load_fixture("pipedrive_person.json"))

    result = client.upsert_person(MARIA)

    assert result == CrmUpsertResult("lead-1", "42", None, False)


def test_it_searches_by_phone_only_when_there_is_no_email(
    httpserver: HTTPServer, client: PipedriveClient
) -> None:
    contact = CrmContact(lead_id="lead-2", nome_completo="", telefone="+5511987654321")
    httpserver.expect_ordered_request(
        SEARCH, method="GET", query_string=BY_PHONE
    ).respond_with_json(load_fixture("pipedrive_search_miss.json"))
    httpserver.expect_ordered_request(
        PERSONS,
        method="POST",
        json={
            # Pipedrive requires a name; the phone stands in when the lead has none.
            "name": "+5511987654321",
            "phones": [{"value": "+5511987654321", "primary": True, "label": "mobile"}],
        },
    ).respond_with_json(load_fixture("pipedrive_person.json"), status=201)

    assert client.upsert_person(contact).crm_id == "42"


def test_it_falls_back_to_search_when_the_known_person_was_deleted(
    httpserver: HTTPServer, client: PipedriveClient
) -> None:
    contact = replace(MARIA, crm_id="41")
    httpserver.expect_ordered_request(
        f"{PERSONS}/41", method="PATCH", json=MARIA_BODY
    ).respond_with_json(load_fixture("pipedrive_404.json"), status=404)
    httpserver.expect_ordered_request(
        SEARCH, method="GET", query_string=BY_EMAIL
    ).respond_with_json(load_fixture("pipedrive_search_miss.json"))
    httpserver.expect_ordered_request(
        SEARCH, method="GET", query_string=BY_PHONE
    ).respond_with_json(load_fixture("pipedrive_search_miss.json"))
    httpserver.expect_ordered_request(PERSONS, method="POST", json=MARIA_BODY).respond_with_json(
        load_fixture("pipedrive_person.json"), status=201
    )

    result = client.upsert_person(contact)

    assert result == CrmUpsertResult("lead-1", "42", None, True)


def test_it_raises_retryable_on_429_honouring_retry_after(
    httpserver: HTTPServer, client: PipedriveClient
) -> None:
    httpserver.expect_oneshot_request(SEARCH, method="GET").respond_with_json(
        load_fixture("pipedrive_429.json"),
        status=429,
        headers={"Retry-After": "5", "x-ratelimit-reset": "2"},
    )

    with pytest.raises(RetryableError) as excinfo:
        client.upsert_person(MARIA)

    err = excinfo.value
    assert (err.provider, err.status_code, err.retry_after) == ("pipedrive", 429, 5.0)
    assert err.message == "Request over limit"


@pytest.mark.parametrize(("headers", "expected"), [({"x-ratelimit-reset": "1"}, 1.0), ({}, 2.0)])
def test_it_uses_x_ratelimit_reset_or_a_default_on_429(
    httpserver: HTTPServer, client: PipedriveClient, headers: dict[str, str], expected: float
) -> None:
    httpserver.expect_oneshot_request(SEARCH, method="GET").respond_with_json(
        load_fixture("pipedrive_429.json"), status=429, headers=headers
    )

    with pytest.raises(RetryableError) as excinfo:
        client.upsert_person(MARIA)

    assert excinfo.value.retry_after == expected


def test_it_raises_retryable_on_server_errors(
    httpserver: HTTPServer, client: PipedriveClient
) -> None:
    httpserver.expect_oneshot_request(SEARCH, method="GET").respond_with_data("", status=503)

    with pytest.raises(RetryableError) as excinfo:
        client.upsert_person(MARIA)

    assert excinfo.value.status_code == 503


def test_it_raises_retryable_on_timeout(httpserver: HTTPServer) -> None:
    def slow(_request: Request) -> Response:
        time.sleep(0.5)
        return Response("{}", content_type="application/json")

    httpserver.expect_oneshot_request(SEARCH, method="GET").respond_with_handler(slow)
    with (
        PipedriveClient(base_url=httpserver.url_for(""), api_token=TOKEN, timeout=0.1) as client,
        pytest.raises(RetryableError, match="timed out"),
    ):
        client.upsert_person(MARIA)
    time.sleep(0.5)


def test_it_raises_retryable_on_connection_refused(refused_url: str) -> None:
    with (
        PipedriveClient(base_url=refused_url, api_token=TOKEN) as client,
        pytest.raises(RetryableError) as excinfo,
    ):
        client.upsert_person(MARIA)

    assert TOKEN not in str(excinfo.value)


def test_it_returns_permanent_errors_in_the_result(
    httpserver: HTTPServer, client: PipedriveClient
) -> None:
    contact = replace(MARIA, crm_id="42")
    httpserver.expect_oneshot_request(f"{PERSONS}/42", method="PATCH").respond_with_json(
        {"success": False, "error": "Invalid email", "error_info": "Check the emails field"},
        status=400,
    )

    result = client.upsert_person(contact)

    assert result.crm_id == "42"
    assert isinstance(result.error, PermanentError)
    assert (result.error.status_code, result.error.message) == (400, "Invalid email")
    assert result.error.details == {"error_info": "Check the emails field"}


def test_it_keeps_going_after_one_person_fails_permanently(
    httpserver: HTTPServer, client: PipedriveClient
) -> None:
    bad = CrmContact(lead_id="bad", nome_completo="Bad", crm_id="7")
    good = CrmContact(lead_id="good", nome_completo="Good", crm_id="42")
    httpserver.expect_ordered_request(f"{PERSONS}/7", method="PATCH").respond_with_json(
        {"success": False, "error": "Validation failed"}, status=422
    )
    httpserver.expect_ordered_request(f"{PERSONS}/42", method="PATCH").respond_with_json(
        load_fixture("pipedrive_person.json")
    )

    bad_result, good_result = client.upsert([bad, good])

    assert isinstance(bad_result.error, PermanentError)
    assert good_result == CrmUpsertResult("good", "42", None, False)


def test_it_aborts_the_batch_on_retryable_errors_keeping_finished_results(
    httpserver: HTTPServer, client: PipedriveClient
) -> None:
    first = CrmContact(lead_id="first", nome_completo="First", crm_id="42")
    second = CrmContact(lead_id="second", nome_completo="Second", crm_id="43")
    third = CrmContact(lead_id="third", nome_completo="Third", crm_id="44")
    httpserver.expect_ordered_request(f"{PERSONS}/42", method="PATCH").respond_with_json(
        load_fixture("pipedrive_person.json")
    )
    httpserver.expect_ordered_request(f"{PERSONS}/43", method="PATCH").respond_with_json(
        load_fixture("pipedrive_429.json"), status=429, headers={"x-ratelimit-reset": "2"}
    )

    with pytest.raises(CrmBatchInterrupted) as excinfo:
        client.upsert([first, second, third])

    assert excinfo.value.retry_after == 2.0
    assert excinfo.value.completed == [CrmUpsertResult("first", "42", None, False)]


def test_it_stops_calling_pipedrive_after_a_credential_error(
    httpserver: HTTPServer, client: PipedriveClient
) -> None:
    body = load_fixture("pipedrive_401.json")
    body["error"] += f" for token {TOKEN}"
    httpserver.expect_oneshot_request(f"{PERSONS}/42", method="PATCH").respond_with_json(
        body, status=401
    )
    contacts = [
        CrmContact(lead_id="a", nome_completo="A", crm_id="42"),
        CrmContact(lead_id="b", nome_completo="B", crm_id="43"),
    ]

    results = client.upsert(contacts)

    assert [r.lead_id for r in results] == ["a", "b"]
    assert results[0].error is results[1].error
    error = results[0].error
    assert isinstance(error, PermanentError)
    assert error.status_code == 401
    assert TOKEN not in str(error)
    assert TOKEN not in repr(error)
    assert TOKEN not in repr(client)
