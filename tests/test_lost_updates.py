"""No lost updates: two requests updating the same row, each a different field, both survive.

The interleaving is forced rather than hoped for: the test holds the row's lock in its own
transaction, starts both requests (each on its own thread and database connection) and lets the
row go only once both are waiting on that lock. A service that writes back a copy read before
the lock (`save()` of every column) then undoes the other request's change every time; one that
locks, re-reads and writes only its fields keeps both.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection, transaction
from django.db.models import Model
from rest_framework.test import APIClient

from followup.models import FollowupSequence
from integrations.models import CRMConnection, WhatsAppAccount
from leads.models import Task
from organizations.models import Membership, Organization
from tests.factories import TaskFactory
from tests.followup.factories import make_sequence
from tests.integrations.factories import CRMConnectionFactory, WhatsAppAccountFactory

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

ROUNDS = 3  # the interleaving is forced each round; a few rounds cover both commit orders

Call = Callable[[], Any]


def _client(membership: Membership) -> APIClient:
    client = APIClient()
    client.force_authenticate(user=membership.user)
    client.credentials(HTTP_X_ORGANIZATION_ID=str(membership.organization_id))
    return client


def _waiting_on_locks() -> int:
    with connection.cursor() as cursor:
        # Statistics views are snapshotted once per transaction: drop that snapshot.
        cursor.execute("SELECT pg_stat_clear_snapshot()")
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
        return int(cursor.fetchone()[0])


def race_on_locked_row(row: Model, calls: list[Call]) -> list[Any]:
    """Run `calls` concurrently while `row` is locked; release it when all of them wait."""
    results: list[Any] = [None] * len(calls)
    errors: list[BaseException] = []

    def worker(index: int, call: Call) -> None:
        try:
            results[index] = call()
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(i, c)) for i, c in enumerate(calls)]
    with transaction.atomic():
        type(row)._default_manager.select_for_update().get(pk=row.pk)
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + 20
        while _waiting_on_locks() < len(calls):
            assert time.monotonic() < deadline, "the requests never reached the row lock"
            time.sleep(0.02)
    for thread in threads:
        thread.join(timeout=30)
    assert not errors, errors
    return results


def _patch(member: Membership, url: str, body: dict[str, Any]) -> Call:
    def call() -> int:
        response = _client(member).patch(url, body, format="json")
        assert response.status_code == 200, response.content
        return response.status_code

    return call


def test_a_member_deactivation_is_never_undone_by_a_concurrent_edit(org_a):
    for round_ in range(ROUNDS):
        member = Membership.objects.get(pk=org_a.closer.pk)
        Membership.objects.filter(pk=member.pk).update(ativo=True, tipo_closer="")
        url = f"/api/v1/members/{member.pk}/"

        def deactivate(url: str = url) -> int:
            return _client(org_a.admin).delete(url).status_code

        edit = _patch(org_a.admin, url, {"tipo_closer": f"high ticket {round_}"})
        assert race_on_locked_row(member, [deactivate, edit])[0] == 204
        member.refresh_from_db()
        assert (member.ativo, member.tipo_closer) == (False, f"high ticket {round_}")


def test_two_member_edits_of_different_fields_both_survive(org_a):
    member = org_a.sdr
    url = f"/api/v1/members/{member.pk}/"
    for round_ in range(ROUNDS):
        race_on_locked_row(
            member,
            [
                _patch(org_a.admin, url, {"nome_completo": f"Nome {round_}"}),
                _patch(org_a.admin, url, {"tipo_closer": f"tipo {round_}"}),
            ],
        )
        member.refresh_from_db()
        assert (member.nome_completo, member.tipo_closer) == (f"Nome {round_}", f"tipo {round_}")


def test_a_visibility_change_is_never_undone_by_a_concurrent_rename(org_a):
    url = "/api/v1/organization/"
    organization = org_a.org
    for round_ in range(ROUNDS):
        visibility = "atribuidos" if round_ % 2 == 0 else "todos"
        race_on_locked_row(
            organization,
            [
                _patch(org_a.admin, url, {"visibilidade_leads": visibility}),
                _patch(org_a.admin, url, {"nome": f"Mentoria {round_}"}),
            ],
        )
        organization = Organization.objects.get(pk=organization.pk)
        assert (organization.visibilidade_leads, organization.nome) == (
            visibility,
            f"Mentoria {round_}",
        )


def test_two_task_edits_of_different_fields_both_survive(org_a):
    task = TaskFactory(responsavel=org_a.closer)
    url = f"/api/v1/tasks/{task.pk}/"
    for round_ in range(ROUNDS):
        race_on_locked_row(
            task,
            [
                _patch(org_a.closer, url, {"titulo": f"Ligar {round_}"}),
                _patch(org_a.gestor, url, {"descricao": f"Detalhe {round_}"}),
            ],
        )
        task = Task.objects.get(pk=task.pk)
        assert (task.titulo, task.descricao) == (f"Ligar {round_}", f"Detalhe {round_}")


def test_two_whatsapp_account_edits_both_survive(org_a):
    account = WhatsAppAccountFactory(organization=org_a.org, ativo=True, auto_criar_leads=False)
    url = f"/api/v1/integrations/whatsapp-accounts/{account.pk}/"
    for round_ in range(ROUNDS):
        ativo, auto = round_ % 2 == 1, round_ % 2 == 0
        race_on_locked_row(
            account,
            [
                _patch(org_a.admin, url, {"ativo": ativo}),
                _patch(org_a.admin, url, {"auto_criar_leads": auto}),
            ],
        )
        account = WhatsAppAccount.objects.get(pk=account.pk)
        assert (account.ativo, account.auto_criar_leads) == (ativo, auto)


def test_a_crm_connection_deactivation_survives_a_concurrent_edit(org_a):
    crm = CRMConnectionFactory(organization=org_a.org, ativo=True)
    url = f"/api/v1/integrations/crm-connections/{crm.pk}/"
    for round_ in range(ROUNDS):
        CRMConnection.objects.filter(pk=crm.pk).update(ativo=True)
        race_on_locked_row(
            crm,
            [
                _patch(org_a.admin, url, {"ativo": False}),
                _patch(org_a.admin, url, {"token": f"novo-token-{round_}"}),
            ],
        )
        crm = CRMConnection.objects.get(pk=crm.pk)
        assert (crm.ativo, crm.token) == (False, f"novo-token-{round_}")


def test_a_sequence_deactivation_survives_a_concurrent_rename(org_a):
    sequence = make_sequence(org_a.org, ativo=True)
    url = f"/api/v1/followup/sequences/{sequence.pk}/"
    for round_ in range(ROUNDS):
        FollowupSequence.objects.filter(pk=sequence.pk).update(ativo=True)
        race_on_locked_row(
            sequence,
            [
                _patch(org_a.gestor, url, {"ativo": False}),
                _patch(org_a.gestor, url, {"nome": f"Sequência {round_}"}),
            ],
        )
        sequence = FollowupSequence.objects.get(pk=sequence.pk)
        assert (sequence.ativo, sequence.nome) == (False, f"Sequência {round_}")
