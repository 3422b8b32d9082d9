from __future__ import annotations

from django.apps import AppConfig


class ProjectConfig(AppConfig):
    """The project package as an app: cross-cutting commands and metric receivers."""

    name = "config"
    verbose_name = "Project"

    def ready(self) -> None:
        from config import metrics
        from leads import signals

        signals.lead_created.connect(
            metrics.count_lead_created, dispatch_uid="config.metrics.lead_created"
        )
        signals.interaction_created.connect(
            metrics.count_interaction_created, dispatch_uid="config.metrics.interaction_created"
        )
