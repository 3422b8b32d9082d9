from __future__ import annotations

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class LeadsConfig(AppConfig):
    name = "leads"
    verbose_name = _("Leads")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from leads import receivers
        from leads.models import Lead, LeadInteraction, Task
        from organizations.models import DeletionTipo
        from organizations.sync import track_deletions

        receivers.connect()
        track_deletions(Lead, DeletionTipo.LEAD)
        track_deletions(LeadInteraction, DeletionTipo.INTERACTION)
        track_deletions(Task, DeletionTipo.TASK)
