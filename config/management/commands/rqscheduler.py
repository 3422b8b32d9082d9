"""`manage.py rqscheduler`: django-rq's scheduler, registering our periodic jobs first.

Registration is idempotent (stable job ids), so restarting the scheduler, or running two,
never duplicates a schedule.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django_rq.management.commands.rqscheduler import Command as DjangoRQSchedulerCommand

from config.jobs import register_periodic_jobs


class Command(DjangoRQSchedulerCommand):
    help = "Registers the periodic jobs (idempotently) and runs the RQ scheduler."

    def add_arguments(self, parser: Any) -> None:
        super().add_arguments(parser)  # type: ignore[no-untyped-call]
        parser.add_argument(
            "--register-only",
            action="store_true",
            help="Register the periodic jobs and exit without running the scheduler.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        import django_rq

        if options.get("interval") == 60:  # django-rq's default: poll as often as we configure
            options["interval"] = settings.RQ_SCHEDULER_INTERVAL
        scheduler = django_rq.get_scheduler(name=options["queue"], interval=options["interval"])
        ids = register_periodic_jobs(scheduler)
        self.stdout.write(f"Registered periodic jobs: {', '.join(ids) or '(none)'}")
        if options["register_only"]:
            return
        super().handle(*args, **options)  # type: ignore[no-untyped-call]
