"""Concurrency against real PostgreSQL: dispatchers in threads and in separate processes
never send a step twice; concurrent enrollments of one lead give one execution."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
import uuid
from collections import Counter
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.conf import settings
from django.core import mail
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from followup import services
from followup.engine import DispatchStats, dispatch_due
from followup.models import (
    ExecutionStatus,
    FollowupExecution,
    FollowupSequenceVersion,
    FollowupStepRun,
)
from leads.models import Lead
from tests.factories import LeadFactory
from tests.followup.factories import EMAIL_STEP, make_execution, make_sequence
from tests.followup.smtp_stub import smtp_port, smtp_server

THREADS = 4


def run_in_threads(count: int, target: Callable[[], Any]) -> list[Any]:
    """Start `count` threads released together; each closes its own DB connection."""
    barrier = threading.Barrier(count)
    results: list[Any] = []
    errors: list[BaseException] = []

    def body() -> None:
        try:
            barrier.wait(timeout=30)
            results.append(target())
        except BaseException as exc:  # reported below, never swallowed
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=body) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors
    return results


def due_executions(organization: Any, count: int, steps: list[dict[str, Any]]) -> list[Lead]:
    sequence = make_sequence(organization, steps=steps)
    version = FollowupSequenceVersion.objects.get(sequence=sequence, numero=1)
    leads = [
        Lead(
            organization=organization,
            nome_completo=f"Lead {n}",
            email=f"concorrente{n}@cliente.com.br",
        )
        for n in range(count)
    ]
    Lead.objects.bulk_create(leads)
    past = timezone.now() - timedelta(minutes=1)
    FollowupExecution.objects.bulk_create(
        FollowupExecution(
            organization=organization,
            sequence=sequence,
            versao=version,
            lead=lead,
            proxima_execucao=past,
        )
        for lead in leads
    )
    return leads


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_it_sends_each_step_once_with_dispatchers_in_threads(org_a):
    leads = due_executions(org_a.org, 240, [EMAIL_STEP])

    stats: list[DispatchStats] = run_in_threads(THREADS, lambda: dispatch_due(batch_size=10))

    recipients = Counter(message.to[0] for message in mail.outbox)
    assert len(mail.outbox) == 240
    assert set(recipients) == {lead.email for lead in leads}
    assert max(recipients.values()) == 1
    assert sum(s.sent for s in stats) == 240
    assert FollowupStepRun.objects.count() == 240
    assert FollowupExecution.objects.filter(status=ExecutionStatus.COMPLETED).count() == 240


def _database_url() -> str:
    db = connection.settings_dict
    user = db.get("USER") or "postgres"
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    host = db.get("HOST") or "127.0.0.1"
    port = db.get("PORT") or 5432
    return f"postgres://{user}{password}@{host}:{port}/{db['NAME']}"


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_two_dispatcher_processes_deliver_each_email_once_over_smtp(org_a):
    count = 300
    leads = due_executions(org_a.org, count, [EMAIL_STEP])
    with smtp_server() as (controller, handler):
        env = {
            **os.environ,
            "DATABASE_URL": _database_url(),
            "REDIS_URL": settings.REDIS_URL,
            "EMAIL_URL": f"smtp://127.0.0.1:{smtp_port(controller)}",
            "LOG_LEVEL": "WARNING",
        }
        command = [
            sys.executable,
            str(settings.BASE_DIR / "manage.py"),
            "dispatch_followups",
            "--batch-size",
            "15",
        ]
        processes = [
            subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            for _ in range(2)
        ]
        outputs = [process.communicate(timeout=300) for process in processes]
        received = list(handler.received)

    for process, (_out, err) in zip(processes, outputs, strict=True):
        assert process.returncode == 0, err.decode()
    sent = [int(re.search(rb"\bsent=(\d+)", out).group(1)) for out, _err in outputs]  # type: ignore[union-attr]
    assert sum(sent) == count
    assert len(received) == count
    message_ids = Counter(item.message["Message-ID"] for item in received)
    assert len(message_ids) == count
    assert max(message_ids.values()) == 1
    assert sorted(r for item in received for r in item.rcpt_tos) == sorted(
        lead.email or "" for lead in leads
    )
    assert FollowupExecution.objects.filter(status=ExecutionStatus.COMPLETED).count() == count


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_concurrent_manual_enrollments_of_one_lead_give_one_execution(org_a):
    sequence = make_sequence(org_a.org)
    lead = LeadFactory(organization=org_a.org)

    results = run_in_threads(
        THREADS,
        lambda: services.followup_enroll_leads(sequence=sequence, leads=[lead], actor=None),
    )

    assert FollowupExecution.objects.filter(sequence=sequence, lead=lead).count() == 1
    enrolled = [r for result in results for r in result.enrolled]
    skipped = [r for result in results for r in result.skipped]
    assert len(enrolled) == 1
    assert [s["reason"] for s in skipped] == ["already_enrolled"] * (THREADS - 1)


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_concurrent_inserts_past_every_check_still_give_one_execution(org_a):
    """Both enrollments pass the 'already enrolled?' checks; the partial unique constraint
    with ON CONFLICT DO NOTHING is what keeps one row."""
    sequence = make_sequence(org_a.org)
    lead = LeadFactory(organization=org_a.org)
    version = FollowupSequenceVersion.objects.get(sequence=sequence, numero=1)

    def insert() -> list[uuid.UUID]:
        return services._insert_executions(
            sequence=sequence,
            version=version,
            lead_ids=[lead.pk],
            due=timezone.now(),
            actor=None,
        )

    run_in_threads(THREADS, insert)

    assert FollowupExecution.objects.filter(sequence=sequence, lead=lead).count() == 1


@pytest.mark.django_db
def test_the_database_refuses_a_second_unfinished_execution(org_a):
    sequence = make_sequence(org_a.org)
    lead = LeadFactory(organization=org_a.org)
    make_execution(sequence, lead)
    with pytest.raises(IntegrityError), transaction.atomic():
        make_execution(sequence, lead, status=ExecutionStatus.PAUSED)
    # A finished one does not count: the lead may be enrolled again.
    FollowupExecution.objects.filter(lead=lead).update(status=ExecutionStatus.COMPLETED)
    make_execution(sequence, lead)
    assert FollowupExecution.objects.filter(lead=lead).count() == 2
