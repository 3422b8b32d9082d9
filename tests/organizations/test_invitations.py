"""Adding an existing user to an organization is an invitation they accept (issue 13.8): no
membership until the invited user accepts, by API (authenticated as themselves) or on the
link's page (with their password). New emails are still created directly."""

from __future__ import annotations

import re

import pytest
from django.core import mail
from django.test import Client
from rest_framework.test import APIClient

from organizations.models import Invitation, Membership, Role
from tests.factories import PASSWORD, UserFactory

pytestmark = pytest.mark.django_db

LINK = re.compile(r"https?://\S+/convites/(\S+)/")


def invite(client_for, org, email: str, role: str = "closer"):
    return client_for(org.admin).post(
        "/api/v1/members/",
        {"email": email, "nome_completo": "Convidada", "role": role},
        format="json",
    )


def token_from_mail() -> str:
    match = LINK.search(str(mail.outbox[-1].body))
    assert match, mail.outbox[-1].body
    return match.group(1)


def test_an_existing_user_is_invited_not_added(
    org_a, org_b, client_for, django_capture_on_commit_callbacks
):
    other = org_b.closer.user
    with django_capture_on_commit_callbacks(execute=True):
        response = invite(client_for, org_a, other.email.upper())
    assert response.status_code == 202, response.content
    body = response.json()
    assert body["status"] == "pendente"
    assert body["email"] == other.email.lower()
    assert not Membership.objects.filter(organization=org_a.org, user=other).exists()
    assert mail.outbox[-1].to == [other.email.lower()]
    assert org_a.org.nome in mail.outbox[-1].subject
    # The organization's admins see it; another organization's admin does not.
    listed = client_for(org_a.admin).get("/api/v1/invitations/").json()["data"]
    assert [item["id"] for item in listed] == [body["id"]]
    assert client_for(org_b.admin).get("/api/v1/invitations/").json()["data"] == []
    assert client_for(org_a.gestor).get("/api/v1/invitations/").status_code == 403


def test_a_new_email_is_still_created_at_once(org_a, client_for):
    response = invite(client_for, org_a, "nova@exemplo.com.br")
    assert response.status_code == 201
    assert Membership.objects.filter(organization=org_a.org, user__email="nova@exemplo.com.br")
    assert not Invitation.objects.exists()


def test_the_invited_user_accepts_through_the_api(
    org_a, org_b, client_for, django_capture_on_commit_callbacks
):
    other = org_b.closer
    with django_capture_on_commit_callbacks(execute=True):
        invite(client_for, org_a, other.user.email, role="sdr")
    token = token_from_mail()

    # Someone else (even an admin of the organization) cannot accept it for them.
    assert (
        client_for(org_a.admin)
        .post("/api/v1/invitations/accept/", {"token": token}, format="json")
        .status_code
        == 404
    )
    assert (
        APIClient().post("/api/v1/invitations/accept/", {"token": token}, format="json").status_code
        == 401
    )

    response = client_for(other).post(
        "/api/v1/invitations/accept/", {"token": token}, format="json"
    )
    assert response.status_code == 200, response.content
    membership = Membership.objects.get(organization=org_a.org, user=other.user)
    assert membership.role == Role.SDR
    assert response.json()["membership_id"] == str(membership.pk)
    assert response.json()["status"] == "aceito"
    # Single use.
    again = client_for(other).post("/api/v1/invitations/accept/", {"token": token}, format="json")
    assert again.status_code == 404
    assert set(again.json()) == {"error", "details"}


def test_the_invited_user_accepts_on_the_links_page_with_their_password(
    org_a, django_capture_on_commit_callbacks, client_for
):
    user = UserFactory(email="fulana@outra.com.br")
    with django_capture_on_commit_callbacks(execute=True):
        assert invite(client_for, org_a, user.email).status_code == 202
    token = token_from_mail()
    page = Client()
    shown = page.get(f"/convites/{token}/")
    assert shown.status_code == 200
    assert org_a.org.nome in shown.content.decode()

    wrong = page.post(f"/convites/{token}/", {"senha": "errada"})
    assert wrong.status_code == 400
    assert not Membership.objects.filter(user=user).exists()

    accepted = page.post(f"/convites/{token}/", {"senha": PASSWORD})
    assert accepted.status_code == 200
    assert "Convite aceito" in accepted.content.decode()
    assert Membership.objects.get(user=user).organization == org_a.org
    assert page.get(f"/convites/{token}/").status_code == 404  # used
    assert Client().get("/convites/nao-existe/").status_code == 404


def test_a_member_already_is_a_409_and_a_cancelled_invitation_stops_working(
    org_a, org_b, client_for, django_capture_on_commit_callbacks
):
    assert invite(client_for, org_a, org_a.closer.user.email).status_code == 409
    with django_capture_on_commit_callbacks(execute=True):
        created = invite(client_for, org_a, org_b.sdr.user.email).json()
    token = token_from_mail()
    # Another organization's invitation is a 404 (tenancy), the owner cancels it.
    assert (
        client_for(org_b.admin).delete(f"/api/v1/invitations/{created['id']}/").status_code == 404
    )
    assert (
        client_for(org_a.admin).delete(f"/api/v1/invitations/{created['id']}/").status_code == 204
    )
    response = client_for(org_b.sdr).post(
        "/api/v1/invitations/accept/", {"token": token}, format="json"
    )
    assert response.status_code == 404
    assert not Membership.objects.filter(organization=org_a.org, user=org_b.sdr.user).exists()


def test_the_admins_add_member_form_invites_an_existing_user(
    org_a, org_b, django_capture_on_commit_callbacks
):
    from tests.admin_support import login

    client = login(org_a.admin)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            "/admin/organizations/membership/add/",
            {
                "organization": str(org_a.org.pk),
                "email": org_b.closer.user.email,
                "nome_completo": "Da Outra",
                "role": "closer",
                "tipo_closer": "",
                "senha_inicial": "",
            },
            follow=True,
        )
    assert response.status_code == 200
    assert "enviamos um convite" in response.content.decode()
    assert not Membership.objects.filter(organization=org_a.org, user=org_b.closer.user).exists()
    invitation = Invitation.objects.get()
    assert invitation.organization == org_a.org
    assert invitation.invited_by == org_a.admin
    assert mail.outbox[-1].to == [org_b.closer.user.email]


def test_the_admin_lists_the_organizations_invitations_and_cancels_pending_ones(org_a, org_b):
    from django.utils import timezone

    from organizations.invitations import invitation_create
    from tests.admin_support import login

    def invite(org, email: str) -> Invitation:
        user = UserFactory(email=email)
        return invitation_create(
            organization=org.org, actor=org.admin, user=user, nome_completo="X", role="sdr"
        )[0]

    pending = invite(org_a, "pendente@exemplo.com.br")
    accepted = invite(org_a, "aceito@exemplo.com.br")
    Invitation.objects.filter(pk=accepted.pk).update(accepted_at=timezone.now())
    theirs = invite(org_b, "outra@exemplo.com.br")
    changelist = "/admin/organizations/invitation/"

    client = login(org_a.admin)
    page = client.get(changelist).content.decode()
    assert "pendente@exemplo.com.br" in page
    assert "aceito@exemplo.com.br" in page
    assert "outra@exemplo.com.br" not in page
    assert "Cancelar convite" in page
    assert "Pendente" in page
    assert "Aceito" in page
    # Another organization's invitation is not there (404) and cannot be cancelled.
    assert client.get(f"{changelist}{theirs.pk}/change/").status_code == 404
    response = client.post(
        changelist,
        {
            "action": "cancel",
            "_selected_action": [str(pending.pk), str(accepted.pk), str(theirs.pk)],
        },
        follow=True,
    )
    assert response.status_code == 200
    text = response.content.decode()
    assert "1 convite(s) cancelado(s)." in text
    assert "Este convite já foi aceito." in text
    assert set(Invitation.objects.values_list("email", flat=True)) == {
        "aceito@exemplo.com.br",
        "outra@exemplo.com.br",
    }
    # Not an admin: no list and no action (as GET/DELETE /api/v1/invitations/).
    for role in ("gestor", "closer", "sdr", "mentor"):
        other = login(org_a.member(role))
        assert other.get(changelist).status_code == 403, role
        response = other.post(
            changelist, {"action": "cancel", "_selected_action": [str(accepted.pk)]}
        )
        assert response.status_code == 403, role
    assert Invitation.objects.filter(pk=accepted.pk).exists()
