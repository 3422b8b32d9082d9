"""Dashboard rollups: the one command that builds them for existing data.

Each app whose dashboard reads precomputed figures has a `rollups` module with

    def backfill(*, organization_ids: list[uuid.UUID] | None, log: Callable[[str], None]) -> int

which (re)builds that app's rollups for the given organizations (all when None) from the raw
rows and returns how many rollup rows it wrote. It must be safe to rerun at any time, also while
users write (a rerun gives the same rows). `manage.py rollups_backfill` calls every app's
`backfill` in turn (config/management/commands/rollups_backfill.py).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from django.conf import settings

Backfill = Callable[..., int]


def discover_backfills() -> list[tuple[str, Backfill]]:
    """(app label, backfill) of every project app with a `rollups.backfill`, in app order."""
    from django.apps import apps

    found: list[tuple[str, Backfill]] = []
    for config in apps.get_app_configs():
        path = Path(config.path)
        if not path.is_relative_to(settings.BASE_DIR) or "site-packages" in path.parts:
            continue
        try:
            module: Any = importlib.import_module(f"{config.name}.rollups")
        except ModuleNotFoundError as exc:
            if exc.name != f"{config.name}.rollups":
                raise
            continue
        backfill = getattr(module, "backfill", None)
        if callable(backfill):
            found.append((config.label, backfill))
    return found
