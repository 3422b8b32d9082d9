from __future__ import annotations

from django.apps import AppConfig
from django.contrib.admin import apps as admin_apps


class ProjectConfig(AppConfig):
    """The project package as an app: cross-cutting commands (the apps connect its metrics),
    the SQLite side of the accent-blind search, the kept translations and the kept split of
    long statements."""

    name = "config"
    verbose_name = "Project"

    def ready(self) -> None:
        from django.db.backends.signals import connection_created

        from config import checks, search, statements, translations

        checks.register_all()
        # Each language's answers to gettext kept per message (config.translations).
        translations.install()
        # psycopg keeps its split of long statements (the dashboards') too (config.statements).
        statements.install()
        # SQLite gets f_unaccent as a Python function on every connection (config.search).
        connection_created.connect(search.register_sqlite, dispatch_uid="config.search.sqlite")


class BackOfficeAdminConfig(admin_apps.AdminConfig):
    """`django.contrib.admin` with the back office's site (config.admin_site) as the default."""

    default = False  # named explicitly in INSTALLED_APPS; ProjectConfig is config's default

    default_site = "config.admin_site.BackOfficeSite"

    def ready(self) -> None:
        super().ready()
        # The lead page's audit trail reads the privacy app (config.admin_lead_history).
        from config import admin_lead_history, admin_results

        admin_lead_history.register()
        # Unfold's list rows rebuild every column header for each row (config.admin_results).
        admin_results.install()
