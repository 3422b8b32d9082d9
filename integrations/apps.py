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
        from integrations.whatsapp import services as whatsapp
        from leads.messaging import register_whatsapp_sender

        timeline.register()
        # The follow-up engine sends WhatsApp steps through this port (it may not import us).
        register_whatsapp_sender(whatsapp)
