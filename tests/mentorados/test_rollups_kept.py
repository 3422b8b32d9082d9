"""Mentee rollups: backfill, deleting an organization, concurrent writers, queries, tenancy."""

from __future__ import annotations

import io
import threading
import time
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import pytest
from django.core.management import call_command
from django.db import connection, connections, transaction
from django.db.models import Model
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from mentorados import rollups, services
from mentorados.models import (
    Mentorado,
    MentoradoRollupDay,
    MentoradoRollupFeedbackDay,
    MentoradoRollupMonth,
    MentoradoRollupState,
)
from mentorados.selectors import mentorado_dashboard
from organizations.models import Organization
from tests.factories import OrganizationFactory
from tests.mentorados.factories import EvolucaoFactory, FeedbackFactory, MentoradoFactory
from tests.mentorados.test_rollups import assert_rollups_match

TODAY = date(2026, 3, 15)
ROLLUPS: list[type[Model]] = [
    MentoradoRollupState,
    MentoradoRollupDay,
    MentoradoRollupMonth,
    MentoradoRollupFeedbackDay,
]


def build(organization: Organization) -> None:
    active = MentoradoFactory(
        organization=organization,
        data_inicio=date(2025, 5, 2),
        faturamento_atual=Decimal("1200.50"),
        crescimento_percentual=Decimal("12.25"),
        engagement_score=60,
    )
    cancelled = MentoradoFactory(
        organization=organization,
        status="cancelado",
        data_inicio=date(2025, 1, 10),
        data_fim=date(2026, 2, 3),
    )
    MentoradoFactory(organization=organization, data_inicio=date(2026, 4, 1))  # future start
    for who, mes in [(active, 1), (active, 2), (cancelled, 1)]:
        EvolucaoFactory(mentorado=who, ano=2026, mes=mes, faturamento=Decimal("1000.10") * mes)
    FeedbackFactory(mentorado=active, data_feedback=date(2026, 3, 1), nota_nps=10, nota_geral=9)
    FeedbackFactory(mentorado=cancelled, data_feedback=date(2026, 1, 1), nota_nps=3, nota_geral=2)


def rollup_rows(organization: Organization) -> dict[str, list[tuple[Any, ...]]]:
    """Each rollup's figures per key, summed over shards, zero rows left out."""
    found = {}
    for model in ROLLUPS:
        names = [
            f.name for f in model._meta.fields if f.name not in ("id", "organization_id", "shard")
        ]
        rows: dict[tuple[Any, ...], list[Any]] = {}
        for values in model._default_manager.filter(organization_id=organization.pk).values_list(
            *names
        ):
            key = tuple(v for n, v in zip(names, values, strict=True) if n in ("dia", "ano", "mes"))
            sums = [v for n, v in zip(names, values, strict=True) if n not in ("dia", "ano", "mes")]
            current = rows.setdefault(key, [0] * len(sums))
            rows[key] = [a + b for a, b in zip(current, sums, strict=True)]
        found[model.__name__] = sorted(
            (key, tuple(sums)) for key, sums in rows.items() if any(sums)
        )
    return found


@pytest.mark.django_db
def test_the_backfill_rebuilds_the_same_rollups_and_can_be_rerun(org_a: Any, org_b: Any) -> None:
    build(org_a.org)
    build(org_b.org)
    Mentorado.objects.filter(organization=org_a.org).update(engagement_score=80)
    kept = rollup_rows(org_a.org)
    assert kept["MentoradoRollupState"] != []
    MentoradoRollupState.objects.filter(organization_id=org_a.org.pk).update(total=999)

    written = rollups.backfill(organization_ids=[org_a.org.pk], log=lambda line: None)
    assert rollup_rows(org_a.org) == kept
    assert MentoradoRollupState.objects.filter(organization_id=org_a.org.pk).count() == 1
    assert written == sum(len(rows) for rows in kept.values())
    assert rollups.backfill(organization_ids=[org_a.org.pk], log=lambda line: None) == written
    assert rollup_rows(org_a.org) == kept
    assert_rollups_match(org_a.org, org_b.org)

    for model in ROLLUPS:
        model._default_manager.all().delete()
    output = io.StringIO()
    call_command("rollups_backfill", stdout=output)
    assert "mentorados:" in output.getvalue()
    assert rollup_rows(org_a.org) == kept
    assert_rollups_match(org_a.org, org_b.org)


@pytest.mark.django_db
def test_an_organization_deleted_leaves_no_rollup_behind() -> None:
    organization = OrganizationFactory()
    build(organization)
    organization_id = organization.pk
    assert MentoradoRollupMonth.objects.filter(organization_id=organization_id).exists()
    organization.delete()
    for model in ROLLUPS:
        assert not model._default_manager.filter(organization_id=organization_id).exists()


@pytest.mark.django_db(transaction=True)
def test_concurrent_writers_of_one_organization_are_all_counted() -> None:
    """Threads on PostgreSQL, each its own connection, update mentees of one organization in
    overlapping transactions: every change lands in the rollups."""
    organization = OrganizationFactory()
    mentees = [
        MentoradoFactory(organization=organization, engagement_score=10).pk for _ in range(12)
    ]
    barrier = threading.Barrier(4)
    errors: list[BaseException] = []

    def write(worker: int) -> None:
        try:
            barrier.wait()
            for pk in mentees[worker::4]:
                with transaction.atomic():
                    Mentorado.objects.filter(pk=pk).update(engagement_score=90, status="pausado")
                    MentoradoFactory(organization=organization, data_inicio=date(2026, 1, 1))
        except BaseException as exc:
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=write, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    figures = mentorado_dashboard(organization=organization, today=TODAY, from_rollups=True)
    assert figures["overview"]["total"] == 24
    assert figures["overview"]["pausados"] == 12
    assert figures["overview"]["novos_no_periodo"] == 12
    assert_rollups_match(organization)


@pytest.mark.django_db(transaction=True)
def test_a_rebuild_gives_way_to_a_writer_in_flight_instead_of_deadlocking_it() -> None:
    """A writer holds `mentorado_evolucao_financeira` and then needs `mentorados` (as
    evolucao_upsert does) while the rebuild holds `mentorados` and waits for the reports: the
    rebuild times out first, the writer commits, the rebuild retries and counts its write."""
    organization = OrganizationFactory()
    build(organization)
    mentee = Mentorado.objects.filter(organization=organization).order_by("pk").first()
    assert mentee is not None
    holding = threading.Event()
    errors: list[BaseException] = []

    def writer() -> None:
        try:
            with transaction.atomic():
                EvolucaoFactory(mentorado=mentee, ano=2026, mes=3, faturamento=Decimal("7.00"))
                holding.set()
                time.sleep(0.3)  # the rebuild now holds mentorados and waits for the reports
                Mentorado.objects.filter(pk=mentee.pk).update(engagement_score=99)
        except BaseException as exc:
            errors.append(exc)
        finally:
            connections.close_all()

    thread = threading.Thread(target=writer)
    thread.start()
    assert holding.wait(timeout=10)
    logged: list[str] = []
    rollups.backfill(organization_ids=[organization.pk], log=logged.append)
    thread.join()
    assert errors == []
    assert any("retried" in line for line in logged)
    assert Mentorado.objects.get(pk=mentee.pk).engagement_score == 99
    assert_rollups_match(organization)


@pytest.mark.django_db
def test_the_daily_engagement_job_is_counted(org_a: Any) -> None:
    build(org_a.org)
    MentoradoFactory.create_batch(3, organization=org_a.org, engagement_score=100)
    run = services.engagement_recalculate(organization=org_a.org, today=TODAY)
    assert run.changed >= 4
    assert_rollups_match(org_a.org)


@pytest.mark.django_db
def test_the_dashboard_reads_the_four_rollups_in_one_statement(org_a: Any, org_b: Any) -> None:
    build(org_a.org)
    with CaptureQueriesContext(connection) as queries:
        mentorado_dashboard(organization=org_a.org, period=36, today=TODAY)
    assert len(queries) == 1
    tables = ["state", "days", "months", "feedback_days"]
    assert all(f"mentorado_rollup_{table}" in queries[0]["sql"] for table in tables)


@pytest.mark.django_db
def test_another_organizations_rows_are_never_counted(org_a: Any, org_b: Any) -> None:
    build(org_a.org)
    theirs = mentorado_dashboard(organization=org_b.org, period=36, today=TODAY)
    assert theirs["overview"]["total"] == 0
    assert theirs["growth"]["meses"][-2]["mentorados_reportando"] == 0
    assert theirs["satisfaction"]["total_respostas"] == 0
    mine = mentorado_dashboard(organization=org_a.org, period=36, today=TODAY)
    assert mine["overview"]["total"] == 3
    assert mine["satisfaction"]["total_respostas"] == 2
    assert_rollups_match(org_a.org, org_b.org)


@pytest.mark.django_db
def test_the_api_gives_the_moment_the_figures_are_exact_as_of(org_a: Any, client_for: Any) -> None:
    build(org_a.org)
    before = timezone.now()
    body = client_for(org_a.admin).get("/api/v1/mentorados/dashboard/").json()
    assert before <= datetime.fromisoformat(body["atualizado_em"]) <= timezone.now()
    assert body["overview"]["total"] == 3
