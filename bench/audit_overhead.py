"""Write overhead of the audit trail (django-simple-history) on two hot writes.

Usage (a database of its own, migrated; never the development or test one):

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/h_privacy_bench \\
        .venv/bin/python manage.py migrate
    DATABASE_URL=... .venv/bin/python bench/audit_overhead.py [--rounds 5] [--n 200]

In process, through the services the API calls: "create an interaction"
(leads.services.interaction_create: the interaction, the lead's counters and score, signals)
and "update a lead" (leads.services.lead_update of two fields). Each round times N of each with
the audit trail on and N with it off (SIMPLE_HISTORY_ENABLED=False), switching at every call
(ABAB, the first mode alternating between rounds) so drift hits both; the medians of the rounds
and the median of each round's own on/off ratio are reported. Everything runs in a transaction
that is rolled back, and jobs are enqueued on commit, so nothing stays and no worker is needed.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

import django

django.setup()

from django.conf import settings  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402

from leads import services as lead_services  # noqa: E402
from organizations import services as org_services  # noqa: E402


class Rollback(Exception):
    pass


def _interleaved(fn: Callable[[int], None], n: int, first: str) -> dict[str, float]:
    """Time n calls, switching the audit trail on and off at every call (ABAB...), so that any
    drift (a growing table, the machine's load) hits both modes alike; ms per call per mode."""
    totals = {"on": 0.0, "off": 0.0}
    order = [first, "off" if first == "on" else "on"]
    for i in range(2 * n):
        mode = order[i % 2]
        settings.SIMPLE_HISTORY_ENABLED = mode == "on"
        started = time.perf_counter()
        fn(i)
        totals[mode] += time.perf_counter() - started
    return {mode: total / n * 1000 for mode, total in totals.items()}


def run(rounds: int, n: int) -> dict[str, dict[str, float]]:
    results: dict[str, dict[str, list[float]]] = {
        "interaction_create": {"on": [], "off": []},
        "lead_update": {"on": [], "off": []},
    }
    try:
        with transaction.atomic():
            organization, admin = org_services.organization_create(
                nome="Bench audit", admin_email="bench-audit@example.com", admin_password=None
            )
            lead = lead_services.lead_create(
                organization=organization,
                actor=admin,
                data={"nome_completo": "Lead Bench", "email": "lead-bench@example.com"},
            )

            def interaction(i: int) -> None:
                lead_services.interaction_create(
                    lead=lead,
                    actor=admin,
                    data={
                        "tipo_interacao": "ligacao",
                        "resultado": "contato_realizado",
                        "detalhes_completos": f"round {i}",
                    },
                )

            def update(i: int) -> None:
                lead_services.lead_update(
                    lead=lead, actor=admin, data={"empresa": f"Empresa {i}", "cargo": f"C{i}"}
                )

            for fn, name in ((interaction, "interaction_create"), (update, "lead_update")):
                fn(0)  # warm caches
                for mode in ("on", "off"):
                    settings.SIMPLE_HISTORY_ENABLED = mode == "on"
                    with CaptureQueriesContext(connection) as queries:
                        fn(1)
                    results[name][f"queries_{mode}"] = [float(len(queries))]
                for r in range(rounds):
                    timed = _interleaved(fn, n, first="on" if r % 2 == 0 else "off")
                    for mode in ("on", "off"):
                        results[name][mode].append(timed[mode])
                    results[name].setdefault("ratio", []).append(timed["on"] / timed["off"])
            settings.SIMPLE_HISTORY_ENABLED = True
            raise Rollback
    except Rollback:
        pass
    summary: dict[str, dict[str, float]] = {}
    for name, modes in results.items():
        on, off = statistics.median(modes["on"]), statistics.median(modes["off"])
        summary[name] = {
            "on_ms": round(on, 3),
            "off_ms": round(off, 3),
            "overhead_pct": round((on - off) / off * 100, 1),
            # Each round's own on/off ratio, the median of them: robust to drift between rounds.
            "paired_overhead_pct": round((statistics.median(modes["ratio"]) - 1) * 100, 1),
            "queries_on": modes["queries_on"][0],
            "queries_off": modes["queries_off"][0],
        }
    return summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--n", type=int, default=200)
    args = parser.parse_args()
    for name, figures in run(args.rounds, args.n).items():
        print(
            f"{name}: {figures['off_ms']} ms off, {figures['on_ms']} ms on, "
            f"overhead {figures['overhead_pct']}% (paired {figures['paired_overhead_pct']}%); "
            f"queries {figures['queries_off']:.0f} off, "
            f"{figures['queries_on']:.0f} on"
        )


if __name__ == "__main__":
    main()
