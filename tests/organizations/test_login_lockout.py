"""Login brute force: one django-axes lockout for the admin login, the browsable API's login and
the token endpoint, per account and per address, lifted by an admin."""

from __future__ import annotations

import pytest
from axes.models import AccessAttempt
from django.conf import settings
from django.core.management import call_command
from django.test import Client
from rest_framework.test import APIClient

from tests.factories import PASSWORD, UserFactory

pytestmark = pytest.mark.django_db

ADMIN_LOGIN = "/admin/login/"
API_LOGIN = "/api-auth/login/"
TOKEN = "/api/v1/auth/token/"
LIMIT = settings.AXES_FAILURE_LIMIT


def session_login(client: Client, url: str, email: str, password: str, **extra):
    return client.post(url, {"username": email, "password": password}, **extra)


def fail_logins(client: Client, url: str, email: str, times: int = LIMIT, **extra) -> None:
    for _ in range(times):
        response = session_login(client, url, email, "senha-errada", **extra)
        assert response.status_code in (200, 429), response.status_code


@pytest.fixture
def staff(org_a):
    user = org_a.admin.user
    user.is_staff = True
    user.save()
    return user


@pytest.mark.parametrize("url", [ADMIN_LOGIN, API_LOGIN])
def test_a_session_login_locks_out_after_the_failure_limit(client, staff, url):
    fail_logins(client, url, staff.email)
    response = session_login(client, url, staff.email, PASSWORD)  # the right password
    assert response.status_code == 429
    page = response.content.decode()
    assert "Acesso bloqueado temporariamente" in page
    assert "administrador" in page
    assert "_auth_user_id" not in client.session
    # The lockout page follows Accept-Language like the rest of the site.
    english = session_login(client, url, staff.email, PASSWORD, HTTP_ACCEPT_LANGUAGE="en")
    assert english.status_code == 429
    assert "Access temporarily locked" in english.content.decode()


def test_a_right_password_before_the_limit_still_logs_in(client, staff):
    fail_logins(client, ADMIN_LOGIN, staff.email, times=LIMIT - 1)
    response = session_login(client, ADMIN_LOGIN, staff.email, PASSWORD)
    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(staff.pk)


def test_the_account_is_locked_from_every_address_and_on_every_route(client, staff):
    """The email counts case-insensitively, whichever login route was hammered."""
    fail_logins(client, ADMIN_LOGIN, staff.email.upper(), REMOTE_ADDR="203.0.113.7")
    other = Client(REMOTE_ADDR="198.51.100.9")
    assert session_login(other, API_LOGIN, staff.email, PASSWORD).status_code == 429
    response = APIClient(REMOTE_ADDR="198.51.100.10").post(
        TOKEN, {"email": staff.email, "password": PASSWORD}, format="json"
    )
    assert response.status_code == 429
    body = response.json()
    assert "bloqueado" in body["error"]
    assert "access" not in body


def test_the_address_is_locked_whatever_account_it_tries(client, staff, org_a):
    for n in range(LIMIT):
        session_login(
            client, ADMIN_LOGIN, f"ninguem{n}@exemplo.com", "x", REMOTE_ADDR="203.0.113.8"
        )
    response = session_login(client, ADMIN_LOGIN, staff.email, PASSWORD, REMOTE_ADDR="203.0.113.8")
    assert response.status_code == 429
    # Another address logs in normally.
    response = session_login(Client(), ADMIN_LOGIN, staff.email, PASSWORD, REMOTE_ADDR="192.0.2.1")
    assert response.status_code == 302


def test_token_failures_count_towards_the_session_lockout(staff):
    api = APIClient(REMOTE_ADDR="203.0.113.9")
    for _ in range(LIMIT):
        response = api.post(TOKEN, {"email": staff.email, "password": "errada"}, format="json")
        assert response.status_code in (401, 429)
    response = session_login(Client(), ADMIN_LOGIN, staff.email, PASSWORD)
    assert response.status_code == 429


def test_an_admin_lifts_the_lockout_with_the_command(client, staff):
    fail_logins(client, ADMIN_LOGIN, staff.email)
    assert session_login(client, ADMIN_LOGIN, staff.email, PASSWORD).status_code == 429
    call_command("axes_reset_username", staff.email.lower())
    call_command("axes_reset_ip", "127.0.0.1")
    assert session_login(client, ADMIN_LOGIN, staff.email, PASSWORD).status_code == 302


def test_a_superuser_lifts_the_lockout_in_the_admin(client, staff):
    fail_logins(client, ADMIN_LOGIN, staff.email, REMOTE_ADDR="203.0.113.11")
    assert AccessAttempt.objects.exists()
    root = UserFactory(is_staff=True, is_superuser=True)
    boss = Client()
    boss.force_login(root)
    changelist = boss.get("/admin/axes/accessattempt/")
    assert changelist.status_code == 200
    ids = [str(pk) for pk in AccessAttempt.objects.values_list("pk", flat=True)]
    response = boss.post(
        "/admin/axes/accessattempt/",
        {"action": "delete_selected", "_selected_action": ids, "post": "yes"},
    )
    assert response.status_code == 302
    assert not AccessAttempt.objects.exists()
    login = session_login(client, ADMIN_LOGIN, staff.email, PASSWORD, REMOTE_ADDR="203.0.113.11")
    assert login.status_code == 302


def test_organization_staff_cannot_see_the_lockouts(client, staff):
    """Access attempts name every organization's users: superusers only."""
    client.force_login(staff)
    assert client.get("/admin/axes/accessattempt/").status_code == 403
