from __future__ import annotations

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class OrganizationsConfig(AppConfig):
    name = "organizations"
    verbose_name = _("Organizações")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from organizations import realtime  # noqa: F401  (connects the stream publisher)
