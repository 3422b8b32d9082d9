"""Same-run A/B of server variants, interleaved: `python bench/ab.py --variant ... --path ...`.

Each variant is a gunicorn server started like bench/run's (bench/harness.py: production
settings, DEBUG off, the bench database and Redis), from a checkout of its own and with
environment overrides of its own, all of them up at once. Every round then drives each variant
in turn with wrk (the order rotates between rounds), so that the load of a shared machine hits
every variant alike; the report gives each variant's median over the rounds and every round.

Throughput on a machine shared with other work says more about the neighbours than about the
code, so each run also reads the CPU time the variant spent per request: its gunicorn processes
(`/proc/<pid>/stat` of the server's process group) and its PostgreSQL backends (found in
`pg_stat_activity` by the `application_name` each server sets through `PGAPPNAME`). On the
2-core machine, 2,000 ms / (CPU ms per request, plus wrk's share) bounds what c=8 can reach.

    NAME[@DIR][:KEY=VALUE,KEY=VALUE...]

`DIR` is a checkout (default: this one; e.g. `git archive main | tar -x -C /tmp/base` and a
`.venv` link for the code before a change); the pairs are environment variables of that server
(`GUNICORN_WORKER_CLASS=gthread,GUNICORN_THREADS=4,WEB_CONCURRENCY=3`, `THROTTLE_USER=...`).

    .venv/bin/python bench/ab.py --rounds 5 --duration 5 --path /api/v1/leads/ \\
        --variant sync:WEB_CONCURRENCY=5 --variant gthread:GUNICORN_WORKER_CLASS=gthread,...

Figures of the runs behind the project's choices: bench/README.md ("Throughput").
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import harness


@dataclass
class Variant:
    name: str
    root: Path
    env: dict[str, str] = field(default_factory=dict)
    base: str = ""
    app_name: str = ""
    runs: list[dict[str, Any]] = field(default_factory=list)


def parse_variant(text: str) -> Variant:
    head, _, pairs = text.partition(":")
    name, _, root = head.partition("@")
    env = dict(pair.split("=", 1) for pair in pairs.split(",") if pair)
    return Variant(name, Path(root).resolve() if root else harness.ROOT, env)


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="bench/ab.py",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    harness.add_database_arguments(parser)
    parser.add_argument("--variant", action="append", required=True, type=parse_variant)
    parser.add_argument("--path", action="append", required=True, help="GET path (repeatable)")
    parser.add_argument("--organization", default="bench-1")
    parser.add_argument("--connections", default="8", help="comma-separated, e.g. 1,8")
    parser.add_argument("--duration", type=float, default=5.0, help="seconds per wrk run")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument(
        "--workers",
        type=int,
        default=0,
        help="unless a variant sets its own (0: gunicorn.conf.py default)",
    )
    parser.add_argument("--out", default="", help="also write the figures as JSON here")
    return parser.parse_args(argv)


CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def process_cpu_ms(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) * 1000 / CLOCK_TICKS  # utime + stime


def group_pids(pgid: int) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, IndexError):
                if int((entry / "stat").read_text().rsplit(")", 1)[1].split()[2]) == pgid:
                    pids.append(int(entry.name))
    return pids


def cpu_ms(variant: Variant, database_url: str) -> tuple[float, float]:
    """CPU milliseconds so far of the variant's gunicorn processes and PostgreSQL backends."""
    import psycopg

    python = sum(process_cpu_ms(pid) for pid in group_pids(harness.SERVERS[variant.base]))
    with psycopg.connect(database_url, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE application_name = %s", [variant.app_name]
        ).fetchall()
    return python, sum(process_cpu_ms(row[0]) for row in rows)


def run_round(
    args: argparse.Namespace, variants: list[Variant], requests: list[harness.Request], turn: int
) -> None:
    order = variants[turn % len(variants) :] + variants[: turn % len(variants)]
    for variant in order:
        for connections in (int(c) for c in args.connections.split(",")):
            python_before, sql_before = cpu_ms(variant, args.database_url)
            figures = harness.wrk(
                variant.base, requests, connections=connections, duration=args.duration
            )
            python_after, sql_after = cpu_ms(variant, args.database_url)
            served = max(1, figures["requests"])
            figures["python_cpu_ms"] = round((python_after - python_before) / served, 2)
            figures["sql_cpu_ms"] = round(max(0.0, sql_after - sql_before) / served, 2)
            figures["round"] = turn
            variant.runs.append(figures)
            print(
                f"  round {turn} {variant.name:<12} c={connections:<3} {figures['rps']:7.1f} req/s"
                f"  p50 {figures['p50_ms']:6.1f}  p95 {figures['p95_ms']:6.1f}"
                f"  p99 {figures['p99_ms']:6.1f} ms"
                f"  cpu/request {figures['python_cpu_ms']:.2f} + {figures['sql_cpu_ms']:.2f} ms"
                f"  errors {figures['errors']}",
                flush=True,
            )


def summary(args: argparse.Namespace, variants: list[Variant]) -> list[dict[str, Any]]:
    rows = []
    for variant in variants:
        for connections in (int(c) for c in args.connections.split(",")):
            runs = [r for r in variant.runs if r["connections"] == connections]
            rows.append(
                {
                    "variant": variant.name,
                    "connections": connections,
                    "rps_median": round(statistics.median(r["rps"] for r in runs), 1),
                    "rps_runs": [r["rps"] for r in runs],
                    "p50_median": round(statistics.median(r["p50_ms"] for r in runs), 2),
                    "p95_median": round(statistics.median(r["p95_ms"] for r in runs), 2),
                    "p99_median": round(statistics.median(r["p99_ms"] for r in runs), 2),
                    "python_cpu_ms": round(statistics.median(r["python_cpu_ms"] for r in runs), 2),
                    "sql_cpu_ms": round(statistics.median(r["sql_cpu_ms"] for r in runs), 2),
                    "errors": sum(r["errors"] for r in runs),
                }
            )
    return rows


def main(argv: list[str] | None = None) -> None:
    args = parse(argv)
    env = harness.server_env(args)
    harness.django_setup(env)
    requests_for: list[harness.Request] = []
    with contextlib.ExitStack() as stack:
        for variant in args.variant:
            variant.app_name = f"bench-ab-{variant.name}"
            run_env = env | {"PGAPPNAME": variant.app_name} | variant.env
            variant.base = stack.enter_context(
                harness.gunicorn(
                    run_env,
                    harness.free_port(),
                    int(variant.env.get("WEB_CONCURRENCY", args.workers)),
                    worker_class=variant.env.get("GUNICORN_WORKER_CLASS", ""),
                    root=variant.root,
                )
            )
        token = harness.token_for(args.variant[0].base, args.organization)
        headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
        requests_for = [harness.Request("GET", path, headers) for path in args.path]
        for variant in args.variant:  # warm-up: every worker imports, connects and caches
            harness.wrk(variant.base, requests_for, connections=8, duration=2)
        for turn in range(args.rounds):
            run_round(args, args.variant, requests_for, turn)
    rows = summary(args, args.variant)
    print(
        "\n| variant | c | req/s (median) | p50 ms | p95 ms | p99 ms | CPU ms/request gunicorn +"
        " PostgreSQL | req/s of each round | errors |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---|---:|")
    for row in rows:
        print(
            f"| {row['variant']} | {row['connections']} | {row['rps_median']:.1f} |"
            f" {row['p50_median']:.1f} | {row['p95_median']:.1f} | {row['p99_median']:.1f} |"
            f" {row['python_cpu_ms']:.2f} + {row['sql_cpu_ms']:.2f} |"
            f" {', '.join(f'{x:.0f}' for x in row['rps_runs'])} | {row['errors']} |"
        )
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    if args.out:
        Path(args.out).write_text(json.dumps({"paths": args.path, "rows": rows}, indent=2) + "\n")


if __name__ == "__main__":
    main()
