"""Per-connection field mapping: custom properties / fields created when missing (over real HTTP
against the stubs), the mapped values sent, the mapping edited in the API and the admin."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from config.errors import ValidationError
from integrations.crm import mapping
from integrations.crm import services as crm
from integrations.models import CRMConnection
from tests.factories import LeadFactory
from tests.integrations.crm_stubs import HubSpotPropertiesStub, PipedriveFieldsStub, pipedrive_key
from tests.integrations.factories import CRM_TOKEN, CRMConnectionFactory

pytestmark = pytest.mark.django_db

UPSERT = "/crm/v3/objects/contacts/batch/upsert"
PERSONS = "/api/v2/persons"
URL = "/api/v1/integrations/crm-connections/"


def hubspot_upsert(received: list[dict[str, Any]]) -> Any:
    def handler(request: Request) -> Response:
        body = json.loads(request.data)
        received.append(body)
        results = [
            {"id": "901", "new": True, "objectWriteTraceId": item["objectWriteTraceId"]}
            for item in body["inputs"]
        ]
        return Response(json.dumps({"status": "COMPLETE", "results": results}), status=200)

    return handler


def rich_lead(org_a: Any, **extra: Any) -> Any:
    data = {
        "nome_completo": "Maria da Silva",
        "email": "maria@cliente.com.br",
        "telefone": "+5511987654321",
        "empresa": "Cliente Ltda",
        "origem": "instagram",
        "temperatura": "quente",
        "lead_score": 87,
        "valor_potencial": Decimal("15000.50"),
        "status": "em_contato",
        "closer": org_a.closer,
    }
    data.update(extra)
    return LeadFactory(organization=org_a.org, **data)


def test_hubspot_gets_the_missing_properties_created_once_then_the_mapped_values(
    org_a, httpserver: HTTPServer
):
    CRMConnectionFactory(
        organization=org_a.org, provider="hubspot", api_base_url=httpserver.url_for("")
    )
    stub = HubSpotPropertiesStub(httpserver, CRM_TOKEN, existing=("origem",))
    received: list[dict[str, Any]] = []
    httpserver.expect_request(UPSERT, method="POST").respond_with_handler(hubspot_upsert(received))
    lead = rich_lead(org_a)

    crm.crm_sync_leads(organization_id=org_a.org.pk, lead_ids=[lead.pk])
    crm.crm_sync_leads(organization_id=org_a.org.pk, lead_ids=[lead.pk])

    created = {p["name"]: (p["type"], p["fieldType"], p["groupName"]) for p in stub.created}
    assert created == {
        "temperatura": ("string", "text", "contactinformation"),
        "lead_score": ("number", "number", "contactinformation"),
        "valor_potencial": ("number", "number", "contactinformation"),
        "closer": ("string", "text", "contactinformation"),
    }
    assert stub.lists == 1  # the second sync reuses the prepared mapping
    properties = received[-1]["inputs"][0]["properties"]
    assert properties == {
        "email": "maria@cliente.com.br",
        "firstname": "Maria",
        "lastname": "da Silva",
        "phone": "+5511987654321",
        "company": "Cliente Ltda",
        "hs_lead_status": "IN_PROGRESS",
        "origem": "instagram",
        "temperatura": "quente",
        "lead_score": "87",
        "valor_potencial": "15000.50",
        "closer": org_a.closer.user.email,
    }
    lead.refresh_from_db()
    assert (lead.crm_id, lead.crm_sync_error) == ("901", "")


def test_a_changed_mapping_is_prepared_again_and_sent_under_the_new_names(
    org_a, httpserver: HTTPServer
):
    connection = CRMConnectionFactory(
        organization=org_a.org, provider="hubspot", api_base_url=httpserver.url_for("")
    )
    stub = HubSpotPropertiesStub(httpserver, CRM_TOKEN)
    received: list[dict[str, Any]] = []
    httpserver.expect_request(UPSERT, method="POST").respond_with_handler(hubspot_upsert(received))
    lead = rich_lead(org_a)
    crm.crm_sync_leads(organization_id=org_a.org.pk, lead_ids=[lead.pk])

    connection.refresh_from_db()
    connection.field_mapping = {"lead_score": "pontuacao", "closer": "", "origem": ""}
    connection.save()
    crm.crm_sync_leads(organization_id=org_a.org.pk, lead_ids=[lead.pk])

    assert stub.lists == 2
    assert stub.created[-1]["name"] == "pontuacao"
    properties = received[-1]["inputs"][0]["properties"]
    assert properties["pontuacao"] == "87"
    assert not {"lead_score", "closer", "origem"} & set(properties)


def test_a_property_that_cannot_be_created_fails_the_sync_with_the_reason(
    org_a, httpserver: HTTPServer
):
    CRMConnectionFactory(
        organization=org_a.org, provider="hubspot", api_base_url=httpserver.url_for("")
    )
    httpserver.expect_request("/crm/v3/properties/contacts", method="GET").respond_with_json(
        {"results": []}
    )
    httpserver.expect_request("/crm/v3/properties/contacts", method="POST").respond_with_json(
        {
            "status": "error",
            "message": "This app hasn't been granted all required scopes",
            "category": "MISSING_SCOPES",
        },
        status=403,
    )
    lead = rich_lead(org_a)
    outcome = crm.crm_sync_leads(organization_id=org_a.org.pk, lead_ids=[lead.pk])
    assert outcome.failed == [str(lead.pk)]
    lead.refresh_from_db()
    assert "required scopes" in lead.crm_sync_error
    assert CRMConnection.objects.get().fields_ready_for == ""  # tried again next time


def test_pipedrive_finds_fields_over_pages_creates_the_rest_and_sends_custom_fields(
    org_a, httpserver: HTTPServer
):
    CRMConnectionFactory(
        organization=org_a.org, provider="pipedrive", api_base_url=httpserver.url_for("")
    )
    stub = PipedriveFieldsStub(httpserver, CRM_TOKEN, existing=("Origem", "Temperatura"), page=2)
    bodies: list[dict[str, Any]] = []

    def create_person(request: Request) -> Response:
        bodies.append(json.loads(request.data))
        return Response(json.dumps({"success": True, "data": {"id": 77}}), status=201)

    httpserver.expect_request(f"{PERSONS}/search").respond_with_json(
        {"success": True, "data": {"items": []}}
    )
    httpserver.expect_request(PERSONS, method="POST").respond_with_handler(create_person)
    lead = rich_lead(org_a)

    crm.crm_sync_leads(organization_id=org_a.org.pk, lead_ids=[lead.pk])

    assert {(c["name"], c["field_type"]) for c in stub.created} == {
        ("Empresa", "varchar"),
        ("Cargo", "varchar"),
        ("Status do lead", "varchar"),
        ("Lead score", "double"),
        ("Valor potencial", "double"),
        ("Closer", "varchar"),
    }
    [body] = bodies
    assert body["custom_fields"] == {
        pipedrive_key("Empresa"): "Cliente Ltda",
        pipedrive_key("Status do lead"): "em_contato",
        pipedrive_key("Origem"): "instagram",
        pipedrive_key("Temperatura"): "quente",
        pipedrive_key("Lead score"): 87,
        pipedrive_key("Valor potencial"): 15000.5,
        pipedrive_key("Closer"): org_a.closer.user.email,
    }
    connection = CRMConnection.objects.get()
    assert connection.field_keys["origem"] == pipedrive_key("Origem")
    lead.refresh_from_db()
    assert lead.crm_id == "77"


# -- validation, API, admin --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("provider", "data", "bad"),
    [
        ("hubspot", {"sapato": "x"}, "sapato"),
        ("hubspot", {"lead_score": "Lead Score"}, "lead_score"),
        ("hubspot", {"lead_score": 5}, "lead_score"),
        ("hubspot", {"lead_score": "company"}, "field_mapping"),  # empresa maps there
        ("pipedrive", {"telefone": "Fone"}, "telefone"),  # Pipedrive's phones are fixed
    ],
)
def test_the_mapping_is_validated_per_provider(provider: str, data: Any, bad: str) -> None:
    with pytest.raises(ValidationError) as caught:
        mapping.validate_mapping(provider, data)
    assert bad in caught.value.details


def test_an_admin_edits_the_mapping_and_webhook_settings_in_the_api(org_a, client_for):
    row = CRMConnectionFactory(organization=org_a.org, provider="hubspot")
    client = client_for(org_a.admin)
    response = client.patch(
        f"{URL}{row.pk}/",
        {
            "field_mapping": {"lead_score": "pontuacao", "closer": ""},
            "webhook_secret": "client-secret-123",
        },
        format="json",
    )
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["field_mapping"] == {"lead_score": "pontuacao", "closer": ""}
    assert body["mapeamento_efetivo"]["lead_score"] == "pontuacao"
    assert "closer" not in body["mapeamento_efetivo"]
    assert body["webhook_url"].endswith(f"/webhooks/crm/hubspot/{row.pk}/")
    assert "client-secret-123" not in str(body)
    row.refresh_from_db()
    assert row.webhook_secret == "client-secret-123"


@pytest.mark.parametrize("role", ["gestor", "closer"])
def test_only_admins_edit_the_mapping(org_a, client_for, role):
    row = CRMConnectionFactory(organization=org_a.org, provider="hubspot")
    response = client_for(org_a.member(role)).patch(
        f"{URL}{row.pk}/", {"field_mapping": {"lead_score": "x"}}, format="json"
    )
    assert response.status_code in (403, 404)
    row.refresh_from_db()
    assert row.field_mapping == {}


def test_a_bad_mapping_is_a_400_and_nothing_is_written(org_a, client_for):
    row = CRMConnectionFactory(organization=org_a.org, provider="hubspot")
    response = client_for(org_a.admin).patch(
        f"{URL}{row.pk}/",
        {"field_mapping": {"lead_score": "Com Espaço"}, "ativo": False},
        format="json",
    )
    assert response.status_code == 400
    body = response.json()
    assert set(body) == {"error", "details"}
    assert "lead_score" in body["details"]
    row.refresh_from_db()
    assert (row.field_mapping, row.ativo) == ({}, True)


def test_the_admin_form_edits_and_validates_the_mapping(org_a):
    from integrations.admin import CRMConnectionForm

    row = CRMConnectionFactory(organization=org_a.org, provider="hubspot")
    base = {
        "organization": org_a.org.pk,
        "provider": "hubspot",
        "api_base_url": "https://api.hubapi.com",
        "ativo": "on",
        "webhook_user": "",
    }
    bad = CRMConnectionForm({**base, "field_mapping": '{"sapato": "x"}'}, instance=row)
    assert not bad.is_valid()
    assert "sapato" in str(bad.errors["field_mapping"])
    good = CRMConnectionForm(
        {**base, "field_mapping": '{"lead_score": "pontuacao"}', "novo_webhook_secret": "s"},
        instance=row,
    )
    assert good.is_valid(), good.errors
    good.save()
    row.refresh_from_db()
    assert (row.field_mapping, row.webhook_secret, row.token) == (
        {"lead_score": "pontuacao"},
        "s",
        CRM_TOKEN,
    )
