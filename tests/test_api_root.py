"""GET /api/v1/ (the API root), the schema's nullable nested objects and tags, and the browsable
API's landing after its login."""

from __future__ import annotations

import re

import pytest
import yaml
from django.test import Client

from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db


def test_the_root_lists_the_resources(org_a, client_for):
    body = client_for(org_a.closer).get("/api/v1/").json()
    assert body["leads"] == "http://testserver/api/v1/leads/"
    for key in ("me", "tasks", "mentorados", "notifications", "devices", "sync_deletions"):
        assert body[key].startswith("http://testserver/api/v1/"), key
    # Every link answers (no dead entries), for a member of the organization.
    client = client_for(org_a.admin)
    for key, url in body.items():
        if key in (
            "auth_token",
            "auth_token_refresh",
            "followup_responses",
            "notification_stream",
            "sync_deletions",
        ):
            continue  # POST-only, a stream, or needs ?since=
        assert client.get(url).status_code == 200, url


def test_the_browsable_api_lands_on_the_root_after_login(org_a):
    client = Client()
    page = client.get("/api-auth/login/")
    assert page.status_code == 200
    response = client.post(
        "/api-auth/login/",
        {"username": org_a.closer.user.email, "password": PASSWORD},
    )
    assert response.status_code == 302
    assert response["Location"] == "/api/v1/"
    landing = client.get("/api/v1/", HTTP_ACCEPT="text/html")
    assert landing.status_code == 200
    assert "/api/v1/leads/" in landing.content.decode()


def _schema(client) -> dict:
    return yaml.safe_load(client.get("/api/schema/").content)


def test_the_schema_marks_nested_members_nullable_and_tags_each_resource(org_a, client_for):
    schema = _schema(client_for(org_a.admin))
    components = schema["components"]["schemas"]
    for component, field in (("Lead", "closer"), ("Lead", "sdr"), ("Mentorado", "mentor")):
        prop = components[component]["properties"][field]
        # drf-spectacular expresses a nullable $ref as allOf + nullable (OpenAPI 3.0).
        assert prop.get("nullable") is True, (component, field, prop)
    tags = {
        tag
        for operations in schema["paths"].values()
        for op in operations.values()
        for tag in op.get("tags", [])
    }
    assert {"leads", "tasks", "mentorados", "followup", "notifications", "devices"} <= tags
    assert [t["name"] for t in schema["tags"]][:3] == ["root", "auth", "me"]


def test_the_schema_documents_token_responses_and_gives_no_negative_amount_patterns(
    org_a, client_for
):
    schema = _schema(client_for(org_a.admin))
    for path in ("/api/v1/auth/token/", "/api/v1/auth/token/refresh/"):
        ok = schema["paths"][path]["post"]["responses"]["200"]
        assert ok["content"]["application/json"]["schema"]["$ref"].endswith("/TokenPair")
    assert set(schema["components"]["schemas"]["TokenPair"]["properties"]) == {
        "access",
        "refresh",
    }
    lead = schema["components"]["schemas"]["LeadRequest"]["properties"]
    # Swagger UI and schemathesis build examples from the pattern: no minus sign where the API
    # refuses negatives.
    assert not lead["valor_potencial"]["pattern"].startswith("^-")


def test_the_import_page_offers_a_file_field(org_a, client_for):
    page = client_for(org_a.admin).get("/api/v1/leads/import/", HTTP_ACCEPT="text/html")
    assert 'type="file"' in page.content.decode()


def test_lists_show_the_filter_form_in_the_browsable_api(org_a, client_for):
    page = client_for(org_a.closer).get("/api/v1/leads/", HTTP_ACCEPT="text/html")
    html = page.content.decode()
    assert page.status_code == 200
    assert 'name="closer_id"' in html
    assert 'name="updated_since"' in html


def test_a_lead_links_to_what_hangs_off_it(org_a, client_for):
    from tests.factories import LeadFactory

    lead = LeadFactory(organization=org_a.org)
    client = client_for(org_a.closer)
    links = client.get(f"/api/v1/leads/{lead.pk}/").json()["links"]
    base = f"http://testserver/api/v1/leads/{lead.pk}/"
    assert links == {
        "interactions": f"{base}interactions/",
        "qualification": f"{base}qualification/",
        "tasks": f"http://testserver/api/v1/tasks/?lead_id={lead.pk}",
        "timeline": f"{base}timeline/",
        "followups": f"http://testserver/api/v1/followup/executions/?lead_id={lead.pk}",
    }
    for name in ("interactions", "tasks", "timeline", "followups"):
        assert client.get(links[name]).status_code == 200, name


ENGLISH_OR_RAW = re.compile(
    r"\[invalid name\]|^[A-Za-z]+_[a-z_]+|\bid$"
    r"|^(Password|Steps|Content|Media type|Data interacao)$"
)


def _labels(html: str) -> set[str]:
    found = re.findall(r"<label[^>]*>(.*?)</label>", html, re.S)
    return {re.sub(r"<[^>]+>|\s+", " ", label).strip().rstrip(":").strip() for label in found}


def test_browsable_api_labels_are_portuguese_words(org_a, client_for):
    """16.6: no `Closer id`, `Data interacao`, `Utm_source` or django-filter's `[invalid
    name]` in the forms and filter forms of the pages the root links to, a lead's pages too."""
    from tests.factories import LeadFactory

    lead = LeadFactory(organization=org_a.org)
    client = client_for(org_a.admin)
    root = client.get("/api/v1/").json()
    urls = [url for key, url in root.items() if key not in ("notification_stream", "schema")]
    urls += [
        f"/api/v1/leads/{lead.pk}/",
        f"/api/v1/leads/{lead.pk}/interactions/",
        f"/api/v1/leads/{lead.pk}/qualification/",
    ]
    seen: set[str] = set()
    for url in urls:
        response = client.get(url, HTTP_ACCEPT="text/html")
        if response.status_code != 200:
            continue
        labels = _labels(response.content.decode())
        bad = sorted(label for label in labels if ENGLISH_OR_RAW.search(label))
        assert not bad, (url, bad)
        seen |= labels
    for expected in ("Closer", "Data da interação", "Busca", "Criado a partir de", "Senha"):
        assert expected in seen, expected
