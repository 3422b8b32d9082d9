"""Pure figure functions (mentorados.figures): boundaries and properties, no database."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mentorados import figures
from mentorados.figures import FeedbackNote, MonthRevenue


def m(ano: int, mes: int, faturamento: str | int) -> MonthRevenue:
    return MonthRevenue(ano, mes, Decimal(str(faturamento)))


def growths(months: list[MonthRevenue]) -> list[Decimal | None]:
    return [g for _m, g in figures.crescimento_mensal(months)]


# --- crescimento_mensal -----------------------------------------------------------------------


def test_it_computes_monthly_growth_over_the_previous_calendar_month() -> None:
    assert growths([m(2025, 1, 100), m(2025, 2, 150), m(2025, 3, 120)]) == [
        None,
        Decimal("50.00"),
        Decimal("-20.00"),
    ]


def test_it_gives_no_monthly_growth_after_a_missing_month() -> None:
    # March is missing: April is not compared with February.
    assert growths([m(2025, 2, 100), m(2025, 4, 200)]) == [None, None]


def test_it_gives_no_monthly_growth_over_a_zero_month() -> None:
    assert growths([m(2025, 1, 0), m(2025, 2, 100), m(2025, 3, 0)]) == [
        None,
        None,
        Decimal("-100.00"),
    ]


def test_it_crosses_the_year_boundary_for_monthly_growth() -> None:
    assert growths([m(2024, 12, 200), m(2025, 1, 150)]) == [None, Decimal("-25.00")]


def test_it_gives_no_monthly_growth_for_a_single_month() -> None:
    assert growths([m(2025, 5, 100)]) == [None]
    assert growths([]) == []


def test_it_sorts_months_chronologically_whatever_the_input_order() -> None:
    result = figures.crescimento_mensal([m(2025, 3, 300), m(2025, 1, 100), m(2025, 2, 200)])
    assert [(month.ano, month.mes) for month, _g in result] == [(2025, 1), (2025, 2), (2025, 3)]
    assert [g for _m, g in result] == [None, Decimal("100.00"), Decimal("50.00")]


def test_it_rounds_growth_to_two_places_ties_away_from_zero() -> None:
    assert growths([m(2025, 1, 3), m(2025, 2, 4)])[1] == Decimal("33.33")
    assert growths([m(2025, 1, 3), m(2025, 2, 5)])[1] == Decimal("66.67")
    # +-0.005 exactly: away from zero on both sides.
    assert growths([m(2025, 1, 200), m(2025, 2, "200.01")])[1] == Decimal("0.01")
    assert growths([m(2025, 1, 200), m(2025, 2, "199.99")])[1] == Decimal("-0.01")


def test_it_rejects_a_month_reported_twice() -> None:
    with pytest.raises(ValueError, match="reported twice"):
        figures.crescimento_mensal([m(2025, 1, 1), m(2025, 1, 2)])


# --- crescimento_percentual (12 months) and faturamento_atual -------------------------------


def test_it_computes_twelve_month_growth_from_the_earliest_month_in_the_window() -> None:
    months = [m(2025, 1, 100), m(2025, 6, 130), m(2025, 12, 250)]
    assert figures.crescimento_percentual(months) == Decimal("150.00")


def test_it_ignores_months_older_than_the_twelve_month_window() -> None:
    # Window ending Jan 2025 is Feb 2024 .. Jan 2025: Jan 2024 is out, Mar 2024 is the base.
    months = [m(2024, 1, 50), m(2024, 3, 100), m(2025, 1, 120)]
    assert figures.crescimento_percentual(months) == Decimal("20.00")


def test_it_includes_the_month_eleven_months_before_the_latest() -> None:
    assert figures.crescimento_percentual([m(2024, 2, 100), m(2025, 1, 110)]) == Decimal("10.00")
    # Twelve months before is outside: only the latest month remains.
    assert figures.crescimento_percentual([m(2024, 1, 100), m(2025, 1, 110)]) is None


def test_it_gives_no_twelve_month_growth_after_a_gap_longer_than_twelve_months() -> None:
    assert (
        figures.crescimento_percentual([m(2022, 5, 100), m(2023, 1, 90), m(2025, 3, 300)]) is None
    )


def test_it_gives_no_twelve_month_growth_for_one_month_or_none() -> None:
    assert figures.crescimento_percentual([m(2025, 3, 300)]) is None
    assert figures.crescimento_percentual([]) is None


def test_it_gives_no_twelve_month_growth_over_a_zero_base() -> None:
    assert figures.crescimento_percentual([m(2025, 1, 0), m(2025, 2, 50), m(2025, 3, 80)]) is None


def test_it_reports_a_fall_to_zero_as_minus_one_hundred() -> None:
    assert figures.crescimento_percentual([m(2025, 1, 80), m(2025, 3, 0)]) == Decimal("-100.00")


def test_it_takes_faturamento_atual_from_the_latest_calendar_month() -> None:
    assert figures.faturamento_atual([m(2025, 12, 5), m(2026, 1, 7), m(2025, 11, 9)]) == Decimal(
        "7"
    )
    assert figures.faturamento_atual([]) is None


# --- engagement_score -------------------------------------------------------------------------

TODAY = date(2026, 3, 15)


def test_it_lists_the_last_three_closed_months() -> None:
    assert figures.last_closed_months(date(2026, 3, 15)) == [(2025, 12), (2026, 1), (2026, 2)]
    assert figures.last_closed_months(date(2026, 3, 1)) == [(2025, 12), (2026, 1), (2026, 2)]
    assert figures.last_closed_months(date(2026, 2, 28)) == [(2025, 11), (2025, 12), (2026, 1)]
    assert figures.last_closed_months(date(2026, 1, 5)) == [(2025, 10), (2025, 11), (2025, 12)]


def test_it_scores_zero_engagement_without_data() -> None:
    assert figures.engagement_score([], [], TODAY) == 0


def test_it_gives_fifteen_per_reported_closed_month() -> None:
    # Equal revenues: no growth bonus. The open month (March) and November do not count.
    months = [m(2025, 11, 1), m(2025, 12, 1), m(2026, 2, 1), m(2026, 3, 1)]
    assert figures.engagement_score(months, [], TODAY) == 30
    closed = [m(2025, 12, 1), m(2026, 1, 1), m(2026, 2, 1)]
    assert figures.engagement_score(closed, [], TODAY) == 45


def test_it_counts_a_feedback_as_recent_for_sixty_days_including_today() -> None:
    at_limit = [FeedbackNote(TODAY - timedelta(days=59), 0)]
    too_old = [FeedbackNote(TODAY - timedelta(days=60), 0)]
    today = [FeedbackNote(TODAY, 0)]
    assert figures.engagement_score([], at_limit, TODAY) == 20
    assert figures.engagement_score([], today, TODAY) == 20
    assert figures.engagement_score([], too_old, TODAY) == 0


def test_it_adds_twice_the_latest_nota_geral_whatever_its_age() -> None:
    old = [FeedbackNote(date(2024, 1, 1), 10), FeedbackNote(date(2023, 1, 1), 2)]
    assert figures.engagement_score([], old, TODAY) == 20
    # The latest by date wins over a better older grade; same date: latest created_at wins.
    notes = [
        FeedbackNote(TODAY - timedelta(days=1), 10, datetime(2026, 3, 14, 9, tzinfo=UTC)),
        FeedbackNote(TODAY - timedelta(days=1), 3, datetime(2026, 3, 14, 10, tzinfo=UTC)),
        FeedbackNote(TODAY - timedelta(days=30), 10),
    ]
    assert figures.engagement_score([], notes, TODAY) == 20 + 6


def test_it_ignores_feedbacks_dated_after_today() -> None:
    notes = [FeedbackNote(TODAY + timedelta(days=1), 10), FeedbackNote(date(2020, 1, 1), 1)]
    assert figures.engagement_score([], notes, TODAY) == 2


def test_it_adds_the_growth_bonus_over_the_last_three_reported_months() -> None:
    # Three latest reported (gaps allowed): Jun, Sep, Oct 2025 -> 100 -> 120: grew.
    grew = [m(2025, 1, 500), m(2025, 6, 100), m(2025, 9, 90), m(2025, 10, 120)]
    assert figures.engagement_score(grew, [], TODAY) == 15
    flat = [m(2025, 6, 100), m(2025, 9, 300), m(2025, 10, 100)]
    assert figures.engagement_score(flat, [], TODAY) == 0
    two_only = [m(2025, 9, 100), m(2025, 10, 200)]
    assert figures.engagement_score(two_only, [], TODAY) == 0


def test_it_ignores_months_after_the_current_one_for_engagement() -> None:
    months = [m(2025, 6, 100), m(2025, 7, 100), m(2025, 8, 200), m(2026, 4, 1)]
    assert figures.engagement_score(months, [], TODAY) == 15


def test_it_reaches_one_hundred_with_everything() -> None:
    months = [m(2025, 12, 100), m(2026, 1, 110), m(2026, 2, 130)]
    notes = [FeedbackNote(TODAY, 10)]
    assert figures.engagement_score(months, notes, TODAY) == 100


def test_it_names_engagement_bands_with_inclusive_bounds() -> None:
    assert [figures.engagement_band(s) for s in (0, 24, 25, 49, 50, 74, 75, 100)] == [
        "0-24",
        "0-24",
        "25-49",
        "25-49",
        "50-74",
        "50-74",
        "75-100",
        "75-100",
    ]
    with pytest.raises(ValueError, match="engagement score out of range"):
        figures.engagement_band(101)


# --- NPS --------------------------------------------------------------------------------------


def test_it_computes_nps_from_promoters_and_detractors() -> None:
    assert figures.nps([10, 9, 8, 7, 6, 0]) == 0
    assert figures.nps([10, 10, 10]) == 100
    assert figures.nps([0, 3, 6]) == -100
    assert figures.nps([9, 9, 6]) == 33
    assert figures.nps([7, 8]) == 0


def test_it_gives_no_nps_without_answers() -> None:
    assert figures.nps([]) is None
    assert figures.nps_from_counts(promotores=0, detratores=0, total=0) is None


def test_it_rounds_nps_ties_away_from_zero() -> None:
    assert figures.nps([10, 8, 8, 8, 8, 8, 8, 8]) == 13  # 12.5
    assert figures.nps([0, 8, 8, 8, 8, 8, 8, 8]) == -13  # -12.5


def test_it_rejects_grades_outside_zero_to_ten() -> None:
    with pytest.raises(ValueError, match="nota_nps must be 0-10"):
        figures.nps([11])
    with pytest.raises(ValueError, match="nota_nps must be 0-10"):
        figures.nps([-1])


# --- properties -------------------------------------------------------------------------------

money = st.decimals(min_value=0, max_value=Decimal("999999999999.99"), places=2)
month_indexes = st.integers(min_value=2000 * 12, max_value=2027 * 12 + 11)


@st.composite
def month_sets(draw: st.DrawFn, max_size: int = 30) -> list[MonthRevenue]:
    indexes = draw(st.sets(month_indexes, max_size=max_size))
    return [MonthRevenue(*figures.month_of_index(i), draw(money)) for i in indexes]


feedback_notes = st.lists(
    st.builds(
        FeedbackNote,
        st.dates(min_value=date(2000, 1, 1), max_value=date(2028, 12, 31)),
        st.integers(min_value=0, max_value=10),
        st.one_of(
            st.none(),
            # hypothesis takes naive bounds and adds the time zone
            st.datetimes(min_value=datetime(2000, 1, 1), timezones=st.just(UTC)),  # noqa: DTZ001
        ),
    ),
    max_size=10,
)
days = st.dates(min_value=date(2000, 1, 1), max_value=date(2028, 12, 31))


@settings(deadline=None)  # a loaded CI machine must not turn slowness into failure
@given(st.lists(st.integers(min_value=0, max_value=10), min_size=1, max_size=200))
def test_it_keeps_nps_within_bounds_and_with_the_sign_of_the_balance(notas: list[int]) -> None:
    value = figures.nps(notas)
    assert value is not None
    assert -100 <= value <= 100
    balance = sum(1 for n in notas if n >= 9) - sum(1 for n in notas if n <= 6)
    assert (value > 0) == (balance > 0) or value == 0
    assert (value < 0) == (balance < 0) or value == 0


@settings(deadline=None)
@given(month_sets(), feedback_notes, days)
def test_it_keeps_engagement_within_zero_and_one_hundred(
    months: list[MonthRevenue], notes: list[FeedbackNote], today: date
) -> None:
    assert 0 <= figures.engagement_score(months, notes, today) <= 100


@settings(deadline=None)
@given(month_sets(), feedback_notes, days)
def test_it_needs_only_the_rows_the_bulk_recalculation_loads(
    months: list[MonthRevenue], notes: list[FeedbackNote], today: date
) -> None:
    """The daily job loads only the 3 latest months up to today's month, the closed months and
    the latest feedback up to today (services._engagement_batch): same score as full history."""
    current = figures.month_index(today.year, today.month)
    closed = {figures.month_index(a, mm) for a, mm in figures.last_closed_months(today)}
    up_to_now = sorted((x for x in months if x.index <= current), key=lambda x: x.index)
    subset = {x.index: x for x in up_to_now[-3:]}
    subset.update({x.index: x for x in months if x.index in closed})
    past = [n for n in notes if n.data_feedback <= today]
    latest = (
        [
            max(
                past,
                key=lambda n: (n.data_feedback, n.created_at or datetime.min.replace(tzinfo=UTC)),
            )
        ]
        if past
        else []
    )
    assert figures.engagement_score(list(subset.values()), latest, today) == (
        figures.engagement_score(months, notes, today)
    )


@settings(deadline=None)
@given(month_sets())
def test_it_gives_monthly_growth_exactly_when_the_previous_month_is_nonzero(
    months: list[MonthRevenue],
) -> None:
    by_index = {x.index: x.faturamento for x in months}
    for month, growth in figures.crescimento_mensal(months):
        previous = by_index.get(month.index - 1)
        if previous is None or previous == 0:
            assert growth is None
        else:
            assert growth is not None
            exact = (month.faturamento - previous) * 100 / previous
            assert abs(growth - exact) <= Decimal("0.005")


@settings(deadline=None)
@given(month_sets())
def test_it_gives_twelve_month_growth_with_the_sign_of_the_change(
    months: list[MonthRevenue],
) -> None:
    growth = figures.crescimento_percentual(months)
    if not months:
        assert growth is None
        return
    ordered = sorted(months, key=lambda x: x.index)
    latest = ordered[-1]
    window = [x for x in ordered if x.index > latest.index - 12]
    base = window[0]
    if len(window) == 1 or base.faturamento == 0:
        assert growth is None
    else:
        assert growth is not None
        change = latest.faturamento - base.faturamento
        assert (growth > 0) == (change > 0) or growth == 0
        assert growth >= Decimal("-100")
    assert figures.faturamento_atual(months) == latest.faturamento


@settings(deadline=None)
@given(month_sets(max_size=15), st.randoms(use_true_random=False))
def test_it_does_not_depend_on_input_order(months: list[MonthRevenue], rnd: random.Random) -> None:
    shuffled = list(months)
    rnd.shuffle(shuffled)
    assert figures.crescimento_mensal(shuffled) == figures.crescimento_mensal(months)
    assert figures.crescimento_percentual(shuffled) == figures.crescimento_percentual(months)
    assert figures.engagement_score(shuffled, [], TODAY) == figures.engagement_score(
        months, [], TODAY
    )
