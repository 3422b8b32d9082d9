"""Migration operations shared by the apps' index migrations.

Index migrations on large tables build their indexes with CREATE INDEX CONCURRENTLY on
PostgreSQL (no lock that blocks writes while the index is built); SQLite, used by some local
setups, gets a plain CREATE INDEX, or nothing at all for PostgreSQL-only index types (GIN,
trigram operator classes) and extensions.
"""

from __future__ import annotations

from typing import Any

from django.contrib.postgres.operations import (
    AddIndexConcurrently,
    CreateExtension,
    RemoveIndexConcurrently,
)
from django.db import migrations


def _is_postgres(schema_editor: Any) -> bool:
    return bool(schema_editor.connection.vendor == "postgresql")


class AddIndexConcurrentlyOnPostgres(AddIndexConcurrently):
    """CREATE INDEX CONCURRENTLY on PostgreSQL, a plain CREATE INDEX elsewhere (SQLite)."""

    def database_forwards(
        self, app_label: str, schema_editor: Any, from_state: Any, to_state: Any
    ) -> None:
        if _is_postgres(schema_editor):
            super().database_forwards(app_label, schema_editor, from_state, to_state)
        else:
            migrations.AddIndex.database_forwards(
                self, app_label, schema_editor, from_state, to_state
            )

    def database_backwards(
        self, app_label: str, schema_editor: Any, from_state: Any, to_state: Any
    ) -> None:
        if _is_postgres(schema_editor):
            super().database_backwards(app_label, schema_editor, from_state, to_state)
        else:
            migrations.AddIndex.database_backwards(
                self, app_label, schema_editor, from_state, to_state
            )


class RemoveIndexConcurrentlyOnPostgres(RemoveIndexConcurrently):
    """DROP INDEX CONCURRENTLY on PostgreSQL, a plain DROP INDEX elsewhere (SQLite)."""

    def database_forwards(
        self, app_label: str, schema_editor: Any, from_state: Any, to_state: Any
    ) -> None:
        if _is_postgres(schema_editor):
            super().database_forwards(app_label, schema_editor, from_state, to_state)
        else:
            migrations.RemoveIndex.database_forwards(
                self, app_label, schema_editor, from_state, to_state
            )

    def database_backwards(
        self, app_label: str, schema_editor: Any, from_state: Any, to_state: Any
    ) -> None:
        if _is_postgres(schema_editor):
            super().database_backwards(app_label, schema_editor, from_state, to_state)
        else:
            migrations.RemoveIndex.database_backwards(
                self, app_label, schema_editor, from_state, to_state
            )


class AddPostgresIndexConcurrently(AddIndexConcurrently):
    """A PostgreSQL-only index (GIN, operator classes), built CONCURRENTLY; skipped elsewhere.

    The index is still part of the migration state (and of the model's Meta), so
    `makemigrations --check` stays clean on every database.
    """

    def database_forwards(
        self, app_label: str, schema_editor: Any, from_state: Any, to_state: Any
    ) -> None:
        if _is_postgres(schema_editor):
            super().database_forwards(app_label, schema_editor, from_state, to_state)

    def database_backwards(
        self, app_label: str, schema_editor: Any, from_state: Any, to_state: Any
    ) -> None:
        if _is_postgres(schema_editor):
            super().database_backwards(app_label, schema_editor, from_state, to_state)


class CreateExtensionOnPostgres(CreateExtension):
    """CREATE EXTENSION IF NOT EXISTS on PostgreSQL; nothing on other databases (both ways)."""

    def database_forwards(
        self, app_label: str, schema_editor: Any, from_state: Any, to_state: Any
    ) -> None:
        if _is_postgres(schema_editor):
            super().database_forwards(app_label, schema_editor, from_state, to_state)

    def database_backwards(
        self, app_label: str, schema_editor: Any, from_state: Any, to_state: Any
    ) -> None:
        # Other objects (of this or another project sharing the database) may use the
        # extension: leave it installed when going back.
        return None
