"""Every back-office page of ours (board, painel, my day), tried by each role of organization B
while organization A has data: never A's rows, never a 500; an A object id is a 404.

The route list comes from the URL resolver (the admin's custom pages, not its model views), so
a new back-office page fails `test_every_backoffice_page_is_covered` until it is listed here.
"""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import get_resolver

from leads.models import LeadStatus
from organizations.models import Role
from tests.factories import LeadFactory, TaskFactory

pytestmark = pytest.mark.django_db

# URL name -> how to request it ({task} is an organization A task id).
PAGES = {
    "admin:leads_lead_board": ("get", "/admin/leads/lead/board/", {}),
    "admin:leads_lead_board_column": (
        "get",
        "/admin/leads/lead/board/column/",
        {"status": LeadStatus.NOVO.value, "offset": "0", "closer_id": ""},
    ),
    "admin-painel": ("get", "/admin/painel/", {"period": "365"}),
    "admin-meu-dia": ("get", "/admin/meu-dia/", {}),
    "admin-meu-dia-concluir": ("post", "/admin/meu-dia/tarefas/{task}/concluir/", {}),
}
OUR_PREFIXES = ("leads_lead_board", "admin-painel", "admin-meu-dia")


def _names(resolver, namespace: str = "") -> set[str]:
    names: set[str] = set()
    for pattern in resolver.url_patterns:
        if hasattr(pattern, "url_patterns"):
            inner = f"{namespace}{pattern.namespace}:" if pattern.namespace else namespace
            names |= _names(pattern, inner)
        elif pattern.name:
            names.add(namespace + pattern.name)
    return names


def test_every_backoffice_page_is_covered():
    ours = {name for name in _names(get_resolver()) if name.split(":")[-1].startswith(OUR_PREFIXES)}
    assert ours == set(PAGES)


@pytest.mark.parametrize("role", Role.values)
@pytest.mark.parametrize("page", sorted(PAGES))
def test_it_never_shows_another_organization(org_a, org_b, role, page):
    secret = "Segredo Alfa Ltda"
    LeadFactory(organization=org_a.org, nome_completo=secret, closer=org_a.closer)
    task = TaskFactory(responsavel=org_a.closer, titulo=secret)
    member = org_b.member(role)
    member.user.is_staff = True
    member.user.save(update_fields=["is_staff"])
    client = Client()
    client.force_login(member.user)
    method, url, params = PAGES[page]
    url = url.format(task=task.pk)
    # Naming organization A in the query string changes nothing.
    response = getattr(client, method)(url, {**params, "org": str(org_a.org.pk)})
    assert response.status_code < 500, (page, role, response.status_code)
    if method == "post":
        assert response.status_code == 404
    else:
        assert response.status_code in (200, 403), (page, role, response.status_code)
        assert secret not in response.content.decode()
        assert org_a.org.nome not in response.content.decode()
