"""`manage.py rqworker high default low`: django-rq's worker with RQ's scheduler on.

Jobs retried with a delay (rq.Retry intervals) and jobs enqueued for later wait in RQ's
scheduled registry, which only a worker running its scheduler moves back to the queue; so the
scheduler is on by default here (`--without-scheduler` turns it off). RQ elects one scheduler
among all workers with a lock, so running many workers is safe.

`--worker-ttl` defaults to RQ_WORKER_TTL (35 s) instead of RQ's 420: an idle worker blocks on
the queues for worker_ttl - 15 seconds between two rounds of RQ's maintenance (abandoned jobs,
scheduler take-over), so RQ's default made that maintenance run every ~7 minutes whatever its
own interval said (config/worker.py, docs/jobs.md).
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django_rq.management.commands.rqworker import Command as DjangoRQWorkerCommand


class Command(DjangoRQWorkerCommand):
    def add_arguments(self, parser: Any) -> None:
        super().add_arguments(parser)  # type: ignore[no-untyped-call]
        parser.set_defaults(with_scheduler=True, worker_ttl=settings.RQ_WORKER_TTL)
        parser.add_argument(
            "--without-scheduler",
            action="store_false",
            dest="with_scheduler",
            help="Do not run RQ's scheduler in this worker.",
        )
