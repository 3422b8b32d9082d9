from __future__ import annotations

from django.apps import AppConfig


class ProjectConfig(AppConfig):
    """The project package as an app, so it can hold cross-cutting management commands."""

    name = "config"
    verbose_name = "Project"
