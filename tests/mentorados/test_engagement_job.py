"""Daily engagement recalculation (mentorados.jobs / services.engagement_recalculate)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from config.jobs import discover_periodic_jobs
from mentorados import jobs, services
from mentorados.models import Mentorado
from mentorados.services import (
    engagement_recalculate,
    mentorado_refresh_figures,
    organization_today,
)
from tests.factories import OrganizationFactory
from tests.mentorados.factories import EvolucaoFactory, FeedbackFactory, MentoradoFactory

pytestmark = pytest.mark.django_db

TODAY = date(2026, 3, 15)


def report(mentee: Mentorado, ano: int, mes: int, value: str) -> None:
    EvolucaoFactory(mentorado=mentee, ano=ano, mes=mes, faturamento=Decimal(value))


def varied_mentees(org) -> list[Mentorado]:
    """Mentees that exercise every part of the score (closed months, gaps, feedback age)."""
    a = MentoradoFactory(organization=org)
    for mes, value in [(12, "100"), (1, "120"), (2, "130")]:
        report(a, 2025 if mes == 12 else 2026, mes, value)
    FeedbackFactory(mentorado=a, data_feedback=TODAY - timedelta(days=10), nota_geral=9)
    b = MentoradoFactory(organization=org)  # old, falling, with a report of the open month
    for ano, mes, value in [(2024, 5, "500"), (2025, 1, "400"), (2026, 1, "300"), (2026, 3, "1")]:
        report(b, ano, mes, value)
    FeedbackFactory(mentorado=b, data_feedback=TODAY - timedelta(days=60), nota_geral=3)
    FeedbackFactory(mentorado=b, data_feedback=TODAY + timedelta(days=3), nota_geral=10)
    c = MentoradoFactory(organization=org)  # nothing at all
    d = MentoradoFactory(organization=org)  # growth over non-consecutive months, same-day tie
    for ano, mes, value in [(2025, 4, "10"), (2025, 8, "20"), (2025, 12, "30")]:
        report(d, ano, mes, value)
    FeedbackFactory(
        mentorado=d,
        data_feedback=TODAY,
        nota_geral=2,
        created_at=datetime(2026, 3, 15, 12, tzinfo=UTC),
    )
    FeedbackFactory(
        mentorado=d,
        data_feedback=TODAY,
        nota_geral=7,
        created_at=datetime(2026, 3, 15, 13, tzinfo=UTC),
    )
    return [a, b, c, d]


def test_it_recalculates_active_mentees_like_the_single_mentee_refresh(org_a, org_b):
    mentees = varied_mentees(org_a.org)
    paused = MentoradoFactory(organization=org_a.org, status="pausado", engagement_score=77)
    foreign = MentoradoFactory(organization=org_b.org, engagement_score=66)
    Mentorado.objects.filter(pk__in=[m.pk for m in mentees]).update(engagement_score=99)

    run = engagement_recalculate(organization=org_a.org, today=TODAY)
    assert (run.checked, run.changed) == (4, 4)
    bulk = dict(
        Mentorado.objects.filter(organization=org_a.org).values_list("pk", "engagement_score")
    )
    assert bulk[mentees[0].pk] == 45 + 20 + 18 + 15
    assert bulk[mentees[1].pk] == 15 + 0 + 6  # Jan only; feedback 60 days old; falling
    assert bulk[mentees[2].pk] == 0
    assert bulk[mentees[3].pk] == 15 + 20 + 14 + 15  # Dec only; latest created wins (7)
    for mentee in mentees:
        assert (
            mentorado_refresh_figures(mentorado=mentee, today=TODAY).engagement_score
            == (bulk[mentee.pk])
        )
    paused.refresh_from_db()
    foreign.refresh_from_db()
    assert (paused.engagement_score, foreign.engagement_score) == (77, 66)


def test_it_is_idempotent(org_a):
    varied_mentees(org_a.org)
    first = engagement_recalculate(organization=org_a.org, today=TODAY)
    before = dict(Mentorado.objects.values_list("pk", "engagement_score"))
    second = engagement_recalculate(organization=org_a.org, today=TODAY)
    assert first.changed > 0
    assert (second.checked, second.changed) == (4, 0)
    assert dict(Mentorado.objects.values_list("pk", "engagement_score")) == before


def test_it_lets_engagement_decay_as_days_pass(org_a):
    mentee = MentoradoFactory(organization=org_a.org)
    FeedbackFactory(mentorado=mentee, data_feedback=date(2026, 1, 15), nota_geral=10)
    engagement_recalculate(organization=org_a.org, today=date(2026, 3, 15))  # 59 days
    mentee.refresh_from_db()
    assert mentee.engagement_score == 40
    engagement_recalculate(organization=org_a.org, today=date(2026, 3, 16))  # 60 days
    mentee.refresh_from_db()
    assert mentee.engagement_score == 20


def test_it_takes_today_in_the_organizations_time_zone():
    moment = datetime(2026, 4, 1, 2, 0, tzinfo=UTC)  # still March 31 in São Paulo
    scores = {}
    for tz in ("America/Sao_Paulo", "UTC"):
        org = OrganizationFactory(timezone=tz)
        mentee = MentoradoFactory(organization=org)
        report(mentee, 2026, 2, "10")
        report(mentee, 2026, 3, "10")
        today = organization_today(org, moment)
        engagement_recalculate(organization=org, today=today)
        mentee.refresh_from_db()
        scores[tz] = (today, mentee.engagement_score)
    # São Paulo: March is still open (closed: Dec, Jan, Feb). UTC: April, March is closed.
    assert scores == {
        "America/Sao_Paulo": (date(2026, 3, 31), 15),
        "UTC": (date(2026, 4, 1), 30),
    }


def test_it_walks_every_batch(org_a, monkeypatch):
    monkeypatch.setattr(services, "ENGAGEMENT_BATCH", 2)
    mentees = [MentoradoFactory(organization=org_a.org, engagement_score=50) for _ in range(5)]
    run = engagement_recalculate(organization=org_a.org, today=TODAY)
    assert (run.checked, run.changed) == (5, 5)
    assert set(
        Mentorado.objects.filter(pk__in=[m.pk for m in mentees]).values_list(
            "engagement_score", flat=True
        )
    ) == {0}


def test_it_uses_a_number_of_queries_independent_of_the_number_of_mentees(org_a, org_b):
    def seed(org, n: int) -> None:
        for i in range(n):
            mentee = MentoradoFactory(organization=org, engagement_score=99)
            report(mentee, 2026, 1, str(100 + i))
            FeedbackFactory(mentorado=mentee, data_feedback=TODAY, nota_geral=5)

    seed(org_a.org, 2)
    seed(org_b.org, 25)
    with CaptureQueriesContext(connection) as small:
        engagement_recalculate(organization=org_a.org, today=TODAY)
    with CaptureQueriesContext(connection) as large:
        engagement_recalculate(organization=org_b.org, today=TODAY)
    assert len(large) == len(small)


def test_it_runs_the_daily_job_for_every_organization(org_a, org_b):
    a = MentoradoFactory(organization=org_a.org, engagement_score=90)
    b = MentoradoFactory(organization=org_b.org, engagement_score=80)
    FeedbackFactory(mentorado=b, data_feedback=organization_today(org_b.org), nota_geral=10)
    totals = jobs.engagement_recalculate_all()
    assert totals == {"organizations": 2, "checked": 2, "changed": 2}
    a.refresh_from_db()
    b.refresh_from_db()
    assert (a.engagement_score, b.engagement_score) == (0, 40)
    assert jobs.engagement_recalculate_all()["changed"] == 0
    assert jobs.engagement_recalculate_org(organization_id=str(org_a.org.pk)) == {
        "checked": 1,
        "changed": 0,
    }


def test_it_declares_the_daily_job_for_the_scheduler():
    declared = {job.id: job for job in discover_periodic_jobs()}
    job = declared["mentorados.engagement_daily"]
    assert job.func == "mentorados.jobs.engagement_recalculate_all"
    assert job.cron is not None
