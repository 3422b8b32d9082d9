"""Concurrent writers on real PostgreSQL connections: one row per month, one mentee per lead.

Each thread has its own database connection (Django connections are per thread); the tests
use `transactional_db` so that what one thread commits is visible to the others.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection, transaction
from rest_framework.test import APIClient

from leads import services as lead_services
from leads.models import Lead
from mentorados import services
from mentorados.models import EvolucaoFinanceira, Mentorado
from organizations.models import Membership
from tests.factories import LeadFactory
from tests.mentorados.factories import MentoradoFactory

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def run_together(*calls: Callable[[], Any]) -> list[Any]:
    """Start every call at the same moment, each on its own thread and connection."""
    barrier = threading.Barrier(len(calls))
    results: list[Any] = [None] * len(calls)
    errors: list[BaseException] = []

    def worker(index: int, call: Callable[[], Any]) -> None:
        try:
            barrier.wait(timeout=10)
            results[index] = call()
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(i, c)) for i, c in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert not errors, errors
    return results


def api_client(membership: Membership) -> APIClient:
    client = APIClient()
    client.force_authenticate(user=membership.user)
    client.credentials(HTTP_X_ORGANIZATION_ID=str(membership.organization_id))
    return client


def test_it_keeps_one_row_when_the_same_month_is_posted_concurrently(org_a):
    mentee = MentoradoFactory(organization=org_a.org, mentor=org_a.mentor)
    url = f"/api/v1/mentorados/{mentee.pk}/evolucao-financeira/"
    for mes in range(1, 7):  # several rounds to meet several interleavings

        def post(value: str, mes: int = mes) -> int:
            response = api_client(org_a.admin).post(
                url, {"ano": 2025, "mes": mes, "faturamento": value}, format="json"
            )
            return response.status_code

        statuses = run_together(lambda: post("1000"), lambda: post("2000"))
        assert sorted(statuses) == [200, 201], statuses
        rows = EvolucaoFinanceira.objects.filter(mentorado=mentee, ano=2025, mes=mes)
        assert rows.count() == 1
        mentee.refresh_from_db()
        assert mentee.faturamento_atual == rows.get().faturamento


def test_it_updates_the_row_a_concurrent_insert_created_before_committing():
    """Deterministic interleaving: the second upsert runs while the first is uncommitted, so
    its INSERT ... ON CONFLICT has to wait for the first and then update that row."""
    mentee = MentoradoFactory()
    inserted = threading.Event()
    outcome: dict[str, Any] = {}

    def first() -> None:
        with transaction.atomic():
            _row, outcome["first"] = services.evolucao_upsert(
                mentorado=mentee,
                actor=None,
                data={"ano": 2025, "mes": 3, "faturamento": Decimal("100"), "lucro": Decimal("7")},
            )
            inserted.set()
            # Hold the transaction open while the second writer collides with our row.
            threading.Event().wait(0.5)

    def second() -> None:
        inserted.wait(timeout=10)
        _row, outcome["second"] = services.evolucao_upsert(
            mentorado=mentee,
            actor=None,
            data={"ano": 2025, "mes": 3, "faturamento": Decimal("250")},
        )

    run_together(first, second)
    assert outcome == {"first": True, "second": False}
    row = EvolucaoFinanceira.objects.get(mentorado=mentee)
    assert (row.faturamento, row.lucro) == (Decimal("250.00"), Decimal("7.00"))
    mentee.refresh_from_db()
    assert mentee.faturamento_atual == Decimal("250.00")


def test_it_sees_every_concurrently_posted_month_in_the_figures(org_a):
    mentee = MentoradoFactory(organization=org_a.org)
    url = f"/api/v1/mentorados/{mentee.pk}/evolucao-financeira/"

    def post(mes: int, value: str) -> int:
        return (
            api_client(org_a.gestor)
            .post(url, {"ano": 2025, "mes": mes, "faturamento": value}, format="json")
            .status_code
        )

    statuses = run_together(lambda: post(1, "100"), lambda: post(2, "150"), lambda: post(3, "300"))
    assert statuses == [201, 201, 201]
    mentee.refresh_from_db()
    # Whoever recomputed last saw all three months (the mentee row lock orders them).
    assert mentee.faturamento_atual == Decimal("300.00")
    assert mentee.crescimento_percentual == Decimal("200.00")


def test_it_creates_one_mentee_under_concurrent_conversions_through_the_api(org_a):
    lead = LeadFactory(organization=org_a.org, closer=org_a.closer, status="negociacao")

    def close_won() -> int:
        return (
            api_client(org_a.closer)
            .post(
                f"/api/v1/leads/{lead.pk}/interactions/",
                {"tipo_interacao": "reuniao", "resultado": "fechamento_positivo"},
                format="json",
            )
            .status_code
        )

    def patch_status() -> int:
        return (
            api_client(org_a.gestor)
            .patch(f"/api/v1/leads/{lead.pk}/", {"status": "convertido"}, format="json")
            .status_code
        )

    statuses = run_together(close_won, close_won, patch_status, patch_status)
    assert statuses == [201, 201, 200, 200]
    assert Mentorado.objects.filter(lead=lead).count() == 1
    assert Lead.objects.get(pk=lead.pk).status == "convertido"


def test_it_creates_one_mentee_when_conversions_race_past_the_lead_lock(org_a):
    """The receiver alone (no lead row lock): the unique lead column decides."""
    lead = LeadFactory(organization=org_a.org, status="convertido")
    inserted = threading.Event()
    outcome: dict[str, Any] = {}

    def first() -> None:
        with transaction.atomic():
            mentee, outcome["first"] = services.mentorado_from_lead(lead=lead)
            outcome["first_id"] = mentee.pk
            inserted.set()
            threading.Event().wait(0.5)

    def second() -> None:
        inserted.wait(timeout=10)
        mentee, outcome["second"] = services.mentorado_from_lead(lead=lead)
        outcome["second_id"] = mentee.pk

    run_together(first, second)
    assert (outcome["first"], outcome["second"]) == (True, False)
    assert outcome["first_id"] == outcome["second_id"]
    assert Mentorado.objects.filter(lead=lead).count() == 1


def test_it_creates_one_mentee_when_the_service_converts_concurrently(org_a):
    lead = LeadFactory(organization=org_a.org, status="agendado")

    def convert() -> None:
        lead_services.lead_convert(lead=Lead.objects.get(pk=lead.pk), actor=org_a.closer)

    run_together(convert, convert, convert)
    assert Mentorado.objects.filter(lead=lead).count() == 1
