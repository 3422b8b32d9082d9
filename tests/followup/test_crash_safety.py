"""A worker dying at any point of a step never makes the step go out twice.

The crash is simulated by raising a BaseException at a named checkpoint of the engine (it
escapes every `except Exception`, and rolls back the open transaction exactly as a killed
process's connection would); the lease is then let expire and another pass runs.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from django.core import mail
from django.utils import timezone

from followup import engine
from followup.engine import LEASE, dispatch_due
from followup.models import (
    ExecutionStatus,
    FollowupExecution,
    FollowupStepRun,
    LogEvent,
    StepRunState,
)
from leads.models import Task
from tests.factories import LeadFactory
from tests.followup.factories import (
    EMAIL_STEP,
    TASK_STEP,
    WHATSAPP_STEP,
    make_execution,
    make_sequence,
)

pytestmark = pytest.mark.django_db


class SimulatedCrash(BaseException):
    pass


def crash_at(monkeypatch: pytest.MonkeyPatch, point: str) -> None:
    def checkpoint(name: str) -> None:
        if name == point:
            raise SimulatedCrash(name)

    monkeypatch.setattr(engine, "_checkpoint", checkpoint)


def after_lease() -> datetime:
    return timezone.now() + LEASE + timedelta(seconds=1)


def test_it_records_nothing_when_the_claim_transaction_dies(org_a, monkeypatch):
    sequence = make_sequence(org_a.org)
    execution = make_execution(sequence, LeadFactory(organization=org_a.org))
    crash_at(monkeypatch, "claimed")

    with pytest.raises(SimulatedCrash):
        dispatch_due()

    execution.refresh_from_db()
    assert execution.claimed_until is None  # rolled back: claimable right away
    assert not FollowupStepRun.objects.exists()
    assert mail.outbox == []
    monkeypatch.undo()
    assert dispatch_due().sent == 1
    assert len(mail.outbox) == 1


def test_it_sends_a_claimed_step_once_when_the_worker_died_before_sending(org_a, monkeypatch):
    sequence = make_sequence(org_a.org)
    execution = make_execution(sequence, LeadFactory(organization=org_a.org))
    crash_at(monkeypatch, "before_send")

    with pytest.raises(SimulatedCrash):
        dispatch_due()
    monkeypatch.undo()

    assert FollowupStepRun.objects.get(execution=execution).state == StepRunState.CLAIMED
    # The lease keeps other dispatchers away until it expires...
    assert dispatch_due().claimed == 0
    # ...then the step is performed (it never went out).
    assert dispatch_due(now=after_lease()).sent == 1
    assert len(mail.outbox) == 1
    execution.refresh_from_db()
    assert execution.status == ExecutionStatus.COMPLETED


@pytest.mark.parametrize("point", ["sent", "finished"])
def test_it_never_resends_an_email_whose_outcome_was_not_recorded(org_a, monkeypatch, point):
    sequence = make_sequence(org_a.org, steps=[EMAIL_STEP, {**EMAIL_STEP, "delay_dias": 1}])
    execution = make_execution(sequence, LeadFactory(organization=org_a.org))
    crash_at(monkeypatch, point)

    with pytest.raises(SimulatedCrash):
        dispatch_due()
    monkeypatch.undo()

    assert len(mail.outbox) == 1  # it went out, the outcome was lost with the worker
    assert FollowupStepRun.objects.get(execution=execution).state == StepRunState.SENDING
    assert dispatch_due().claimed == 0

    stats = dispatch_due(now=after_lease())

    assert stats.uncertain == 1
    assert stats.sent == 0
    assert len(mail.outbox) == 1  # not sent twice
    execution.refresh_from_db()
    assert execution.step_atual == 1
    assert execution.status == ExecutionStatus.ACTIVE
    log = execution.logs.get(evento=LogEvent.UNCERTAIN)
    assert log.level == "warning"
    assert log.step == 0
    run = FollowupStepRun.objects.get(execution=execution, step=0)
    assert (run.state, run.outcome) == (StepRunState.DONE, "uncertain")


@pytest.mark.parametrize("point", ["sent", "finished"])
def test_it_resends_an_idempotent_step_with_the_same_key(org_a, monkeypatch, fake_whatsapp, point):
    sequence = make_sequence(org_a.org, steps=[WHATSAPP_STEP])
    execution = make_execution(sequence, LeadFactory(organization=org_a.org))
    fake = fake_whatsapp
    crash_at(monkeypatch, point)

    with pytest.raises(SimulatedCrash):
        dispatch_due()
    # Only the crash checkpoint is undone; the fake channel stays registered.
    monkeypatch.setattr(engine, "_checkpoint", lambda name: None)

    stats = dispatch_due(now=after_lease())

    assert stats.sent == 1
    keys = [call["key"] for call in fake.calls]
    assert keys == [f"followup:{execution.pk}:0"] * 2  # called again, with the same key
    assert len(fake.delivered) == 1  # the provider delivered once
    execution.refresh_from_db()
    assert execution.status == ExecutionStatus.COMPLETED
    assert [entry["step"] for entry in execution.steps_executados] == [0]


def test_it_creates_the_task_of_a_crashed_step_once(org_a, monkeypatch):
    sequence = make_sequence(org_a.org, steps=[{**TASK_STEP, "delay_dias": 0}])
    lead = LeadFactory(organization=org_a.org, closer=org_a.closer)
    execution = make_execution(sequence, lead)
    crash_at(monkeypatch, "finished")

    with pytest.raises(SimulatedCrash):
        dispatch_due()
    monkeypatch.undo()
    assert Task.objects.filter(lead=lead).count() == 1

    assert dispatch_due(now=after_lease()).sent == 1

    assert Task.objects.filter(lead=lead).count() == 1
    execution.refresh_from_db()
    assert execution.status == ExecutionStatus.COMPLETED


def test_it_ignores_the_outcome_of_a_dispatcher_whose_lease_was_taken_over(
    org_a, monkeypatch, fake_whatsapp
):
    """A slow dispatcher (lease expired, step taken over) must not advance the step again."""
    sequence = make_sequence(org_a.org, steps=[WHATSAPP_STEP, {**WHATSAPP_STEP, "delay_dias": 1}])
    execution = make_execution(sequence, LeadFactory(organization=org_a.org))
    taken_over: list[Any] = []

    def slow_worker(name: str) -> None:
        if name == "sent" and not taken_over:
            taken_over.append(True)
            # While the first dispatcher is "stuck" after sending, another one runs after
            # the lease expired and finishes the step.
            assert dispatch_due(now=after_lease()).sent == 1

    monkeypatch.setattr(engine, "_checkpoint", slow_worker)
    dispatch_due()

    execution.refresh_from_db()
    assert execution.step_atual == 1  # advanced once, not twice
    assert len(execution.steps_executados) == 1
    assert execution.logs.filter(evento=LogEvent.EXECUTED).count() == 1
    assert len(fake_whatsapp.delivered) == 1


def test_an_expired_lease_is_the_only_way_back(org_a):
    sequence = make_sequence(org_a.org)
    execution = make_execution(sequence, LeadFactory(organization=org_a.org))
    FollowupExecution.objects.filter(pk=execution.pk).update(
        claimed_until=timezone.now() + timedelta(minutes=5)
    )

    assert dispatch_due().claimed == 0
    assert dispatch_due(now=timezone.now() + timedelta(minutes=6)).sent == 1
