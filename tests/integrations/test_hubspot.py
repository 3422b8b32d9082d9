from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from decimal import Decimal

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from integrations.crm.base import CrmBatchInterrupted, CrmClient, CrmContact, CrmUpsertResult
from integrations.crm.hubspot import HubSpotClient
from integrations.errors import PermanentError, RetryableError
from tests.integrations.helpers import load_fixture

TOKEN = "pat-na1-11111111-2222-3333-4444-555555555555"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
UPSERT = "/crm/v3/objects/contacts/batch/upsert"
CONTACTS = "/crm/v3/objects/contacts"

MARIA = CrmContact(
    lead_id="lead-1",
    nome_completo="Maria da Silva Souza",
    email=" MARIA@Empresa.com.br ",
    telefone="+55 (11) 98765-4321",
    empresa="Empresa Ltda",
    cargo="Diretora Comercial",
    status="novo",
    origem="instagram",
    valor_potencial=Decimal("15000.00"),
)
JOAO = CrmContact(
    lead_id="lead-2", nome_completo="João Pereira", email="joao@acme.com.br", status="CONNECTED"
)
MARIA_INPUT = {
    "idProperty": "email",
    "id": "maria@empresa.com.br",
    "objectWriteTraceId": "lead-1",
    "properties": {
        "email": "maria@empresa.com.br",
        "firstname": "Maria",
        "lastname": "da Silva Souza",
        "phone": "+5511987654321",
        "company": "Empresa Ltda",
        "jobtitle": "Diretora Comercial",
        "hs_lead_status": "NEW",
    },
}
JOAO_INPUT = {
    "idProperty": "email",
    "id": "joao@acme.com.br",
    "objectWriteTraceId": "lead-2",
    "properties": {
        "email": "joao@acme.com.br",
        "firstname": "João",
        "lastname": "Pereira",
        "hs_lead_status": "CONNECTED",
    },
}


@pytest.fixture
def client(httpserver: HTTPServer) -> Iterator[HubSpotClient]:
    with HubSpotClient(
        base_url=httpserver.url_for(""),
        token=TOKEN,
        timeout=2.0,
        lead_status_map={"Novo": "NEW", "em_contato": "ATTEMPTED_TO_CONTACT"},
    ) as hubspot:
        yield hubspot


def _echo_upsert(sizes: list[int]) -> Callable[[Request], Response]:
    """Answer a batch upsert like HubSpot would, one created record per input."""

    def handler(request: Request) -> Response:
        inputs = json.loads(request.data)["inputs"]
        sizes.append(len(inputs))
        results = [
            {
                "id": f"hs-{item['objectWriteTraceId']}",
                "properties": {"email": item["id"]},
                "new": True,
                "objectWriteTraceId": item["objectWriteTraceId"],
            }
            for item in inputs
        ]
        return Response(
            json.dumps({"status": "COMPLETE", "results": results}),
            content_type="application/json",
        )

    return handler


def test_it_implements_the_crm_client_protocol(client: HubSpotClient) -> None:
    assert isinstance(client, CrmClient)


def test_it_batch_upserts_by_email_with_the_documented_body(
    httpserver: HTTPServer, client: HubSpotClient
) -> None:
    httpserver.expect_oneshot_request(
        UPSERT, method="POST", headers=AUTH, json={"inputs": [MARIA_INPUT, JOAO_INPUT]}
    ).respond_with_json(load_fixture("hubspot_batch_upsert_200.json"))

    results = client.upsert_contacts([MARIA, JOAO])

    # HubSpot answers in its own order; results come back in input order, matched by trace id.
    assert results == [
        CrmUpsertResult("lead-1", "51350", None, True),
        CrmUpsertResult("lead-2", "51201", None, False),
    ]


def test_it_omits_blank_fields_and_unknown_lead_statuses(
    httpserver: HTTPServer, client: HubSpotClient
) -> None:
    contact = CrmContact(
        lead_id="lead-9",
        nome_completo="Ana",
        email="ana@x.com.br",
        telefone="  ",
        empresa="",
        cargo=None,
        status="em_negociacao",
    )
    httpserver.expect_oneshot_request(
        UPSERT,
        method="POST",
        json={
            "inputs": [
                {
                    "idProperty": "email",
                    "id": "ana@x.com.br",
                    "objectWriteTraceId": "lead-9",
                    "properties": {"email": "ana@x.com.br", "firstname": "Ana"},
                }
            ]
        },
    ).respond_with_handler(_echo_upsert([]))

    [result] = client.upsert([contact])

    assert result == CrmUpsertResult("lead-9", "hs-lead-9", None, True)


def test_it_sends_at_most_100_contacts_per_batch(
    httpserver: HTTPServer, client: HubSpotClient
) -> None:
    sizes: list[int] = []
    httpserver.expect_request(UPSERT, method="POST", headers=AUTH).respond_with_handler(
        _echo_upsert(sizes)
    )
    contacts = [
        CrmContact(lead_id=f"L{i}", nome_completo=f"Lead {i}", email=f"lead{i}@x.com.br")
        for i in range(250)
    ]

    results = client.upsert(contacts)

    assert sizes == [100, 100, 50]
    assert [r.crm_id for r in results] == [f"hs-L{i}" for i in range(250)]
    assert all(r.ok for r in results)


def test_it_moves_duplicate_emails_to_a_later_batch(
    httpserver: HTTPServer, client: HubSpotClient
) -> None:
    sizes: list[int] = []
    httpserver.expect_request(UPSERT, method="POST").respond_with_handler(_echo_upsert(sizes))
    first = CrmContact(lead_id="a", nome_completo="A", email="same@x.com.br")
    second = CrmContact(lead_id="b", nome_completo="B", email="SAME@x.com.br")

    results = client.upsert([first, second])

    assert sizes == [1, 1]
    assert [r.crm_id for r in results] == ["hs-a", "hs-b"]


def test_it_maps_a_207_partial_failure_to_the_failed_contact(
    httpserver: HTTPServer, client: HubSpotClient
) -> None:
    httpserver.expect_oneshot_request(
        UPSERT, method="POST", headers=AUTH, json={"inputs": [MARIA_INPUT, JOAO_INPUT]}
    ).respond_with_json(load_fixture("hubspot_batch_upsert_207.json"), status=207)

    maria, joao = client.upsert([MARIA, JOAO])

    assert maria == CrmUpsertResult("lead-1", "51350", None, True)
    assert joao.crm_id is None
    assert isinstance(joao.error, PermanentError)
    assert (joao.error.status_code, joao.error.code) == (207, "VALIDATION_ERROR")
    assert "INVALID_EMAIL" in joao.error.message
    assert joao.error.details["context"] == {"objectWriteTraceId": ["lead-2"]}


def test_it_matches_results_by_email_when_trace_ids_are_absent(
    httpserver: HTTPServer, client: HubSpotClient
) -> None:
    body = load_fixture("hubspot_batch_upsert_200.json")
    for item in body["results"]:
        del item["objectWriteTraceId"]
    httpserver.expect_oneshot_request(UPSERT, method="POST").respond_with_json(body)

    maria, joao = client.upsert([MARIA, JOAO])

    assert (maria.crm_id, joao.crm_id) == ("51350", "51201")


def test_it_reports_contacts_missing_from_the_response_as_retryable_results(
    httpserver: HTTPServer, client: HubSpotClient
) -> None:
    body = load_fixture("hubspot_batch_upsert_200.json")
    body["results"] = [r for r in body["results"] if r["objectWriteTraceId"] == "lead-1"]
    httpserver.expect_oneshot_request(UPSERT, method="POST").respond_with_json(body)

    maria, joao = client.upsert([MARIA, JOAO])

    assert maria.crm_id == "51350"
    assert isinstance(joao.error, RetryableError)
    assert joao.error.code == "missing_result"


def test_it_patches_a_contact_without_email_by_its_hubspot_id(
    httpserver: HTTPServer, client: HubSpotClient
) -> None:
    contact = CrmContact(
        lead_id="lead-3",
        nome_completo="Ana Lima",
        telefone="+55 21 99887-7665",
        status="em_contato",
        crm_id="60011",
    )
    httpserver.expect_oneshot_request(
        f"{CONTACTS}/60011",
        method="PATCH",
        headers=AUTH,
        json={
            "properties": {
                "firstname": "Ana",
                "lastname": "Lima",
                "phone": "+5521998877665",
                "hs_lead_status": "ATTEMPTED_TO_CONTACT",
            }
        },
    ).respond_with_json(load_fixture("hubspot_contact_created.json"))

    [result] = client.upsert([contact])

    assert result == CrmUpsertResult("lead-3", "60011", None, False)


def test_it_creates_a_contact_without_email_or_hubspot_id(
    httpserver: HTTPServer, client: HubSpotClient
) -> None:
    contact = CrmContact(lead_id="lead-3", nome_completo="Ana Lima", telefone="+5521998877665")
    httpserver.expect_oneshot_request(
        CONTACTS,
        method="POST",
        headers=AUTH,
        json={"properties": {"firstname": "Ana", "lastname": "Lima", "phone": "+5521998877665"}},
    ).respond_with_json(load_fixture("hubspot_contact_created.json"), status=201)

    [result] = client.upsert([contact])

    assert result == CrmUpsertResult("lead-3", "60011", None, True)


def test_it_recreates_a_contact_whose_hubspot_record_was_deleted(
    httpserver: HTTPServer, client: HubSpotClient
) -> None:
    contact = CrmContact(lead_id="lead-3", nome_completo="Ana Lima", crm_id="999")
    body = {"properties": {"firstname": "Ana", "lastname": "Lima"}}
    httpserver.expect_ordered_request(
        f"{CONTACTS}/999", method="PATCH", json=body
    ).respond_with_json(
        {"status": "error", "message": "resource not found", "category": "OBJECT_NOT_FOUND"},
        status=404,
    )
    httpserver.expect_ordered_request(CONTACTS, method="POST", json=body).respond_with_json(
        load_fixture("hubspot_contact_created.json"), status=201
    )

    [result] = client.upsert([contact])

    assert result == CrmUpsertResult("lead-3", "60011", None, True)


def test_it_refuses_contacts_hubspot_cannot_identify_without_a_request(
    client: HubSpotClient,
) -> None:
    [result] = client.upsert([CrmContact(lead_id="lead-4", nome_completo="  ", telefone="1")])

    assert isinstance(result.error, PermanentError)
    assert result.error.code == "invalid_contact"


def test_it_keeps_going_after_one_contact_fails_permanently(
    httpserver: HTTPServer, client: HubSpotClient
) -> None:
    bad = CrmContact(lead_id="bad", nome_completo="Bad Lead", crm_id="1")
    good = CrmContact(lead_id="good", nome_completo="Good Lead")
    httpserver.expect_ordered_request(f"{CONTACTS}/1", method="PATCH").respond_with_json(
        {
            "status": "error",
            "message": "Property values were not valid",
            "category": "VALIDATION_ERROR",
        },
        status=400,
    )
    httpserver.expect_ordered_request(CONTACTS, method="POST").respond_with_json(
        load_fixture("hubspot_contact_created.json"), status=201
    )

    bad_result, good_result = client.upsert([bad, good])

    assert isinstance(bad_result.error, PermanentError)
    assert (bad_result.error.status_code, bad_result.error.code) == (400, "VALIDATION_ERROR")
    assert bad_result.crm_id == "1"
    assert good_result == CrmUpsertResult("good", "60011", None, True)


def test_it_raises_retryable_on_429_with_the_default_delay(
    httpserver: HTTPServer, client: HubSpotClient
) -> None:
    httpserver.expect_oneshot_request(UPSERT, method="POST").respond_with_json(
        load_fixture("hubspot_429.json"), status=429
    )

    with pytest.raises(RetryableError) as excinfo:
        client.upsert([MARIA])

    err = excinfo.value
    assert (err.status_code, err.retry_after) == (429, 10.0)
    assert err.details["policyName"] == "TEN_SECONDLY_ROLLING"


def test_it_honours_retry_after_on_429(httpserver: HTTPServer, client: HubSpotClient) -> None:
    httpserver.expect_oneshot_request(UPSERT, method="POST").respond_with_json(
        load_fixture("hubspot_429.json"), status=429, headers={"Retry-After": "3"}
    )

    with pytest.raises(RetryableError) as excinfo:
        client.upsert([MARIA])

    assert excinfo.value.retry_after == 3.0


def test_it_suggests_an_hour_when_the_daily_limit_is_hit(
    httpserver: HTTPServer, client: HubSpotClient
) -> None:
    body = load_fixture("hubspot_429.json") | {"policyName": "DAILY"}
    httpserver.expect_oneshot_request(UPSERT, method="POST").respond_with_json(body, status=429)

    with pytest.raises(RetryableError) as excinfo:
        client.upsert([MARIA])

    assert excinfo.value.retry_after == 3600.0


def test_it_keeps_finished_results_when_a_batch_is_interrupted(
    httpserver: HTTPServer, client: HubSpotClient
) -> None:
    new_lead = CrmContact(lead_id="lead-3", nome_completo="Ana Lima")
    httpserver.expect_ordered_request(UPSERT, method="POST").respond_with_json(
        load_fixture("hubspot_batch_upsert_200.json")
    )
    httpserver.expect_ordered_request(CONTACTS, method="POST").respond_with_json(
        load_fixture("hubspot_429.json"), status=429, headers={"Retry-After": "1"}
    )

    with pytest.raises(CrmBatchInterrupted) as excinfo:
        client.upsert([new_lead, MARIA, JOAO])

    err = excinfo.value
    assert isinstance(err, RetryableError)
    assert err.retry_after == 1.0
    assert [(r.lead_id, r.crm_id) for r in err.completed] == [
        ("lead-1", "51350"),
        ("lead-2", "51201"),
    ]


@pytest.mark.parametrize("status", [500, 502, 503, 477])
def test_it_raises_retryable_on_server_errors(
    httpserver: HTTPServer, client: HubSpotClient, status: int
) -> None:
    httpserver.expect_oneshot_request(UPSERT, method="POST").respond_with_data(
        "upstream failure", status=status, headers={"Retry-After": "30"}
    )

    with pytest.raises(RetryableError) as excinfo:
        client.upsert([MARIA])

    assert (excinfo.value.status_code, excinfo.value.retry_after) == (status, 30.0)


def test_it_raises_retryable_on_timeout(httpserver: HTTPServer) -> None:
    def slow(_request: Request) -> Response:
        time.sleep(0.5)
        return Response("{}", content_type="application/json")

    httpserver.expect_oneshot_request(UPSERT, method="POST").respond_with_handler(slow)
    with (
        HubSpotClient(base_url=httpserver.url_for(""), token=TOKEN, timeout=0.1) as client,
        pytest.raises(RetryableError, match="timed out"),
    ):
        client.upsert([MARIA])
    time.sleep(0.5)


def test_it_raises_retryable_on_connection_refused(refused_url: str) -> None:
    with (
        HubSpotClient(base_url=refused_url, token=TOKEN) as client,
        pytest.raises(RetryableError) as excinfo,
    ):
        client.upsert([MARIA])

    assert TOKEN not in str(excinfo.value)


def test_it_stops_calling_hubspot_after_a_credential_error(
    httpserver: HTTPServer, client: HubSpotClient
) -> None:
    body = load_fixture("hubspot_401.json")
    body["message"] += f" (received {TOKEN})"
    httpserver.expect_oneshot_request(UPSERT, method="POST").respond_with_json(body, status=401)
    no_email = CrmContact(lead_id="lead-3", nome_completo="Ana Lima")

    results = client.upsert([MARIA, no_email])

    assert [r.lead_id for r in results] == ["lead-1", "lead-3"]
    errors = [r.error for r in results]
    assert all(isinstance(e, PermanentError) and e.status_code == 401 for e in errors)
    assert errors[0] is errors[1]
    assert errors[0] is not None
    assert errors[0].code == "INVALID_AUTHENTICATION"
    assert TOKEN not in str(errors[0])
    assert TOKEN not in repr(errors[0].details)
    assert TOKEN not in repr(client)
