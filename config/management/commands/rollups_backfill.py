"""`manage.py rollups_backfill [--organization SLUG ...]`: (re)build the dashboard rollups.

Runs every app's `rollups.backfill` (config/rollups.py) for the given organizations, or all of
them. Safe to rerun: each backfill replaces the rows it owns with figures computed from the raw
data, so a second run writes the same rows.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from config.rollups import discover_backfills


class Command(BaseCommand):
    help = "Builds the dashboard rollups from the existing data (safe to rerun)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument(
            "--organization",
            action="append",
            default=[],
            metavar="SLUG",
            help="Only this organization (repeatable); all organizations when absent.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        organization_ids = self._organization_ids(options["organization"])
        for label, backfill in discover_backfills():
            started = time.perf_counter()
            rows = backfill(organization_ids=organization_ids, log=self.stdout.write)
            elapsed = time.perf_counter() - started
            self.stdout.write(f"{label}: {rows} rollup rows in {elapsed:.1f} s")

    def _organization_ids(self, slugs: list[str]) -> list[uuid.UUID] | None:
        if not slugs:
            return None
        from django.apps import apps

        organization = apps.get_model("organizations", "Organization")
        found = dict(organization.objects.filter(slug__in=slugs).values_list("slug", "pk"))
        missing = sorted(set(slugs) - set(found))
        if missing:
            raise CommandError(f"unknown organization slug(s): {', '.join(missing)}")
        return [found[slug] for slug in slugs]
