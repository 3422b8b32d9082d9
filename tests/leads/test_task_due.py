"""task_due: the responsável is notified once per task when its vencimento passes."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from leads.jobs import notify_due_tasks
from leads.reminders import task_due_key, tasks_notify_due
from organizations.models import Notification
from tests.factories import LeadFactory, MembershipFactory, TaskFactory


def overdue(**fields):
    fields.setdefault("vencimento", timezone.now() - timedelta(minutes=10))
    return TaskFactory(**fields)


@pytest.mark.django_db
def test_it_notifies_the_responsavel_of_an_overdue_task(org_a):
    lead = LeadFactory(organization=org_a.org)
    task = overdue(responsavel=org_a.closer, lead=lead, titulo="Ligar para a Ana")
    assert notify_due_tasks() == 1
    notification = Notification.objects.get()
    assert notification.recipient == org_a.closer
    assert notification.organization == org_a.org
    assert notification.tipo == "task_due"
    assert notification.titulo == "Tarefa vencida: Ligar para a Ana"
    assert notification.chave == f"task_due:{task.pk.hex}" == task_due_key(task.pk)
    assert notification.payload == {
        "task_id": str(task.pk),
        "lead_id": str(lead.pk),
        "vencimento": task.vencimento.isoformat(),
    }
    assert notification.read_at is None


@pytest.mark.django_db
def test_it_notifies_once_however_often_it_runs(org_a):
    overdue(responsavel=org_a.closer)
    overdue(responsavel=org_a.sdr, lead=None)
    assert notify_due_tasks() == 2
    assert notify_due_tasks() == 0
    assert notify_due_tasks() == 0
    assert Notification.objects.count() == 2
    # Reading it does not bring it back.
    Notification.objects.update(read_at=timezone.now())
    assert notify_due_tasks() == 0


@pytest.mark.django_db
def test_it_notifies_only_pending_tasks_whose_vencimento_passed(org_a):
    now = timezone.now()
    due = overdue(responsavel=org_a.closer, vencimento=now - timedelta(seconds=1))
    overdue(responsavel=org_a.closer, vencimento=now + timedelta(minutes=1))
    overdue(responsavel=org_a.closer, vencimento=None)
    overdue(responsavel=org_a.closer, status="concluida")
    overdue(responsavel=org_a.closer, status="cancelada")
    assert tasks_notify_due(now=now) == {str(org_a.org.pk): 1}
    assert Notification.objects.get().payload["task_id"] == str(due.pk)


@pytest.mark.django_db
def test_it_notifies_a_task_exactly_at_its_vencimento(org_a):
    now = timezone.now()
    overdue(responsavel=org_a.closer, vencimento=now)
    assert sum(tasks_notify_due(now=now).values()) == 1


@pytest.mark.django_db
def test_it_skips_inactive_members(org_a):
    org_a.closer.ativo = False
    org_a.closer.save()
    overdue(responsavel=org_a.closer)
    assert notify_due_tasks() == 0
    assert not Notification.objects.exists()


@pytest.mark.django_db
def test_it_notifies_each_organization_its_own_tasks(org_a, org_b):
    overdue(responsavel=org_a.closer)
    overdue(responsavel=org_b.closer)
    overdue(responsavel=org_b.gestor)
    assert tasks_notify_due() == {str(org_a.org.pk): 1, str(org_b.org.pk): 2}
    assert set(Notification.objects.values_list("organization_id", "recipient_id")) == {
        (org_a.org.pk, org_a.closer.pk),
        (org_b.org.pk, org_b.closer.pk),
        (org_b.org.pk, org_b.gestor.pk),
    }


@pytest.mark.django_db
def test_it_notifies_a_new_responsavel_once_too(org_a):
    task = overdue(responsavel=org_a.closer)
    notify_due_tasks()
    task.responsavel = org_a.sdr
    task.save()
    assert notify_due_tasks() == 1
    assert notify_due_tasks() == 0
    assert set(Notification.objects.values_list("recipient_id", flat=True)) == {
        org_a.closer.pk,
        org_a.sdr.pk,
    }


@pytest.mark.django_db
def test_it_works_in_batches_with_a_constant_number_of_queries(org_a):
    for _ in range(7):
        overdue(responsavel=org_a.closer)
    with CaptureQueriesContext(connection) as few:
        assert sum(tasks_notify_due(batch_size=100).values()) == 7
    Notification.objects.all().delete()
    for _ in range(30):
        overdue(responsavel=org_a.sdr)
    with CaptureQueriesContext(connection) as many:
        assert sum(tasks_notify_due(batch_size=100).values()) == 37
    assert len(many) == len(few)
    Notification.objects.all().delete()
    # Smaller batches: one select and one insert per batch, and every task still once.
    assert sum(tasks_notify_due(batch_size=5).values()) == 37
    assert Notification.objects.count() == 37


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_it_notifies_once_under_concurrent_runs():
    member = MembershipFactory()
    tasks = [overdue(responsavel=member) for _ in range(40)]
    start = threading.Barrier(4)
    errors: list[BaseException] = []

    def run() -> None:
        try:
            start.wait()
            tasks_notify_due(batch_size=7)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert Notification.objects.count() == len(tasks)
    assert set(Notification.objects.values_list("chave", flat=True)) == {
        task_due_key(task.pk) for task in tasks
    }
