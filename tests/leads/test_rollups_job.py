"""Sales dashboard rollups: the marks the triggers write, the job, the backfill and its command
(leads/rollups.py, migration 0020). PostgreSQL only."""

from __future__ import annotations

import io
import threading
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.db import connection, connections, transaction
from django.db.models import F
from django.utils import timezone

from leads import jobs, rollups
from leads.models import (
    ROLLUP_MEASURES,
    Lead,
    LeadDailyRollup,
    LeadInteraction,
    LeadRollupMark,
    LeadStatusChange,
)
from organizations.models import Organization
from tests.conftest import make_org
from tests.factories import InteractionFactory, LeadFactory

pytestmark = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="rollups are PostgreSQL only"
)


def ago(days: float) -> Any:
    return timezone.now() - timedelta(days=days)


ROW_FIELDS = ("day", "hour", "grain", "closer_id", "sdr_id", "author_id", *ROLLUP_MEASURES)


def rollup_rows(organization: Organization) -> list[tuple[Any, ...]]:
    rows = LeadDailyRollup.objects.filter(organization_id=organization.pk).values_list(*ROW_FIELDS)
    return sorted(rows, key=repr)


def history(org: Any) -> None:
    """A few leads of org with moves, a conversion, reassignments and interactions."""
    organization = org.org
    for n, (created, moves) in enumerate(
        [(40, ["novo", "em_contato", "qualificado"]), (3, ["novo", "perdido"]), (0.2, ["novo"])]
    ):
        lead = LeadFactory(
            organization=organization, created_at=ago(created), closer=org.closer, sdr=org.sdr
        )
        for step, status in enumerate(moves):
            LeadStatusChange.objects.create(
                organization=organization,
                lead=lead,
                to_status=status,
                changed_at=ago(created - step * created / 4),
            )
        InteractionFactory(lead=lead, closer=org.closer, data_interacao=ago(created / 2 + n))
    won = Lead.objects.filter(organization=organization).order_by("created_at").first()
    assert won is not None
    Lead.objects.filter(pk=won.pk).update(
        status="convertido", converted_at=ago(1), valor_fechado=Decimal("1500.00")
    )
    Lead.objects.filter(organization=organization, sdr=org.sdr).update(closer=None)


@pytest.mark.django_db
def test_the_job_builds_the_rows_the_backfill_builds(org_a: Any, org_b: Any) -> None:
    history(org_a)
    history(org_b)
    assert LeadRollupMark.objects.filter(organization_id=org_a.org.pk).exists()
    assert jobs.refresh_rollups() > 0
    assert not LeadRollupMark.objects.exists()
    by_job = rollup_rows(org_a.org)
    assert by_job
    assert rollup_rows(org_b.org)

    written = rollups.backfill(organization_ids=[org_a.org.pk], log=lambda line: None)
    assert written == len(by_job)
    assert rollup_rows(org_a.org) == by_job
    rollups.backfill(organization_ids=None, log=lambda line: None)  # twice: the same rows
    assert rollup_rows(org_a.org) == by_job


@pytest.mark.django_db
def test_the_backfill_leaves_the_organization_clean_and_others_marked(
    org_a: Any, org_b: Any
) -> None:
    # Data loaded before a backfill (an import, the bench data set) marked its days; the
    # rebuilt rows cover them, so the dashboard must not fall back to raw rows for them.
    history(org_a)
    history(org_b)
    assert LeadRollupMark.objects.filter(organization_id=org_a.org.pk).exists()
    rollups.backfill(organization_ids=[org_a.org.pk], log=lambda line: None)
    assert not LeadRollupMark.objects.filter(organization_id=org_a.org.pk).exists()
    assert LeadRollupMark.objects.filter(organization_id=org_b.org.pk).exists()
    rows = rollup_rows(org_a.org)
    jobs.refresh_rollups()  # what the job would have done: the same rows
    assert rollup_rows(org_a.org) == rows


@pytest.mark.django_db
def test_the_job_is_idempotent_and_marks_only_what_changes(org_a: Any) -> None:
    history(org_a)
    jobs.refresh_rollups()
    rows = rollup_rows(org_a.org)
    assert jobs.refresh_rollups() == 0
    assert rollup_rows(org_a.org) == rows
    # Writes that change no figure mark nothing: a name, a search field, a status note.
    lead = Lead.objects.filter(organization=org_a.org).first()
    assert lead is not None
    lead.nome_completo = "Outro Nome"
    lead.save()
    LeadStatusChange.objects.filter(lead=lead).update(motivo="nota")
    assert not LeadRollupMark.objects.exists()
    lead.lead_score = 77
    lead.save()
    assert LeadRollupMark.objects.get().day == lead.created_at.date()


@pytest.mark.django_db
def test_an_organization_deleted_leaves_no_rollups_behind(org_a: Any) -> None:
    history(org_a)
    jobs.refresh_rollups()
    history(org_a)
    org_id = org_a.org.pk
    org_a.org.delete()
    assert not LeadDailyRollup.objects.filter(organization_id=org_id).exists()
    assert not LeadRollupMark.objects.filter(organization_id=org_id).exists()


@pytest.mark.django_db
def test_the_command_backfills_one_organization_and_refuses_an_unknown_one(org_a: Any) -> None:
    history(org_a)
    out = io.StringIO()
    call_command("rollups_backfill", "--organization", org_a.org.slug, stdout=out)
    assert "leads: " in out.getvalue()
    rows = rollup_rows(org_a.org)
    assert rows
    jobs.refresh_rollups()  # the marks left by the writes recompute the same figures
    assert rollup_rows(org_a.org) == rows
    with pytest.raises(CommandError, match="nao-existe"):
        call_command("rollups_backfill", "--organization", "nao-existe")


def _in_thread(work: Any) -> None:
    errors: list[BaseException] = []

    def run() -> None:
        try:
            work()
        except BaseException as exc:
            errors.append(exc)
        finally:
            connections.close_all()

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    assert not errors, errors


@pytest.mark.django_db(transaction=True)
def test_a_second_run_while_one_holds_the_lock_does_nothing() -> None:
    org = make_org()
    history(org)
    marks = LeadRollupMark.objects.count()
    holding, release = threading.Event(), threading.Event()
    results: list[int] = []

    def hold() -> None:
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_xact_lock(%s)", [rollups.LOCK_KEY])
            holding.set()
            release.wait(10)

    def second_run() -> None:
        holding.wait(10)
        results.append(rollups.refresh_marked())
        release.set()

    threads = [threading.Thread(target=hold), threading.Thread(target=second_run)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    connections.close_all()
    assert results == [0]
    assert LeadRollupMark.objects.count() == marks
    assert rollups.refresh_marked() > 0
    assert not LeadRollupMark.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_a_write_during_the_job_keeps_its_mark(monkeypatch: pytest.MonkeyPatch) -> None:
    org = make_org()
    history(org)
    lead = Lead.objects.filter(organization=org.org).first()
    assert lead is not None
    original = rollups.recompute
    written: list[uuid.UUID] = []

    def recompute_with_a_write(organization_id: uuid.UUID, days: Any, hours: Any) -> int:
        if not written:  # another connection logs an interaction on a day being recomputed
            _in_thread(
                lambda: written.append(
                    InteractionFactory(lead=lead, closer=org.closer, data_interacao=ago(0.2)).pk
                )
            )
        return original(organization_id, days, hours)

    monkeypatch.setattr(rollups, "recompute", recompute_with_a_write)
    rollups.refresh_marked(budget_seconds=0)  # one batch
    monkeypatch.setattr(rollups, "recompute", original)
    assert LeadInteraction.objects.filter(pk=written[0]).exists()
    assert LeadRollupMark.objects.filter(day=ago(0.2).date()).exists()  # the write's mark
    jobs.refresh_rollups()  # the marks, then the edge days' hour rows (as the backfill)
    rows = rollup_rows(org.org)
    rollups.backfill(organization_ids=[org.org.pk], log=lambda line: None)
    assert rollup_rows(org.org) == rows


@pytest.mark.django_db
def test_many_marked_days_rebuild_the_whole_history_to_the_same_rows(
    org_a: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    history(org_a)
    rollups.backfill(organization_ids=[org_a.org.pk], log=lambda line: None)
    rows = rollup_rows(org_a.org)
    Lead.objects.filter(organization=org_a.org).update(lead_score=13)  # a bulk score change
    assert LeadRollupMark.objects.count() >= 2
    monkeypatch.setattr(rollups, "WHOLE_ABOVE_DAYS", 1)
    jobs.refresh_rollups()
    monkeypatch.undo()
    rebuilt = rollup_rows(org_a.org)
    assert rebuilt != rows  # the scores moved
    rollups.backfill(organization_ids=[org_a.org.pk], log=lambda line: None)
    assert rollup_rows(org_a.org) == rebuilt


@pytest.mark.django_db
def test_the_job_keeps_hour_rows_for_the_windows_edge_days_only(org_a: Any, org_b: Any) -> None:
    today = timezone.now().date()
    tomorrow = today + timedelta(days=1)
    assert {today, tomorrow, today - timedelta(days=30)} <= set(rollups.edge_days(today))
    built = LeadDailyRollup.objects.filter(grain=rollups.HOURS_BUILT)
    organizations = Organization.objects.count()  # org_a, org_b and any other present
    assert rollups.refresh_edge_hours(today=today) == organizations * len(rollups.edge_days(today))
    for org in (org_a, org_b):
        days = set(built.filter(organization_id=org.org.pk).values_list("day", flat=True))
        assert days == set(rollups.edge_days(today))
    assert rollups.refresh_edge_hours(today=today) == 0  # built: nothing to do
    # A lead created on a start day (30 days ago): the job's recompute of its marked day
    # rebuilds that day's hour rows too.
    start = timezone.now() - timedelta(days=30)
    LeadFactory(organization=org_a.org, created_at=start)
    hours = LeadDailyRollup.objects.filter(
        organization_id=org_a.org.pk, grain=rollups.HOUR, day=start.date()
    )
    assert not hours.filter(created__gt=0).exists()
    jobs.refresh_rollups()
    assert list(hours.filter(created__gt=0).values_list("hour", "created")) == [(start.hour, 1)]
    # The next day: yesterday's edge days that are no longer one lose their hour rows.
    rollups.refresh_edge_hours(today=tomorrow)
    days = set(built.filter(organization_id=org_a.org.pk).values_list("day", flat=True))
    assert days == set(rollups.edge_days(tomorrow))
    assert not LeadDailyRollup.objects.filter(
        grain__gte=rollups.HOUR, day__in=set(rollups.edge_days(today)) - days
    ).exists()


@pytest.mark.django_db
def test_the_job_rewrites_only_the_marked_hours_of_a_day_with_hour_rows(org_a: Any) -> None:
    day = timezone.now().date() - timedelta(days=30)
    at = datetime.combine(day, datetime.min.time(), tzinfo=UTC)
    LeadFactory(organization=org_a.org, created_at=at + timedelta(hours=10))
    LeadFactory(organization=org_a.org, created_at=at + timedelta(hours=15))
    rollups.refresh_marked()
    rollups.build_hours(org_a.org.pk, [day])
    hours = LeadDailyRollup.objects.filter(
        organization_id=org_a.org.pk, grain=rollups.HOUR, day=day
    )
    hours.filter(hour=10).update(created=F("created") + 100)  # a stand-in for a stale row
    LeadFactory(organization=org_a.org, created_at=at + timedelta(hours=15, minutes=30))
    assert set(LeadRollupMark.objects.values_list("day", "hour")) == {(day, 15)}
    rollups.refresh_marked()
    assert sorted(hours.values_list("hour", "created")) == [(10, 101), (15, 2)]
    LeadRollupMark.objects.create(organization_id=org_a.org.pk, day=day)  # no hour: the day
    rollups.refresh_marked()
    assert sorted(hours.values_list("hour", "created")) == [(10, 1), (15, 2)]
