from __future__ import annotations

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class MentoradosConfig(AppConfig):
    name = "mentorados"
    verbose_name = _("Mentorados")
    default_auto_field = "django.db.models.BigAutoField"
