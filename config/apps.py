from __future__ import annotations

from django.apps import AppConfig
from django.contrib.admin import apps as admin_apps


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


class BackOfficeAdminConfig(admin_apps.AdminConfig):
    """`django.contrib.admin` with the back office's site (config.admin_site) as the default."""

    default = False  # named explicitly in INSTALLED_APPS; ProjectConfig is config's default

    default_site = "config.admin_site.BackOfficeSite"
