"""Benchmark: one worker dispatching N due email steps with the console email backend.

Usage (a dedicated, migrated database; it is filled with a fresh organization each run):

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/h_follow_bench \\
    REDIS_URL=redis://127.0.0.1:6379/1 EMAIL_URL=consolemail:// \\
    .venv/bin/python bench/followup_dispatch.py --steps 10000 > /dev/null

Emails are written to stdout by the console backend (send it to /dev/null); the figures go to
stderr. Each execution has two email steps, so every dispatched step also computes the next
step's time with the timing rule (window 09:00-18:00, weekends and holidays paused).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ.setdefault("LOG_LEVEL", "WARNING")

import django

django.setup()

from django.db import connection  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from django.utils import timezone  # noqa: E402

from bench.harness import prepare_dispatch  # noqa: E402
from followup.engine import dispatch_due  # noqa: E402
from followup.models import FollowupExecution  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=10_000)
    parser.add_argument("--batch-size", type=int, default=200)
    args = parser.parse_args()
    if FollowupExecution.objects.filter(
        status="active", proxima_execucao__lte=timezone.now()
    ).exists():
        sys.exit("the database already has due executions; use a fresh benchmark database")

    organization = prepare_dispatch(args.steps)
    with CaptureQueriesContext(connection) as queries:
        started = time.perf_counter()
        stats = dispatch_due(batch_size=args.batch_size)
        elapsed = time.perf_counter() - started
    done = stats.sent
    print(
        f"dispatched {done} email steps in {elapsed:.2f} s with one worker: "
        f"{done / elapsed:.0f} steps/s; {len(queries.captured_queries)} SQL queries "
        f"({len(queries.captured_queries) / max(done, 1):.2f} per step); batch {args.batch_size}",
        file=sys.stderr,
    )
    print(f"counts: {stats.as_dict()}", file=sys.stderr)
    if done != args.steps:
        raise SystemExit("not every step was dispatched")
    if FollowupExecution.objects.filter(organization=organization, step_atual=0).exists():
        raise SystemExit("an execution was not moved on")


if __name__ == "__main__":
    main()
