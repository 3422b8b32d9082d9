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


def _already_built(schema_editor: Any, name: str) -> bool:
    """Whether a valid index `name` exists; an invalid one (a CREATE INDEX CONCURRENTLY that
    failed or was interrupted, which a non-atomic migration does not roll back) is dropped so
    that running the migration again builds it."""
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(
            "SELECT i.indisvalid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
            "WHERE c.relname = %s AND pg_table_is_visible(c.oid)",
            [name],
        )
        row = cursor.fetchone()
    if row is None:
        return False
    if row[0]:
        return True
    schema_editor.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {schema_editor.quote_name(name)}")
    return False


class _OnPostgres:
    """The PostgreSQL operation (the next class in the MRO) on PostgreSQL; elsewhere `fallback`'s
    plain operation, or nothing when `fallback` is None (PostgreSQL-only objects)."""

    fallback: type[migrations.operations.base.Operation] | None = None

    def database_forwards(
        self, app_label: str, schema_editor: Any, from_state: Any, to_state: Any
    ) -> None:
        if _is_postgres(schema_editor):
            self.postgres_forwards(app_label, schema_editor, from_state, to_state)
        elif self.fallback is not None:
            self.fallback.database_forwards(self, app_label, schema_editor, from_state, to_state)  # type: ignore[arg-type]

    def postgres_forwards(
        self, app_label: str, schema_editor: Any, from_state: Any, to_state: Any
    ) -> None:
        super().database_forwards(app_label, schema_editor, from_state, to_state)  # type: ignore[misc]

    def database_backwards(
        self, app_label: str, schema_editor: Any, from_state: Any, to_state: Any
    ) -> None:
        if _is_postgres(schema_editor):
            super().database_backwards(app_label, schema_editor, from_state, to_state)  # type: ignore[misc]
        elif self.fallback is not None:
            self.fallback.database_backwards(self, app_label, schema_editor, from_state, to_state)  # type: ignore[arg-type]


class _BuildOnce(_OnPostgres):
    """On PostgreSQL, an index already built by an interrupted run of the same (non-atomic)
    migration is kept, so the migration can simply be run again."""

    index: Any

    def postgres_forwards(
        self, app_label: str, schema_editor: Any, from_state: Any, to_state: Any
    ) -> None:
        if not _already_built(schema_editor, self.index.name):
            super().postgres_forwards(app_label, schema_editor, from_state, to_state)


class AddIndexConcurrentlyOnPostgres(_BuildOnce, AddIndexConcurrently):
    """CREATE INDEX CONCURRENTLY on PostgreSQL, a plain CREATE INDEX elsewhere (SQLite)."""

    fallback = migrations.AddIndex


class RemoveIndexConcurrentlyOnPostgres(_OnPostgres, RemoveIndexConcurrently):
    """DROP INDEX CONCURRENTLY IF EXISTS on PostgreSQL (Django's own, so a re-run after an
    interrupted one works), a plain DROP INDEX elsewhere (SQLite)."""

    fallback = migrations.RemoveIndex


class AddPostgresIndexConcurrently(_BuildOnce, AddIndexConcurrently):
    """A PostgreSQL-only index (GIN, operator classes), built CONCURRENTLY; skipped elsewhere.

    The index is still part of the migration state (and of the model's Meta), so
    `makemigrations --check` stays clean on every database.
    """


class RunSQLOnPostgres(_OnPostgres, migrations.RunSQL):
    """RunSQL on PostgreSQL only (triggers, functions, their backfill); nothing elsewhere, for
    PostgreSQL-only objects whose readers fall back to the plain query on SQLite."""


def set_gin_pending_list_limit(model_name: str, index: Any) -> migrations.SeparateDatabaseAndState:
    """An existing GIN index's new `gin_pending_list_limit` (config.search.GIN_PENDING_LIST_KB):
    in the migration state, the index as the model's Meta now defines it; on PostgreSQL, an
    ALTER INDEX ... SET of the storage parameter (no rebuild; a lock that blocks neither reads
    nor writes), RESET going back. Nothing elsewhere: GIN is PostgreSQL only."""
    name, limit = index.name, int(index.gin_pending_list_limit)
    return migrations.SeparateDatabaseAndState(
        state_operations=[
            migrations.RemoveIndex(model_name=model_name, name=name),
            migrations.AddIndex(model_name=model_name, index=index),
        ],
        database_operations=[
            RunSQLOnPostgres(
                f"ALTER INDEX {name} SET (gin_pending_list_limit = {limit})",
                reverse_sql=f"ALTER INDEX {name} RESET (gin_pending_list_limit)",
            )
        ],
    )


class CreateExtensionOnPostgres(_OnPostgres, CreateExtension):
    """CREATE EXTENSION IF NOT EXISTS on PostgreSQL; nothing on other databases.

    Going back leaves the extension installed: other objects (of this or another project
    sharing the database) may use it.
    """

    def database_backwards(
        self, app_label: str, schema_editor: Any, from_state: Any, to_state: Any
    ) -> None:
        return None


class RemovePostgresIndexConcurrently(_OnPostgres, RemoveIndexConcurrently):
    """Drops a PostgreSQL-only index (built by AddPostgresIndexConcurrently) CONCURRENTLY;
    nothing elsewhere, where it was never built."""


# `f_unaccent(text)`: unaccent with its dictionary named, so PostgreSQL may treat it as
# IMMUTABLE and index expressions over it (config.search). Qualified names: the result must not
# depend on the search_path of the session that evaluates it.
UNACCENT_FUNCTION_SQL = (
    "CREATE OR REPLACE FUNCTION public.f_unaccent(text) RETURNS text "
    "LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT "
    "RETURN public.unaccent('public.unaccent'::regdictionary, $1)"
)


class CreateUnaccentFunction(migrations.operations.base.Operation):
    """CREATE OR REPLACE the `f_unaccent` wrapper on PostgreSQL (the `unaccent` extension must
    exist: CreateExtensionOnPostgres("unaccent") first); nothing elsewhere (SQLite registers a
    Python function per connection). Going back leaves it: indexes of other apps may use it."""

    reduces_to_sql = True
    reversible = True

    def state_forwards(self, app_label: str, state: Any) -> None:
        return None

    def database_forwards(
        self, app_label: str, schema_editor: Any, from_state: Any, to_state: Any
    ) -> None:
        if _is_postgres(schema_editor):
            schema_editor.execute(UNACCENT_FUNCTION_SQL)

    def database_backwards(
        self, app_label: str, schema_editor: Any, from_state: Any, to_state: Any
    ) -> None:
        return None

    def describe(self) -> str:
        return "Creates the f_unaccent() wrapper (PostgreSQL)"


# What forms and the admin read and neither the database nor the rendered models' relations
# do: a subset of Django's `Field.non_db_attrs`, without db_column (a renamed column),
# related_name and the other relation options (reverse accessors of the rendered models).
LABEL_ATTRIBUTES = frozenset(
    {"verbose_name", "help_text", "choices", "blank", "editable", "error_messages", "validators"}
)


def _all_but_labels(field: Any) -> tuple[Any, ...]:
    _name, path, args, kwargs = field.deconstruct()
    return path, args, {key: value for key, value in kwargs.items() if key not in LABEL_ATTRIBUTES}


class AlterFieldLabels(migrations.AlterField):
    """An AlterField that changes labels only (`LABEL_ATTRIBUTES`: `verbose_name`,
    `help_text`, `choices`...), as the `*_verbose_names_pt` migrations do.

    Django's AlterField re-renders the model and every model related to it for each field it
    alters (about 25 models here, ~30 ms), and the schema editor then finds nothing to change
    in the database. This one puts the new field in the migration state and stops there: the
    models already rendered for the migration keep their old labels until another operation
    re-renders them, and no migration reads a label. The state it leaves is AlterField's
    (`makemigrations --check` compares it with the models), and it refuses a field that
    differs in anything else: that change needs a plain AlterField.
    """

    def __init__(self, model_name: str, name: str, field: Any) -> None:
        # No preserve_default: a default is a column attribute, never a label.
        super().__init__(model_name, name, field)

    def state_forwards(self, app_label: str, state: Any) -> None:
        model_key = app_label, self.model_name_lower
        fields = state.models[model_key].fields
        old_field = fields[self.name]
        if _all_but_labels(old_field) != _all_but_labels(self.field):
            raise ValueError(
                f"AlterFieldLabels on {app_label}.{self.model_name}.{self.name} changes more "
                "than labels: use migrations.AlterField"
            )
        # ProjectState.alter_field without its reload_model(); the relations registry needs the
        # old key removed before the new one is added (its own assertion).
        if state._relations is not None:
            fields.pop(self.name)
            if old_field.is_relation:
                state.resolve_model_field_relations(model_key, self.name, old_field)
            fields[self.name] = self.field
            if self.field.is_relation:
                state.resolve_model_field_relations(model_key, self.name, self.field)
        else:
            fields[self.name] = self.field

    def database_forwards(
        self, app_label: str, schema_editor: Any, from_state: Any, to_state: Any
    ) -> None:
        return None

    def database_backwards(
        self, app_label: str, schema_editor: Any, from_state: Any, to_state: Any
    ) -> None:
        return None

    def describe(self) -> str:
        return f"Alter the labels of field {self.name} on {self.model_name}"
