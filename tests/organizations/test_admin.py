from __future__ import annotations

from unittest import mock

import pytest
from django.contrib import admin
from django.contrib.sessions.backends.db import SessionStore
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import translation

from leads.models import Lead, LeadStatusChange
from organizations import access
from tests.factories import PASSWORD, LeadFactory, MembershipFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_client(client, org_a):
    user = org_a.gestor.user
    user.is_staff = True
    user.save()
    client.login(email=user.email, password=PASSWORD)
    return client


def test_it_shows_staff_only_their_organizations_leads(staff_client, org_a, org_b):
    LeadFactory(organization=org_a.org, nome_completo="Lead Alfa")
    LeadFactory(organization=org_b.org, nome_completo="Lead Beta")
    response = staff_client.get("/admin/leads/lead/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "Lead Alfa" in html
    assert "Lead Beta" not in html


def test_it_hides_another_organizations_row_in_admin(staff_client, org_b):
    lead = LeadFactory(organization=org_b.org)
    response = staff_client.get(f"/admin/leads/lead/{lead.pk}/change/")
    # Another organization's object is not there: a 404, as in the API.
    assert response.status_code == 404
    assert str(lead.pk) not in response.content.decode()


def test_it_lets_a_superuser_see_everything(client, org_a, org_b):
    UserFactory(email="root@example.com", is_staff=True, is_superuser=True)
    client.login(email="root@example.com", password=PASSWORD)
    LeadFactory(organization=org_a.org, nome_completo="Lead Alfa")
    LeadFactory(organization=org_b.org, nome_completo="Lead Beta")
    html = client.get("/admin/leads/lead/").content.decode()
    assert "Lead Alfa" in html
    assert "Lead Beta" in html


def test_it_lets_a_mentor_view_leads_but_not_change_them(client, org_a):
    # As the API: mentors read leads; sellers and managers write them.
    user = org_a.mentor.user
    client.login(email=user.email, password=PASSWORD)
    lead = LeadFactory(organization=org_a.org)
    assert client.get("/admin/leads/lead/").status_code == 200
    response = client.post(
        f"/admin/leads/lead/{lead.pk}/change/",
        {"nome_completo": "Mudado", "organization": str(org_a.org.pk), "origem": "site"},
    )
    assert response.status_code == 403
    lead.refresh_from_db()
    assert lead.nome_completo != "Mudado"


def test_it_runs_admin_actions_through_the_services(staff_client, org_a):
    lead = LeadFactory(organization=org_a.org, status="negociacao")
    response = staff_client.post(
        "/admin/leads/lead/",
        {
            "action": "mark_lost",
            "_selected_action": [str(lead.pk)],
            "apply": "1",
            "motivo_perda": "Sem orçamento",
        },
    )
    assert response.status_code == 302
    lead.refresh_from_db()
    assert lead.status == "perdido"
    assert lead.motivo_perda == "Sem orçamento"
    change = LeadStatusChange.objects.get(lead=lead)
    assert change.changed_by == org_a.gestor


def test_it_creates_a_lead_in_admin_with_normalized_phone(staff_client, org_a):
    response = staff_client.post(
        "/admin/leads/lead/add/",
        {
            "organization": str(org_a.org.pk),
            "nome_completo": "Lead do Admin",
            "email": "ADMIN@Lead.com",
            "telefone": "(11) 98888-7777",
            "origem": "site",
            "status": "novo",
            "tags": "[]",
            "lead_interactions-TOTAL_FORMS": "0",
            "lead_interactions-INITIAL_FORMS": "0",
            "status_changes-TOTAL_FORMS": "0",
            "status_changes-INITIAL_FORMS": "0",
            "qualification-TOTAL_FORMS": "0",
            "qualification-INITIAL_FORMS": "0",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    lead = Lead.objects.get(nome_completo="Lead do Admin")
    assert lead.telefone == "+5511988887777"
    assert lead.email == "admin@lead.com"
    assert LeadStatusChange.objects.filter(lead=lead, to_status="novo").exists()


@pytest.mark.parametrize(
    "path",
    [
        "/admin/organizations/organization/",
        "/admin/organizations/membership/",
        "/admin/organizations/organizationholiday/",
        "/admin/organizations/user/",
        "/admin/leads/leadinteraction/",
        "/admin/leads/leadqualification/",
        "/admin/leads/leadstatuschange/",
        "/admin/leads/task/",
        "/admin/organizations/notification/",
    ],
)
def test_it_serves_every_admin_list(staff_client, org_a, path):
    LeadFactory(organization=org_a.org)
    response = staff_client.get(path)
    assert response.status_code == 200, path


# Pages that show every organization's data: superusers only.
SUPERUSER_ONLY = ["/admin/rq/"]


@pytest.mark.parametrize("path", SUPERUSER_ONLY)
def test_it_serves_superuser_only_pages_to_superusers_alone(staff_client, client, org_a, path):
    response = staff_client.get(path)
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")
    superuser = UserFactory(is_superuser=True, is_staff=True)
    client.force_login(superuser)
    assert client.get(path).status_code == 200


def test_it_shows_the_dashboard_page_to_managers(staff_client, org_a, org_b):
    LeadFactory(organization=org_a.org, status="convertido", valor_fechado="5000.00")
    response = staff_client.get("/admin/painel/", {"period": "90"})
    assert response.status_code == 200
    html = response.content.decode()
    assert org_a.org.nome in html
    assert org_b.org.nome not in html
    # Another organization's id in the query string falls back to the staff's own.
    other = staff_client.get("/admin/painel/", {"org": str(org_b.org.pk)}).content.decode()
    assert org_a.org.nome in other
    assert org_b.org.nome not in other


def test_it_links_the_dashboard_from_the_admin_index(staff_client):
    assert "/admin/painel/" in staff_client.get("/admin/").content.decode()


def test_it_keeps_the_dashboard_page_for_staff(client, org_a):
    assert client.get("/admin/painel/").status_code == 302


def test_the_acting_membership_is_chosen_once_a_request_unless_the_session_changes(
    rf, org_a, org_b
):
    user = org_a.gestor.user
    other = MembershipFactory(organization=org_b.org, user=user, role="gestor")
    request = rf.get("/admin/")
    request.user = user
    request.session = SessionStore()
    with mock.patch.object(access, "_choose_membership", wraps=access._choose_membership) as choose:
        for _ in range(50):  # every permission check and menu entry of a page asks
            assert access.admin_membership(request) == org_a.gestor  # the oldest
        assert choose.call_count == 1
        # A choice made in the session during the request (switching organization) is
        # honoured.
        request.session[access.SESSION_KEY] = str(org_b.org.pk)
        assert access.admin_membership(request) == other
        assert access.admin_membership(request) == other
        assert choose.call_count == 2


def test_the_menu_names_are_text_in_the_order_of_their_translation(client, org_a):
    client.force_login(org_a.gestor.user)
    for language in ("pt-br", "en"):
        response = client.get("/admin/leads/lead/", HTTP_ACCEPT_LANGUAGE=language)
        assert response.status_code == 200
        request = response.wsgi_request
        with translation.override(language):
            apps = admin.site.get_app_list(request)
            names = [app["name"] for app in apps]
            assert all(type(name) is str for name in names)
            assert names == sorted(names, key=str.lower)
            for app in apps:
                models = [model["name"] for model in app["models"]]
                assert all(type(name) is str for name in models)
                assert models == sorted(models)
    with translation.override("en"):
        english = [m["name"] for app in admin.site.get_app_list(request) for m in app["models"]]
    assert "Leads" in english


def test_an_admin_page_reads_the_import_roles_from_the_pages_memberships(client, org_a):
    """The import menu entry asks which memberships may import: the page's list of them, not
    a query of its own (one query fewer on every back-office page)."""
    client.force_login(org_a.gestor.user)
    client.get("/admin/leads/routingrule/")
    with CaptureQueriesContext(connection) as captured:
        assert client.get("/admin/leads/routingrule/").status_code == 200
    memberships = [
        q["sql"]
        for q in captured.captured_queries
        if 'FROM "organization_users"' in q["sql"] and "role" in q["sql"] and " IN (" in q["sql"]
    ]
    assert memberships == [], memberships
    assert client.get("/admin/leads/leadimport/").status_code == 200


def test_a_member_reads_as_name_and_role_in_the_active_language(org_a):
    """How the admin names a member (select options, list cells): the role's label, translated;
    a role outside the choices (a row written by hand) shows as stored."""
    member = org_a.closer
    assert str(member) == f"{member.nome_completo} (Closer)"
    assert str(org_a.admin) == f"{org_a.admin.nome_completo} (Administrador)"
    with translation.override("en"):
        assert str(org_a.admin) == f"{org_a.admin.nome_completo} (Administrator)"
    member.role = "estagiario"
    assert str(member) == f"{member.nome_completo} (estagiario)"
