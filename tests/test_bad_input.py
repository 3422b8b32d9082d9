"""No input causes a 5xx: deep JSON, text PostgreSQL cannot store, dates that overflow,
malformed ids. Each answers a 4xx JSON error `{error, details}` and writes nothing."""

from __future__ import annotations

import pytest

from followup.models import FollowupSequence
from leads.models import Lead

pytestmark = pytest.mark.django_db

DEEP = 50_000
STEP = {"tipo_acao": "email", "delay_dias": 0, "assunto": "Oi", "mensagem": "Olá"}


def post_raw(client, url: str, body: str):
    return client.post(url, data=body.encode("utf-8"), content_type="application/json")


def assert_error(response, status: int = 400) -> dict:
    assert response.status_code == status, response.content[:300]
    body = response.json()
    assert set(body) == {"error", "details"}
    return body


@pytest.mark.parametrize(
    ("url", "template"),
    [
        ("/api/v1/leads/", '{"nome_completo": "Ana", "tags": %s}'),
        ("/api/v1/followup/sequences/", '{"nome": "S", "steps": %s}'),
        ("/api/v1/followup/sequences/", '{"nome": "S", "criterios_ativacao": {"tags": %s}}'),
    ],
)
def test_deeply_nested_json_is_a_400(org_a, client_for, url, template):
    body = template % ("[" * DEEP + "]" * DEEP)
    assert "aninhado" in assert_error(post_raw(client_for(org_a.admin), url, body))["error"]
    assert not Lead.objects.exists()
    assert not FollowupSequence.objects.exists()


def test_nesting_within_the_limit_is_parsed(org_a, client_for):
    response = post_raw(
        client_for(org_a.admin), "/api/v1/leads/", '{"nome_completo": "Ana", "tags": [[["x"]]]}'
    )
    assert_error(response)  # a field error (tags are strings), not a parse error
    assert "tags" in response.json()["details"]


@pytest.mark.parametrize("bad", ["\\u0000", "\\ud800"])
@pytest.mark.parametrize(
    ("url", "template", "field"),
    [
        (
            "/api/v1/followup/sequences/",
            '{"nome": "S", "steps": [{"tipo_acao": "email", "delay_dias": 0, '
            '"assunto": "Oi", "mensagem": "Ol%s"}]}',
            "steps[0].mensagem",
        ),
        (
            "/api/v1/followup/sequences/",
            '{"nome": "S", "criterios_ativacao": {"tags": ["vip%s"]}}',
            "criterios_ativacao.tags[0]",
        ),
        ("/api/v1/leads/", '{"nome_completo": "Ana%s"}', "nome_completo"),
    ],
)
def test_nul_and_lone_surrogates_are_a_400_naming_the_field(
    org_a, client_for, url, template, field, bad
):
    body = assert_error(post_raw(client_for(org_a.gestor), url, template % bad))
    assert field in body["details"], body
    assert not Lead.objects.exists()
    assert not FollowupSequence.objects.exists()


@pytest.mark.parametrize(
    "query",
    [
        "date_to=9999-12-31",
        "date_from=0001-01-01",
        "date_to=9999-12-31T23:59:59%2B00:00",
        "date_from=1899-12-31",
    ],
)
def test_dates_outside_the_accepted_range_are_a_400(org_a, client_for, query):
    body = assert_error(client_for(org_a.admin).get(f"/api/v1/leads/?{query}"))
    assert query.split("=")[0] in body["details"]


def test_dates_inside_the_range_are_fine(org_a, client_for):
    response = client_for(org_a.admin).get("/api/v1/leads/?date_from=1900-01-01&date_to=2200-12-31")
    assert response.status_code == 200


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/leads/abc/",
        "/api/v1/leads/abc/interactions/",
        "/api/v1/tasks/123/",
        "/api/v1/mentorados/not-a-uuid/",
        "/api/v1/followup/sequences/xyz/",
        "/api/v1/nao-existe/",
        "/api/v1/leads/00000000-0000-0000-0000-000000000000/",
        "/api/v1/members/abc/",
        "/api/v1/followup/sequences/00000000-0000-0000-0000-000000000000/",
        "/api/nao-existe/",
    ],
)
def test_malformed_ids_under_the_api_answer_the_json_404(org_a, client_for, path):
    assert_error(client_for(org_a.admin).get(path), status=404)


NUL_CSV = "nome_completo,email\nAna,ana@x.com.br\nBia\x00,bia@x.com.br\n"


@pytest.mark.parametrize(
    "raw",
    [
        NUL_CSV.encode("utf-8"),
        NUL_CSV.encode("cp1252"),
        "\ufeff".encode() + NUL_CSV.encode("utf-8"),
        b"nome_completo\x00,email\nAna,ana@x.com.br\n",  # in the header
    ],
)
def test_a_csv_import_with_a_nul_byte_is_a_400_naming_it(org_a, client_for, raw):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from leads.models import LeadImport

    response = client_for(org_a.admin).post(
        "/api/v1/leads/import/",
        {"file": SimpleUploadedFile("leads.csv", raw, content_type="text/csv")},
        format="multipart",
    )
    body = assert_error(response)
    assert "NUL" in " ".join(body["details"]["file"])
    assert not LeadImport.objects.exists()
    assert not Lead.objects.exists()


def test_the_admin_import_wizard_refuses_a_nul_byte_with_a_form_error(org_a):
    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.test import Client

    from leads.models import LeadImport

    user = org_a.admin.user
    user.is_staff = True
    user.save(update_fields=["is_staff"])
    client = Client()
    client.force_login(user)
    response = client.post(
        "/admin/leads/leadimport/upload/",
        {"file": SimpleUploadedFile("leads.csv", NUL_CSV.encode())},
    )
    assert response.status_code == 200
    page = response.content.decode()
    assert "Caractere nulo (NUL) ou inválido na linha 3" in page
    assert not LeadImport.objects.exists()
    assert not Lead.objects.exists()
