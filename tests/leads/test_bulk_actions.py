"""Bulk actions of the lead list: each through the API's validation and services, each
reporting how many leads changed and why the others did not."""

from __future__ import annotations

import csv
import io

import pytest
from django.contrib.messages import get_messages
from django.test import Client

from followup.models import FollowupExecution
from leads.models import Lead, LeadStatusChange
from organizations.models import Organization
from tests.factories import LeadFactory
from tests.followup.factories import make_sequence

pytestmark = pytest.mark.django_db

CHANGELIST = "/admin/leads/lead/"


def login(membership) -> Client:
    user = membership.user
    if not user.is_staff:
        user.is_staff = True
        user.save(update_fields=["is_staff"])
    client = Client()
    client.force_login(user)
    return client


def act(client: Client, action: str, leads, **fields):
    data = {"action": action, "_selected_action": [str(lead.pk) for lead in leads], **fields}
    return client.post(CHANGELIST, data)


def notes(response) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


def test_it_asks_for_the_closer_then_assigns_through_the_service(org_a):
    leads = [LeadFactory(organization=org_a.org) for _ in range(2)]
    client = login(org_a.gestor)
    page = act(client, "assign_closer", leads)
    assert page.status_code == 200
    html = page.content.decode()
    assert "Atribuir closer" in html
    assert f'value="{org_a.closer.pk}"' in html
    assert str(org_a.mentor.pk) not in html  # mentors are not offered
    response = act(client, "assign_closer", leads, apply="1", member=str(org_a.closer.pk))
    assert response.status_code == 302
    assert {lead.closer_id for lead in Lead.objects.filter(pk__in=[x.pk for x in leads])} == {
        org_a.closer.pk
    }
    assert notes(response) == [f"2 leads atribuído(s) a {org_a.closer.nome_completo}."]


def test_it_refuses_a_mentor_as_closer(org_a):
    lead = LeadFactory(organization=org_a.org)
    response = act(
        login(org_a.gestor), "assign_closer", [lead], apply="1", member=str(org_a.mentor.pk)
    )
    assert response.status_code == 200
    assert "Escolha um membro válido para esta função." in response.content.decode()
    assert Lead.objects.get(pk=lead.pk).closer_id is None


def test_it_refuses_another_organizations_member(org_a, org_b):
    lead = LeadFactory(organization=org_a.org)
    response = act(login(org_a.gestor), "assign_sdr", [lead], apply="1", member=str(org_b.sdr.pk))
    assert response.status_code == 200
    assert Lead.objects.get(pk=lead.pk).sdr_id is None


def test_it_reports_the_leads_it_left_alone_and_why(org_a):
    org_a.org.visibilidade_leads = Organization.LeadVisibility.ATRIBUIDOS
    org_a.org.save()
    mine = LeadFactory(organization=org_a.org, nome_completo="Ana Minha", closer=org_a.closer)
    theirs = LeadFactory(organization=org_a.org, nome_completo="Bia Alheia", closer=org_a.gestor)
    done = LeadFactory(organization=org_a.org, nome_completo="Caio Feito", closer=org_a.closer)
    done.sdr = org_a.sdr
    done.save()
    response = act(
        login(org_a.closer),
        "assign_sdr",
        [mine, theirs, done],
        apply="1",
        member=str(org_a.sdr.pk),
    )
    assert response.status_code == 302
    # A lead the closer cannot see is not in their list, so the action never receives it.
    assert notes(response) == [
        f"1 lead atribuído(s) a {org_a.sdr.nome_completo}.",
        "1 lead não foi alterado — Caio Feito: já estava assim",
    ]
    assert Lead.objects.get(pk=mine.pk).sdr_id == org_a.sdr.pk
    assert Lead.objects.get(pk=theirs.pk).sdr_id is None


def test_it_refuses_roles_the_api_does_not_let_write(org_a):
    lead = LeadFactory(organization=org_a.org)
    response = act(login(org_a.mentor), "add_tags", [lead], apply="1", tags="vip")
    assert notes(response)[-1] == (
        "1 lead não foi alterado — "
        f"{lead.nome_completo}: seu papel (Mentor) não permite esta operação"
    )
    assert Lead.objects.get(pk=lead.pk).tags == []


def test_it_adds_and_removes_tags_like_the_api(org_a):
    lead = LeadFactory(organization=org_a.org, tags=["retorno"])
    client = login(org_a.gestor)
    response = act(client, "add_tags", [lead], apply="1", tags=" VIP, retorno ,evento ")
    assert response.status_code == 302
    assert Lead.objects.get(pk=lead.pk).tags == ["retorno", "vip", "evento"]
    assert notes(response) == ["1 lead com tags adicionadas."]
    act(client, "remove_tags", [lead], apply="1", tags="retorno,vip")
    assert Lead.objects.get(pk=lead.pk).tags == ["evento"]


def test_it_refuses_tags_beyond_the_apis_limit(org_a):
    full = LeadFactory(organization=org_a.org, tags=[f"t{n}" for n in range(20)])
    response = act(login(org_a.gestor), "add_tags", [full], apply="1", tags="mais-uma")
    assert "1 lead não foi alterado" in notes(response)[-1]
    assert len(Lead.objects.get(pk=full.pk).tags) == 20
    empty = act(login(org_a.gestor), "add_tags", [full], apply="1", tags=" , ")
    assert empty.status_code == 200
    assert "Informe ao menos uma tag." in empty.content.decode()


def test_it_marks_lost_only_with_a_reason(org_a):
    lead = LeadFactory(organization=org_a.org, status="negociacao")
    client = login(org_a.gestor)
    page = act(client, "mark_lost", [lead])
    assert page.status_code == 200
    assert "Motivo da perda" in page.content.decode()
    blank = act(client, "mark_lost", [lead], apply="1", motivo_perda="   ")
    assert blank.status_code == 200
    assert "Informe o motivo da perda." in blank.content.decode()
    assert Lead.objects.get(pk=lead.pk).status == "negociacao"
    response = act(client, "mark_lost", [lead], apply="1", motivo_perda="Sem orçamento")
    assert response.status_code == 302
    lead.refresh_from_db()
    assert lead.status == "perdido"
    assert lead.motivo_perda == "Sem orçamento"
    change = LeadStatusChange.objects.get(lead=lead, to_status="perdido")
    assert change.changed_by == org_a.gestor


def test_it_exports_the_selection_with_the_api_csv(org_a):
    chosen = LeadFactory(organization=org_a.org, nome_completo="Escolhido", tags=["vip"])
    LeadFactory(organization=org_a.org, nome_completo="Outro")
    response = act(login(org_a.gestor), "export_selected", [chosen])
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    text = b"".join(response.streaming_content).decode("utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(text), delimiter=";"))
    assert [row["nome_completo"] for row in rows] == ["Escolhido"]
    assert rows[0]["valor_potencial"] == "15000,00"


def test_it_enrols_in_a_sequence_and_says_who_was_skipped(org_a):
    sequence = make_sequence(org_a.org)
    inactive = make_sequence(org_a.org, ativo=False)
    open_lead = LeadFactory(organization=org_a.org, nome_completo="Aberto")
    closed = LeadFactory(organization=org_a.org, nome_completo="Fechado", status="convertido")
    client = login(org_a.gestor)
    page = act(client, "enrol_in_sequence", [open_lead, closed])
    assert page.status_code == 200
    html = page.content.decode()
    assert f'value="{sequence.pk}"' in html
    assert f'value="{inactive.pk}"' not in html
    response = act(
        client, "enrol_in_sequence", [open_lead, closed], apply="1", sequence=str(sequence.pk)
    )
    assert response.status_code == 302
    assert FollowupExecution.objects.filter(sequence=sequence, lead=open_lead).exists()
    assert not FollowupExecution.objects.filter(lead=closed).exists()
    assert notes(response) == [
        f"1 lead inscrito(s) em {sequence.nome}.",
        "1 lead não foi alterado — Fechado: lead convertido ou perdido",
    ]


def test_it_lets_only_managers_enrol(org_a):
    sequence = make_sequence(org_a.org)
    lead = LeadFactory(organization=org_a.org, closer=org_a.closer)
    response = act(
        login(org_a.closer), "enrol_in_sequence", [lead], apply="1", sequence=str(sequence.pk)
    )
    assert "seu papel (Closer) não permite" in notes(response)[-1]
    assert not FollowupExecution.objects.exists()


def test_it_never_touches_another_organizations_leads(org_a, org_b):
    theirs = LeadFactory(organization=org_b.org)
    client = login(org_a.gestor)
    act(client, "mark_lost", [theirs], apply="1", motivo_perda="x")
    act(client, "add_tags", [theirs], apply="1", tags="vip")
    act(client, "assign_closer", [theirs], apply="1", member=str(org_a.closer.pk))
    export = act(client, "export_selected", [theirs])
    theirs.refresh_from_db()
    assert theirs.status == "novo"
    assert theirs.tags == []
    assert theirs.closer_id is None
    text = b"".join(export.streaming_content).decode("utf-8-sig")
    assert text.count("\n") == 1
    assert theirs.nome_completo not in text
