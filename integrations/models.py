from __future__ import annotations

import uuid

from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from organizations.models import Membership, Organization, OrgManager


class NotificationTipo(models.TextChoices):
    LEAD_CONVERTED = "lead_converted", _("Lead convertido")
    LEAD_RESPONDED = "lead_responded", _("Lead respondeu")
    LOW_SATISFACTION = "low_satisfaction", _("Satisfação baixa")
    FOLLOWUP_FAILED = "followup_failed", _("Falha no follow-up")
    TASK_DUE = "task_due", _("Tarefa vencida")


class Notification(models.Model):
    """A message to one member (a lead converted, a reply arrived, a task is overdue...)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    recipient = models.ForeignKey(
        Membership, on_delete=models.CASCADE, related_name="notifications"
    )
    tipo = models.CharField(_("tipo"), max_length=30, choices=NotificationTipo.choices)
    titulo = models.CharField(_("título"), max_length=200)
    payload = models.JSONField(_("dados"), default=dict, blank=True)
    # Set by jobs that may run twice (task_due, followup_failed): one notification per
    # (recipient, key) whatever the number of runs.
    chave = models.CharField(max_length=150, null=True, blank=True, editable=False)
    read_at = models.DateTimeField(_("lida em"), null=True, blank=True)
    created_at = models.DateTimeField(_("criada em"), default=timezone.now)

    objects = OrgManager()

    class Meta:
        db_table = "notifications"
        verbose_name = _("notificação")
        verbose_name_plural = _("notificações")
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["recipient", "chave"],
                condition=Q(chave__isnull=False),
                name="notification_unique_key_per_recipient",
            )
        ]
        indexes = [
            models.Index(
                fields=["recipient", "read_at", "-created_at"], name="notif_recipient_unread"
            )
        ]

    def __str__(self) -> str:
        return self.titulo
