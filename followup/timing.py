"""When a follow-up step may be sent: send windows, paused days, holidays and retry backoff.

Pure functions, no Django: the engine builds a :class:`SendPolicy` from a ``FollowupSequence``
(horario_envio_inicio/fim, pausar_fim_semana, pausar_feriados) and its organization (time zone,
state, ``OrganizationHoliday`` dates) and asks :func:`next_send_time` for the first instant
``>= after`` at which the step may go out.

Choices, so callers know what to expect:

Windows (local wall-clock, in ``policy.timezone``)
    * ``start < end``: same-day window ``[start, end)``.
    * ``start == end``: the whole day (no time restriction); only paused days are skipped. An
      empty window would make the sequence unusable, and "09:00-09:00" is what a form produces
      when someone means "any time".
    * ``end < start``: overnight window, e.g. 22:00-02:00 means local time ``>= 22:00`` or
      ``< 02:00``. The API rejects this for new sequences, but stored data may have it. The
      paused-day check uses the local date of the instant itself, so with weekends paused,
      Saturday 01:00 is blocked while Monday 00:30 (part of Sunday night's window) is allowed.

Paused days
    * ``pause_weekends``: local Saturday and Sunday.
    * ``pause_holidays``: Brazilian national holidays, the holidays of ``policy.state`` (a UF
      such as "SP"; unknown codes are treated as "no state"), Carnival Monday and Tuesday, and
      ``policy.extra_holidays`` (the organization's own days off: they are holidays too, so they
      follow the same switch).
    * Carnival Monday and Tuesday are legally "ponto facultativo", not holidays, but most sales
      teams do not work, so they are paused. Ash Wednesday (work resumes at noon) and the other
      optional days (Corpus Christi, Dia do Servidor Público, Christmas and New Year's Eve) are
      not paused.

Daylight saving
    All arithmetic is done on UTC instants split into runs of constant UTC offset (found with
    ``zoneinfo``), never by naive arithmetic across a transition. Consequences:

    * A window start that falls in a DST gap (e.g. 00:00 on 2018-11-04 in São Paulo, or 02:30
      on a spring-forward day in New York) resolves to the first real instant after the gap,
      provided that instant's wall-clock time is still inside the window. A window lying
      entirely inside the gap has no instant that day, so the next day is used.
    * In a repeated (fall-back) hour the answer is the first instant ``>= after`` whose
      wall-clock time is inside the window, so it is never earlier than ``after``.
    * Offsets are probed every :data:`_PROBE` and transitions are located by bisection; two
      transitions closer together than that would be missed (tzdata has none in practice).

Horizon
    The search covers :data:`HORIZON_DAYS` days after ``after``. If every day in it is paused
    (only possible with pathological ``extra_holidays``), :class:`NoSendWindow` is raised
    instead of looping.

The result is always a timezone-aware datetime in UTC.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays
from dateutil.easter import easter

__all__ = [
    "HORIZON_DAYS",
    "MAX_RETRIES",
    "NoSendWindow",
    "SendPolicy",
    "brazil_holidays",
    "is_paused_day",
    "next_send_time",
    "retry_delay",
]

#: How far ahead :func:`next_send_time` looks before giving up. A year plus slack: no real
#: combination of weekends and holidays blocks anywhere near that long.
HORIZON_DAYS = 400

#: Channel failures are retried this many times before the execution is marked ``failed``.
MAX_RETRIES = 3

_UTC = datetime.UTC
_MIDNIGHT = datetime.time(0, 0)
_ONE_DAY = datetime.timedelta(days=1)
_ONE_MICROSECOND = datetime.timedelta(microseconds=1)
# UTC offsets are probed this far apart; a change between two probes is bisected. Real tzdata
# never has two transitions within a few hours of each other.
_PROBE = datetime.timedelta(hours=6)
# Keeps horizon and day arithmetic clear of datetime.min/max, where it would overflow.
_EARLIEST = datetime.datetime.min.replace(tzinfo=_UTC) + datetime.timedelta(days=2)
_LATEST = datetime.datetime.max.replace(tzinfo=_UTC) - datetime.timedelta(days=HORIZON_DAYS + 2)

_RETRY_DELAYS = (
    datetime.timedelta(minutes=1),
    datetime.timedelta(minutes=5),
    datetime.timedelta(minutes=30),
)

# Brazilian UFs the holidays package knows, e.g. "SP". Its subdivision list also contains a
# municipal entry ("São Paulo Capital"), which is not a state, hence the length filter.
_BRAZIL_STATES = frozenset(
    code for code in holidays.country_holidays("BR").subdivisions if len(code) == 2
)
# Consciência Negra became a national holiday by Lei 14.759/2023, from 2024 on.
_BLACK_AWARENESS_NATIONAL_SINCE = 2024


class NoSendWindow(Exception):
    """No allowed instant exists within :data:`HORIZON_DAYS` days (every day is paused)."""

    def __init__(self, after: datetime.datetime, policy: SendPolicy) -> None:
        super().__init__(
            f"No send window within {HORIZON_DAYS} days after {after.isoformat()}: "
            "every day is paused by weekends or holidays."
        )
        self.after = after
        self.policy = policy


@dataclass(frozen=True)
class SendPolicy:
    """When a sequence may send, in the organization's local time.

    ``window_start``/``window_end`` are naive local wall-clock times; the window is
    ``[start, end)``. See the module docstring for ``start == end`` and ``end < start``.
    """

    window_start: datetime.time
    window_end: datetime.time
    pause_weekends: bool
    pause_holidays: bool
    timezone: str = "America/Sao_Paulo"
    state: str | None = None
    extra_holidays: frozenset[datetime.date] = frozenset()
    # Derived once per policy, because next_send_time runs for every dispatched step.
    _zone: ZoneInfo = field(init=False, repr=False, compare=False)
    _windows: tuple[tuple[datetime.timedelta, datetime.timedelta], ...] = field(
        init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        if self.window_start.tzinfo is not None or self.window_end.tzinfo is not None:
            raise ValueError("window_start and window_end must be naive local times")
        try:
            zone = ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"Unknown time zone: {self.timezone!r}") from exc
        object.__setattr__(self, "_zone", zone)
        object.__setattr__(self, "_windows", _window_offsets(self.window_start, self.window_end))


def _since_midnight(value: datetime.time) -> datetime.timedelta:
    return datetime.timedelta(
        hours=value.hour,
        minutes=value.minute,
        seconds=value.second,
        microseconds=value.microsecond,
    )


def _window_offsets(
    start: datetime.time, end: datetime.time
) -> tuple[tuple[datetime.timedelta, datetime.timedelta], ...]:
    """The window as ``[from, to)`` offsets from a local midnight, all belonging to that date."""
    begin, finish = _since_midnight(start), _since_midnight(end)
    if begin < finish:
        return ((begin, finish),)
    if begin == finish:
        return ((datetime.timedelta(0), _ONE_DAY),)
    # Overnight: the early-morning tail and the evening head both belong to the same local date,
    # which is the date the paused-day check looks at.
    return ((datetime.timedelta(0), finish), (begin, _ONE_DAY))


@lru_cache(maxsize=1024)
def brazil_holidays(year: int, state: str | None) -> frozenset[datetime.date]:
    """Days paused by ``pause_holidays`` for ``year``: national, state and Carnival Mon/Tue.

    ``state`` is a UF code such as "SP" (case and surrounding spaces ignored); unknown codes are
    treated as ``None`` so bad organization data cannot break dispatching.
    """
    code = state.strip().upper() if state else None
    subdiv = code if code in _BRAZIL_STATES else None
    public = holidays.country_holidays("BR", subdiv=subdiv, years=year, categories=holidays.PUBLIC)
    days = set(public.keys())
    # Carnival Monday and Tuesday (Easter - 48 and - 47) are "ponto facultativo" in the package's
    # optional category together with days we do not want (Ash Wednesday, Corpus Christi, ...),
    # so they are computed directly instead of taking that whole category.
    easter_sunday: datetime.date = easter(year)
    days.add(easter_sunday - datetime.timedelta(days=48))
    days.add(easter_sunday - datetime.timedelta(days=47))
    if year >= _BLACK_AWARENESS_NATIONAL_SINCE:
        # holidays 0.109 already has it; kept explicit so a data regression cannot drop it.
        days.add(datetime.date(year, 11, 20))
    return frozenset(days)


def is_paused_day(day: datetime.date, policy: SendPolicy) -> bool:
    """Whether nothing may be sent on local date ``day`` under ``policy``."""
    if policy.pause_weekends and day.weekday() >= 5:
        return True
    if policy.pause_holidays:
        return day in policy.extra_holidays or day in brazil_holidays(day.year, policy.state)
    return False


def retry_delay(attempt: int) -> datetime.timedelta:
    """Backoff before retry number ``attempt`` (1-based) of a failed channel send."""
    if attempt < 1:
        raise ValueError("attempt starts at 1")
    return _RETRY_DELAYS[min(attempt, len(_RETRY_DELAYS)) - 1]


def next_send_time(after: datetime.datetime, policy: SendPolicy) -> datetime.datetime:
    """First instant ``>= after`` inside the policy's window on a day that is not paused.

    ``after`` must be timezone-aware (any zone). Returns an aware UTC datetime. Raises
    :class:`NoSendWindow` if nothing is allowed within :data:`HORIZON_DAYS` days.
    """
    if after.tzinfo is None or after.utcoffset() is None:
        raise ValueError("after must be timezone-aware")
    try:
        start = after.astimezone(_UTC)
    except OverflowError as exc:
        raise ValueError("after is outside the supported date range") from exc
    if not _EARLIEST <= start <= _LATEST:
        raise ValueError("after is outside the supported date range")

    zone = policy._zone
    limit = start + datetime.timedelta(days=HORIZON_DAYS)
    run_start = start
    offset = _offset(run_start, zone)
    # Walk forward through runs of constant UTC offset; inside a run, local wall-clock time is
    # UTC + offset, so naive arithmetic there is exact. Each run is at most _PROBE long, so a
    # day costs a handful of iterations, not one per minute.
    while run_start < limit:
        probe = run_start + _PROBE
        probe_offset = _offset(probe, zone)
        run_end = probe if probe_offset == offset else _transition(run_start, probe, offset, zone)
        found = _first_allowed(run_start, run_end, offset, policy)
        if found is not None:
            return found
        run_start = run_end
        offset = probe_offset if run_end == probe else _offset(run_end, zone)
    raise NoSendWindow(after, policy)


def _offset(instant: datetime.datetime, zone: ZoneInfo) -> datetime.timedelta:
    offset = instant.astimezone(zone).utcoffset()
    if offset is None:  # pragma: no cover - ZoneInfo always returns an offset for aware input
        raise AssertionError("zoneinfo returned no UTC offset")
    return offset


def _transition(
    low: datetime.datetime,
    high: datetime.datetime,
    offset: datetime.timedelta,
    zone: ZoneInfo,
) -> datetime.datetime:
    """The first instant in ``(low, high]`` whose offset differs from ``offset`` (= at ``low``)."""
    while high - low > _ONE_MICROSECOND:
        middle = low + (high - low) // 2
        if _offset(middle, zone) == offset:
            low = middle
        else:
            high = middle
    return high


def _first_allowed(
    run_start: datetime.datetime,
    run_end: datetime.datetime,
    offset: datetime.timedelta,
    policy: SendPolicy,
) -> datetime.datetime | None:
    """Earliest allowed instant in ``[run_start, run_end)``, a run with constant ``offset``."""
    wall_start = (run_start + offset).replace(tzinfo=None)
    wall_end = (run_end + offset).replace(tzinfo=None)
    day = wall_start.date()
    last_day = (wall_end - _ONE_MICROSECOND).date()
    while day <= last_day:
        if not is_paused_day(day, policy):
            midnight = datetime.datetime.combine(day, _MIDNIGHT)
            for begin, finish in policy._windows:
                low = max(midnight + begin, wall_start)
                high = min(midnight + finish, wall_end)
                if low < high:
                    return (low - offset).replace(tzinfo=_UTC)
        day += _ONE_DAY
    return None
