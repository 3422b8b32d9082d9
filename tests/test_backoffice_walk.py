"""Defects found walking the back office as its users would (issue 12's acceptance walk)."""

from __future__ import annotations

import pytest

from organizations.models import Membership, User
from tests.admin_support import login

pytestmark = pytest.mark.django_db

ADD_MEMBER = "/admin/organizations/membership/add/"


def test_a_new_members_role_is_chosen_not_defaulted_to_administrator(org_a) -> None:
    client = login(org_a.admin)
    html = client.get(ADD_MEMBER).content.decode()
    # A blank first option: the form used to open on "Administrador", the most powerful role.
    assert '<option value="" selected>---------</option>' in html
    # Labels capitalised like the model's ("email", "papel", "senha inicial" were lower case).
    for label in (">Email<", ">Papel<", ">Senha inicial<"):
        assert label in html, label

    response = client.post(
        ADD_MEMBER,
        {
            "organization": str(org_a.org.pk),
            "email": "nova.closer@exemplo.com.br",
            "nome_completo": "Nova Closer",
            "role": "",
            "tipo_closer": "",
            "senha_inicial": "uma-senha-forte-2026",
        },
    )
    assert response.status_code == 200
    assert "Este campo é obrigatório." in response.content.decode()
    assert not User.objects.filter(email="nova.closer@exemplo.com.br").exists()

    response = client.post(
        ADD_MEMBER,
        {
            "organization": str(org_a.org.pk),
            "email": "nova.closer@exemplo.com.br",
            "nome_completo": "Nova Closer",
            "role": "closer",
            "tipo_closer": "",
            "senha_inicial": "uma-senha-forte-2026",
        },
    )
    assert response.status_code == 302
    member = Membership.objects.get(user__email="nova.closer@exemplo.com.br")
    assert member.role == "closer"


def test_a_members_change_form_keeps_the_role_without_a_blank_option(org_a) -> None:
    html = (
        login(org_a.admin)
        .get(f"/admin/organizations/membership/{org_a.closer.pk}/change/")
        .content.decode()
    )
    assert '<option value="">---------</option>' not in html
    assert '<option value="closer" selected>' in html
