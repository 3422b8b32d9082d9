"""Property: the dashboard read from the rollups equals the reference queries, on random
histories, for every scope and period, whatever the state of the rollups (leads/rollups.py).

Histories: leads created over ~400 days (some on window edges), status walks with re-entries,
ties, losses and reopened conversions, reassignments of closer and SDR, interactions by random
authors, back-dated; then bulk updates, deletes and late moves. Compared in six states: every
mark pending (nothing rolled up), after the job, with the hour rows of the windows' start days
and of today, after further writes (today's marked hours), after a second job, and with a mark
on the current hour (today from the hour rows the job rewrote).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from functools import partial
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from leads import dashboard_selectors, rollups
from leads.models import (
    PIPELINE_ORDER,
    Lead,
    LeadDailyRollup,
    LeadInteraction,
    LeadRollupMark,
    LeadStatusChange,
    RollupGrain,
    Temperatura,
)
from organizations.models import Membership, Role
from tests.conftest import Org, make_org
from tests.factories import MembershipFactory

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="rollups are PostgreSQL only"),
]

PERIODS = (1, 7, 30, 365)
# Moments (days ago) on and around the windows' edges, mixed with arbitrary ones.
EDGES = (
    0.0001,
    0.1,
    0.2,
    0.3,
    1.0,
    1.0001,
    6.9999,
    7.0,
    29.5,
    30.0,
    30.0001,
    364.99,
    365.0,
    365.01,
)
days_ago = st.one_of(st.sampled_from(EDGES), st.floats(min_value=0.0001, max_value=400))
# The UTC time of day of "now" (None: the real clock), so that the windows' start falls in
# the first half of its day (its edge is the day's rows minus the raw part before it) and in
# the second (raw), at midnight and around noon, on a whole hour and inside one (hour rows: in
# the first half of the hour its row minus the raw part before it, in the second half raw).
clocks = st.sampled_from([None, 0.0, 1.6, 6.2, 11.99, 12.0, 12.01, 18.5, 23.75])
# The painel's weeks are the organization's: behind UTC, ahead of it by a whole and by a half
# hour, with daylight saving, and 14 hours ahead (a local week starts late in a UTC day).
ZONES = (
    "America/Sao_Paulo",
    "Asia/Kolkata",
    "America/New_York",
    "Pacific/Kiritimati",
    "UTC",
)
gaps = st.one_of(st.just(0.0), st.floats(min_value=0.0, max_value=40))  # 0: tied moves


@dataclass
class People:
    org: Org
    closers: list[Membership | None]
    sdrs: list[Membership | None]
    authors: list[Membership | None]


lead_plans = st.fixed_dictionaries(
    {
        "created": days_ago,
        "walk": st.lists(st.tuples(st.sampled_from(PIPELINE_ORDER), gaps), min_size=0, max_size=6),
        "reopen": st.booleans(),
        "closer": st.integers(0, 2),
        "sdr": st.integers(0, 2),
        "temperatura": st.sampled_from(Temperatura.values),
        "score": st.integers(0, 100),
        "valor": st.one_of(st.none(), st.integers(1, 90_000)),
        "interactions": st.lists(
            st.tuples(st.integers(0, 4), st.floats(min_value=-20, max_value=30)), max_size=3
        ),
    }
)
later_writes = st.lists(
    st.tuples(
        st.sampled_from(["closer", "sdr", "delete", "move", "reopen", "interaction", "unmove"]),
        st.integers(0, 50),
        st.integers(0, 6),
    ),
    max_size=6,
)


def _people() -> People:
    org = make_org()
    c2 = MembershipFactory(organization=org.org, role=Role.CLOSER, nome_completo="Zé Segundo")
    s2 = MembershipFactory(organization=org.org, role=Role.SDR, nome_completo="Ana Segunda")
    return People(
        org=org,
        closers=[None, org.closer, c2],
        sdrs=[None, org.sdr, s2],
        authors=[None, org.closer, c2, org.sdr, org.admin],
    )


def _create(people: People, plan: dict[str, Any], now: datetime) -> None:
    created = now - timedelta(days=plan["created"])
    moments, at, status = [], created, "novo"
    for status, gap in [("novo", 0.0), *plan["walk"]]:
        at = min(at + timedelta(days=gap), now - timedelta(seconds=1))
        moments.append((status, at))
    converted_at = at if status == "convertido" else None
    if plan["reopen"] and status == "convertido":  # reopened: back in negotiation
        status, converted_at = "negociacao", None
        moments.append((status, min(at + timedelta(hours=1), now - timedelta(seconds=1))))
    lead = Lead.objects.create(
        organization=people.org.org,
        nome_completo="Lead",
        status=status,
        temperatura=plan["temperatura"],
        lead_score=plan["score"],
        closer=people.closers[plan["closer"]],
        sdr=people.sdrs[plan["sdr"]],
        created_at=created,
        converted_at=converted_at,
        valor_fechado=Decimal(plan["valor"]) if plan["valor"] else None,
    )
    LeadStatusChange.objects.bulk_create(
        LeadStatusChange(organization=lead.organization, lead=lead, to_status=s, changed_at=t)
        for s, t in moments
    )
    LeadInteraction.objects.bulk_create(
        LeadInteraction(
            organization=lead.organization,
            lead=lead,
            closer=people.authors[author],
            # Now and then a few hours after "now" (scheduled): outside every window.
            data_interacao=min(created + timedelta(days=offset), now)
            if offset < 25
            else now + timedelta(hours=offset - 25),
        )
        for author, offset in plan["interactions"]
    )


def _write(people: People, writes: list[tuple[str, int, int]], now: datetime) -> None:
    """Further writes by every path that moves a figure (QuerySet.update, delete, new rows)."""
    for kind, pick, choice in writes:
        leads = list(Lead.objects.filter(organization=people.org.org).order_by("pk"))
        if not leads:
            return
        lead = leads[pick % len(leads)]
        same = Lead.objects.filter(pk=lead.pk)
        if kind == "closer":
            same.update(closer=people.closers[choice % 3])
        elif kind == "sdr":
            same.update(sdr=people.sdrs[choice % 3])
        elif kind == "delete":
            same.delete()
        elif kind == "move":
            status = PIPELINE_ORDER[choice]
            LeadStatusChange.objects.create(
                organization=lead.organization, lead=lead, to_status=status, changed_at=now
            )
            same.update(status=status, converted_at=now if status == "convertido" else None)
        elif kind == "reopen":
            same.update(status="qualificado", converted_at=None, lead_score=choice * 10)
        elif kind == "interaction":
            LeadInteraction.objects.filter(lead=lead).update(
                data_interacao=now - timedelta(days=choice * 5 + 0.5)
            )
        else:
            LeadStatusChange.objects.filter(
                pk__in=LeadStatusChange.objects.filter(lead=lead).order_by("changed_at")[:1]
            ).delete()


def _scopes(people: People) -> list[dict[str, Any]]:
    org = people.org
    c2 = people.closers[2]
    assert c2 is not None
    return [
        {"membership": org.admin},
        {"membership": org.gestor, "closer_id": c2.pk},
        {"membership": org.closer},
        {"membership": org.sdr},
    ]


def _assert_same(people: People, now: datetime, state: str, tz: str = "UTC") -> None:
    for scope_args in _scopes(people):
        for period in PERIODS:
            scope = dashboard_selectors.dashboard_scope(period_days=period, now=now, **scope_args)
            got = dict(dashboard_selectors.sales_dashboard(scope))
            want = dict(dashboard_selectors.reference_sales_dashboard(scope))
            got.pop("atualizado_em")
            want.pop("atualizado_em")
            assert got == want, (state, scope_args["membership"].role, period)
            weeks = dashboard_selectors.weekly_series(scope, tz=tz)
            reference = dashboard_selectors.reference_weekly_series(scope, tz=tz)
            assert weeks == reference, (state, scope_args["membership"].role, period, tz)


@pytest.fixture
def people() -> People:
    people = _people()
    # Another organization's data, in every window: never counted.
    other = _people()
    for created in (0.5, 3, 20, 200):
        plan = {
            "created": created,
            "walk": [("qualificado", 0.1), ("convertido", 0.1)],
            "reopen": False,
            "closer": 1,
            "sdr": 1,
            "temperatura": "quente",
            "score": 90,
            "valor": 5000,
            "interactions": [(1, 0.2), (3, 0.1)],
        }
        _create(other, plan, timezone.now())
    rollups.refresh_marked()
    return people


@pytest.mark.heavy
@settings(
    max_examples=12,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    plans=st.lists(lead_plans, min_size=1, max_size=7),
    writes=later_writes,
    clock=clocks,
    tz=st.sampled_from(ZONES),
)
def test_the_rollups_give_the_reference_figures(
    people: People,
    plans: list[dict[str, Any]],
    writes: list[tuple[str, int, int]],
    clock: float | None,
    tz: str,
) -> None:
    now = _now_at(clock)
    check = partial(_assert_same, people, now, tz=tz)
    with transaction.atomic():
        for plan in plans:
            _create(people, plan, now)
        check("marks pending")
        rollups.refresh_marked()
        assert not LeadRollupMark.objects.exists()
        check("after the job")
        rollups.build_hours(people.org.org.pk, [*_start_days(now), now.astimezone(UTC).date()])
        check("with the start days' and today's hour rows")
        _write(people, writes, now)
        check("after the job and more writes")
        rollups.refresh_marked()
        check("after a second job")
        utc_now = now.astimezone(UTC)
        LeadRollupMark.objects.create(
            organization_id=people.org.org.pk, day=utc_now.date(), hour=utc_now.hour
        )
        check("with a mark on the current hour")
        transaction.set_rollback(True)


def _start_days(now: datetime) -> list[Any]:
    return [(now - timedelta(days=period)).astimezone(UTC).date() for period in PERIODS]


def _now_at(hours: float | None) -> datetime:
    """The last moment so far at `hours` past a UTC midnight (the real now when None)."""
    real = timezone.now()
    if hours is None:
        return real
    midnight = datetime.combine(real.astimezone(UTC).date(), datetime.min.time(), tzinfo=UTC)
    moment = midnight + timedelta(hours=hours)
    return moment if moment <= real else moment - timedelta(days=1)


def test_the_dashboard_reads_in_a_fixed_number_of_queries(people: People) -> None:
    from django.test.utils import CaptureQueriesContext

    now = timezone.now()
    counts = []
    for n in (1, 30):
        for _ in range(n):
            _create(people, {**_SMALL_PLAN, "created": n / 3}, now)
        rollups.refresh_marked()
        scope = dashboard_selectors.dashboard_scope(
            membership=people.org.admin, period_days=365, now=now
        )
        with CaptureQueriesContext(connection) as queries:
            dashboard_selectors.sales_dashboard(scope)
        counts.append(len([q for q in queries.captured_queries if "SAVEPOINT" not in q["sql"]]))
    # the transaction's settings (one statement), the sums with the closers' ranking
    assert counts == [2, 2]


_SMALL_PLAN: dict[str, Any] = {
    "walk": [("em_contato", 0.1)],
    "reopen": False,
    "closer": 1,
    "sdr": 2,
    "temperatura": "morno",
    "score": 40,
    "valor": None,
    "interactions": [(1, 0.05)],
}


def test_reference_and_rollups_agree_on_an_example_with_figures(people: People) -> None:
    """Not vacuous: the data the property compares has non-zero figures in every family."""
    now = timezone.now()
    _create(people, {**_SMALL_PLAN, "created": 3, "walk": [("qualificado", 0.5)]}, now)
    _create(
        people,
        {**_SMALL_PLAN, "created": 5, "walk": [("convertido", 1.0)], "valor": 1200},
        now,
    )
    rollups.refresh_marked()
    scope = dashboard_selectors.dashboard_scope(
        membership=people.org.admin, period_days=30, now=now
    )
    body = dashboard_selectors.sales_dashboard(scope)
    assert body["metrics"]["total_leads"] == 2
    assert body["metrics"]["leads_convertidos"] == 1
    assert body["metrics"]["total_interacoes"] == 2
    assert body["funnel"][0]["entraram"] == 2
    assert body["topClosers"][0]["valor_convertido"] == Decimal("1200.00")
    assert isinstance(body["atualizado_em"], datetime)
    assert uuid.UUID(str(body["topClosers"][0]["closer_id"])) == people.org.closer.pk


@dataclass
class HourCase:
    total: int  # the reference figure
    hours: Any  # the organization's hour rows (organization grain) of the built day
    scope: Any

    def read(self) -> int:
        return int(dashboard_selectors.sales_dashboard(self.scope)["metrics"]["total_leads"])


def _hour_case(people: People, now: datetime, days_ago: list[float], day: Any = None) -> HourCase:
    """Leads created `days_ago` before `now`, the job run, the hour rows of `day` built (the
    30-day window's start day by default): the window's reference total and its hour rows."""
    for ago in days_ago:
        _create(people, {**_SMALL_PLAN, "created": ago}, now)
    rollups.refresh_marked()
    scope = dashboard_selectors.dashboard_scope(
        membership=people.org.admin, period_days=30, now=now
    )
    day = day or scope.start.astimezone(UTC).date()
    rollups.build_hours(people.org.org.pk, [day])
    hours = LeadDailyRollup.objects.filter(
        organization_id=people.org.org.pk, day=day, grain=rollups.HOUR + RollupGrain.ORGANIZATION
    )
    total = dashboard_selectors.reference_sales_dashboard(scope)["metrics"]["total_leads"]
    return HourCase(int(total), hours, scope)


def test_the_start_edge_reads_the_hour_rows_once_built(people: People) -> None:
    """With the start day's hour rows built, the window reads them from the hour after its
    start on and the raw rows before that hour (not the day's rows, nor the partial hour's)."""
    # The 30-day window starts at 18:30 of its day: one lead in [18:30, 19:00), one at 20:30.
    case = _hour_case(people, _now_at(18.5), [30 - 0.25 / 24, 30 - 2 / 24])
    assert case.total == 2
    assert sorted(case.hours.filter(created__gt=0).values_list("hour", "created")) == [
        (18, 1),
        (20, 1),
    ]
    assert case.read() == case.total
    case.hours.filter(hour=20).update(created=F("created") + 100)  # read: the figure moves
    assert case.read() == case.total + 100
    case.hours.filter(hour=18).update(created=F("created") + 100)  # partial hour: raw, not read
    assert case.read() == case.total + 100


def test_today_reads_its_hour_rows_while_marked(people: People) -> None:
    """With today marked and its hour rows built, the window reads the hour rows of today's
    unmarked hours before the current one and the raw rows of the others."""
    now = _now_at(18.5)
    today = now.astimezone(UTC).date()
    # Leads at 10:30, 15:30 and 18:24.
    case = _hour_case(people, now, [8.0 / 24, 3.0 / 24, 0.1 / 24], today)
    assert case.total == 3
    assert sorted(case.hours.filter(created__gt=0).values_list("hour", "created")) == [
        (10, 1),
        (15, 1),
        (18, 1),
    ]
    case.hours.filter(hour=10).update(created=F("created") + 100)
    assert case.read() == case.total  # today unmarked: today's day rows
    mark = {"organization_id": people.org.org.pk, "day": today}
    LeadRollupMark.objects.create(**mark, hour=15)
    assert case.read() == case.total + 100  # the hour rows of 10:00
    case.hours.filter(hour__in=(15, 18)).update(created=F("created") + 100)
    assert case.read() == case.total + 100  # 15:00 marked and 18:00 current: raw, not read
    LeadRollupMark.objects.create(**mark, hour=None)
    assert case.read() == case.total  # a mark without an hour: the whole day raw


def test_a_start_early_in_its_hour_reads_that_hours_rows_minus_the_raw_part_before_it(
    people: People,
) -> None:
    # The 30-day window starts at 18:15 of its day: leads at 18:05 (outside), 18:20, 20:05.
    case = _hour_case(people, _now_at(18.25), [30 - minutes / 1440 for minutes in (-10, 5, 110)])
    assert case.total == 2
    assert sorted(case.hours.filter(created__gt=0).values_list("hour", "created")) == [
        (18, 2),
        (20, 1),
    ]
    assert case.read() == case.total  # 18:00's two minus the raw 18:05
    case.hours.filter(hour=18).update(created=F("created") + 100)  # read: the figure moves
    assert case.read() == case.total + 100


def test_a_morning_start_reads_the_days_rows_minus_the_hours_before_it(people: People) -> None:
    """A start before noon: the start day's rows minus its hour rows before the start's next
    whole hour, plus the raw part up to that hour (at most 12 rows per member, not up to 24)."""
    # The 30-day window starts at 07:40 of its day: leads at 03:00 (outside), 07:50, 10:00.
    case = _hour_case(
        people, _now_at(7 + 40 / 60), [30 + 280 / 1440, 30 - 10 / 1440, 30 - 140 / 1440]
    )
    assert case.total == 2
    assert sorted(case.hours.filter(created__gt=0).values_list("hour", "created")) == [
        (3, 1),
        (7, 1),
        (10, 1),
    ]
    body = dashboard_selectors.sales_dashboard(case.scope)
    reference = dashboard_selectors.reference_sales_dashboard(case.scope)
    assert body["metrics"] == reference["metrics"]
    assert body["topClosers"] == reference["topClosers"]
    assert body["topClosers"][0]["total_leads"] == 2
    case.hours.filter(hour=10).update(created=F("created") + 100)  # after: the day's row instead
    assert case.read() == case.total
    case.hours.filter(hour=3).update(created=F("created") + 100)  # before: subtracted
    assert case.read() == case.total - 100
    day_row = LeadDailyRollup.objects.filter(
        organization_id=people.org.org.pk,
        day=case.scope.start.astimezone(UTC).date(),
        grain=RollupGrain.ORGANIZATION,
    )
    day_row.update(created=F("created") + 100)  # the day's row: read, it adds the 100 back
    assert case.read() == case.total


def _local_monday_before(now: datetime, tz: str, days: int) -> datetime:
    """The start (aware, in `tz`) of the local week holding `now - days`."""
    zone = ZoneInfo(tz)
    local = (now - timedelta(days=days)).astimezone(zone).date()
    monday = local - timedelta(days=local.weekday())
    return datetime.combine(monday, datetime.min.time(), tzinfo=zone)


@pytest.mark.parametrize("tz", ZONES)
def test_the_painels_weeks_split_the_utc_day_a_local_week_starts_in(
    people: People, tz: str
) -> None:
    """Leads half an hour either side of a local week's start: the UTC day holding both is
    a clean day row, yet each lead counts in its own local week; converted ones as well."""
    now = _now_at(12.0)
    boundary = _local_monday_before(now, tz, 10)
    for minutes, walk in ((-30, []), (30, [("convertido", 0.0)]), (-20, [("convertido", 0.0)])):
        moment = boundary + timedelta(minutes=minutes)
        plan = {**_SMALL_PLAN, "created": (now - moment) / timedelta(days=1), "walk": walk}
        _create(people, plan, now)
    rollups.refresh_marked()
    scope = dashboard_selectors.dashboard_scope(
        membership=people.org.admin, period_days=30, now=now
    )
    weeks = {week["semana"]: week for week in dashboard_selectors.weekly_series(scope, tz=tz)}
    this, last = boundary.date(), boundary.date() - timedelta(days=7)
    assert (weeks[last]["leads"], weeks[last]["convertidos"]) == (2, 1)
    assert (weeks[this]["leads"], weeks[this]["convertidos"]) == (1, 1)
    assert list(weeks.values()) == dashboard_selectors.reference_weekly_series(scope, tz=tz)


def test_the_painels_weeks_read_the_day_rows_and_the_marked_days_raw(people: People) -> None:
    now = _now_at(12.0)
    tz = "America/Sao_Paulo"
    _create(people, {**_SMALL_PLAN, "created": 9.5}, now)  # a Wednesday-ish clean day
    rollups.refresh_marked()
    scope = dashboard_selectors.dashboard_scope(
        membership=people.org.admin, period_days=30, now=now
    )
    day = (now - timedelta(days=9.5)).astimezone(UTC).date()
    row = LeadDailyRollup.objects.filter(
        organization_id=people.org.org.pk, day=day, grain=RollupGrain.ORGANIZATION
    )

    def total() -> int:
        return sum(week["leads"] for week in dashboard_selectors.weekly_series(scope, tz=tz))

    assert total() == 1
    row.update(created=F("created") + 100)  # read: the figure moves
    assert total() == 101
    LeadRollupMark.objects.create(organization_id=people.org.org.pk, day=day, hour=None)
    assert total() == 1  # a marked day: its raw rows instead


def test_the_painels_weeks_are_one_query(people: People) -> None:
    from django.test.utils import CaptureQueriesContext

    now = timezone.now()
    counts = []
    for n in (1, 20):
        for index in range(n):
            _create(people, {**_SMALL_PLAN, "created": 3 + index * 17}, now)
        rollups.refresh_marked()
        scope = dashboard_selectors.dashboard_scope(
            membership=people.org.admin, period_days=365, now=now
        )
        with CaptureQueriesContext(connection) as queries:
            weeks = dashboard_selectors.weekly_series(scope, tz="America/Sao_Paulo")
        counts.append(len(queries.captured_queries))
        assert sum(week["leads"] for week in weeks) == (1 if n == 1 else 21)
    assert counts == [1, 1]
