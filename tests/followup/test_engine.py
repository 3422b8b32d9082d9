"""The dispatcher: steps performed and recorded, timing, stop and skip rules, failures."""

from __future__ import annotations

import datetime
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from django.core import mail
from django.utils import timezone

from followup import services
from followup.channels import ChannelError
from followup.engine import dispatch_due
from followup.models import (
    ExecutionStatus,
    FollowupExecution,
    FollowupExecutionLog,
    FollowupStepRun,
    LogEvent,
)
from followup.timing import MAX_RETRIES, next_send_time, retry_delay
from leads import services as lead_services
from leads.models import Lead, Task
from organizations.models import Notification
from tests.factories import HolidayFactory, LeadFactory
from tests.followup.factories import (
    CALL_STEP,
    EMAIL_STEP,
    TASK_STEP,
    WHATSAPP_STEP,
    make_execution,
    make_sequence,
)

pytestmark = pytest.mark.django_db

SP = ZoneInfo("America/Sao_Paulo")


def events(execution: FollowupExecution) -> list[str]:
    return list(execution.logs.order_by("created_at", "id").values_list("evento", flat=True))


def test_it_sends_the_due_email_step_and_schedules_the_next(org_a):
    sequence = make_sequence(org_a.org, steps=[EMAIL_STEP, TASK_STEP])
    lead = LeadFactory(organization=org_a.org, closer=org_a.closer, nome_completo="Ana Souza")
    execution = make_execution(sequence, lead)

    stats = dispatch_due()

    assert (stats.claimed, stats.sent) == (1, 1)
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == [lead.email]
    assert message.subject == "Oi Ana"
    assert f"Abraço, {org_a.closer.nome_completo}" in message.body
    execution.refresh_from_db()
    assert execution.status == ExecutionStatus.ACTIVE
    assert execution.step_atual == 1
    assert execution.tentativas == 0
    [record] = execution.steps_executados
    assert record["step"] == 0
    assert record["success"] is True
    assert record["executed_at"]
    executed_at = datetime.datetime.fromisoformat(record["executed_at"])
    # The task step waits one day after the email (whole-day window, no pauses).
    assert execution.proxima_execucao == executed_at + timedelta(days=1)
    assert events(execution) == [LogEvent.EXECUTED]
    assert FollowupStepRun.objects.get(execution=execution, step=0).outcome == "sent"


def test_it_completes_after_the_last_step(org_a):
    sequence = make_sequence(org_a.org, steps=[EMAIL_STEP])
    execution = make_execution(sequence, LeadFactory(organization=org_a.org))

    stats = dispatch_due()

    execution.refresh_from_db()
    assert stats.completed == 1
    assert execution.status == ExecutionStatus.COMPLETED
    assert execution.proxima_execucao is None
    assert execution.finished_at is not None
    assert events(execution) == [LogEvent.EXECUTED, LogEvent.COMPLETED]
    # Nothing left to do: a second pass claims nothing.
    assert dispatch_due().claimed == 0
    assert len(mail.outbox) == 1


def test_it_leaves_executions_that_are_not_due_alone(org_a):
    sequence = make_sequence(org_a.org)
    lead = LeadFactory(organization=org_a.org)
    make_execution(sequence, lead, due=timezone.now() + timedelta(minutes=5))
    make_execution(
        make_sequence(org_a.org),
        LeadFactory(organization=org_a.org),
        status=ExecutionStatus.PAUSED,
    )

    assert dispatch_due().claimed == 0
    assert mail.outbox == []


def test_it_schedules_the_next_step_inside_the_window_skipping_weekends_and_holidays(org_a):
    sequence = make_sequence(
        org_a.org,
        steps=[EMAIL_STEP, {**TASK_STEP, "delay_dias": 0, "delay_horas": 2}],
        whole_day=False,
        horario_envio_inicio=datetime.time(9, 0),
        horario_envio_fim=datetime.time(18, 0),
    )
    # Friday 2027-08-13, 17:00 in São Paulo: +2 h is 19:00, outside the window; the weekend
    # is paused and Monday the 16th is an organization holiday, so Tuesday 09:00.
    HolidayFactory(organization=org_a.org, data=datetime.date(2027, 8, 16))
    friday = datetime.datetime(2027, 8, 13, 17, 0, tzinfo=SP)
    execution = make_execution(sequence, LeadFactory(organization=org_a.org), due=friday)

    dispatch_due(now=friday)

    execution.refresh_from_db()
    assert execution.proxima_execucao == datetime.datetime(2027, 8, 17, 9, 0, tzinfo=SP)


def test_it_cancels_when_the_lead_is_converted_or_lost(org_a):
    sequence = make_sequence(org_a.org)
    won = LeadFactory(organization=org_a.org)
    lost = LeadFactory(organization=org_a.org)
    first = make_execution(sequence, won)
    second = make_execution(sequence, lost)
    # Status written behind the services' back: the dispatcher must check by itself.
    Lead.objects.filter(pk=won.pk).update(status="convertido")
    Lead.objects.filter(pk=lost.pk).update(status="perdido")

    stats = dispatch_due()

    assert stats.cancelled == 2
    assert mail.outbox == []
    for execution in (first, second):
        execution.refresh_from_db()
        assert execution.status == ExecutionStatus.CANCELLED
        assert events(execution) == [LogEvent.CANCELLED]


def test_it_cancels_at_once_when_the_lead_status_changes_through_the_service(org_a):
    sequence = make_sequence(org_a.org)
    lead = LeadFactory(organization=org_a.org)
    execution = make_execution(sequence, lead)

    lead_services.lead_mark_lost(lead=lead, actor=org_a.closer, motivo="Sem orçamento")

    execution.refresh_from_db()
    assert execution.status == ExecutionStatus.CANCELLED
    assert dispatch_due().claimed == 0


def test_it_stops_when_the_lead_replied(org_a):
    sequence = make_sequence(org_a.org, steps=[EMAIL_STEP, EMAIL_STEP])
    lead = LeadFactory(organization=org_a.org, closer=org_a.closer)
    execution = make_execution(sequence, lead)

    services.followup_register_reply(lead=lead, channel="email", message="Tenho interesse!")
    stats = dispatch_due()

    execution.refresh_from_db()
    assert stats.claimed == 0
    assert mail.outbox == []
    assert execution.status == ExecutionStatus.RESPONDED
    assert execution.data_resposta is not None


def test_it_does_not_send_a_claimed_step_when_the_lead_replies_before_sending(org_a, monkeypatch):
    """A reply between the claim and the send stops the step (conditional 'sending')."""
    from followup import engine

    sequence = make_sequence(org_a.org)
    lead = LeadFactory(organization=org_a.org, closer=org_a.closer)
    execution = make_execution(sequence, lead)

    def reply_after_claim(name: str) -> None:
        if name == "claimed":
            # Simulates the reply arriving right after the claim transaction.
            FollowupExecution.objects.filter(pk=execution.pk).update(status="responded")

    monkeypatch.setattr(engine, "_checkpoint", reply_after_claim)
    stats = dispatch_due()

    assert stats.aborted == 1
    assert stats.sent == 0
    assert mail.outbox == []
    execution.refresh_from_db()
    assert execution.status == ExecutionStatus.RESPONDED
    assert execution.step_atual == 0


def test_it_skips_and_logs_a_step_of_a_channel_the_lead_opted_out_of(org_a, fake_whatsapp):
    sequence = make_sequence(org_a.org, steps=[EMAIL_STEP, {**WHATSAPP_STEP}])
    lead = LeadFactory(organization=org_a.org, opt_out_email=True)
    execution = make_execution(sequence, lead)

    stats = dispatch_due()

    assert mail.outbox == []
    assert stats.skipped == 1
    # The WhatsApp step (no delay) follows in the same pass.
    assert stats.sent == 1
    assert len(fake_whatsapp.calls) == 1
    execution.refresh_from_db()
    assert execution.status == ExecutionStatus.COMPLETED
    assert [s["success"] for s in execution.steps_executados] == [False, True]
    skipped = execution.logs.get(evento=LogEvent.SKIPPED)
    assert skipped.step == 0
    assert skipped.tipo_acao == "email"
    assert skipped.level == "warning"


def test_it_skips_a_whatsapp_step_the_channel_cannot_deliver(org_a, fake_whatsapp):
    fake_whatsapp.skip = "Fora da janela de 24 horas do WhatsApp e o passo não tem template."
    fake_whatsapp.skip_reason = "fora_da_janela"
    sequence = make_sequence(org_a.org, steps=[{**WHATSAPP_STEP, "template_name": ""}])
    execution = make_execution(sequence, LeadFactory(organization=org_a.org))

    stats = dispatch_due()

    assert stats.skipped == 1
    execution.refresh_from_db()
    # Its only step was skipped: the execution ends as "nothing sent", with the reason.
    assert execution.status == ExecutionStatus.NOTHING_SENT
    assert execution.motivos_sem_envio == ["fora_da_janela"]
    log = execution.logs.get(evento=LogEvent.SKIPPED)
    assert "24 horas" in log.message


def test_it_pauses_on_deactivation_and_resumes_with_recomputed_timing(org_a):
    sequence = make_sequence(
        org_a.org,
        whole_day=False,
        horario_envio_inicio=datetime.time(9, 0),
        horario_envio_fim=datetime.time(18, 0),
        pausar_fim_semana=False,
        pausar_feriados=False,
    )
    execution = make_execution(sequence, LeadFactory(organization=org_a.org))
    manual = make_execution(make_sequence(org_a.org), LeadFactory(organization=org_a.org))
    services.execution_pause(execution=manual, actor=None)

    services.sequence_update(sequence=sequence, actor=None, data={"ativo": False})
    execution.refresh_from_db()
    assert execution.status == ExecutionStatus.PAUSED
    assert dispatch_due().claimed == 0

    # While inactive the due time passed; reactivation moves it to the next window instant.
    FollowupExecution.objects.filter(pk=execution.pk).update(
        proxima_execucao=timezone.now() - timedelta(days=3)
    )
    sequence.refresh_from_db()
    services.sequence_update(sequence=sequence, actor=None, data={"ativo": True})
    from followup.jobs import enroll_activated_sequence

    before = timezone.now()
    enroll_activated_sequence(sequence_id=str(sequence.pk), organization_id=str(org_a.org.pk))
    execution.refresh_from_db()
    assert execution.status == ExecutionStatus.ACTIVE
    assert execution.proxima_execucao is not None
    local = execution.proxima_execucao.astimezone(SP)
    assert execution.proxima_execucao >= before - timedelta(seconds=1)
    assert datetime.time(9, 0) <= local.time() < datetime.time(18, 0)
    # A manually paused execution of another sequence is not touched.
    manual.refresh_from_db()
    assert manual.status == ExecutionStatus.PAUSED


def test_it_pauses_executions_of_an_inactive_sequence_it_meets(org_a):
    sequence = make_sequence(org_a.org)
    execution = make_execution(sequence, LeadFactory(organization=org_a.org))
    type(sequence).objects.filter(pk=sequence.pk).update(ativo=False)

    stats = dispatch_due()

    execution.refresh_from_db()
    assert stats.paused == 1
    assert mail.outbox == []
    assert (execution.status, execution.pause_reason) == ("paused", "sequence")


def test_it_deletes_executions_with_the_lead(org_a):
    sequence = make_sequence(org_a.org)
    lead = LeadFactory(organization=org_a.org)
    execution = make_execution(sequence, lead)
    dispatch_due()
    assert FollowupExecutionLog.objects.filter(execution=execution).exists()

    lead_services.lead_delete(lead=lead, actor=org_a.admin)

    assert not FollowupExecution.objects.filter(pk=execution.pk).exists()
    assert not FollowupExecutionLog.objects.filter(execution_id=execution.pk).exists()
    assert not FollowupStepRun.objects.filter(execution_id=execution.pk).exists()


def test_it_retries_with_backoff_then_fails_and_notifies_the_closer(org_a, fake_whatsapp):
    fake_whatsapp.errors = [
        ChannelError("HTTP 503", retryable=True) for _ in range(MAX_RETRIES + 1)
    ]
    sequence = make_sequence(org_a.org, steps=[WHATSAPP_STEP, EMAIL_STEP])
    lead = LeadFactory(organization=org_a.org, closer=org_a.closer)
    execution = make_execution(sequence, lead)

    for attempt in range(1, MAX_RETRIES + 1):
        now = timezone.now()
        stats = dispatch_due(now=now)
        assert stats.retried == 1
        execution.refresh_from_db()
        assert execution.status == ExecutionStatus.ACTIVE
        assert execution.tentativas == attempt
        assert execution.proxima_execucao == now + retry_delay(attempt)
        # Not due yet: nothing happens before the backoff has passed.
        assert dispatch_due(now=now).claimed == 0
        FollowupExecution.objects.filter(pk=execution.pk).update(proxima_execucao=now)

    stats = dispatch_due()

    assert stats.failed == 1
    assert len(fake_whatsapp.calls) == MAX_RETRIES + 1
    execution.refresh_from_db()
    assert execution.status == ExecutionStatus.FAILED
    assert execution.step_atual == 0
    assert execution.proxima_execucao is None
    assert execution.steps_executados[-1]["success"] is False
    assert events(execution) == [LogEvent.RETRIED] * MAX_RETRIES + [LogEvent.FAILED]
    failed = execution.logs.get(evento=LogEvent.FAILED)
    assert failed.level == "error"
    assert "HTTP 503" in failed.error
    notification = Notification.objects.get(recipient=org_a.closer, tipo="followup_failed")
    assert notification.payload["execution_id"] == str(execution.pk)
    assert mail.outbox == []  # the email step after it never runs


def test_it_retries_an_email_the_smtp_server_refused_for_now(org_a, monkeypatch):
    from followup.channels import EmailChannel

    def refuse(self, execution, lead, rendered):
        raise ChannelError("SMTP 451: try later", retryable=True)

    sequence = make_sequence(org_a.org)
    execution = make_execution(sequence, LeadFactory(organization=org_a.org))
    monkeypatch.setattr(EmailChannel, "build_message", refuse)

    assert dispatch_due().retried == 1
    execution.refresh_from_db()
    assert execution.tentativas == 1
    assert execution.status == ExecutionStatus.ACTIVE


def test_it_fails_at_once_on_a_permanent_error(org_a, fake_whatsapp):
    fake_whatsapp.errors = [ChannelError("(#131026) Message undeliverable", retryable=False)]
    sequence = make_sequence(org_a.org, steps=[WHATSAPP_STEP, EMAIL_STEP])
    lead = LeadFactory(organization=org_a.org)  # no closer: the managers are told
    execution = make_execution(sequence, lead)

    stats = dispatch_due()
    dispatch_due()

    assert stats.failed == 1
    assert stats.retried == 0
    assert len(fake_whatsapp.calls) == 1
    execution.refresh_from_db()
    assert execution.status == ExecutionStatus.FAILED
    recipients = set(
        Notification.objects.filter(tipo="followup_failed").values_list("recipient", flat=True)
    )
    assert recipients == {org_a.admin.pk, org_a.gestor.pk}


def test_it_treats_an_unexpected_channel_exception_as_retryable(org_a, fake_whatsapp):
    fake_whatsapp.errors = [RuntimeError("boom")]
    sequence = make_sequence(org_a.org, steps=[WHATSAPP_STEP])
    execution = make_execution(sequence, LeadFactory(organization=org_a.org))

    assert dispatch_due().retried == 1
    log = execution.logs.get(evento=LogEvent.RETRIED)
    assert "RuntimeError: boom" in log.error


def test_it_creates_a_task_for_the_closer_else_the_sdr_once(org_a):
    sequence = make_sequence(org_a.org, steps=[{**TASK_STEP, "delay_dias": 0}, CALL_STEP])
    with_closer = LeadFactory(organization=org_a.org, closer=org_a.closer, sdr=org_a.sdr)
    with_sdr = LeadFactory(organization=org_a.org, sdr=org_a.sdr, nome_completo="Bia Lima")
    first = make_execution(sequence, with_closer)
    second = make_execution(sequence, with_sdr)

    dispatch_due()

    task = Task.objects.get(lead=with_closer)
    assert task.responsavel == org_a.closer
    assert (task.origem, task.tipo, task.origem_ref) == (
        "followup",
        "tarefa",
        f"followup:{first.pk}:0",
    )
    other = Task.objects.get(lead=with_sdr)
    assert other.responsavel == org_a.sdr
    assert other.titulo == "Ligar para Bia Lima"
    # The next step (a call, one day later) creates a second task, with its own key.
    FollowupExecution.objects.filter(pk=second.pk).update(proxima_execucao=timezone.now())
    dispatch_due()
    call = Task.objects.get(lead=with_sdr, tipo="ligacao")
    assert call.titulo == "Ligação para Bia"
    assert call.origem_ref == f"followup:{second.pk}:1"


def test_it_skips_a_task_step_when_the_lead_has_nobody_to_do_it(org_a):
    sequence = make_sequence(org_a.org, steps=[{**TASK_STEP, "delay_dias": 0}])
    execution = make_execution(sequence, LeadFactory(organization=org_a.org))

    assert dispatch_due().skipped == 1
    assert not Task.objects.exists()
    assert execution.logs.filter(evento=LogEvent.SKIPPED).exists()


def test_it_follows_the_version_the_lead_was_enrolled_with(org_a):
    sequence = make_sequence(org_a.org, steps=[EMAIL_STEP, {**EMAIL_STEP, "delay_dias": 1}])
    old = make_execution(sequence, LeadFactory(organization=org_a.org))
    services.sequence_update(
        sequence=sequence,
        actor=None,
        data={"steps": [{**EMAIL_STEP, "assunto": "Novo assunto"}]},
    )
    sequence.refresh_from_db()
    new = make_execution(sequence, LeadFactory(organization=org_a.org))

    dispatch_due()

    subjects = sorted(message.subject for message in mail.outbox)
    assert subjects[0] == "Novo assunto"
    assert subjects[1].startswith("Oi ")
    old.refresh_from_db()
    new.refresh_from_db()
    assert (old.status, old.step_atual) == (ExecutionStatus.ACTIVE, 1)  # v1 had two steps
    assert new.status == ExecutionStatus.COMPLETED


def test_it_processes_many_executions_in_batches(org_a):
    sequence = make_sequence(org_a.org)
    leads = LeadFactory.create_batch(25, organization=org_a.org)
    for lead in leads:
        make_execution(sequence, lead)

    stats = dispatch_due(batch_size=10)

    assert stats.batches == 3
    assert stats.sent == 25
    assert len(mail.outbox) == 25
    assert sorted(m.to[0] for m in mail.outbox) == sorted(lead.email or "" for lead in leads)


def test_it_uses_next_send_time_for_the_first_step_on_enrollment(org_a):
    sequence = make_sequence(
        org_a.org,
        steps=[{**EMAIL_STEP, "delay_horas": 3}],
        whole_day=False,
        horario_envio_inicio=datetime.time(9, 0),
        horario_envio_fim=datetime.time(18, 0),
    )
    lead = LeadFactory(organization=org_a.org)

    before = timezone.now()
    result = services.followup_enroll_leads(sequence=sequence, leads=[lead], actor=None)

    execution = FollowupExecution.objects.get(pk=result.enrolled[0]["execution_id"])
    from followup.scheduling import build_policy

    policy = build_policy(sequence, org_a.org)
    expected_low = next_send_time(before + timedelta(hours=3), policy)
    assert execution.proxima_execucao is not None
    assert expected_low <= execution.proxima_execucao
    assert execution.proxima_execucao <= next_send_time(timezone.now() + timedelta(hours=3), policy)
