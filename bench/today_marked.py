"""The sales dashboard while today is marked (a write this hour), in-process.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench DEBUG=true \\
        .venv/bin/python bench/today_marked.py [slug] [repeats] [hour]

On a bench data set (`bench/run --million` leaves `bench-7`, 1,000,000 leads, the default).
"Now" is yesterday (UTC) at `hour`:30 (default 23:30: the day's worst case, 23 whole hours
before it); the hour rows of that day and of the windows' start days are built, as the
`leads-rollups` job keeps them for the real today. The
dashboard (the organization's admin, period 30 and 365) is read in four states, interleaved so
that a busy machine's noise falls on all of them:

- `clean`: no mark on the day (its hour rows, the current hour raw);
- `hour`: a mark on the current hour, what a write this hour leaves until the job runs;
- `all hours`: a mark on every hour of the day, the hour path's worst case;
- `day`: a mark without an hour, as every mark was before migration 0024: the raw rows since
  midnight.

Prints p50/p95 ms per state and period; `bench/run --million` records the same (`measure`)
for its largest organization, 10 rounds, with its targets. Leaves the marks as it found them;
the hour rows it built stay only on the days the job keeps them for (leads.rollups.edge_days).
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

STATES = ("clean", "hour", "all hours", "day")
PERIODS = (30, 365)


def marks_for(state: str, hour: int) -> list[int | None]:
    return {"clean": [], "hour": [hour], "all hours": list(range(24)), "day": [None]}[state]


def measure(slug: str, *, repeats: int = 15, hour: int = 23) -> dict[str, Any]:
    """p50/p95 ms per state and period (Django set up by the caller): {"now": ..., "built_s":
    ..., "states": {state: {"30" | "365": {"p50_ms", "p95_ms"}}}} (JSON's keys)."""
    from django.db import transaction

    from leads import dashboard_selectors, rollups
    from leads.models import LeadDailyRollup, LeadRollupMark
    from organizations.models import Membership, Organization, Role

    organization = Organization.objects.get(slug=slug)
    admin = Membership.objects.filter(organization=organization, role=Role.ADMIN).first()
    day = datetime.now(UTC).date() - timedelta(days=1)
    now = datetime.combine(day, datetime.min.time(), tzinfo=UTC) + timedelta(hours=hour, minutes=30)
    rollups.refresh_marked()  # the day's own marks, if a write left some: measured unmarked
    scopes = {
        period: dashboard_selectors.dashboard_scope(membership=admin, period_days=period, now=now)
        for period in PERIODS
    }
    # As the job keeps them for the real today: that day's and the windows' start days'.
    days = [day, *(scope.start.astimezone(UTC).date() for scope in scopes.values())]
    started = time.perf_counter()
    with transaction.atomic():
        rollups.build_hours(organization.pk, days)
    built = time.perf_counter() - started
    timings: dict[str, dict[int, list[float]]] = {state: {} for state in STATES}
    try:
        for _ in range(repeats + 1):  # the first round warms the caches, not counted
            for state in STATES:
                LeadRollupMark.objects.bulk_create(
                    LeadRollupMark(organization_id=organization.pk, day=day, hour=mark)
                    for mark in marks_for(state, hour)
                )
                for period, scope in scopes.items():
                    started = time.perf_counter()
                    dashboard_selectors.sales_dashboard(scope)
                    elapsed = (time.perf_counter() - started) * 1000
                    timings[state].setdefault(period, []).append(elapsed)
                LeadRollupMark.objects.filter(organization_id=organization.pk, day=day).delete()
    finally:
        LeadRollupMark.objects.filter(organization_id=organization.pk, day=day).delete()
        LeadDailyRollup.objects.filter(
            organization_id=organization.pk,
            day__in=set(days) - set(rollups.edge_days()),
            grain__gte=rollups.HOUR,
        ).delete()
    states = {
        state: {str(period): _percentiles(values[1:]) for period, values in by_period.items()}
        for state, by_period in timings.items()
    }
    return {"now": now.isoformat(), "built_s": round(built, 1), "states": states}


def _percentiles(values: list[float]) -> dict[str, float]:
    values = sorted(values)
    p95 = values[min(len(values) - 1, round(0.95 * (len(values) - 1)))]
    return {"p50_ms": round(statistics.median(values), 1), "p95_ms": round(p95, 1)}


def main() -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    slug = sys.argv[1] if len(sys.argv) > 1 else "bench-7"
    repeats = int(sys.argv[2]) if len(sys.argv) > 2 else 15
    hour = int(sys.argv[3]) if len(sys.argv) > 3 else 23
    figures = measure(slug, repeats=repeats, hour=hour)
    print(f"{slug}: now = {figures['now']}, hour rows built in {figures['built_s']} s")
    print(f"{repeats} rounds, ms in-process")
    for state, by_period in figures["states"].items():
        for period, values in by_period.items():
            print(
                f"  {state:<10} period {period:>3}:"
                f" p50 {values['p50_ms']:7.1f}  p95 {values['p95_ms']:7.1f}"
            )


if __name__ == "__main__":
    main()
