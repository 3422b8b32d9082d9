"""GET POST /api/v1/mentorados/ and GET PATCH DELETE /api/v1/mentorados/{id}/."""

from __future__ import annotations

from datetime import date

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from mentorados.models import Mentorado
from mentorados.services import organization_today
from tests.factories import LeadFactory, MembershipFactory
from tests.mentorados.factories import MentoradoFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/mentorados/"


def detail(mentorado: Mentorado) -> str:
    return f"{URL}{mentorado.pk}/"


# --- list -------------------------------------------------------------------------------------


def test_it_lists_the_organizations_mentees_in_the_envelope(org_a, org_b, client_for):
    MentoradoFactory.create_batch(3, organization=org_a.org, mentor=org_a.mentor)
    MentoradoFactory(organization=org_b.org)
    response = client_for(org_a.closer).get(URL)
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["pagination"] == {"page": 1, "limit": 20, "total": 3, "pages": 1}
    item = body["data"][0]
    assert item["mentor"] == {
        "id": str(org_a.mentor.pk),
        "nome_completo": org_a.mentor.nome_completo,
    }
    assert item["mentor_id"] == str(org_a.mentor.pk)
    assert set(item) >= {
        "id",
        "lead_id",
        "nome_completo",
        "email",
        "telefone",
        "programa",
        "data_inicio",
        "data_fim",
        "status",
        "faturamento_inicial",
        "faturamento_atual",
        "crescimento_percentual",
        "engagement_score",
        "created_at",
    }


@pytest.mark.parametrize("role", ["admin", "gestor", "closer", "sdr", "mentor"])
def test_it_lets_every_role_read(org_a, client_for, role):
    mentee = MentoradoFactory(organization=org_a.org)
    client = client_for(org_a.member(role))
    assert client.get(URL).status_code == 200
    assert client.get(detail(mentee)).status_code == 200


def test_it_filters_by_status_mentor_and_search(org_a, client_for):
    other_mentor = MembershipFactory(organization=org_a.org, role="mentor")
    mine = MentoradoFactory(
        organization=org_a.org,
        mentor=org_a.mentor,
        nome_completo="Joana Prado",
        telefone="+5511987650001",
    )
    # Fixed names: a Faker name could be a Joana too.
    MentoradoFactory(
        organization=org_a.org, mentor=other_mentor, status="pausado", nome_completo="Bia Souto"
    )
    cancelled = MentoradoFactory(
        organization=org_a.org,
        status="cancelado",
        programa="Elite",
        data_fim=date(2025, 5, 1),
        nome_completo="Caio Reis",
    )
    client = client_for(org_a.mentor)

    def ids(query: str) -> set[str]:
        response = client.get(URL + query)
        assert response.status_code == 200, response.content
        return {item["id"] for item in response.json()["data"]}

    assert ids("?status=ativo") == {str(mine.pk)}
    assert ids("?status=pausado,cancelado") == {str(cancelled.pk)} | ids("?status=pausado")
    assert ids(f"?mentor_id={org_a.mentor.pk}") == {str(mine.pk)}
    assert ids("?mentor_id=me") == {str(mine.pk)}
    assert ids("?search=joana") == {str(mine.pk)}
    assert ids("?search=elite") == {str(cancelled.pk)}
    assert ids("?search=87650001") == {str(mine.pk)}


@pytest.mark.parametrize(
    "query",
    [
        "?status=perdido",
        "?mentor_id=nao-e-uuid",
        "?ordering=senha",
        "?limit=0",
        "?page=x",
        "?lead_id=123",
    ],
)
def test_it_rejects_invalid_list_parameters(org_a, client_for, query):
    response = client_for(org_a.admin).get(URL + query)
    assert response.status_code == 400, response.content
    assert set(response.json()) == {"error", "details"}


def test_it_orders_by_the_listed_fields(org_a, client_for):
    low = MentoradoFactory(organization=org_a.org, nome_completo="Ana", engagement_score=10)
    high = MentoradoFactory(organization=org_a.org, nome_completo="Bia", engagement_score=90)
    client = client_for(org_a.admin)
    data = client.get(URL + "?ordering=-engagement_score").json()["data"]
    assert [d["id"] for d in data] == [str(high.pk), str(low.pk)]
    data = client.get(URL + "?ordering=nome_completo").json()["data"]
    assert [d["id"] for d in data] == [str(low.pk), str(high.pk)]


def test_it_lists_with_a_query_count_independent_of_page_size(org_a, client_for):
    mentors = [MembershipFactory(organization=org_a.org, role="mentor") for _ in range(3)]
    for n in range(12):
        MentoradoFactory(organization=org_a.org, mentor=mentors[n % 3])
    client = client_for(org_a.gestor)
    client.get(URL)  # warm-up (session, content types)
    with CaptureQueriesContext(connection) as one:
        assert client.get(URL + "?limit=1").status_code == 200
    with CaptureQueriesContext(connection) as many:
        response = client.get(URL + "?limit=100")
    assert len(response.json()["data"]) == 12
    assert len(many) == len(one)


def test_it_hides_other_organizations_mentees(org_a, org_b, client_for):
    foreign = MentoradoFactory(organization=org_b.org)
    client = client_for(org_a.admin)
    assert client.get(detail(foreign)).status_code == 404
    assert client.patch(detail(foreign), {"programa": "x"}, format="json").status_code == 404
    assert client.delete(detail(foreign)).status_code == 404
    assert Mentorado.objects.filter(pk=foreign.pk, programa="Mentoria Escala").exists()


# --- create -----------------------------------------------------------------------------------


def test_it_creates_a_mentee(org_a, client_for):
    payload = {
        "nome_completo": "  Marcos   Vieira ",
        "email": "Marcos@Negocio.com.br",
        "telefone": "(11) 98765-4321",
        "programa": "Mentoria Elite",
        "mentor_id": str(org_a.mentor.pk),
        "faturamento_inicial": "15000",
    }
    response = client_for(org_a.gestor).post(URL, payload, format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["nome_completo"] == "Marcos Vieira"
    assert body["email"] == "marcos@negocio.com.br"
    assert body["telefone"] == "+5511987654321"
    assert body["faturamento_inicial"] == "15000.00"
    assert body["faturamento_atual"] is None
    assert body["crescimento_percentual"] is None
    assert body["engagement_score"] == 0
    assert body["status"] == "ativo"
    assert body["lead_id"] is None
    assert body["data_inicio"] == organization_today(org_a.org).isoformat()
    mentee = Mentorado.objects.get(pk=body["id"])
    assert mentee.organization_id == org_a.org.pk
    assert mentee.mentor_id == org_a.mentor.pk


def test_it_ignores_organization_and_computed_fields_in_the_body(org_a, org_b, client_for):
    response = client_for(org_a.admin).post(
        URL,
        {
            "nome_completo": "X",
            "organization": str(org_b.org.pk),
            "organization_id": str(org_b.org.pk),
            "engagement_score": 99,
            "faturamento_atual": "1.00",
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    mentee = Mentorado.objects.get(pk=response.json()["id"])
    assert mentee.organization_id == org_a.org.pk
    assert mentee.engagement_score == 0
    assert mentee.faturamento_atual is None


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({}, "nome_completo"),
        ({"nome_completo": "   "}, "nome_completo"),
        ({"nome_completo": "A", "status": "perdido"}, "status"),
        ({"nome_completo": "A", "telefone": "123"}, "telefone"),
        ({"nome_completo": "A", "email": "nao-e-email"}, "email"),
        ({"nome_completo": "A", "faturamento_inicial": "-1"}, "faturamento_inicial"),
        ({"nome_completo": "A", "faturamento_inicial": "NaN"}, "faturamento_inicial"),
        ({"nome_completo": "A", "faturamento_inicial": "1e20"}, "faturamento_inicial"),
        ({"nome_completo": "A", "data_inicio": "2025-13-01"}, "data_inicio"),
        ({"nome_completo": "A", "data_inicio": "1999-12-31"}, "data_inicio"),
        (
            {"nome_completo": "A", "data_inicio": "2025-05-10", "data_fim": "2025-05-09"},
            "data_fim",
        ),
        ({"nome_completo": "A", "mentor_id": "nao-e-uuid"}, "mentor_id"),
        ({"nome_completo": "A", "mentor_id": 12}, "mentor_id"),
    ],
)
def test_it_rejects_bad_input_and_writes_nothing(org_a, client_for, payload, field):
    response = client_for(org_a.admin).post(URL, payload, format="json")
    assert response.status_code == 400, response.content
    body = response.json()
    assert set(body) == {"error", "details"}
    assert field in body["details"]
    assert not Mentorado.objects.exists()


def test_it_requires_the_mentor_to_be_an_active_mentor_or_manager_of_the_organization(
    org_a, org_b, client_for
):
    inactive = MembershipFactory(organization=org_a.org, role="mentor", ativo=False)
    client = client_for(org_a.admin)
    for mentor in (org_b.mentor, inactive, org_a.closer, org_a.sdr):
        response = client.post(
            URL, {"nome_completo": "A", "mentor_id": str(mentor.pk)}, format="json"
        )
        assert response.status_code == 400, (mentor.role, response.content)
        assert "mentor_id" in response.json()["details"]
    for mentor in (org_a.mentor, org_a.gestor, org_a.admin):
        response = client.post(
            URL, {"nome_completo": "A", "mentor_id": str(mentor.pk)}, format="json"
        )
        assert response.status_code == 201, response.content
    assert Mentorado.objects.count() == 3


@pytest.mark.parametrize("role", ["closer", "sdr"])
def test_it_forbids_sellers_to_write(org_a, client_for, role):
    mentee = MentoradoFactory(organization=org_a.org, programa="Antes")
    client = client_for(org_a.member(role))
    assert client.post(URL, {"nome_completo": "A"}, format="json").status_code == 403
    assert client.patch(detail(mentee), {"programa": "x"}, format="json").status_code == 403
    assert client.delete(detail(mentee)).status_code == 403
    assert Mentorado.objects.get().programa == "Antes"


def test_it_makes_the_mentor_the_owner_of_what_they_create(org_a, client_for):
    response = client_for(org_a.mentor).post(URL, {"nome_completo": "A"}, format="json")
    assert response.status_code == 201, response.content
    assert response.json()["mentor_id"] == str(org_a.mentor.pk)


def test_it_forbids_a_mentor_to_create_for_someone_else(org_a, client_for):
    other = MembershipFactory(organization=org_a.org, role="mentor")
    client = client_for(org_a.mentor)
    for mentor_id in (str(other.pk), None):
        response = client.post(URL, {"nome_completo": "A", "mentor_id": mentor_id}, format="json")
        assert response.status_code == 403, response.content
        assert set(response.json()) == {"error", "details"}
    assert not Mentorado.objects.exists()


# --- update and delete ------------------------------------------------------------------------


def test_it_updates_a_mentee(org_a, client_for):
    mentee = MentoradoFactory(organization=org_a.org)
    response = client_for(org_a.gestor).patch(
        detail(mentee), {"programa": "Elite", "mentor_id": str(org_a.mentor.pk)}, format="json"
    )
    assert response.status_code == 200, response.content
    assert response.json()["programa"] == "Elite"
    mentee.refresh_from_db()
    assert (mentee.programa, mentee.mentor_id) == ("Elite", org_a.mentor.pk)


def test_it_stamps_data_fim_when_a_mentee_is_cancelled(org_a, client_for):
    mentee = MentoradoFactory(organization=org_a.org, data_inicio=date(2025, 1, 1))
    response = client_for(org_a.admin).patch(detail(mentee), {"status": "cancelado"}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["data_fim"] == organization_today(org_a.org).isoformat()
    # An explicit end date wins.
    other = MentoradoFactory(organization=org_a.org, data_inicio=date(2025, 1, 1))
    response = client_for(org_a.admin).patch(
        detail(other), {"status": "concluido", "data_fim": "2025-06-30"}, format="json"
    )
    assert response.json()["data_fim"] == "2025-06-30"


def test_it_clears_the_end_date_when_a_cancelled_mentee_is_reactivated(org_a, client_for):
    mentee = MentoradoFactory(organization=org_a.org, data_inicio=date(2025, 1, 1))
    client = client_for(org_a.admin)
    client.patch(detail(mentee), {"status": "cancelado"}, format="json")
    response = client.patch(detail(mentee), {"status": "ativo"}, format="json")
    assert response.status_code == 200
    assert response.json()["data_fim"] is None
    # A planned end in the future survives a pause.
    planned = MentoradoFactory(
        organization=org_a.org, data_inicio=date(2025, 1, 1), data_fim=date(2099, 1, 1)
    )
    response = client.patch(detail(planned), {"status": "pausado"}, format="json")
    assert response.json()["data_fim"] == "2099-01-01"


def test_it_rejects_an_end_before_the_start_on_update(org_a, client_for):
    mentee = MentoradoFactory(organization=org_a.org, data_inicio=date(2025, 3, 1))
    response = client_for(org_a.admin).patch(
        detail(mentee), {"data_fim": "2025-02-28"}, format="json"
    )
    assert response.status_code == 400
    assert "data_fim" in response.json()["details"]
    mentee.refresh_from_db()
    assert mentee.data_fim is None


def test_it_rejects_a_foreign_mentor_on_update(org_a, org_b, client_for):
    mentee = MentoradoFactory(organization=org_a.org, mentor=org_a.mentor)
    response = client_for(org_a.admin).patch(
        detail(mentee), {"mentor_id": str(org_b.mentor.pk)}, format="json"
    )
    assert response.status_code == 400
    mentee.refresh_from_db()
    assert mentee.mentor_id == org_a.mentor.pk


def test_it_lets_a_mentor_update_only_their_own_mentees(org_a, client_for):
    other = MembershipFactory(organization=org_a.org, role="mentor")
    mine = MentoradoFactory(organization=org_a.org, mentor=org_a.mentor)
    theirs = MentoradoFactory(organization=org_a.org, mentor=other, programa="Antes")
    client = client_for(org_a.mentor)
    assert client.patch(detail(mine), {"programa": "Novo"}, format="json").status_code == 200
    response = client.patch(detail(theirs), {"programa": "Novo"}, format="json")
    assert response.status_code == 403
    theirs.refresh_from_db()
    assert theirs.programa == "Antes"
    # Nor may they hand their own mentee to someone else.
    response = client.patch(detail(mine), {"mentor_id": str(other.pk)}, format="json")
    assert response.status_code == 403
    mine.refresh_from_db()
    assert mine.mentor_id == org_a.mentor.pk


def test_it_lets_only_managers_delete(org_a, client_for):
    mine = MentoradoFactory(organization=org_a.org, mentor=org_a.mentor)
    assert client_for(org_a.mentor).delete(detail(mine)).status_code == 403
    assert Mentorado.objects.filter(pk=mine.pk).exists()
    assert client_for(org_a.gestor).delete(detail(mine)).status_code == 204
    assert not Mentorado.objects.filter(pk=mine.pk).exists()


def test_it_does_not_allow_put(org_a, client_for):
    mentee = MentoradoFactory(organization=org_a.org)
    response = client_for(org_a.admin).put(detail(mentee), {"nome_completo": "A"}, format="json")
    assert response.status_code == 405


def test_it_keeps_the_lead_link_read_only(org_a, client_for):
    lead = LeadFactory(organization=org_a.org)
    response = client_for(org_a.admin).post(
        URL, {"nome_completo": "A", "lead_id": str(lead.pk)}, format="json"
    )
    assert response.status_code == 201
    assert response.json()["lead_id"] is None


def test_it_requires_authentication(anon, org_a):
    assert anon.get(URL).status_code == 401
