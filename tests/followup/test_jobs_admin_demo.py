"""Periodic job, management command, admin, demo data and the timeline source."""

from __future__ import annotations

import io

import pytest
from django.core import mail
from django.core.management import call_command

from config.jobs import discover_periodic_jobs
from followup import jobs, selectors
from followup.models import ExecutionStatus, FollowupExecution, FollowupSequence
from organizations.models import Organization, User
from tests.factories import LeadFactory, MembershipFactory
from tests.followup.factories import EMAIL_STEP, make_execution, make_sequence

pytestmark = pytest.mark.django_db


def test_dispatch_runs_every_minute():
    found = {job.id: job for job in discover_periodic_jobs()}
    dispatch = found["followup-dispatch"]
    assert dispatch.interval == 60
    assert dispatch.func == "followup.jobs.dispatch_followups"
    assert found["followup-enrollment-sweep"].interval == 3600


def test_the_dispatch_job_performs_due_steps(org_a):
    make_execution(make_sequence(org_a.org), LeadFactory(organization=org_a.org))
    counts = jobs.dispatch_followups()
    assert counts["sent"] == 1
    assert len(mail.outbox) == 1


def test_the_command_runs_one_pass_and_prints_counts(org_a):
    sequence = make_sequence(org_a.org)
    for lead in LeadFactory.create_batch(3, organization=org_a.org):
        make_execution(sequence, lead)
    out = io.StringIO()

    call_command("dispatch_followups", "--batch-size", "2", stdout=out)

    assert "sent=3" in out.getvalue()
    assert "batches=2" in out.getvalue()
    assert len(mail.outbox) == 3


def test_seed_demo_creates_an_active_sequence_with_enrolled_leads():
    call_command("seed_demo", stdout=io.StringIO())

    sequence = FollowupSequence.objects.get(nome="Reaquecimento de leads frios")
    assert sequence.ativo
    assert [step["tipo_acao"] for step in sequence.steps] == ["email", "tarefa", "whatsapp"]
    assert (sequence.pausar_fim_semana, sequence.pausar_feriados) == (True, True)
    assert str(sequence.horario_envio_inicio) == "09:00:00"
    executions = FollowupExecution.objects.filter(sequence=sequence)
    assert executions.count() >= 5
    assert all(e.status == ExecutionStatus.ACTIVE and e.proxima_execucao for e in executions)


def test_the_timeline_source_lists_follow_up_events(org_a, django_assert_num_queries):
    lead = LeadFactory(organization=org_a.org)
    execution = make_execution(make_sequence(org_a.org, nome="Fria"), lead)
    jobs.dispatch_followups()

    with django_assert_num_queries(2):
        entries = selectors.lead_timeline_entries(lead_ids=[lead.pk])

    assert sorted(entry["evento"] for entry in entries) == ["completed", "enrolled", "executed"]
    assert entries[-1]["evento"] == "enrolled"  # the oldest
    executed = next(entry for entry in entries if entry["evento"] == "executed")
    assert executed["sequence_nome"] == "Fria"
    assert executed["tipo_acao"] == "email"
    assert executed["execution_id"] == execution.pk
    assert executed["step"] == 0


@pytest.fixture
def staff_client(client, org_a):
    user = User.objects.create_user(email="staff@exemplo.com", password="x", is_staff=True)
    MembershipFactory(organization=org_a.org, user=user, role="admin")
    client.force_login(user)
    return client


def test_admin_pages_load_and_are_scoped(staff_client, org_a, org_b):
    mine = make_execution(make_sequence(org_a.org), LeadFactory(organization=org_a.org))
    theirs = make_execution(make_sequence(org_b.org), LeadFactory(organization=org_b.org))
    for path in (
        "/admin/followup/followupsequence/",
        "/admin/followup/followupexecution/",
        "/admin/followup/followupexecutionlog/",
        f"/admin/followup/followupexecution/{mine.pk}/change/",
        f"/admin/followup/followupsequence/{mine.sequence_id}/change/",
    ):
        assert staff_client.get(path).status_code == 200, path
    listing = staff_client.get("/admin/followup/followupexecution/").content.decode()
    assert str(mine.pk) in listing
    assert str(theirs.pk) not in listing


def test_admin_actions_call_the_services(staff_client, org_a):
    execution = make_execution(make_sequence(org_a.org), LeadFactory(organization=org_a.org))
    done = make_execution(
        make_sequence(org_a.org), LeadFactory(organization=org_a.org), status="completed"
    )
    url = "/admin/followup/followupexecution/"

    staff_client.post(url, {"action": "pause", "_selected_action": [str(execution.pk)]})
    execution.refresh_from_db()
    assert execution.status == ExecutionStatus.PAUSED

    staff_client.post(url, {"action": "resume", "_selected_action": [str(execution.pk)]})
    execution.refresh_from_db()
    assert execution.status == ExecutionStatus.ACTIVE

    response = staff_client.post(
        url,
        {"action": "cancel", "_selected_action": [str(execution.pk), str(done.pk)]},
        follow=True,
    )
    execution.refresh_from_db()
    done.refresh_from_db()
    assert execution.status == ExecutionStatus.CANCELLED
    assert done.status == ExecutionStatus.COMPLETED  # 409 in the API, a warning here
    assert response.status_code == 200


def test_a_staff_closer_runs_the_actions_only_on_leads_they_may_write(client, org_a):
    Organization.objects.filter(pk=org_a.org.pk).update(visibilidade_leads="atribuidos")
    user = User.objects.create_user(email="closer-staff@exemplo.com", password="x", is_staff=True)
    closer = MembershipFactory(organization=org_a.org, user=user, role="closer")
    client.force_login(user)
    sequence = make_sequence(org_a.org)
    mine = make_execution(sequence, LeadFactory(organization=org_a.org, closer=closer))
    other = make_execution(sequence, LeadFactory(organization=org_a.org, closer=org_a.closer))
    response = client.post(
        "/admin/followup/followupexecution/",
        {"action": "pause", "_selected_action": [str(mine.pk), str(other.pk)]},
        follow=True,
    )
    assert response.status_code == 200
    mine.refresh_from_db()
    other.refresh_from_db()
    assert mine.status == ExecutionStatus.PAUSED
    # Another seller's lead is not even in the closer's list (organizations.access), so the
    # action never touches it.
    assert other.status == ExecutionStatus.ACTIVE


@pytest.mark.parametrize("role", ["closer", "sdr"])
def test_a_seller_manages_the_follow_ups_of_their_leads_in_the_admin(org_a, role):
    """16.5: a closer or SDR (a plain member, not staff) sees the executions of the leads they
    may write, with pause, resume and cancel going through the follow-up services."""
    from tests.admin_support import login

    Organization.objects.filter(pk=org_a.org.pk).update(visibilidade_leads="atribuidos")
    seller = org_a.member(role)
    sequence = make_sequence(org_a.org)
    lead = LeadFactory(organization=org_a.org, nome_completo="Lead Meu", **{role: seller})
    mine = make_execution(sequence, lead)
    other = make_execution(
        sequence, LeadFactory(organization=org_a.org, nome_completo="Lead Alheio")
    )
    client = login(seller)
    url = "/admin/followup/followupexecution/"
    page = client.get(url)
    assert page.status_code == 200
    html = page.content.decode()
    assert "Lead Meu" in html
    assert "Lead Alheio" not in html
    for action in ("pause", "resume", "cancel"):
        assert f'value="{action}"' in html, action
    for action, status in (
        ("pause", ExecutionStatus.PAUSED),
        ("resume", ExecutionStatus.ACTIVE),
        ("cancel", ExecutionStatus.CANCELLED),
    ):
        client.post(url, {"action": action, "_selected_action": [str(mine.pk), str(other.pk)]})
        mine.refresh_from_db()
        assert mine.status == status, action
    other.refresh_from_db()
    assert other.status == ExecutionStatus.ACTIVE
    # The log says who paused it: the service ran, not a raw update.
    assert mine.logs.filter(evento="paused", message__contains=seller.nome_completo).exists()


def _step_rows(steps: list[dict]) -> dict[str, str]:
    rows = {
        "passos-TOTAL_FORMS": str(len(steps)),
        "passos-INITIAL_FORMS": "0",
        "passos-MIN_NUM_FORMS": "0",
        "passos-MAX_NUM_FORMS": "30",
    }
    for index, step in enumerate(steps):
        rows.update({f"passos-{index}-{key}": str(value) for key, value in step.items()})
    return rows


def test_admin_sequence_form_validates_steps_and_versions_them(staff_client, org_a):
    base = {
        "organization": str(org_a.org.pk),
        "nome": "Pelo admin",
        "descricao": "",
        "horario_envio_inicio": "09:00",
        "horario_envio_fim": "18:00",
        "pausar_fim_semana": "on",
        "pausar_feriados": "on",
    }
    # The editor posts one row per step (followup.admin_forms); errors are numbered from 1.
    bad = {**base, **_step_rows([{"tipo_acao": "email", "assunto": "Oi"}])}
    response = staff_client.post("/admin/followup/followupsequence/add/", bad)
    html = response.content.decode()
    assert response.status_code == 200
    assert "Passo 1: Este campo é obrigatório." in html
    assert not FollowupSequence.objects.exists()

    good = {**base, **_step_rows([EMAIL_STEP])}
    response = staff_client.post("/admin/followup/followupsequence/add/", good)
    assert response.status_code == 302, response.content.decode()[:2000]
    sequence = FollowupSequence.objects.get(nome="Pelo admin")
    assert sequence.versions.count() == 1
    assert sequence.versao == 1
