"""`manage.py wait_for_services`: block until PostgreSQL and Redis answer (container start-up).

Uses the same checks as /health/. Exits 1 when they are still down after --timeout seconds,
so an orchestrator restarts the container instead of starting a web server that cannot work.
"""

from __future__ import annotations

import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from config.health import OK, run_checks


class Command(BaseCommand):
    help = "Waits until the database and Redis answer (same checks as /health/)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--timeout", type=float, default=60.0, help="Give up after N seconds.")
        parser.add_argument("--interval", type=float, default=1.0, help="Seconds between tries.")

    def handle(self, *args: Any, **options: Any) -> None:
        deadline = time.monotonic() + options["timeout"]
        while True:
            results = run_checks(timeout=min(2.0, max(options["timeout"], 0.5)))
            down = sorted(name for name, state in results.items() if state != OK)
            if not down:
                self.stdout.write("Services ready: " + ", ".join(sorted(results)))
                return
            if time.monotonic() >= deadline:
                raise CommandError(f"Services still unavailable: {', '.join(down)}")
            self.stderr.write(f"Waiting for: {', '.join(down)}")
            time.sleep(options["interval"])
