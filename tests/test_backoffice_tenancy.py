"""Every back-office page of ours (board, painel, my day, the lead page's forms and audit trail),
tried by each role of organization B while organization A has data: never A's rows, never a
500; an A object id is a 404.

The route list comes from the URL resolver (the admin's custom pages, not its model views), so
a new back-office page fails `test_every_backoffice_page_is_covered` until it is listed here.
"""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import get_resolver

from leads.models import LeadInteraction, LeadStatus, Task
from organizations.models import Role
from tests.factories import LeadFactory, TaskFactory

pytestmark = pytest.mark.django_db

# URL name -> how to request it ({task} and {lead} are organization A ids).
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
    # The lead page (leads/admin_lead_page.py): its forms and the audit trail.
    "admin:leads_lead_page_interaction": (
        "post",
        "/admin/leads/lead/{lead}/interacao/",
        {"interacao-tipo_interacao": "ligacao", "interacao-resumo": "Segredo Alfa Ltda"},
    ),
    "admin:leads_lead_page_task": (
        "post",
        "/admin/leads/lead/{lead}/tarefa/",
        {"tarefa-titulo": "Segredo Alfa Ltda", "tarefa-tipo": "tarefa"},
    ),
    "admin:leads_lead_page_reopen": (
        "post",
        "/admin/leads/lead/{lead}/reabrir/",
        {"reabrir-status": "negociacao", "reabrir-motivo": "Segredo Alfa Ltda"},
    ),
    "admin:leads_lead_history": ("get", "/admin/leads/lead/{lead}/history/", {}),
}
OUR_PREFIXES = (
    "leads_lead_board",
    "admin-painel",
    "admin-meu-dia",
    "leads_lead_page",
    "leads_lead_history",
)


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
    lead = LeadFactory(organization=org_a.org, nome_completo=secret, closer=org_a.closer)
    task = TaskFactory(responsavel=org_a.closer, titulo=secret)
    written = (LeadInteraction.objects.count(), Task.objects.count())
    member = org_b.member(role)
    member.user.is_staff = True
    member.user.save(update_fields=["is_staff"])
    client = Client()
    client.force_login(member.user)
    method, url, params = PAGES[page]
    url = url.format(task=task.pk, lead=lead.pk)
    # Naming organization A in the query string changes nothing.
    response = getattr(client, method)(url, {**params, "org": str(org_a.org.pk)})
    assert response.status_code < 500, (page, role, response.status_code)
    if method == "post" or "{lead}" in PAGES[page][1]:
        assert response.status_code == 404, (page, role, response.status_code)
        assert (LeadInteraction.objects.count(), Task.objects.count()) == written
    else:
        assert response.status_code in (200, 403), (page, role, response.status_code)
        assert secret not in response.content.decode()
        assert org_a.org.nome not in response.content.decode()
