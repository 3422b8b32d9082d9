"""When an interaction's `proximo_passo` names a day, that step becomes a task (a pure parser).

Accepted, anywhere in the text, case and accents ignored (the first match wins):

- `dd/mm/aaaa`, `dd/mm/aa`, `dd-mm-aaaa`, `dd.mm.aaaa`: that day;
- `dd/mm`: that day this year, or next year when it has already passed;
- `hoje`, `amanhã` (or `amanha`), `depois de amanhã`: relative to the interaction's day;
- optionally a time after the day: `14h`, `14h30`, `14:30`, `às 9h` (24-hour clock).

Without a time the task is due at `DEFAULT_HOUR`:00. Days and times are in the organization's
time zone. Anything else (no date, an impossible date such as 31/02) creates no task.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

DEFAULT_HOUR = 9

_DATE = re.compile(r"\b(\d{1,2})[/.-](\d{1,2})(?:[/.-](\d{2}|\d{4}))?\b")
_RELATIVE = re.compile(r"\b(depois de amanha|amanha|hoje)\b")
_TIME = re.compile(
    r"^\s*(?:,|-)?\s*(?:as|a partir das|por volta das)?\s*(\d{1,2})(?:h(\d{2})?|:(\d{2}))"
)
_OFFSETS = {"hoje": 0, "amanha": 1, "depois de amanha": 2}


def _fold(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text.lower())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def _day(match: re.Match[str], today: date) -> date | None:
    day, month, year_text = int(match.group(1)), int(match.group(2)), match.group(3)
    if year_text is None:
        try:
            candidate = date(today.year, month, day)
        except ValueError:
            return None
        return candidate if candidate >= today else _replace_year(candidate, today.year + 1)
    year = int(year_text)
    if len(year_text) == 2:
        year += 2000
    try:
        return date(year, month, day)
    except ValueError:
        return None


def _replace_year(day: date, year: int) -> date | None:
    try:
        return day.replace(year=year)
    except ValueError:  # 29/02 in a year without it
        return None


def _time_after(text: str) -> time | None:
    match = _TIME.match(text)
    if match is None:
        return None
    hour = int(match.group(1))
    minute = int(match.group(2) or match.group(3) or 0)
    if hour > 23 or minute > 59:
        return None
    return time(hour, minute)


def parse_due(text: str, *, now: datetime, tz: str) -> datetime | None:
    """The moment `text` names (aware, in `tz`), or None when it names no valid day."""
    if not text:
        return None
    zone = ZoneInfo(tz)
    folded = _fold(text)
    today = now.astimezone(zone).date()
    found: list[tuple[int, int, date | None]] = []
    absolute = _DATE.search(folded)
    if absolute is not None:
        found.append((absolute.start(), absolute.end(), _day(absolute, today)))
    relative = _RELATIVE.search(folded)
    if relative is not None:
        found.append(
            (relative.start(), relative.end(), today + timedelta(days=_OFFSETS[relative.group(1)]))
        )
    if not found:
        return None
    _start, end, day = min(found, key=lambda item: item[0])
    if day is None:
        return None
    at = _time_after(folded[end:]) or time(DEFAULT_HOUR)
    return datetime.combine(day, at, tzinfo=zone)
