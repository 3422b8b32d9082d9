"""Small leaks (issue 13, point 8): a 409 names an existing lead only to whoever may see it; a
deactivated member's refresh token stops working."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from organizations.models import Organization
from tests.factories import PASSWORD, LeadFactory

pytestmark = pytest.mark.django_db


def test_a_409_names_the_existing_lead_only_when_the_requester_may_see_it(org_a, client_for):
    org_a.org.visibilidade_leads = Organization.LeadVisibility.ATRIBUIDOS
    org_a.org.save()
    theirs = LeadFactory(organization=org_a.org, email="dono@x.com.br", closer=org_a.gestor)
    mine = LeadFactory(organization=org_a.org, email="meu@x.com.br", closer=org_a.closer)
    closer = client_for(org_a.closer)

    hidden = closer.post("/api/v1/leads/", {"nome_completo": "A", "email": theirs.email})
    assert hidden.status_code == 409
    assert "existing_id" not in hidden.json()["details"]
    assert str(theirs.pk) not in hidden.content.decode()

    visible = closer.post("/api/v1/leads/", {"nome_completo": "B", "email": mine.email})
    assert visible.status_code == 409
    assert visible.json()["details"]["existing_id"] == str(mine.pk)

    # Changing one's own lead to the hidden lead's email: the same rule.
    patch = closer.patch(f"/api/v1/leads/{mine.pk}/", {"email": theirs.email}, format="json")
    assert patch.status_code == 409
    assert "existing_id" not in patch.json()["details"]

    manager = client_for(org_a.gestor).post(
        "/api/v1/leads/", {"nome_completo": "C", "email": theirs.email}
    )
    assert manager.json()["details"]["existing_id"] == str(theirs.pk)


def test_deactivation_revokes_the_members_refresh_tokens(org_a, client_for):
    anon = APIClient()
    pair = anon.post(
        "/api/v1/auth/token/",
        {"email": org_a.closer.user.email, "password": PASSWORD},
        format="json",
    ).json()
    assert (
        anon.post(
            "/api/v1/auth/token/refresh/", {"refresh": pair["refresh"]}, format="json"
        ).status_code
        == 200
    )  # rotation works while active (the old one is now blacklisted)
    pair = anon.post(
        "/api/v1/auth/token/",
        {"email": org_a.closer.user.email, "password": PASSWORD},
        format="json",
    ).json()

    assert client_for(org_a.admin).delete(f"/api/v1/members/{org_a.closer.pk}/").status_code == 204

    refresh = anon.post("/api/v1/auth/token/refresh/", {"refresh": pair["refresh"]}, format="json")
    assert refresh.status_code == 401
    assert "access" not in refresh.json()
