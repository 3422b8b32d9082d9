"""`task_due` notifications: the responsável hears once per task when its vencimento passes.

Run by the periodic job `leads.jobs.notify_due_tasks`. Idempotent under re-runs and concurrent
runs: each notification carries the key `task_due:<task id as 32 hex digits>` and the unique
(recipient, chave) constraint absorbs a second insert; the candidates are found with one
anti-join per batch (tasks overdue and pendente with no such notification yet), so a run costs
a few queries whatever the number of tasks.
"""

from __future__ import annotations

import uuid
from collections import Counter
from datetime import datetime
from typing import Any

from django.db import transaction
from django.db.models import CharField, Exists, F, OuterRef, Value
from django.db.models.functions import Cast, Concat, Replace
from django.utils import timezone
from django.utils.translation import gettext as _

from leads.models import Task, TaskStatus
from organizations.models import Notification, NotificationTipo
from organizations.notifications import notifications_created_announce

TASK_DUE_PREFIX = "task_due:"
BATCH_SIZE = 1000


def task_due_key(task_id: uuid.UUID | str) -> str:
    """The notification key of a task: the same text the database expression below builds."""
    return f"{TASK_DUE_PREFIX}{uuid.UUID(str(task_id)).hex}"


def _key_expression() -> Any:
    # PostgreSQL casts a uuid to its hyphenated text and SQLite stores it as 32 hex digits;
    # stripping the hyphens gives the same key on both.
    return Concat(
        Value(TASK_DUE_PREFIX),
        Replace(Cast("pk", output_field=CharField()), Value("-"), Value("")),
        output_field=CharField(),
    )


def tasks_notify_due(*, now: datetime | None = None, batch_size: int = BATCH_SIZE) -> Counter[str]:
    """Creates the missing `task_due` notifications; returns, per organization id, how many
    were written (a concurrent run may have written some of them first: those are skipped)."""
    now = now or timezone.now()
    already = Notification.objects.filter(
        recipient_id=OuterRef("responsavel_id"), chave=OuterRef("task_key")
    )
    candidates = (
        Task.objects.filter(
            status=TaskStatus.PENDENTE,
            vencimento__lte=now,
            responsavel__ativo=True,
            responsavel__organization_id=F("organization_id"),
        )
        .annotate(task_key=_key_expression())
        .filter(~Exists(already))
        .order_by("vencimento", "pk")
    )
    created: Counter[str] = Counter()
    seen: set[uuid.UUID] = set()
    while True:
        rows = [
            row
            for row in candidates.values(
                "pk", "organization_id", "responsavel_id", "titulo", "lead_id", "vencimento"
            )[:batch_size]
            if row["pk"] not in seen
        ]
        if not rows:
            break
        seen.update(row["pk"] for row in rows)
        notifications = [
            Notification(
                organization_id=row["organization_id"],
                recipient_id=row["responsavel_id"],
                tipo=NotificationTipo.TASK_DUE,
                titulo=(_("Tarefa vencida: %(titulo)s") % {"titulo": row["titulo"]})[:200],
                payload={
                    "task_id": str(row["pk"]),
                    "lead_id": str(row["lead_id"]) if row["lead_id"] else None,
                    # Always set (the query filters vencimento <= now); the check is for mypy.
                    "vencimento": row["vencimento"].isoformat() if row["vencimento"] else None,
                },
                chave=task_due_key(row["pk"]),
            )
            for row in rows
        ]
        with transaction.atomic():
            # A concurrent run may have inserted some of them: the constraint skips those.
            Notification.objects.bulk_create(notifications, ignore_conflicts=True)
            notifications_created_announce(notifications)
        created.update(str(row["organization_id"]) for row in rows)
    return created
