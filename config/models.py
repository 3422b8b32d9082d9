"""Models of the project package: the job outbox (see config/jobs.py and docs/jobs.md)."""

from __future__ import annotations

from django.db import models
from django.utils import timezone


class OutboxKind(models.TextChoices):
    JOB = "job", "job"
    COALESCED = "coalesced", "coalesced"


class OutboxEntry(models.Model):
    """Follow-on work of a write, stored in the write's own transaction.

    `config.jobs` writes one row per request made inside a transaction and pushes it to Redis
    when the transaction commits, deleting the row once Redis took it. A row that is still here
    afterwards is work Redis did not take (it was down): the outbox drain pushes it later.
    """

    id = models.BigAutoField(primary_key=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    kind = models.CharField(max_length=16, choices=OutboxKind.choices)
    # The job function's dotted path (kind "job") or the Coalesced name (kind "coalesced").
    name = models.CharField(max_length=200)
    payload = models.JSONField(default=dict)
    request_id = models.CharField(max_length=64, blank=True, default="")
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True, default="")

    class Meta:
        db_table = "jobs_outbox"
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.kind} {self.name} #{self.pk}"
