from __future__ import annotations

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class LeadsConfig(AppConfig):
    name = "leads"
    verbose_name = _("Leads")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from config import metrics
        from leads import receivers, signals
        from leads.models import Lead, LeadInteraction, Task
        from organizations.models import DeletionTipo
        from organizations.sync import track_deletions

        receivers.connect()
        # The business counters live in config.metrics; leads connects them (config is below).
        signals.lead_created.connect(
            metrics.count_lead_created, dispatch_uid="config.metrics.lead_created"
        )
        signals.interaction_created.connect(
            metrics.count_interaction_created, dispatch_uid="config.metrics.interaction_created"
        )
        track_deletions(Lead, DeletionTipo.LEAD)
        track_deletions(LeadInteraction, DeletionTipo.INTERACTION)
        track_deletions(Task, DeletionTipo.TASK)
