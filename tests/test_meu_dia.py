""" "Meu dia" (`/admin/meu-dia/`): the member's tasks, recent replies and failed follow-ups."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from config.admin_myday import day_bounds
from followup.models import ExecutionStatus, FollowupExecution
from integrations.models import WhatsAppMessage
from leads.models import Task
from tests.factories import LeadFactory, TaskFactory
from tests.followup.factories import make_execution, make_sequence

pytestmark = pytest.mark.django_db

URL = "/admin/meu-dia/"


def login(membership, *, csrf: bool = False) -> Client:
    user = membership.user
    if not user.is_staff:
        user.is_staff = True
        user.save(update_fields=["is_staff"])
    client = Client(enforce_csrf_checks=csrf)
    client.force_login(user)
    return client


def test_it_lands_sellers_on_their_day(org_a):
    for role in ("closer", "sdr"):
        response = login(org_a.member(role)).get("/admin/")
        assert response.status_code == 302
        assert response["Location"] == URL
    assert login(org_a.gestor).get("/admin/").status_code == 200


def test_it_groups_the_members_pending_tasks(org_a, org_b):
    today, tomorrow = day_bounds(org_a.closer, timezone.now())
    lead = LeadFactory(organization=org_a.org, closer=org_a.closer, nome_completo="Lia Reis")
    mine = {
        "overdue": TaskFactory(
            responsavel=org_a.closer,
            lead=lead,
            titulo="Atrasada",
            vencimento=today - timedelta(hours=1),
        ),
        "today": TaskFactory(
            responsavel=org_a.closer, titulo="De hoje", vencimento=today + timedelta(hours=12)
        ),
        "next": TaskFactory(
            responsavel=org_a.closer, titulo="Futura", vencimento=tomorrow + timedelta(days=2)
        ),
    }
    TaskFactory(responsavel=org_a.closer, titulo="Feita", status="concluida")
    TaskFactory(responsavel=org_a.gestor, titulo="Do gestor", vencimento=today)
    TaskFactory(responsavel=org_b.closer, titulo="Da outra organização", vencimento=today)
    response = login(org_a.closer).get(URL)
    assert response.status_code == 200
    tasks = response.context["tasks"]
    for key, task in mine.items():
        assert [t.pk for t in tasks[key]] == [task.pk], key
    html = response.content.decode()
    assert "Lia Reis" in html
    assert "Concluir" in html
    # Due times are shown in the organization's time zone (São Paulo), not UTC.
    assert f"{today:%d/%m/%Y} 12:00" in html
    for hidden in ("Feita", "Do gestor", "Da outra organização"):
        assert hidden not in html


def test_it_completes_a_task_through_the_service(org_a):
    task = TaskFactory(responsavel=org_a.closer, titulo="Ligar", vencimento=timezone.now())
    client = login(org_a.closer, csrf=True)
    page = client.get(URL).content.decode()
    token = page.split('name="csrfmiddlewaretoken" value="')[1].split('"')[0]
    url = f"/admin/meu-dia/tarefas/{task.pk}/concluir/"
    assert client.post(url).status_code == 403  # no CSRF token
    response = client.post(url, {"csrfmiddlewaretoken": token})
    assert response.status_code == 302
    assert response["Location"] == URL
    task.refresh_from_db()
    assert task.status == "concluida"
    assert task.concluida_em is not None
    assert client.get(url).status_code == 405


def test_it_never_completes_someone_elses_task(org_a, org_b):
    colleague = TaskFactory(responsavel=org_a.sdr)
    foreign = TaskFactory(responsavel=org_b.closer)
    client = login(org_a.closer)
    for task in (colleague, foreign):
        response = client.post(f"/admin/meu-dia/tarefas/{task.pk}/concluir/")
        assert response.status_code == 404
        assert Task.objects.get(pk=task.pk).status == "pendente"
    mentor_task = TaskFactory(responsavel=org_a.mentor)
    response = login(org_a.mentor).post(f"/admin/meu-dia/tarefas/{mentor_task.pk}/concluir/")
    assert response.status_code == 404


def _inbound(lead, *, days_ago: float = 0) -> None:
    message = WhatsAppMessage.objects.create(
        organization=lead.organization,
        lead=lead,
        direction="in",
        status="received",
        body="Tenho interesse",
    )
    WhatsAppMessage.objects.filter(pk=message.pk).update(
        created_at=timezone.now() - timedelta(days=days_ago)
    )


def test_it_lists_the_leads_that_replied_recently(org_a, org_b):
    by_whatsapp = LeadFactory(organization=org_a.org, closer=org_a.closer, nome_completo="Ana Zap")
    by_followup = LeadFactory(organization=org_a.org, sdr=org_a.closer, nome_completo="Bruno Seq")
    old = LeadFactory(organization=org_a.org, closer=org_a.closer, nome_completo="Caio Antigo")
    colleagues = LeadFactory(
        organization=org_a.org, closer=org_a.gestor, nome_completo="Duda Outra"
    )
    _inbound(by_whatsapp, days_ago=1)
    _inbound(old, days_ago=10)
    _inbound(colleagues)
    _inbound(LeadFactory(organization=org_b.org, closer=org_b.closer, nome_completo="Eva Beta"))
    sequence = make_sequence(org_a.org)
    make_execution(
        sequence,
        by_followup,
        status=ExecutionStatus.RESPONDED,
        data_resposta=timezone.now() - timedelta(hours=2),
    )
    html = login(org_a.closer).get(URL).content.decode()
    replies = html.split('id="replies"')[1].split("</section>")[0]
    assert "Bruno Seq" in replies
    assert "Ana Zap" in replies
    assert replies.index("Bruno Seq") < replies.index("Ana Zap")  # latest first
    for name in ("Caio Antigo", "Duda Outra", "Eva Beta"):
        assert name not in replies
    # Managers see the replies of every lead they may see.
    managers = login(org_a.gestor).get(URL).content.decode().split('id="replies"')[1]
    assert "Duda Outra" in managers
    assert "Eva Beta" not in managers


def test_it_lists_the_followups_that_failed(org_a):
    lead = LeadFactory(organization=org_a.org, closer=org_a.closer, nome_completo="Fabi Falha")
    other = LeadFactory(organization=org_a.org, closer=org_a.gestor, nome_completo="Gil Outro")
    sequence = make_sequence(org_a.org)
    for target in (lead, other):
        make_execution(sequence, target, status=ExecutionStatus.FAILED, finished_at=timezone.now())
    assert FollowupExecution.objects.filter(status="failed").count() == 2
    failures = login(org_a.closer).get(URL).content.decode().split('id="failures"')[1]
    assert "Fabi Falha" in failures
    assert "Gil Outro" not in failures
    assert sequence.nome in failures
