"""`manage.py dispatch_followups`: one dispatch pass now, in the foreground; prints counts."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from followup.engine import DEFAULT_BATCH, dispatch_due


class Command(BaseCommand):
    help = "Performs every due follow-up step now (one pass) and prints what happened."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--batch-size", type=int, default=DEFAULT_BATCH)
        parser.add_argument(
            "--max-seconds",
            type=float,
            default=None,
            help="Stop starting new batches after this many seconds.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        stats = dispatch_due(
            batch_size=max(1, options["batch_size"]), time_budget=options["max_seconds"]
        )
        counts = " ".join(f"{name}={value}" for name, value in stats.as_dict().items())
        self.stdout.write(f"dispatch_followups: {counts}")
