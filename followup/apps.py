from __future__ import annotations

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class FollowupConfig(AppConfig):
    name = "followup"
    verbose_name = _("Follow-up")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from followup import receivers, timeline
        from leads import signals

        uid = "followup."
        timeline.register()
        signals.lead_created.connect(receivers.on_lead_created, dispatch_uid=uid + "created")
        signals.lead_updated.connect(receivers.on_lead_updated, dispatch_uid=uid + "updated")
        signals.lead_scores_changed.connect(
            receivers.on_lead_scores_changed, dispatch_uid=uid + "scores"
        )
        signals.lead_status_changed.connect(
            receivers.on_lead_status_changed, dispatch_uid=uid + "status"
        )
        signals.lead_replied.connect(receivers.on_lead_replied, dispatch_uid=uid + "replied")
