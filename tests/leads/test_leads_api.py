from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from leads.models import Lead, LeadStatusChange
from tests.factories import InteractionFactory, LeadFactory, QualificationFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/leads/"


def detail(lead) -> str:
    return f"{URL}{lead.pk}/"


# --- list ---------------------------------------------------------------------------------


def test_it_lists_with_the_envelope_and_nested_objects(org_a, client_for):
    lead = LeadFactory(organization=org_a.org, closer=org_a.closer, sdr=org_a.sdr)
    QualificationFactory(lead=lead, budget_confirmado=True, qualification_score=30)
    old = InteractionFactory(lead=lead, data_interacao=timezone.now() - timedelta(days=3))
    InteractionFactory(
        lead=lead,
        tipo_interacao="reuniao",
        resultado="agendamento",
        data_interacao=old.data_interacao + timedelta(days=1),
    )
    body = client_for(org_a.admin).get(URL).json()
    assert body["pagination"] == {"page": 1, "limit": 20, "total": 1, "pages": 1}
    item = body["data"][0]
    assert item["closer"] == {
        "id": str(org_a.closer.id),
        "nome_completo": org_a.closer.nome_completo,
        "tipo_closer": "",
    }
    assert item["closer_id"] == str(org_a.closer.id)
    assert item["sdr"] == {"id": str(org_a.sdr.id), "nome_completo": org_a.sdr.nome_completo}
    assert item["interactions_count"] == 2
    assert item["qualification"] == {
        "qualification_score": 30,
        "authority_nivel": "desconhecido",
        "budget_confirmado": True,
    }
    assert item["last_interaction"]["tipo_interacao"] == "reuniao"
    assert item["last_interaction"]["resultado"] == "agendamento"
    assert item["valor_potencial"] == "15000.00"


def test_it_gives_null_nested_objects_for_a_bare_lead(org_a, client_for):
    LeadFactory(organization=org_a.org)
    item = client_for(org_a.admin).get(URL).json()["data"][0]
    assert item["closer"] is None
    assert item["sdr"] is None
    assert item["qualification"] is None
    assert item["last_interaction"] is None
    assert item["interactions_count"] == 0


def test_it_runs_the_same_number_of_queries_for_any_page_size(org_a, client_for):
    for lead in LeadFactory.create_batch(30, organization=org_a.org, closer=org_a.closer):
        InteractionFactory.create_batch(2, lead=lead)
        QualificationFactory(lead=lead)
    client = client_for(org_a.admin)
    counts = []
    for limit in (1, 100):
        with CaptureQueriesContext(connection) as queries:
            response = client.get(URL, {"limit": limit})
        assert response.status_code == 200
        counts.append(len(queries))
    # The requester's membership, and the page with its closer, SDR, qualification,
    # interaction extras and the kept total in one statement (PostgreSQL; SQLite: the total
    # and the two extras' queries apart, three more).
    page = 1 if connection.vendor == "postgresql" else 4
    assert counts == [1 + page, 1 + page]


def test_it_paginates_and_returns_an_empty_page_past_the_end(org_a, client_for):
    LeadFactory.create_batch(5, organization=org_a.org)
    client = client_for(org_a.admin)
    body = client.get(URL, {"limit": 2, "page": 3}).json()
    assert len(body["data"]) == 1
    assert body["pagination"] == {"page": 3, "limit": 2, "total": 5, "pages": 3}
    past = client.get(URL, {"limit": 2, "page": 9}).json()
    assert past["data"] == []
    assert past["pagination"]["total"] == 5


@pytest.mark.parametrize(
    "params", [{"page": "0"}, {"page": "abc"}, {"limit": "0"}, {"limit": "101"}, {"limit": "1.5"}]
)
def test_it_rejects_bad_pagination(org_a, client_for, params):
    response = client_for(org_a.admin).get(URL, params)
    assert response.status_code == 400
    assert set(response.json()["details"]) == set(params)


def test_it_filters_by_status_temperatura_and_origem(org_a, client_for):
    LeadFactory(organization=org_a.org, status="novo", temperatura="frio", origem="instagram")
    hot = LeadFactory(
        organization=org_a.org, status="agendado", temperatura="quente", origem="indicacao"
    )
    warm = LeadFactory(
        organization=org_a.org, status="negociacao", temperatura="morno", origem="evento"
    )
    client = client_for(org_a.admin)

    def ids(**params):
        return {item["id"] for item in client.get(URL, params).json()["data"]}

    assert ids(status="agendado,negociacao") == {str(hot.pk), str(warm.pk)}
    assert ids(temperatura="quente") == {str(hot.pk)}
    assert ids(origem="evento,indicacao") == {str(hot.pk), str(warm.pk)}
    assert ids(status="agendado", temperatura="morno") == set()


def test_it_filters_by_people_score_value_tags_and_dates(org_a, client_for):
    mine = LeadFactory(
        organization=org_a.org,
        closer=org_a.closer,
        lead_score=80,
        valor_potencial="50000",
        tags=["vip"],
    )
    other = LeadFactory(organization=org_a.org, sdr=org_a.sdr, lead_score=20, tags=["frio"])
    other.created_at = timezone.now() - timedelta(days=40)
    other.save()
    client = client_for(org_a.admin)

    def ids(**params):
        response = client.get(URL, params)
        assert response.status_code == 200, response.json()
        return {item["id"] for item in response.json()["data"]}

    assert ids(closer_id=org_a.closer.id) == {str(mine.pk)}
    assert ids(sdr_id=org_a.sdr.id) == {str(other.pk)}
    assert ids(score_min=50) == {str(mine.pk)}
    assert ids(valor_min="20000.00") == {str(mine.pk)}
    assert ids(tags="vip,outra") == {str(mine.pk)}
    today = timezone.localdate()
    assert ids(date_from=str(today - timedelta(days=1))) == {str(mine.pk)}
    assert ids(date_to=str((other.created_at + timedelta(days=1)).date())) == {str(other.pk)}
    assert ids(date_from=(timezone.now() - timedelta(days=50)).isoformat()) == {
        str(mine.pk),
        str(other.pk),
    }


def test_it_includes_the_whole_day_of_a_bare_date_in_the_org_timezone(org_a, client_for):
    lead = LeadFactory(organization=org_a.org)
    # 23:30 in São Paulo on Nov 10 is 02:30 UTC on Nov 11.
    lead.created_at = datetime(2026, 11, 11, 2, 30, tzinfo=UTC)
    lead.save()
    client = client_for(org_a.admin)
    body = client.get(URL, {"date_from": "2026-11-10", "date_to": "2026-11-10"}).json()
    assert [item["id"] for item in body["data"]] == [str(lead.pk)]
    assert client.get(URL, {"date_from": "2026-11-11"}).json()["data"] == []


def test_it_searches_names_emails_companies_and_phone_digits(org_a, client_for):
    maria = LeadFactory(
        organization=org_a.org,
        nome_completo="Maria Conceição",
        email="maria@uol.com.br",
        empresa="Padaria Sol",
        telefone="+5511987654321",
    )
    LeadFactory(organization=org_a.org, nome_completo="João Pedro", empresa="Oficina")
    client = client_for(org_a.admin)
    for term in ("conceição", "UOL.com", "padaria", "98765-4321", "(11) 98765"):
        data = client.get(URL, {"search": term}).json()["data"]
        assert [item["id"] for item in data] == [str(maria.pk)], term


def test_it_orders_by_the_allowed_fields(org_a, client_for):
    low = LeadFactory(organization=org_a.org, lead_score=10, nome_completo="Bruno")
    high = LeadFactory(organization=org_a.org, lead_score=90, nome_completo="Ana")
    client = client_for(org_a.admin)
    by_score = client.get(URL, {"ordering": "-lead_score"}).json()["data"]
    assert [item["id"] for item in by_score] == [str(high.pk), str(low.pk)]
    by_name = client.get(URL, {"ordering": "nome_completo"}).json()["data"]
    assert [item["id"] for item in by_name] == [str(high.pk), str(low.pk)]
    default = client.get(URL).json()["data"]
    assert [item["id"] for item in default] == [str(high.pk), str(low.pk)]  # newest first


@pytest.mark.parametrize(
    "params",
    [
        {"status": "ganho"},
        {"temperatura": "morna,quente"},
        {"closer_id": "123"},
        {"score_min": "abc"},
        {"score_min": "101"},
        {"valor_min": "-5"},
        {"date_from": "2026-02-30"},
        {"date_to": "ontem"},
        {"ordering": "senha"},
        {"ordering": "-email"},
        {"search": "x" * 101},
    ],
)
def test_it_rejects_invalid_filters_naming_the_parameter(org_a, client_for, params):
    response = client_for(org_a.admin).get(URL, params)
    assert response.status_code == 400
    body = response.json()
    assert set(body["details"]) == set(params)
    assert next(iter(params)) in body["error"]


def test_it_never_lists_another_organizations_leads(org_a, org_b, client_for):
    LeadFactory.create_batch(2, organization=org_b.org, closer=org_b.closer)
    body = client_for(org_a.admin).get(URL, {"closer_id": org_b.closer.id}).json()
    assert body["data"] == []
    assert body["pagination"]["total"] == 0


# --- visibility -----------------------------------------------------------------------------


def test_it_limits_sellers_to_assigned_leads_when_configured(org_a, client_for):
    org_a.org.visibilidade_leads = "atribuidos"
    org_a.org.save()
    mine = LeadFactory(organization=org_a.org, closer=org_a.closer)
    as_sdr = LeadFactory(organization=org_a.org, sdr=org_a.sdr)
    other = LeadFactory(organization=org_a.org)
    closer = client_for(org_a.closer)
    assert {i["id"] for i in closer.get(URL).json()["data"]} == {str(mine.pk)}
    assert closer.get(detail(other)).status_code == 404
    assert closer.patch(detail(other), {"empresa": "X"}, format="json").status_code == 404
    sdr = client_for(org_a.sdr)
    assert {i["id"] for i in sdr.get(URL).json()["data"]} == {str(as_sdr.pk)}
    # Managers and mentors still see everything.
    for role in ("admin", "gestor", "mentor"):
        assert client_for(org_a.member(role)).get(URL).json()["pagination"]["total"] == 3


def test_it_lets_sellers_see_every_lead_by_default(org_a, client_for):
    LeadFactory.create_batch(3, organization=org_a.org)
    assert client_for(org_a.sdr).get(URL).json()["pagination"]["total"] == 3


# --- create ---------------------------------------------------------------------------------


def test_it_creates_a_lead_normalizing_email_and_phone(org_a, client_for):
    response = client_for(org_a.gestor).post(
        URL,
        {
            "nome_completo": "  Carla   Dias ",
            "email": "Carla.Dias@Exemplo.COM",
            "telefone": "(21) 99876-5432",
            "origem": "Indicacao",
            "valor_potencial": "12000.50",
            "closer_id": str(org_a.closer.id),
            "sdr_id": str(org_a.sdr.id),
            "tags": ["VIP", "vip", " evento "],
        },
        format="json",
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["nome_completo"] == "Carla Dias"
    assert body["email"] == "carla.dias@exemplo.com"
    assert body["telefone"] == "+5521998765432"
    assert body["origem"] == "indicacao"
    assert body["tags"] == ["vip", "evento"]
    assert body["status"] == "novo"
    lead = Lead.objects.get(pk=body["id"])
    assert lead.organization == org_a.org
    assert lead.telefone_chave == "552198765432"
    change = LeadStatusChange.objects.get(lead=lead)
    assert (change.from_status, change.to_status, change.changed_by) == ("", "novo", org_a.gestor)


def test_it_assigns_the_creating_closer_by_default(org_a, client_for):
    body = client_for(org_a.closer).post(URL, {"nome_completo": "Sem Dono"}, format="json").json()
    assert body["closer_id"] == str(org_a.closer.id)


def test_it_answers_409_for_a_duplicate_email_or_phone(org_a, org_b, client_for):
    existing = LeadFactory(organization=org_a.org, email="dup@x.com", telefone="+5511912345678")
    client = client_for(org_a.admin)
    for payload in (
        {"nome_completo": "A", "email": "DUP@x.com"},
        {"nome_completo": "B", "telefone": "11 91234-5678"},
    ):
        response = client.post(URL, payload, format="json")
        assert response.status_code == 409, payload
        assert response.json()["details"]["existing_id"] == str(existing.pk)
    assert Lead.objects.filter(organization=org_a.org).count() == 1
    # The same contact in another organization is not a duplicate.
    other = client_for(org_b.admin).post(
        URL, {"nome_completo": "A", "email": "dup@x.com"}, format="json"
    )
    assert other.status_code == 201


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({}, "nome_completo"),
        ({"nome_completo": "   "}, "nome_completo"),
        ({"nome_completo": "x" * 201}, "nome_completo"),
        ({"nome_completo": "A", "email": "não é email"}, "email"),
        ({"nome_completo": "A", "telefone": "123"}, "telefone"),
        ({"nome_completo": "A", "telefone": 11987654321}, "telefone"),
        ({"nome_completo": "A", "status": "ganho"}, "status"),
        ({"nome_completo": "A", "origem": "Insta gram!"}, "origem"),
        ({"nome_completo": "A", "valor_potencial": "-1"}, "valor_potencial"),
        ({"nome_completo": "A", "valor_potencial": "1e400"}, "valor_potencial"),
        ({"nome_completo": "A", "valor_potencial": "12.345"}, "valor_potencial"),
        ({"nome_completo": "A", "closer_id": "nope"}, "closer_id"),
        ({"nome_completo": "A", "tags": "vip"}, "tags"),
        ({"nome_completo": "A", "tags": ["x" * 41]}, "tags"),
        ({"nome_completo": "A", "tags": [str(i) for i in range(21)]}, "tags"),
        ({"nome_completo": "A", "opt_out_email": "talvez"}, "opt_out_email"),
        ({"nome_completo": ["A"]}, "nome_completo"),
    ],
)
def test_it_rejects_bad_input_and_writes_nothing(org_a, client_for, payload, field):
    response = client_for(org_a.admin).post(URL, payload, format="json")
    assert response.status_code == 400
    body = response.json()
    assert field in body["details"]
    assert body["error"]
    assert not Lead.objects.exists()


def test_it_rejects_references_to_another_organization(org_a, org_b, client_for):
    client = client_for(org_a.admin)
    for field, member in (("closer_id", org_b.closer), ("sdr_id", org_b.sdr)):
        response = client.post(URL, {"nome_completo": "A", field: str(member.id)}, format="json")
        assert response.status_code == 400
        assert field in response.json()["details"]
    assert not Lead.objects.exists()


def test_it_requires_the_closer_to_be_an_active_closer(org_a, client_for):
    client = client_for(org_a.admin)
    wrong_role = client.post(
        URL, {"nome_completo": "A", "closer_id": str(org_a.mentor.id)}, format="json"
    )
    assert wrong_role.status_code == 400
    org_a.closer.ativo = False
    org_a.closer.save()
    inactive = client.post(
        URL, {"nome_completo": "A", "closer_id": str(org_a.closer.id)}, format="json"
    )
    assert inactive.status_code == 400


def test_it_refuses_lead_writes_by_mentors(org_a, client_for):
    lead = LeadFactory(organization=org_a.org)
    mentor = client_for(org_a.mentor)
    assert mentor.get(detail(lead)).status_code == 200
    assert mentor.post(URL, {"nome_completo": "A"}, format="json").status_code == 403
    assert mentor.patch(detail(lead), {"empresa": "X"}, format="json").status_code == 403
    assert mentor.delete(detail(lead)).status_code == 403


def test_it_does_not_let_the_body_choose_the_organization(org_a, org_b, client_for):
    body = (
        client_for(org_a.admin)
        .post(URL, {"nome_completo": "A", "organization": str(org_b.org.id)}, format="json")
        .json()
    )
    assert Lead.objects.get(pk=body["id"]).organization == org_a.org


# --- malformed requests -----------------------------------------------------------------------


def test_it_answers_400_for_malformed_json(org_a, client_for):
    response = client_for(org_a.admin).post(
        URL, data='{"nome_completo": ', content_type="application/json"
    )
    assert response.status_code == 400
    assert response.json()["error"]
    assert not Lead.objects.exists()


def test_it_answers_400_for_a_json_body_that_is_not_an_object(org_a, client_for):
    response = client_for(org_a.admin).post(URL, data="[1, 2]", content_type="application/json")
    assert response.status_code == 400


def test_it_answers_415_for_an_unsupported_content_type(org_a, client_for):
    response = client_for(org_a.admin).post(URL, data="nome", content_type="text/csv")
    assert response.status_code == 415
    assert response.json()["error"]


def test_it_answers_413_for_an_oversized_body(org_a, client_for, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1024
    body = json.dumps({"nome_completo": "A", "observacoes": "x" * 5000})
    response = client_for(org_a.admin).post(URL, data=body, content_type="application/json")
    assert response.status_code == 413
    assert response.json()["error"]
    assert not Lead.objects.exists()


def test_it_answers_405_with_the_error_shape(org_a, client_for):
    response = client_for(org_a.admin).put(URL, {}, format="json")
    assert response.status_code == 405
    assert set(response.json()) == {"error", "details"}


# --- read / update / delete -------------------------------------------------------------------


def test_it_reads_a_lead(org_a, client_for):
    lead = LeadFactory(organization=org_a.org)
    InteractionFactory(lead=lead)
    body = client_for(org_a.sdr).get(detail(lead)).json()
    assert body["id"] == str(lead.pk)
    assert body["interactions_count"] == 1


def test_it_records_status_changes_on_update(org_a, client_for):
    lead = LeadFactory(organization=org_a.org)
    client = client_for(org_a.closer)
    response = client.patch(detail(lead), {"status": "qualificado"}, format="json")
    assert response.status_code == 200, response.json()
    change = LeadStatusChange.objects.get(lead=lead)
    assert (change.from_status, change.to_status, change.changed_by) == (
        "novo",
        "qualificado",
        org_a.closer,
    )
    # Unchanged status: no new record.
    client.patch(detail(lead), {"status": "qualificado", "empresa": "Nova"}, format="json")
    assert LeadStatusChange.objects.filter(lead=lead).count() == 1


def test_it_converts_through_a_status_update(org_a, client_for):
    lead = LeadFactory(organization=org_a.org, closer=org_a.closer, valor_potencial="9000.00")
    body = (
        client_for(org_a.gestor).patch(detail(lead), {"status": "convertido"}, format="json").json()
    )
    assert body["status"] == "convertido"
    assert body["converted_at"] is not None
    assert body["valor_fechado"] == "9000.00"
    notified = set(org_a.closer.notifications.values_list("tipo", flat=True))
    assert notified == {"lead_converted"}


def test_it_answers_409_when_an_update_duplicates_another_lead(org_a, client_for):
    LeadFactory(organization=org_a.org, email="a@a.com")
    lead = LeadFactory(organization=org_a.org, email="b@b.com")
    response = client_for(org_a.admin).patch(detail(lead), {"email": "a@a.com"}, format="json")
    assert response.status_code == 409
    lead.refresh_from_db()
    assert lead.email == "b@b.com"


def test_it_supports_a_full_put(org_a, client_for):
    lead = LeadFactory(organization=org_a.org)
    response = client_for(org_a.admin).put(
        detail(lead), {"nome_completo": "Novo Nome", "origem": "site"}, format="json"
    )
    assert response.status_code == 200
    assert response.json()["nome_completo"] == "Novo Nome"


def test_it_ignores_computed_fields_in_updates(org_a, client_for):
    lead = LeadFactory(organization=org_a.org, lead_score=10)
    client_for(org_a.admin).patch(
        detail(lead), {"lead_score": 99, "temperatura": "quente"}, format="json"
    )
    lead.refresh_from_db()
    assert (lead.lead_score, lead.temperatura) == (10, "frio")


@pytest.mark.parametrize("role", ["admin", "gestor"])
def test_it_lets_managers_delete(org_a, client_for, role):
    lead = LeadFactory(organization=org_a.org)
    assert client_for(org_a.member(role)).delete(detail(lead)).status_code == 204
    assert not Lead.objects.filter(pk=lead.pk).exists()


@pytest.mark.parametrize("role", ["closer", "sdr", "mentor"])
def test_it_refuses_deletes_by_other_roles(org_a, client_for, role):
    lead = LeadFactory(organization=org_a.org, closer=org_a.closer)
    assert client_for(org_a.member(role)).delete(detail(lead)).status_code == 403
    assert Lead.objects.filter(pk=lead.pk).exists()


def test_it_hides_another_organizations_lead_on_every_method(org_a, org_b, client_for):
    lead = LeadFactory(organization=org_b.org, empresa="Beta")
    client = client_for(org_a.admin)
    assert client.get(detail(lead)).status_code == 404
    assert client.patch(detail(lead), {"empresa": "X"}, format="json").status_code == 404
    assert client.put(detail(lead), {"nome_completo": "X"}, format="json").status_code == 404
    assert client.delete(detail(lead)).status_code == 404
    lead.refresh_from_db()
    assert lead.empresa == "Beta"


def test_it_answers_404_for_malformed_or_unknown_ids(org_a, client_for):
    client = client_for(org_a.admin)
    assert client.get(f"{URL}not-a-uuid/").status_code == 404
    assert client.get(f"{URL}00000000-0000-0000-0000-000000000000/").status_code == 404
