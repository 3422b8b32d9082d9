from __future__ import annotations

from django.apps import AppConfig


class PrivacyConfig(AppConfig):
    """LGPD: audit trail, personal-data access log (and, later, data subject requests).

    Sits above every other app of ours (it must read all of them); see docs/privacy.md.
    """

    name = "privacy"
    verbose_name = "Privacidade"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from privacy import receivers  # noqa: F401
