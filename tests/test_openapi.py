from __future__ import annotations

import re

import pytest

pytestmark = pytest.mark.django_db


@pytest.fixture
def schema(client):
    response = client.get("/api/schema/", HTTP_ACCEPT="application/json")
    assert response.status_code == 200
    return response.json()


def test_it_describes_every_api_route(schema):
    from django.urls import get_resolver

    paths = set(schema["paths"])
    for expected in (
        "/api/v1/auth/token/",
        "/api/v1/auth/token/refresh/",
        "/api/v1/me/",
        "/api/v1/organization/",
        "/api/v1/members/",
        "/api/v1/members/{id}/",
        "/api/v1/holidays/",
        "/api/v1/leads/",
        "/api/v1/leads/{id}/",
        "/api/v1/leads/{lead_pk}/interactions/",
        "/api/v1/leads/{lead_pk}/qualification/",
        "/api/v1/tasks/",
        "/api/v1/tasks/{id}/",
        "/api/v1/notifications/",
    ):
        assert expected in paths, expected
    assert get_resolver() is not None


def test_it_documents_the_list_envelope_and_lead_fields(schema):
    list_op = schema["paths"]["/api/v1/leads/"]["get"]
    response = list_op["responses"]["200"]["content"]["application/json"]["schema"]
    ref = response["$ref"].rsplit("/", 1)[-1]
    envelope = schema["components"]["schemas"][ref]
    assert set(envelope["properties"]) == {"data", "pagination"}
    lead = schema["components"]["schemas"]["Lead"]["properties"]
    for field in ("closer", "sdr", "interactions_count", "qualification", "last_interaction"):
        assert field in lead
    params = {p["name"] for p in list_op["parameters"]}
    assert {"status", "temperatura", "search", "score_min", "ordering", "page", "limit"} <= params


def test_it_serves_swagger_ui_from_local_static_files(client):
    response = client.get("/api/docs/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "swagger-ui" in html
    # Every script, stylesheet and icon from this server (not a CDN). The page also carries a
    # random CSRF token, so no bare substring such as "cdn" is looked for in the whole text.
    links = re.findall(r"""(?:src|href)\s*=\s*["']([^"']*)["']""", html)
    assert any("swagger-ui" in link for link in links), links
    assert [link for link in links if not link.startswith("/static/")] == [], links
    assert re.findall(r"https?://|//cdn|unpkg\.com", html) == []  # nor one built in a script


def test_it_documents_the_error_shape(schema):
    assert set(schema["components"]["schemas"]["Error"]["properties"]) == {"error", "details"}
    create = schema["paths"]["/api/v1/leads/"]["post"]["responses"]
    for code in ("400", "401", "403", "409"):
        assert code in create
    assert "404" in schema["paths"]["/api/v1/leads/{id}/"]["get"]["responses"]


def test_options_answers_on_every_route(schema, org_a, client_for):
    """DRF's OPTIONS asks PUT views for their object: routes without a `pk` (a lead's consents,
    the member's notification preferences) answered 500 (found by tests/test_schemathesis.py)."""
    from tests.factories import LeadFactory

    lead = LeadFactory(organization=org_a.org)
    client = client_for(org_a.admin)
    for path in schema["paths"]:
        if not path.startswith("/api/v1/") or path.endswith("/stream/"):
            continue
        url = path.replace("{lead_pk}", str(lead.pk)).replace("{id}", str(lead.pk))
        response = client.options(url)
        assert response.status_code < 500, (url, response.status_code)
    for url in (f"/api/v1/leads/{lead.pk}/consents/", "/api/v1/me/notification-preferences/"):
        assert "PUT" in client.options(url).json()["actions"], url


MEMBER_FILTERS = {"closer_id", "sdr_id", "responsavel_id", "mentor_id"}


def test_every_member_filter_accepts_me(schema, org_a, client_for):
    """16.5: `me` on every member filter of every list (taken from the schema, so a new one is
    covered); anything but an id or `me` is a 400."""
    from tests.factories import LeadFactory, TaskFactory

    gestor = org_a.gestor
    mine = LeadFactory(organization=org_a.org, closer=gestor, sdr=org_a.sdr)
    LeadFactory(organization=org_a.org, closer=org_a.closer)
    TaskFactory(lead=mine, responsavel=gestor)
    client = client_for(gestor)
    checked = []
    for path, operations in schema["paths"].items():
        params = {p["name"] for p in operations.get("get", {}).get("parameters", [])}
        for name in sorted(params & MEMBER_FILTERS):
            url = path.replace("{lead_pk}", str(mine.pk))
            response = client.get(url, {name: "me"})
            assert response.status_code == 200, (url, name, response.content[:200])
            assert client.get(url, {name: "abc"}).status_code == 400, (url, name)
            checked.append(f"{path}?{name}")
    assert len(checked) >= 6, checked
    leads = client.get("/api/v1/leads/", {"closer_id": "me"}).json()["data"]
    assert [lead["id"] for lead in leads] == [str(mine.pk)]
    tasks = client.get("/api/v1/tasks/", {"responsavel_id": "me"}).json()["data"]
    assert len(tasks) == 1
    figures = client.get("/api/v1/leads/performance/", {"closer_id": "me"}).json()
    assert figures["periodo"]["closer_id"] == str(gestor.pk)
    assert figures["metrics"]["total_leads"] == 1


PORTUGUESE = re.compile(
    r"[ãõçáéíóúâêô]|\b(um|uma|de|da|dos|das|não|para|com|lista|cria|altera)\b", re.I
)


def _texts(schema: dict) -> list[tuple[str, str]]:
    """Operation summaries and descriptions, tag descriptions, response descriptions."""
    texts = [(f"tag {tag['name']}", tag.get("description", "")) for tag in schema["tags"]]
    texts.append(("info", schema["info"]["description"]))
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            where = f"{method.upper()} {path}"
            texts.append((where, operation.get("summary", "")))
            texts.append((where, operation.get("description", "")))
            for code, response in operation.get("responses", {}).items():
                texts.append((f"{where} {code}", response.get("description", "")))
    return [(where, text) for where, text in texts if text]


def test_the_schema_speaks_portuguese_and_english_on_request(client):
    """16.4: descriptions in Portuguese, English through Accept-Language like the rest."""
    portuguese = client.get("/api/schema/", HTTP_ACCEPT="application/json").json()
    english = client.get(
        "/api/schema/", HTTP_ACCEPT="application/json", HTTP_ACCEPT_LANGUAGE="en"
    ).json()
    lead_create = ("/api/v1/leads/", "post")
    assert portuguese["paths"][lead_create[0]][lead_create[1]]["summary"] == "Cria um lead"
    assert english["paths"][lead_create[0]][lead_create[1]]["summary"] == "Creates a lead"
    assert english["paths"]["/api/v1/leads/{id}/"]["get"]["responses"]["404"]["description"] == (
        "Does not exist, or belongs to another organization."
    )
    left = [(where, text) for where, text in _texts(english) if PORTUGUESE.search(text)]
    assert not left, "\n".join(f"{where}: {text}" for where, text in left)
    summaries = [text for where, text in _texts(portuguese) if " " in where]
    assert any(PORTUGUESE.search(text) for text in summaries)


def test_every_request_example_is_accepted(schema, org_a, client_for):
    """16.4: examples the API accepts. Each request example of the schema, sent as the admin
    to its operation (path ids: a lead of the organization), is answered 2xx."""
    from tests.factories import LeadFactory

    lead = LeadFactory(organization=org_a.org)
    client = client_for(org_a.admin)
    sent = []
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            content = operation.get("requestBody", {}).get("content", {})
            for example in content.get("application/json", {}).get("examples", {}).values():
                url = path.replace("{lead_pk}", str(lead.pk)).replace("{id}", str(lead.pk))
                response = getattr(client, method)(url, example["value"], format="json")
                assert response.status_code < 300, (method, url, response.content[:300])
                sent.append(f"{method} {path}")
    assert {"post /api/v1/leads/", "post /api/v1/leads/{lead_pk}/interactions/"} <= set(sent)


def test_no_request_number_or_amount_admits_a_value_the_api_refuses(schema):
    """Swagger UI and schemathesis build examples from minimum/pattern: a field whose
    serializer refuses negatives must not document them (money as a decimal string)."""
    request = schema["components"]["schemas"]
    for name in ("LeadRequest", "PatchedLeadRequest", "InteractionRequest"):
        for field, prop in request[name]["properties"].items():
            if field in ("valor_potencial", "valor_fechado", "valor"):
                assert not prop.get("pattern", "").startswith("^-"), (name, field)
            if prop.get("type") == "integer" and field.endswith("minutos"):
                assert prop.get("minimum", -1) >= 0, (name, field)


def test_field_descriptions_follow_the_language_too(client):
    """16.4: property and parameter descriptions, not only the operations'."""
    english = client.get(
        "/api/schema/", HTTP_ACCEPT="application/json", HTTP_ACCEPT_LANGUAGE="en"
    ).json()
    portuguese = client.get("/api/schema/", HTTP_ACCEPT="application/json").json()
    dashboard = ("/api/v1/leads/performance/", "get")
    assert english["paths"][dashboard[0]][dashboard[1]]["description"].startswith(
        "\nFigures over the window"
    )
    assert portuguese["paths"][dashboard[0]][dashboard[1]]["description"].startswith(
        "\nNúmeros da janela"
    )
    status = next(
        p for p in english["paths"]["/api/v1/leads/"]["get"]["parameters"] if p["name"] == "status"
    )
    assert status["description"].startswith("One or more, separated by commas: novo")
    texts: list[str] = []

    def collect(node: object) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "description" and isinstance(value, str):
                    texts.append(value)
                else:
                    collect(value)
        elif isinstance(node, list):
            for item in node:
                collect(item)

    collect(english["components"])
    left = [text for text in texts if re.search(r"\b(não|quando|dos|das|para)\b", text)]
    assert not left, left
