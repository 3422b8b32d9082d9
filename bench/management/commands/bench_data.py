"""`manage.py bench_data --orgs 5 --leads-per-org 100000`: the benchmark data set (bench/data.py).

PostgreSQL only (rows go in with COPY). Organization i is `bench-i`, its admin
`admin@bench-i.test` with the password `bench-password`. An organization already present with
the requested number of leads is skipped; one of another size is an error unless `--replace`.
"""

from __future__ import annotations

import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection

from bench import data
from organizations.models import Organization


class Command(BaseCommand):
    help = (
        "Generates benchmark organizations bench-<i> (realistic Brazilian leads, interactions, "
        "qualifications, status history, mentees, follow-up executions) with COPY. "
        "PostgreSQL only. Generation times: bench/README.md."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--orgs", type=int, default=5, help="number of organizations")
        parser.add_argument(
            "--leads-per-org",
            type=int,
            default=100_000,
            help=f"leads per organization, {data.MIN_LEADS:,} to {data.MAX_LEADS:,}",
        )
        parser.add_argument(
            "--start", type=int, default=1, help="number of the first organization (bench-N)"
        )
        parser.add_argument("--seed", type=int, default=data.DEFAULT_SEED)
        parser.add_argument(
            "--jobs",
            type=int,
            default=2,
            help="organizations generated at the same time (separate processes)",
        )
        parser.add_argument(
            "--replace",
            action="store_true",
            help="delete and regenerate an existing bench-i of another size",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if connection.vendor != "postgresql":
            raise CommandError("bench_data needs PostgreSQL (it loads rows with COPY).")
        leads = options["leads_per_org"]
        if not data.MIN_LEADS <= leads <= data.MAX_LEADS:
            raise CommandError(
                f"--leads-per-org must be between {data.MIN_LEADS:,} and {data.MAX_LEADS:,}."
            )
        if options["orgs"] < 1 or options["start"] < 1:
            raise CommandError("--orgs and --start must be at least 1.")
        indexes = range(options["start"], options["start"] + options["orgs"])

        # Decide everything before writing anything: a size conflict fails up front.
        todo: list[int] = []
        for index in indexes:
            existing = Organization.objects.filter(slug=f"bench-{index}").first()
            if existing is None:
                todo.append(index)
                continue
            present = existing.leads.count()
            if present == leads:
                self.stdout.write(f"bench-{index}: already present with {present:,} leads, skipped")
            elif options["replace"]:
                todo.append(index)
            else:
                raise CommandError(
                    f"bench-{index} exists with {present:,} leads, not {leads:,}; "
                    "use --replace to regenerate it."
                )
        if not todo:
            return

        started = time.monotonic()
        pools = data.build_pools(options["seed"])
        for index in todo:
            existing = Organization.objects.filter(slug=f"bench-{index}").first()
            if existing is not None:
                deleting = time.monotonic()
                data.organization_delete(existing)
                self.stdout.write(
                    f"bench-{index}: previous data deleted in {time.monotonic() - deleting:.1f}s"
                )
        results = data.generate_organizations(
            indexes=todo, leads=leads, seed=options["seed"], pools=pools, jobs=options["jobs"]
        )
        for result in results:
            figures = ", ".join(f"{table} {count:,}" for table, count in result.counts.items())
            self.stdout.write(f"{result.slug}: {result.seconds:.1f}s; {figures}")
        analyzing = time.monotonic()
        data.analyze()
        self.stdout.write(f"VACUUM (ANALYZE) in {time.monotonic() - analyzing:.1f}s")
        self.stdout.write(
            self.style.SUCCESS(
                f"{len(todo)} organization(s) generated in {time.monotonic() - started:.1f}s; "
                f"log in as admin@bench-<i>.test / {data.PASSWORD}"
            )
        )
