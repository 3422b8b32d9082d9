"""Back-office pages of one organization, in process: median / p95 ms and the slowest queries.

Usage (the benchmark database that `bench/run` generates; production settings as the server):

    .venv/bin/python bench/admin_pages.py                       # bench-7, 1,000,000 leads
    .venv/bin/python bench/admin_pages.py --organization bench-1 --runs 15

Each page is requested through Django's test client as the organization's admin (logged in by
session, the organization chosen), once to warm up and then `--runs` times; the report gives
the median and p95 of the whole response, the median of this process's CPU time for it, the
number of queries and the slowest statement. `--unfold-rows` measures the pages as unfold
builds them (config.admin_results undone), `--no-kept-translations` with every translation
looked up in the catalogues (config.translations undone), to compare.
The client adds little to a page of this size; the figures are for comparing code, not for
the latency a browser sees. Latest figures: bench/README.md ("Narrow search rows and the back
office at a million leads").
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import harness  # noqa: E402

PAGES = (
    ("leads list", "/admin/leads/lead/"),
    ("leads list, search", "/admin/leads/lead/?q=silva"),
    ("leads list, a year", "/admin/leads/lead/?created_at__year=2026"),
    ("pipeline board", "/admin/leads/lead/board/"),
    ("interactions list", "/admin/leads/leadinteraction/"),
    ("status changes list", "/admin/leads/leadstatuschange/"),
    ("tasks list", "/admin/leads/task/"),
    ("mentees list", "/admin/mentorados/mentorado/"),
    ("painel", "/admin/painel/"),
    ("my day", "/admin/meu-dia/"),
)


def measure(client: Any, path: str, runs: int) -> dict[str, Any]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    response = client.get(path)
    if response.status_code != 200:
        return {"status": response.status_code}
    timings, cpu = [], []
    for _ in range(runs):
        started, cpu_started = time.perf_counter(), time.process_time()
        client.get(path)
        timings.append((time.perf_counter() - started) * 1000)
        cpu.append((time.process_time() - cpu_started) * 1000)
    with CaptureQueriesContext(connection) as queries:
        client.get(path)
    slowest = max(queries.captured_queries, key=lambda q: float(q["time"]), default=None)
    return {
        "status": 200,
        "p50_ms": statistics.median(timings),
        "p95_ms": harness.percentile(timings, 95),
        "cpu_ms": statistics.median(cpu),
        "queries": len(queries.captured_queries),
        "slowest_ms": float(slowest["time"]) * 1000 if slowest else 0.0,
        "slowest_sql": " ".join(slowest["sql"].split())[:90] if slowest else "",
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--organization", default="bench-7")
    parser.add_argument("--runs", type=int, default=9)
    harness.add_database_arguments(parser)
    parser.add_argument(
        "--unfold-rows",
        action="store_true",
        help="unfold's own headers and row checkboxes, rebuilt for every row (before"
        " config.admin_results)",
    )
    parser.add_argument(
        "--no-kept-translations",
        action="store_true",
        help="every gettext looked up through the catalogues (before config.translations)",
    )
    args = parser.parse_args(argv)
    env = harness.server_env(args)
    harness.django_setup(env)
    import logging

    from django.test import Client
    from django.urls import reverse

    from organizations.models import Membership

    logging.disable(logging.CRITICAL)  # the request log would drown the report
    if args.unfold_rows:
        unfold_rows()
    if args.no_kept_translations:
        unkept_translations()
    admin = Membership.objects.select_related("user").get(
        organization__slug=args.organization, user__email=f"admin@{args.organization}.test"
    )
    client = Client()
    client.force_login(admin.user)
    client.get(reverse("admin:switch-organization", args=[admin.organization_id]))
    print(f"{args.organization}, {runs_label(args.runs)}, pid {os.getpid()}")
    print("| page | p50 ms | p95 ms | CPU ms (p50) | queries | slowest query ms | slowest query |")
    print("|---|---:|---:|---:|---:|---:|---|")
    for title, path in PAGES:
        row = measure(client, path, args.runs)
        if row["status"] != 200:
            print(f"| {title} | status {row['status']} | | | | | |")
            continue
        print(
            f"| {title} | {row['p50_ms']:.1f} | {row['p95_ms']:.1f} | {row['cpu_ms']:.1f} |"
            f" {row['queries']} |"
            f" {row['slowest_ms']:.1f} | `{row['slowest_sql']}` |",
            flush=True,
        )


def unfold_rows() -> None:
    """Unfold's own list rows: every header rebuilt and the checkbox rendered for each row."""
    from unfold import admin as unfold_admin
    from unfold.templatetags import unfold_list

    unfold_list.result_headers = unfold_list.result_headers.__wrapped__
    unfold_admin.ModelAdmin.action_checkbox = unfold_admin.ModelAdmin.action_checkbox.__wrapped__


def unkept_translations() -> None:
    """Python's GNUTranslations.gettext again: each message asked of every catalogue."""
    from django.utils.translation import trans_real

    del trans_real.DjangoTranslation.gettext
    setattr(trans_real, "_translations", {})  # noqa: B010 (private: no stub declares it)


def runs_label(runs: int) -> str:
    return f"{runs} runs a page after a warm-up"


if __name__ == "__main__":
    main()
