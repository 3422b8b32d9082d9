from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from tests.factories import PASSWORD, MembershipFactory

pytestmark = pytest.mark.django_db

TOKEN_URL = "/api/v1/auth/token/"
REFRESH_URL = "/api/v1/auth/token/refresh/"


def obtain(client: APIClient, email: str, password: str = PASSWORD):
    return client.post(TOKEN_URL, {"email": email, "password": password}, format="json")


def test_it_obtains_tokens_with_email_and_password(org_a, anon):
    response = obtain(anon, org_a.closer.user.email)
    assert response.status_code == 200
    assert set(response.json()) == {"access", "refresh"}


def test_it_accepts_the_email_in_any_case(org_a, anon):
    response = obtain(anon, org_a.closer.user.email.upper())
    assert response.status_code == 200


def test_it_refuses_a_wrong_password_with_the_error_shape(org_a, anon):
    response = obtain(anon, org_a.closer.user.email, "errada")
    assert response.status_code == 401
    body = response.json()
    assert set(body) == {"error", "details"}
    assert body["error"]


def test_it_refuses_tokens_to_a_user_whose_memberships_are_all_inactive(org_a, anon):
    org_a.sdr.ativo = False
    org_a.sdr.save()
    assert obtain(anon, org_a.sdr.user.email).status_code == 401


def test_it_authenticates_requests_with_the_access_token(org_a, anon):
    access = obtain(anon, org_a.gestor.user.email).json()["access"]
    anon.credentials(HTTP_AUTHORIZATION=f"Bearer {access}")
    response = anon.get("/api/v1/me/")
    assert response.status_code == 200
    assert response.json()["role"] == "gestor"


def test_it_rejects_a_garbage_token(anon):
    anon.credentials(HTTP_AUTHORIZATION="Bearer not-a-jwt")
    response = anon.get("/api/v1/me/")
    assert response.status_code == 401
    assert set(response.json()) == {"error", "details"}


def test_it_requires_authentication(anon):
    response = anon.get("/api/v1/leads/")
    assert response.status_code == 401
    assert response.json()["error"]


def test_it_rotates_refresh_tokens_and_blacklists_the_old_one(org_a, anon):
    refresh = obtain(anon, org_a.admin.user.email).json()["refresh"]
    response = anon.post(REFRESH_URL, {"refresh": refresh}, format="json")
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"access", "refresh"}
    assert body["refresh"] != refresh
    # The rotated-out token cannot be used again.
    again = anon.post(REFRESH_URL, {"refresh": refresh}, format="json")
    assert again.status_code == 401


def test_it_rejects_a_refresh_without_a_token(anon):
    response = anon.post(REFRESH_URL, {}, format="json")
    assert response.status_code == 400
    assert "refresh" in response.json()["details"]


def test_it_throttles_the_token_endpoint_with_retry_after(org_a, anon, settings):
    statuses = [obtain(anon, org_a.admin.user.email, "errada").status_code for _ in range(12)]
    # The 10th failure also locks the account out (django-axes, tests/.../test_login_lockout.py).
    assert statuses[:9] == [401] * 9
    assert statuses[9:] == [429] * 3
    response = obtain(anon, org_a.admin.user.email, "errada")
    assert response.status_code == 429
    assert int(response["Retry-After"]) > 0
    assert response.json()["details"]["retry_after"] > 0


def test_it_refuses_a_deactivated_member_on_every_request(org_a, client_for):
    client = client_for(org_a.closer)
    assert client.get("/api/v1/leads/").status_code == 200
    org_a.closer.ativo = False
    org_a.closer.save()
    for path in ("/api/v1/leads/", "/api/v1/me/", "/api/v1/tasks/", "/api/v1/organization/"):
        response = client.get(path)
        assert response.status_code == 403, path
        assert response.json()["error"]


def test_it_refuses_a_deactivated_user_token(org_a, anon):
    access = obtain(anon, org_a.closer.user.email).json()["access"]
    org_a.closer.user.is_active = False
    org_a.closer.user.save()
    anon.credentials(HTTP_AUTHORIZATION=f"Bearer {access}")
    assert anon.get("/api/v1/me/").status_code == 401


def test_it_picks_the_organization_from_the_header(org_a, org_b, anon):
    user = org_a.closer.user
    MembershipFactory(organization=org_b.org, user=user, role="gestor")
    access = obtain(anon, user.email).json()["access"]
    anon.credentials(HTTP_AUTHORIZATION=f"Bearer {access}")
    default = anon.get("/api/v1/me/").json()
    assert default["organization"]["id"] == str(org_a.org.id)
    assert {o["id"] for o in default["organizations"]} == {str(org_a.org.id), str(org_b.org.id)}
    anon.credentials(
        HTTP_AUTHORIZATION=f"Bearer {access}", HTTP_X_ORGANIZATION_ID=str(org_b.org.id)
    )
    chosen = anon.get("/api/v1/me/").json()
    assert chosen["organization"]["id"] == str(org_b.org.id)
    assert chosen["role"] == "gestor"


def test_it_refuses_an_organization_the_user_does_not_belong_to(org_a, org_b, client_for):
    client = client_for(org_a.admin)
    client.credentials(HTTP_X_ORGANIZATION_ID=str(org_b.org.id))
    response = client.get("/api/v1/leads/")
    assert response.status_code == 403


def test_it_rejects_a_malformed_organization_header(org_a, client_for):
    client = client_for(org_a.admin)
    client.credentials(HTTP_X_ORGANIZATION_ID="not-a-uuid")
    response = client.get("/api/v1/me/")
    assert response.status_code == 400
    assert "X-Organization-Id" in response.json()["details"]


def test_it_supports_session_login_for_the_browsable_api(org_a, client):
    assert client.login(email=org_a.closer.user.email, password=PASSWORD)
    response = client.get("/api/v1/leads/", HTTP_ACCEPT="text/html")
    assert response.status_code == 200
    assert b"<html" in response.content.lower()
