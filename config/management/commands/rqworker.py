"""`manage.py rqworker high default low`: django-rq's worker with RQ's scheduler on.

Jobs retried with a delay (rq.Retry intervals) and jobs enqueued for later wait in RQ's
scheduled registry, which only a worker running its scheduler moves back to the queue; so the
scheduler is on by default here (`--without-scheduler` turns it off). RQ elects one scheduler
among all workers with a lock, so running many workers is safe.
"""

from __future__ import annotations

from typing import Any

from django_rq.management.commands.rqworker import Command as DjangoRQWorkerCommand


class Command(DjangoRQWorkerCommand):
    def add_arguments(self, parser: Any) -> None:
        super().add_arguments(parser)
        parser.set_defaults(with_scheduler=True)
        parser.add_argument(
            "--without-scheduler",
            action="store_false",
            dest="with_scheduler",
            help="Do not run RQ's scheduler in this worker.",
        )
