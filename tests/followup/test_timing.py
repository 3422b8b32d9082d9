from __future__ import annotations

import datetime as dt
from functools import cache
from zoneinfo import ZoneInfo

import holidays
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from followup.timing import (
    HORIZON_DAYS,
    MAX_RETRIES,
    NoSendWindow,
    SendPolicy,
    brazil_holidays,
    is_paused_day,
    next_send_time,
    retry_delay,
)

SP = ZoneInfo("America/Sao_Paulo")
NY = ZoneInfo("America/New_York")
UTC = dt.UTC


def policy(
    start: str = "09:00",
    end: str = "18:00",
    *,
    weekends: bool = False,
    holidays_: bool = False,
    timezone: str = "America/Sao_Paulo",
    state: str | None = None,
    extra: frozenset[dt.date] = frozenset(),
) -> SendPolicy:
    return SendPolicy(
        window_start=dt.time.fromisoformat(start),
        window_end=dt.time.fromisoformat(end),
        pause_weekends=weekends,
        pause_holidays=holidays_,
        timezone=timezone,
        state=state,
        extra_holidays=extra,
    )


def sp(*args: int, fold: int = 0) -> dt.datetime:
    year, month, day, *rest = args
    hour, minute, second, micro = [*rest, 0, 0, 0, 0][:4]
    return dt.datetime(year, month, day, hour, minute, second, micro, tzinfo=SP, fold=fold)


def local(value: dt.datetime, zone: ZoneInfo = SP) -> dt.datetime:
    return value.astimezone(zone)


# --- windows -------------------------------------------------------------------------------


def test_it_returns_after_unchanged_inside_the_window() -> None:
    after = sp(2026, 3, 4, 10, 15, 30, 123)  # Wednesday
    result = next_send_time(after, policy())
    assert result == after
    assert result.tzinfo is UTC


def test_it_moves_to_the_same_day_start_before_the_window() -> None:
    assert next_send_time(sp(2026, 3, 4, 6, 0), policy()) == sp(2026, 3, 4, 9, 0)


def test_it_moves_to_the_next_day_start_after_the_window_end() -> None:
    assert next_send_time(sp(2026, 3, 4, 19, 0), policy()) == sp(2026, 3, 5, 9, 0)


def test_it_treats_the_window_end_as_exclusive() -> None:
    assert next_send_time(sp(2026, 3, 4, 18, 0), policy()) == sp(2026, 3, 5, 9, 0)
    assert next_send_time(sp(2026, 3, 4, 17, 59, 59), policy()) == sp(2026, 3, 4, 17, 59, 59)


def test_it_treats_equal_start_and_end_as_the_whole_day() -> None:
    whole_day = policy("09:00", "09:00")
    assert next_send_time(sp(2026, 3, 4, 3, 0), whole_day) == sp(2026, 3, 4, 3, 0)
    assert next_send_time(sp(2026, 3, 4, 23, 59), whole_day) == sp(2026, 3, 4, 23, 59)


def test_it_skips_only_paused_days_with_a_whole_day_window() -> None:
    whole_day = policy("00:00", "00:00", weekends=True)
    assert next_send_time(sp(2026, 3, 7, 15, 0), whole_day) == sp(2026, 3, 9, 0, 0)


def test_it_handles_an_overnight_window() -> None:
    overnight = policy("22:00", "02:00")
    assert next_send_time(sp(2026, 3, 4, 23, 0), overnight) == sp(2026, 3, 4, 23, 0)
    assert next_send_time(sp(2026, 3, 4, 1, 30), overnight) == sp(2026, 3, 4, 1, 30)
    assert next_send_time(sp(2026, 3, 4, 2, 0), overnight) == sp(2026, 3, 4, 22, 0)
    assert next_send_time(sp(2026, 3, 4, 12, 0), overnight) == sp(2026, 3, 4, 22, 0)


def test_it_checks_the_paused_day_of_the_instant_itself_for_an_overnight_window() -> None:
    overnight = policy("22:00", "02:00", weekends=True)
    # Friday 23:00 is a Friday instant; Saturday 01:00 is a Saturday instant and is paused,
    # so the next allowed instant is Monday 00:00 (the tail of Sunday night's window).
    assert next_send_time(sp(2026, 3, 6, 23, 0), overnight) == sp(2026, 3, 6, 23, 0)
    assert next_send_time(sp(2026, 3, 7, 1, 0), overnight) == sp(2026, 3, 9, 0, 0)


def test_it_rejects_window_times_with_a_time_zone() -> None:
    with pytest.raises(ValueError, match="naive"):
        SendPolicy(dt.time(9, tzinfo=UTC), dt.time(18), False, False)


def test_it_rejects_an_unknown_time_zone() -> None:
    with pytest.raises(ValueError, match="time zone"):
        policy(timezone="America/Atlantis")


# --- weekends and holidays -----------------------------------------------------------------


def test_it_moves_friday_evening_to_monday_when_pausing_weekends() -> None:
    assert next_send_time(sp(2026, 3, 6, 19, 0), policy(weekends=True)) == sp(2026, 3, 9, 9, 0)


def test_it_moves_friday_evening_to_saturday_without_pausing_weekends() -> None:
    assert next_send_time(sp(2026, 3, 6, 19, 0), policy()) == sp(2026, 3, 7, 9, 0)


def test_it_pauses_on_the_national_black_awareness_day() -> None:
    # 2026-11-20 is a Friday; national since 2024 (Lei 14.759/2023).
    paused = policy(weekends=True, holidays_=True)
    assert next_send_time(sp(2026, 11, 19, 19, 0), paused) == sp(2026, 11, 23, 9, 0)
    assert dt.date(2026, 11, 20) in holidays.country_holidays("BR", years=2026)


def test_it_pauses_on_a_state_holiday_only_in_that_state() -> None:
    after = sp(2026, 7, 8, 19, 0)
    in_sp = next_send_time(after, policy(holidays_=True, state="SP"))
    in_rj = next_send_time(after, policy(holidays_=True, state="RJ"))
    assert in_sp == sp(2026, 7, 10, 9, 0)
    assert in_rj == sp(2026, 7, 9, 9, 0)


def test_it_accepts_a_lower_case_state_and_ignores_an_unknown_one() -> None:
    assert dt.date(2026, 7, 9) in brazil_holidays(2026, " sp ")
    unknown = brazil_holidays(2026, "XX")
    assert unknown == brazil_holidays(2026, None)
    assert dt.date(2026, 7, 9) not in unknown
    assert dt.date(2026, 9, 7) in unknown


def test_it_pauses_carnival_monday_and_tuesday_but_not_ash_wednesday() -> None:
    paused = policy(holidays_=True)
    assert next_send_time(sp(2026, 2, 16, 10, 0), paused) == sp(2026, 2, 18, 9, 0)
    assert is_paused_day(dt.date(2026, 2, 17), paused)
    assert not is_paused_day(dt.date(2026, 2, 18), paused)


def test_it_agrees_with_the_package_on_carnival_dates() -> None:
    optional = holidays.country_holidays("BR", years=2026, categories=holidays.OPTIONAL)
    package_carnival = {day for day, name in optional.items() if "Carnival" in name}
    ours = brazil_holidays(2026, None)
    assert package_carnival == {dt.date(2026, 2, 16), dt.date(2026, 2, 17)}
    assert package_carnival <= ours
    # The other optional days stay working days.
    for day in (dt.date(2026, 2, 18), dt.date(2026, 6, 4), dt.date(2026, 12, 24)):
        assert day not in ours


def test_it_pauses_on_organization_holidays() -> None:
    extra = frozenset({dt.date(2026, 3, 5), dt.date(2026, 3, 6)})
    paused = policy(weekends=True, holidays_=True, extra=extra)
    assert next_send_time(sp(2026, 3, 4, 19, 0), paused) == sp(2026, 3, 9, 9, 0)


def test_it_ignores_every_holiday_when_not_pausing_holidays() -> None:
    relaxed = policy(holidays_=False, state="SP", extra=frozenset({dt.date(2026, 11, 19)}))
    assert next_send_time(sp(2026, 11, 19, 10, 0), relaxed) == sp(2026, 11, 19, 10, 0)
    assert next_send_time(sp(2026, 11, 20, 10, 0), relaxed) == sp(2026, 11, 20, 10, 0)
    assert next_send_time(sp(2026, 7, 9, 10, 0), relaxed) == sp(2026, 7, 9, 10, 0)


def test_it_caches_holiday_sets_per_year_and_state() -> None:
    brazil_holidays(2031, "MG")
    before = brazil_holidays.cache_info().hits
    brazil_holidays(2031, "MG")
    assert brazil_holidays.cache_info().hits == before + 1


def test_it_raises_no_send_window_when_every_day_is_blocked() -> None:
    start = dt.date(2026, 1, 1)
    every_day = frozenset(start + dt.timedelta(days=n) for n in range(-2, HORIZON_DAYS + 5))
    with pytest.raises(NoSendWindow, match="400 days"):
        next_send_time(sp(2026, 1, 1, 10, 0), policy(holidays_=True, extra=every_day))


# --- input handling ------------------------------------------------------------------------


def test_it_rejects_a_naive_datetime() -> None:
    with pytest.raises(ValueError, match="aware"):
        next_send_time(dt.datetime(2026, 3, 4, 10, 0), policy())  # noqa: DTZ001 - naive on purpose


def test_it_accepts_aware_input_in_any_zone_and_returns_utc() -> None:
    tokyo = dt.datetime(2026, 3, 5, 7, 0, tzinfo=ZoneInfo("Asia/Tokyo"))  # 2026-03-04 19:00 SP
    result = next_send_time(tokyo, policy())
    assert result == sp(2026, 3, 5, 9, 0)
    assert result.tzinfo is UTC
    fixed = dt.datetime(2026, 3, 4, 13, 0, tzinfo=dt.timezone(dt.timedelta(hours=-3)))
    assert next_send_time(fixed, policy()) == fixed


# --- daylight saving -----------------------------------------------------------------------


def test_it_resolves_a_window_start_in_the_sao_paulo_2018_gap_to_the_first_real_instant() -> None:
    # On 2018-11-04 clocks jumped from 00:00 (-03) to 01:00 (-02).
    result = next_send_time(sp(2018, 11, 3, 23, 0), policy("00:00", "08:00"))
    assert result == dt.datetime(2018, 11, 4, 3, 0, tzinfo=UTC)
    assert local(result).time() == dt.time(1, 0)
    assert local(result).utcoffset() == dt.timedelta(hours=-2)


def test_it_resolves_a_window_start_in_the_new_york_spring_gap_to_the_gap_end() -> None:
    # On 2026-03-08 clocks jumped from 02:00 EST to 03:00 EDT.
    ny = policy("02:30", "09:00", timezone="America/New_York")
    result = next_send_time(dt.datetime(2026, 3, 8, 0, 0, tzinfo=NY), ny)
    assert result == dt.datetime(2026, 3, 8, 7, 0, tzinfo=UTC)
    assert local(result, NY).time() == dt.time(3, 0)


def test_it_skips_a_day_whose_whole_window_is_inside_the_gap() -> None:
    ny = policy("02:15", "02:45", timezone="America/New_York")
    result = next_send_time(dt.datetime(2026, 3, 8, 0, 0, tzinfo=NY), ny)
    assert local(result, NY) == dt.datetime(2026, 3, 9, 2, 15, tzinfo=NY)


def test_it_never_goes_back_in_time_in_a_repeated_hour() -> None:
    # On 2026-11-01 New York repeats 01:00-02:00 (first EDT, then EST).
    ny = policy("01:30", "09:00", timezone="America/New_York")
    second_pass = dt.datetime(2026, 11, 1, 1, 10, tzinfo=NY, fold=1)  # 06:10 UTC
    result = next_send_time(second_pass, ny)
    assert result == dt.datetime(2026, 11, 1, 6, 30, tzinfo=UTC)  # 01:30 EST, not 01:30 EDT
    assert result >= second_pass
    first_pass = dt.datetime(2026, 11, 1, 1, 10, tzinfo=NY, fold=0)  # 05:10 UTC
    assert next_send_time(first_pass, ny) == dt.datetime(2026, 11, 1, 5, 30, tzinfo=UTC)


def test_it_keeps_a_repeated_hour_instant_inside_the_window() -> None:
    ny = policy("01:30", "09:00", timezone="America/New_York")
    inside = dt.datetime(2026, 11, 1, 1, 45, tzinfo=NY, fold=1)
    # PEP 495: an instant in a repeated hour never compares equal across zones, so compare in UTC.
    assert next_send_time(inside, ny) == inside.astimezone(UTC)


def test_it_handles_the_lisbon_fall_back_hour() -> None:
    # On 2026-10-25 Lisbon repeats 01:00-02:00; a window inside it is open twice.
    lisbon_zone = ZoneInfo("Europe/Lisbon")
    lisbon = policy("01:00", "01:30", timezone="Europe/Lisbon")
    after_first = dt.datetime(2026, 10, 25, 1, 40, tzinfo=lisbon_zone, fold=0)
    result = next_send_time(after_first, lisbon)
    assert result == dt.datetime(2026, 10, 25, 1, 0, tzinfo=UTC)  # 01:00 WET, second pass
    assert result > after_first


# --- retries -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("attempt", "minutes"), [(1, 1), (2, 5), (3, 30), (4, 30), (MAX_RETRIES + 10, 30)]
)
def test_it_backs_off_retries(attempt: int, minutes: int) -> None:
    assert retry_delay(attempt) == dt.timedelta(minutes=minutes)


def test_it_allows_three_retries_and_rejects_attempt_zero() -> None:
    assert MAX_RETRIES == 3
    with pytest.raises(ValueError, match="attempt"):
        retry_delay(0)


# --- properties ----------------------------------------------------------------------------

ZONES = [
    "America/Sao_Paulo",
    "America/Manaus",
    "America/Noronha",
    "America/New_York",
    "Europe/Lisbon",
    "Australia/Lord_Howe",  # 30-minute DST shift
    "Asia/Kolkata",
    "UTC",
]
DST_ZONES = ["America/Sao_Paulo", "America/New_York", "Europe/Lisbon", "Australia/Lord_Howe"]
STATES = [None, "SP", "RJ", "MG", "BA", "rs", "XX"]

# DST transitions happen around local 00:00-03:00, so early hours are drawn more often.
minute_times = st.builds(
    dt.time,
    st.one_of(st.integers(0, 3), st.integers(0, 23)),
    st.sampled_from([0, 1, 15, 30, 45, 59]),
)
NUDGES = [dt.timedelta(0), dt.timedelta(microseconds=1), dt.timedelta(minutes=1)]


@cache
def transitions(zone_name: str) -> tuple[dt.datetime, ...]:
    """UTC instants (to the minute) at which the zone's offset changes, 2015-2035."""
    zone = ZoneInfo(zone_name)

    def offset(instant: dt.datetime) -> dt.timedelta | None:
        return instant.astimezone(zone).utcoffset()

    found = []
    day = dt.datetime(2015, 1, 1, tzinfo=UTC)
    while day.year < 2036:
        following = day + dt.timedelta(days=1)
        if offset(day) != offset(following):
            low, high = day, following
            while high - low > dt.timedelta(minutes=1):
                middle = low + dt.timedelta(minutes=(high - low) // dt.timedelta(minutes=2))
                low, high = (middle, high) if offset(middle) == offset(day) else (low, middle)
            found.append(high)
        day = following
    return tuple(found)


@st.composite
def cases(
    draw: st.DrawFn, modes: tuple[str, ...] = ("random", "transition", "edge")
) -> tuple[dt.datetime, SendPolicy]:
    # Uniformly random instants almost never land on a DST transition or a window edge, which
    # is where bugs live, so two of the three modes aim there.
    mode = draw(st.sampled_from(modes))
    zone_name = draw(st.sampled_from(DST_ZONES if mode == "transition" else ZONES))
    zone = ZoneInfo(zone_name)
    start, end = draw(minute_times), draw(minute_times)
    if mode == "transition":
        instant = draw(st.sampled_from(transitions(zone_name)))
        after = instant + dt.timedelta(seconds=draw(st.integers(-8 * 3600, 2 * 3600)))
        # Put the window edges within a couple of hours of the transition's wall-clock time.
        start, end = (
            (instant + dt.timedelta(minutes=15 * draw(st.integers(-8, 8)))).astimezone(zone).time()
            for _ in range(2)
        )
    elif mode == "edge":
        wall = dt.datetime.combine(
            draw(st.dates(dt.date(2015, 1, 1), dt.date(2035, 12, 31))),
            draw(st.sampled_from([start, end])),
            tzinfo=zone,
        ).replace(fold=draw(st.integers(0, 1)))
        nudge = draw(st.sampled_from(NUDGES))
        after = wall + nudge if draw(st.booleans()) else wall - nudge
    else:
        after = draw(
            st.datetimes(
                min_value=dt.datetime(2015, 1, 1),  # noqa: DTZ001 - hypothesis bounds are naive
                max_value=dt.datetime(2035, 12, 31),  # noqa: DTZ001
                timezones=st.sampled_from([ZoneInfo(name) for name in [*ZONES, "Asia/Tokyo"]]),
            )
        )
    near = after.astimezone(zone).date()
    extra = draw(
        st.frozensets(st.integers(-1, 20).map(lambda n: near + dt.timedelta(days=n)), max_size=8)
    )
    return after, SendPolicy(
        window_start=start,
        window_end=end,
        pause_weekends=draw(st.booleans()),
        pause_holidays=draw(st.booleans()),
        timezone=zone_name,
        state=draw(st.sampled_from(STATES)),
        extra_holidays=extra,
    )


def allowed(instant: dt.datetime, policy_: SendPolicy) -> bool:
    """Independent statement of the rule, instant by instant."""
    wall = instant.astimezone(ZoneInfo(policy_.timezone))
    time_of_day = wall.time()
    start, end = policy_.window_start, policy_.window_end
    if start < end:
        in_window = start <= time_of_day < end
    elif start == end:
        in_window = True
    else:
        in_window = time_of_day >= start or time_of_day < end
    return in_window and not is_paused_day(wall.date(), policy_)


def assert_next_send_time_is_right(
    after: dt.datetime, policy_: SendPolicy, scan: dt.timedelta
) -> None:
    result = next_send_time(after, policy_)
    assert result.tzinfo is UTC
    assert result >= after
    assert allowed(result, policy_)
    assert next_send_time(result, policy_) == result
    # Minimality: windows and DST transitions fall on whole minutes, so every allowed stretch is
    # at least a minute long and a one-minute lattice from `after` cannot jump over one.
    probe = after
    stop = min(result, after + scan)
    while probe < stop:
        assert not allowed(probe, policy_), probe
        probe += dt.timedelta(minutes=1)


@settings(max_examples=150, deadline=None)
@given(cases())
def test_it_returns_the_first_allowed_instant_not_before_after(
    case: tuple[dt.datetime, SendPolicy],
) -> None:
    after, policy_ = case
    assert_next_send_time_is_right(after, policy_, scan=dt.timedelta(days=2))


@settings(max_examples=150, deadline=None)
@given(cases(modes=("transition",)))
def test_it_returns_the_first_allowed_instant_around_dst_transitions(
    case: tuple[dt.datetime, SendPolicy],
) -> None:
    after, policy_ = case
    assert_next_send_time_is_right(after, policy_, scan=dt.timedelta(days=1))
