from __future__ import annotations

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class IntegrationsConfig(AppConfig):
    name = "integrations"
    verbose_name = _("Integrações")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from integrations import (
            receivers,  # noqa: F401  (connects the signal receivers)
            timeline,
        )
        from integrations.outbound import receivers as outbound_receivers  # noqa: F401

        timeline.register()
