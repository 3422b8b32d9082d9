from __future__ import annotations

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class MentoradosConfig(AppConfig):
    name = "mentorados"
    verbose_name = _("Mentorados")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from leads import signals
        from mentorados import receivers
        from mentorados.models import Mentorado
        from organizations.models import DeletionTipo
        from organizations.sync import track_deletions

        track_deletions(Mentorado, DeletionTipo.MENTORADO)

        signals.lead_converted.connect(
            receivers.create_mentorado_on_conversion,
            dispatch_uid="mentorados.create_mentorado_on_conversion",
        )
