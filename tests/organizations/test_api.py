from __future__ import annotations

import pytest

from organizations.models import Membership, OrganizationHoliday, User
from tests.factories import HolidayFactory

pytestmark = pytest.mark.django_db


# --- /me/ and /organization/ ----------------------------------------------------------------


def test_it_describes_the_requester(org_a, client_for):
    body = client_for(org_a.sdr).get("/api/v1/me/").json()
    assert body["email"] == org_a.sdr.user.email
    assert body["role"] == "sdr"
    assert body["membership_id"] == str(org_a.sdr.id)
    assert body["organization"] == {"id": str(org_a.org.id), "nome": org_a.org.nome}


@pytest.mark.parametrize("role", ["admin", "gestor", "closer", "sdr", "mentor"])
def test_it_shows_the_organization_to_every_role(org_a, client_for, role):
    response = client_for(org_a.member(role)).get("/api/v1/organization/")
    assert response.status_code == 200
    body = response.json()
    assert body["id"] == str(org_a.org.id)
    assert body["ticket_alvo"] == "10000.00"
    assert body["visibilidade_leads"] == "todos"


def test_it_lets_the_admin_change_settings(org_a, client_for):
    response = client_for(org_a.admin).patch(
        "/api/v1/organization/",
        {"ticket_alvo": "25000.00", "visibilidade_leads": "atribuidos", "estado": "RJ"},
        format="json",
    )
    assert response.status_code == 200, response.json()
    org_a.org.refresh_from_db()
    assert str(org_a.org.ticket_alvo) == "25000.00"
    assert org_a.org.visibilidade_leads == "atribuidos"


@pytest.mark.parametrize("role", ["gestor", "closer", "sdr", "mentor"])
def test_it_refuses_settings_changes_by_non_admins(org_a, client_for, role):
    response = client_for(org_a.member(role)).patch(
        "/api/v1/organization/", {"nome": "Outro"}, format="json"
    )
    assert response.status_code == 403
    org_a.org.refresh_from_db()
    assert org_a.org.nome == "Mentoria Alfa"


@pytest.mark.parametrize(
    "payload",
    [
        {"timezone": "Marte/Olympus"},
        {"ticket_alvo": "-1"},
        {"ticket_alvo": "abc"},
        {"visibilidade_leads": "alguns"},
        {"estado": "XX"},
        {"nome": "x" * 300},
    ],
)
def test_it_rejects_invalid_settings(org_a, client_for, payload):
    response = client_for(org_a.admin).patch("/api/v1/organization/", payload, format="json")
    assert response.status_code == 400
    assert set(response.json()["details"]) == set(payload)
    org_a.org.refresh_from_db()
    assert org_a.org.timezone == "America/Sao_Paulo"


def test_it_never_shows_another_organization(org_a, org_b, client_for):
    body = client_for(org_b.admin).get("/api/v1/organization/").json()
    assert body["id"] == str(org_b.org.id)


# --- members ----------------------------------------------------------------------------------


def test_it_lists_members_of_the_own_organization_only(org_a, org_b, client_for):
    response = client_for(org_a.mentor).get("/api/v1/members/")
    assert response.status_code == 200
    ids = {m["id"] for m in response.json()["data"]}
    assert ids == {str(org_a.member(r).id) for r in ("admin", "gestor", "closer", "sdr", "mentor")}


def test_it_adds_a_member_with_a_new_user(org_a, client_for, anon):
    response = client_for(org_a.admin).post(
        "/api/v1/members/",
        {
            "email": "Nova.Closer@Example.com",
            "nome_completo": "Nova Closer",
            "role": "closer",
            "password": "uma-senha-boa-2026",
            "tipo_closer": "high ticket",
        },
        format="json",
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["email"] == "nova.closer@example.com"
    assert "password" not in body
    token = anon.post(
        "/api/v1/auth/token/",
        {"email": "nova.closer@example.com", "password": "uma-senha-boa-2026"},
        format="json",
    )
    assert token.status_code == 200


def test_it_invites_an_existing_user_from_another_organization(org_a, org_b, client_for):
    """Their consent first (tests/organizations/test_invitations.py has the whole flow)."""
    response = client_for(org_a.admin).post(
        "/api/v1/members/",
        {"email": org_b.closer.user.email, "nome_completo": "Emprestado", "role": "sdr"},
        format="json",
    )
    assert response.status_code == 202
    assert response.json()["status"] == "pendente"
    assert Membership.objects.filter(user=org_b.closer.user).count() == 1


def test_it_answers_409_for_an_existing_member(org_a, client_for):
    response = client_for(org_a.admin).post(
        "/api/v1/members/",
        {"email": org_a.closer.user.email, "nome_completo": "X", "role": "sdr"},
        format="json",
    )
    assert response.status_code == 409
    assert response.json()["details"]["existing_id"] == str(org_a.closer.id)


@pytest.mark.parametrize(
    "payload",
    [
        {"email": "não-é-email", "nome_completo": "X", "role": "closer"},
        {"email": "a@b.com", "nome_completo": "X", "role": "dono"},
        {"email": "a@b.com", "nome_completo": "", "role": "closer"},
        {"email": "a@b.com", "nome_completo": "X", "role": "closer", "password": "123"},
        {"nome_completo": "X", "role": "closer"},
    ],
)
def test_it_rejects_invalid_members_and_writes_nothing(org_a, client_for, payload):
    users_before = User.objects.count()
    response = client_for(org_a.admin).post("/api/v1/members/", payload, format="json")
    assert response.status_code == 400
    assert response.json()["details"]
    assert User.objects.count() == users_before


@pytest.mark.parametrize("role", ["gestor", "closer", "sdr", "mentor"])
def test_it_lets_only_admins_manage_members(org_a, client_for, role):
    client = client_for(org_a.member(role))
    create = client.post(
        "/api/v1/members/", {"email": "z@z.com", "nome_completo": "Z", "role": "sdr"}, format="json"
    )
    assert create.status_code == 403
    assert client.get(f"/api/v1/members/{org_a.sdr.id}/").status_code == 403
    patch = client.patch(f"/api/v1/members/{org_a.sdr.id}/", {"role": "admin"}, format="json")
    assert patch.status_code == 403
    assert client.delete(f"/api/v1/members/{org_a.sdr.id}/").status_code == 403
    org_a.sdr.refresh_from_db()
    assert org_a.sdr.role == "sdr"
    assert org_a.sdr.ativo


def test_it_changes_a_role_and_deactivates(org_a, client_for):
    client = client_for(org_a.admin)
    response = client.patch(f"/api/v1/members/{org_a.sdr.id}/", {"role": "closer"}, format="json")
    assert response.status_code == 200
    assert response.json()["role"] == "closer"
    assert client.delete(f"/api/v1/members/{org_a.sdr.id}/").status_code == 204
    org_a.sdr.refresh_from_db()
    assert org_a.sdr.ativo is False


def test_it_keeps_at_least_one_active_admin(org_a, client_for):
    client = client_for(org_a.admin)
    response = client.patch(f"/api/v1/members/{org_a.admin.id}/", {"role": "gestor"}, format="json")
    assert response.status_code == 409
    assert client.delete(f"/api/v1/members/{org_a.admin.id}/").status_code == 409
    org_a.admin.refresh_from_db()
    assert org_a.admin.role == "admin"
    assert org_a.admin.ativo


def test_it_hides_members_of_another_organization(org_a, org_b, client_for):
    client = client_for(org_a.admin)
    url = f"/api/v1/members/{org_b.sdr.id}/"
    assert client.get(url).status_code == 404
    assert client.patch(url, {"role": "closer"}, format="json").status_code == 404
    assert client.delete(url).status_code == 404
    org_b.sdr.refresh_from_db()
    assert org_b.sdr.role == "sdr"
    assert org_b.sdr.ativo


def test_it_returns_404_for_a_malformed_member_id(org_a, client_for):
    assert client_for(org_a.admin).get("/api/v1/members/nope/").status_code == 404


# --- holidays ---------------------------------------------------------------------------------


def test_it_lists_and_creates_holidays(org_a, org_b, client_for):
    HolidayFactory(organization=org_b.org)
    admin = client_for(org_a.admin)
    response = admin.post(
        "/api/v1/holidays/", {"data": "2026-12-24", "nome": "Véspera de Natal"}, format="json"
    )
    assert response.status_code == 201, response.json()
    listed = client_for(org_a.closer).get("/api/v1/holidays/").json()["data"]
    assert [h["nome"] for h in listed] == ["Véspera de Natal"]


def test_it_answers_409_for_a_duplicate_holiday(org_a, client_for):
    holiday = HolidayFactory(organization=org_a.org)
    response = client_for(org_a.admin).post(
        "/api/v1/holidays/", {"data": str(holiday.data), "nome": "De novo"}, format="json"
    )
    assert response.status_code == 409
    assert response.json()["details"]["existing_id"] == holiday.pk


@pytest.mark.parametrize(
    "payload", [{"data": "2026-13-01", "nome": "X"}, {"data": "amanhã", "nome": "X"}, {"nome": "X"}]
)
def test_it_rejects_invalid_holidays(org_a, client_for, payload):
    response = client_for(org_a.admin).post("/api/v1/holidays/", payload, format="json")
    assert response.status_code == 400
    assert "data" in response.json()["details"]
    assert not OrganizationHoliday.objects.exists()


def test_it_lets_only_admins_write_holidays(org_a, client_for):
    holiday = HolidayFactory(organization=org_a.org)
    gestor = client_for(org_a.gestor)
    assert gestor.post("/api/v1/holidays/", {"data": "2026-12-31", "nome": "X"}).status_code == 403
    assert gestor.delete(f"/api/v1/holidays/{holiday.pk}/").status_code == 403
    assert client_for(org_a.admin).delete(f"/api/v1/holidays/{holiday.pk}/").status_code == 204


def test_it_hides_holidays_of_another_organization(org_a, org_b, client_for):
    holiday = HolidayFactory(organization=org_b.org)
    assert client_for(org_a.admin).delete(f"/api/v1/holidays/{holiday.pk}/").status_code == 404
    assert OrganizationHoliday.objects.filter(pk=holiday.pk).exists()


def test_it_rescores_open_leads_when_the_ticket_target_changes(
    org_a, client_for, django_capture_on_commit_callbacks
):
    import django_rq

    from tests.factories import LeadFactory

    # Scored against the default ticket (10000): fit 10.
    lead = LeadFactory(
        organization=org_a.org, valor_potencial="15000.00", origem="site", lead_score=10
    )
    queue = django_rq.get_queue("low")
    with django_capture_on_commit_callbacks(execute=True):
        client_for(org_a.admin).patch(
            "/api/v1/organization/", {"ticket_alvo": "20000.00"}, format="json"
        )
    jobs = [job for job in queue.get_jobs() if job.func_name == "leads.jobs.decay_lead_scores"]
    assert len(jobs) == 1
    jobs[0].perform()
    lead.refresh_from_db()
    assert lead.lead_score == 0  # valor_potencial is now below the ticket: no fit points
    with django_capture_on_commit_callbacks(execute=True):
        client_for(org_a.admin).patch("/api/v1/organization/", {"nome": "Outro"}, format="json")
    assert len(queue.get_jobs()) == 1
