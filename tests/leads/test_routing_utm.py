"""UTM parameters on leads (API, import, export) and as routing rule conditions."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from leads import routing
from leads.models import Lead, LeadAssignment, RoutingRule
from tests.factories import LeadFactory
from tests.integrations.jobs import run_jobs
from tests.leads.test_routing import RULES, closers, make_rule

pytestmark = pytest.mark.django_db


def test_a_utm_condition_matches_ignoring_case_and_needs_every_given_part(org_a):
    lead = LeadFactory.build(
        organization=org_a.org, utm_source="Google", utm_medium="cpc", utm_campaign="Black-Friday"
    )
    assert routing.rule_matches({"utm_source": ["google", "meta"]}, lead)
    assert routing.rule_matches({"utm_source": ["google"], "utm_campaign": ["black-friday"]}, lead)
    assert not routing.rule_matches({"utm_source": ["google"], "utm_medium": ["email"]}, lead)
    assert not routing.rule_matches({"utm_campaign": ["natal"]}, lead)
    no_utm = LeadFactory.build(organization=org_a.org)
    assert not routing.rule_matches({"utm_source": ["google"]}, no_utm)
    assert routing.rule_matches({}, no_utm)


def test_a_lead_from_the_api_goes_to_the_rule_of_its_campaign(org_a, client_for):
    paid, other = closers(org_a, 2)
    make_rule(org_a, [paid], nome="Google Ads", ordem=0, condicao={"utm_source": ["google"]})
    make_rule(org_a, [other], nome="Resto", ordem=1)
    client = client_for(org_a.gestor)

    from_google = client.post(
        "/api/v1/leads/",
        {"nome_completo": "Ana", "utm_source": " Google ", "utm_medium": "cpc"},
        format="json",
    )
    organic = client.post("/api/v1/leads/", {"nome_completo": "Bia"}, format="json")

    assert from_google.status_code == 201, from_google.json()
    body = from_google.json()
    assert (body["utm_source"], body["utm_medium"], body["utm_campaign"]) == (
        "Google",
        "cpc",
        None,
    )
    assert body["closer_id"] == str(paid.pk)
    assert organic.json()["closer_id"] == str(other.pk)
    assert organic.json()["utm_source"] is None
    assert LeadAssignment.objects.get(lead_id=body["id"]).motivo.endswith("regra Google Ads")


def test_a_too_long_utm_value_is_a_400_and_nothing_is_written(org_a, client_for):
    response = client_for(org_a.gestor).post(
        "/api/v1/leads/", {"nome_completo": "Ana", "utm_campaign": "x" * 101}, format="json"
    )
    assert response.status_code == 400
    assert "utm_campaign" in response.json()["details"]
    assert not Lead.objects.exists()


def test_rules_take_utm_conditions_in_the_api(org_a, client_for):
    body: dict[str, Any] = {
        "nome": "Campanha",
        "distribuicao": "rodizio",
        "membros": [{"membro_id": str(org_a.closer.pk), "peso": 1}],
        "condicao": {"utm_source": ["Google", "google", " Meta "], "utm_campaign": ["BF"]},
    }
    response = client_for(org_a.gestor).post(RULES, body, format="json")
    assert response.status_code == 201, response.json()
    assert response.json()["condicao"] == {"utm_source": ["google", "meta"], "utm_campaign": ["bf"]}


@pytest.mark.parametrize(
    "condicao",
    [{"utm_source": "google"}, {"utm_medium": ["x" * 101]}, {"utm_campaign": [1, {"a": 1}]}],
)
def test_a_bad_utm_condition_is_a_400_and_writes_nothing(org_a, client_for, condicao):
    body = {
        "nome": "Campanha",
        "distribuicao": "rodizio",
        "membros": [{"membro_id": str(org_a.closer.pk), "peso": 1}],
        "condicao": condicao,
    }
    response = client_for(org_a.gestor).post(RULES, body, format="json")
    assert response.status_code == 400
    assert set(response.json()) == {"error", "details"}
    assert RoutingRule.objects.count() == 0


def test_an_import_reads_utm_columns_and_routes_by_them(
    org_a, client_for, django_capture_on_commit_callbacks
):
    paid, other = closers(org_a, 2)
    make_rule(org_a, [paid], nome="Meta", ordem=0, condicao={"utm_source": ["meta"]})
    make_rule(org_a, [other], nome="Resto", ordem=1)
    csv = (
        "nome_completo,email,utm_source,utm_medium,utm_campaign\n"
        "Um,um@x.com,Meta,social,lancamento\n"
        "Dois,dois@x.com,,,\n"
    )
    with django_capture_on_commit_callbacks(execute=True):
        response = client_for(org_a.gestor).post(
            "/api/v1/leads/import/",
            {"file": SimpleUploadedFile("l.csv", csv.encode(), content_type="text/csv")},
            format="multipart",
        )
    assert response.status_code == 202, response.content
    run_jobs()

    um = Lead.objects.get(nome_completo="Um")
    assert (um.utm_source, um.utm_medium, um.utm_campaign) == ("Meta", "social", "lancamento")
    assert um.closer == paid
    dois = Lead.objects.get(nome_completo="Dois")
    assert (dois.utm_source, dois.closer) == (None, other)


def test_the_export_has_the_utm_columns(org_a, client_for):
    LeadFactory(organization=org_a.org, utm_source="google", utm_campaign="=HYPERLINK()")
    response = client_for(org_a.gestor).get("/api/v1/leads/export/")
    assert response.status_code == 200
    text = b"".join(response.streaming_content).decode()
    header, row = text.splitlines()[:2]
    assert "utm_source;utm_medium;utm_campaign" in header  # Excel's separator by default
    assert "google" in row
    assert "'=HYPERLINK()" in row  # the formula guard applies to UTM text too


def test_a_manager_sets_a_utm_condition_in_the_admin(org_a, client):
    org_a.gestor.user.is_staff = True
    org_a.gestor.user.save()
    client.force_login(org_a.gestor.user)
    data = {
        "organization": str(org_a.org.pk),
        "nome": "Google",
        "ordem": "1",
        "ativo": "on",
        "distribuicao": "rodizio",
        "origens": "",
        "tags_condicao": "",
        "utm_source": "Google, bing",
        "utm_medium": "",
        "utm_campaign": "",
        "valor_min": "",
        "valor_max": "",
        "membros-TOTAL_FORMS": "1",
        "membros-INITIAL_FORMS": "0",
        "membros-MIN_NUM_FORMS": "0",
        "membros-MAX_NUM_FORMS": "1000",
        "membros-0-membership": str(org_a.closer.pk),
        "membros-0-peso": "1",
        "membros-0-posicao": "0",
    }
    response = client.post("/admin/leads/routingrule/add/", data)
    assert response.status_code == 302, response.content.decode()[-3000:]
    rule = RoutingRule.objects.get()
    assert rule.condicao == {"utm_source": ["bing", "google"]}
    page = client.get(f"/admin/leads/routingrule/{rule.pk}/change/").content.decode()
    assert "bing, google" in page

    too_long = {**data, "nome": "Longa", "utm_medium": "x" * 101}
    response = client.post("/admin/leads/routingrule/add/", too_long)
    assert response.status_code == 200
    assert RoutingRule.objects.count() == 1


def test_a_lead_created_in_the_admin_takes_utm_and_is_routed_by_it(org_a, client):
    paid, other = closers(org_a, 2)
    make_rule(org_a, [paid], nome="Google", ordem=0, condicao={"utm_medium": ["cpc"]})
    make_rule(org_a, [other], nome="Resto", ordem=1)
    org_a.gestor.user.is_staff = True
    org_a.gestor.user.save()
    client.force_login(org_a.gestor.user)
    form = {
        "organization": str(org_a.org.pk),
        "nome_completo": "Lead do Admin",
        "origem": "site",
        "status": "novo",
        "tags": "[]",
        "utm_source": "google",
        "utm_medium": " CPC ",
        "utm_campaign": "",
    }

    response = client.post("/admin/leads/lead/add/", form)

    assert response.status_code == 302, response.content.decode()[:2000]
    lead = Lead.objects.get(nome_completo="Lead do Admin")
    assert (lead.utm_source, lead.utm_medium, lead.utm_campaign) == ("google", "CPC", None)
    assert lead.closer == paid
    too_long = {**form, "nome_completo": "Outro", "utm_source": "x" * 101}
    response = client.post("/admin/leads/lead/add/", too_long)
    assert response.status_code == 200
    assert not Lead.objects.filter(nome_completo="Outro").exists()
