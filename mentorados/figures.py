"""Mentee figures (DOMAIN.md "Figures"), as pure functions: no database, no clock.

Definitions, precisely:

- A *month* is a calendar month identified by (ano, mes); `month_index` maps it to a
  consecutive integer so "the previous month" of January 2026 is December 2025.
- Percentages are Decimals rounded to 2 places, ties away from zero (ROUND_HALF_UP).
- **crescimento_mensal** of a reported month = (faturamento - faturamento of the calendar month
  just before) / that previous faturamento x 100; None when the previous calendar month was not
  reported (a gap) or its faturamento is 0.
- **crescimento_percentual** (12 months): let L be the latest reported month; the window is L
  and the 11 calendar months before it. base = the earliest reported month inside the window.
  Result = (faturamento(L) - faturamento(base)) / faturamento(base) x 100; None when no month is
  reported, when base is L itself (one month in the window: also the case when every other
  report is more than 11 months older than L) or when faturamento(base) is 0.
- **faturamento_atual** = faturamento of the latest reported month; None when none.
- **engagement_score** (integer 0-100) on day `today` (a date in the organization's time zone):
  - 15 for each of the *last 3 closed months* that has a report (max 45). The closed months
    are the three calendar months before the month containing `today`: on 2026-03-15 (and on
    2026-03-01) they are 2025-12, 2026-01 and 2026-02. The current month never counts (it is
    still open).
  - 20 when a feedback is dated within the last 60 days: today - 59 days <= data_feedback <=
    today (60 calendar days, today included).
  - 2 x nota_geral of the latest feedback (the greatest data_feedback, ties broken by the
    latest created_at), whatever its age (max 20).
  - 15 when revenue grew over the last 3 reported months: the three latest reported months (not
    necessarily consecutive) exist and the latest one's faturamento is strictly greater than the
    earliest one's.
  - Feedbacks dated after `today` and months after today's month are ignored (they cannot be
    written through the API; the rule keeps the function total).
  - The sum is capped at 100 (its parts already add up to at most 100).
- **NPS** over a set of answers = round((promoters - detractors) / answers x 100), promoters
  being nota_nps 9-10, detractors 0-6 (7-8 are neutral); ties round away from zero; None when
  there is no answer.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

HUNDRED = Decimal(100)
CENT = Decimal("0.01")
GROWTH_WINDOW_MONTHS = 12
CLOSED_MONTHS = 3
POINTS_PER_CLOSED_MONTH = 15
RECENT_FEEDBACK_DAYS = 60
POINTS_RECENT_FEEDBACK = 20
POINTS_PER_NOTA = 2
# Orders a feedback without created_at first (created_at is aware).
_EARLIEST = datetime.min.replace(tzinfo=UTC)
POINTS_GROWTH = 15
GROWTH_MONTHS = 3
ENGAGEMENT_MAX = 100
# Dashboard bands of engagement_score, inclusive bounds.
ENGAGEMENT_BANDS: tuple[tuple[int, int], ...] = ((0, 24), (25, 49), (50, 74), (75, 100))
PROMOTER_MIN = 9
DETRACTOR_MAX = 6


@dataclass(frozen=True)
class MonthRevenue:
    """One reported month."""

    ano: int
    mes: int
    faturamento: Decimal

    @property
    def index(self) -> int:
        return month_index(self.ano, self.mes)


@dataclass(frozen=True)
class FeedbackNote:
    """What engagement needs of one feedback."""

    data_feedback: date
    nota_geral: int
    created_at: datetime | None = None


def month_index(ano: int, mes: int) -> int:
    """Consecutive integer per calendar month (January of year Y follows December of Y-1)."""
    if not 1 <= mes <= 12:
        raise ValueError(f"mes must be 1-12, got {mes}")
    return ano * 12 + (mes - 1)


def month_of_index(index: int) -> tuple[int, int]:
    return index // 12, index % 12 + 1


def percent_change(current: Decimal, base: Decimal | None) -> Decimal | None:
    """(current - base) / base x 100, 2 places; None when base is missing or zero."""
    if base is None or base == 0:
        return None
    return ((current - base) * HUNDRED / base).quantize(CENT, rounding=ROUND_HALF_UP)


def _chronological(months: Iterable[MonthRevenue]) -> list[MonthRevenue]:
    ordered = sorted(months, key=lambda m: m.index)
    for earlier, later in itertools.pairwise(ordered):
        if earlier.index == later.index:
            raise ValueError(f"month {later.mes}/{later.ano} reported twice")
    return ordered


def crescimento_mensal(months: Iterable[MonthRevenue]) -> list[tuple[MonthRevenue, Decimal | None]]:
    """Each reported month in chronological order with its growth over the previous month."""
    ordered = _chronological(months)
    result: list[tuple[MonthRevenue, Decimal | None]] = []
    previous: MonthRevenue | None = None
    for month in ordered:
        adjacent = previous is not None and previous.index == month.index - 1
        base = previous.faturamento if adjacent and previous is not None else None
        result.append((month, percent_change(month.faturamento, base)))
        previous = month
    return result


def faturamento_atual(months: Iterable[MonthRevenue]) -> Decimal | None:
    ordered = _chronological(months)
    return ordered[-1].faturamento if ordered else None


def crescimento_percentual(months: Iterable[MonthRevenue]) -> Decimal | None:
    """Growth of the latest month over the earliest reported one within the 12-month window."""
    ordered = _chronological(months)
    if not ordered:
        return None
    latest = ordered[-1]
    first_in_window = latest.index - (GROWTH_WINDOW_MONTHS - 1)
    base = next(m for m in ordered if m.index >= first_in_window)
    if base is latest:
        return None
    return percent_change(latest.faturamento, base.faturamento)


def last_closed_months(today: date, count: int = CLOSED_MONTHS) -> list[tuple[int, int]]:
    """The `count` calendar months before today's month, oldest first, as (ano, mes)."""
    current = month_index(today.year, today.month)
    return [month_of_index(current - k) for k in range(count, 0, -1)]


def engagement_score(
    months: Iterable[MonthRevenue], feedbacks: Iterable[FeedbackNote], today: date
) -> int:
    current = month_index(today.year, today.month)
    reported = [m for m in _chronological(months) if m.index <= current]
    closed = {month_index(ano, mes) for ano, mes in last_closed_months(today)}
    score = POINTS_PER_CLOSED_MONTH * sum(1 for m in reported if m.index in closed)

    notes = [f for f in feedbacks if f.data_feedback <= today]
    if notes:
        oldest_recent = today - timedelta(days=RECENT_FEEDBACK_DAYS - 1)
        if any(f.data_feedback >= oldest_recent for f in notes):
            score += POINTS_RECENT_FEEDBACK
        latest = max(notes, key=lambda f: (f.data_feedback, f.created_at or _EARLIEST))
        score += POINTS_PER_NOTA * max(0, min(10, latest.nota_geral))

    if len(reported) >= GROWTH_MONTHS:
        window = reported[-GROWTH_MONTHS:]
        if window[-1].faturamento > window[0].faturamento:
            score += POINTS_GROWTH
    return min(score, ENGAGEMENT_MAX)


def engagement_band(score: int) -> str:
    """Dashboard band label ("0-24", "25-49", "50-74", "75-100") of a score."""
    for low, high in ENGAGEMENT_BANDS:
        if low <= score <= high:
            return f"{low}-{high}"
    raise ValueError(f"engagement score out of range: {score}")


def nps_category(nota_nps: int) -> str:
    if not 0 <= nota_nps <= 10:
        raise ValueError(f"nota_nps must be 0-10, got {nota_nps}")
    if nota_nps >= PROMOTER_MIN:
        return "promotor"
    if nota_nps <= DETRACTOR_MAX:
        return "detrator"
    return "neutro"


def nps_from_counts(*, promotores: int, detratores: int, total: int) -> int | None:
    """NPS from counts (what the dashboard aggregates in the database)."""
    if total <= 0:
        return None
    if promotores < 0 or detratores < 0 or promotores + detratores > total:
        raise ValueError("inconsistent NPS counts")
    value = Decimal(promotores - detratores) * HUNDRED / Decimal(total)
    return int(value.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def nps(notas: Sequence[int] | Iterable[int]) -> int | None:
    values = list(notas)
    categories = [nps_category(n) for n in values]
    return nps_from_counts(
        promotores=categories.count("promotor"),
        detratores=categories.count("detrator"),
        total=len(values),
    )
