"""The shared migration operations (config/migrations_ops.py): the index operations on
PostgreSQL, back and forth, and a re-run over indexes that are already there (a non-atomic
migration interrupted half way); the label-only field alteration."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.apps import apps
from django.core.management import call_command
from django.db import connection, models
from django.db.migrations import CreateModel, Migration
from django.db.migrations.executor import MigrationExecutor
from django.db.migrations.operations.base import Operation
from django.db.migrations.state import ProjectState

from config.migrations_ops import AlterFieldLabels

pytestmark = pytest.mark.django_db(transaction=True)

ADDED = {"lead_org_created_cover", "lead_org_search_col", "lead_org_tags", "lsc_org_to_at_lead"}
REMOVED = {"lead_org_created", "lead_org_status", "lsc_org_to_at"}
# Built by leads 0006 and replaced by leads 0029 (the same key, with origin and status carried).
REPLACED = "lead_org_created_id"


def _indexes() -> set[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT indexname FROM pg_indexes WHERE schemaname = current_schema()")
        return {row[0] for row in cursor.fetchall()}


def _gin_limits() -> dict[str, list[str] | None]:
    """Every GIN index of the schema and its storage parameters."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname, c.reloptions FROM pg_class c JOIN pg_am a ON a.oid = c.relam "
            "WHERE a.amname = 'gin' AND c.relnamespace = current_schema()::regnamespace"
        )
        return dict(cursor.fetchall())


# The leads migration whose unapplying leaves the schema at each point the walk checks.
BACK_TO = {
    "0033_filter_indexes_carry_the_order": "0032",
    "0030_gin_pending_list_limit": "0029",
    "0029_created_index_covers_origin_status": "0028",
    "0019_search_fold_column": "0018",
    "0012_search_unaccent": "0011",
}


@pytest.mark.heavy
def test_index_migrations_go_back_and_forth() -> None:
    """One walk back to leads 0005, the indexes read as it passes 0018 and 0011, and forward
    again: the accent-blind search index replaces the upper one, the list indexes are built
    concurrently, and both come back. (One walk: each walk re-renders every migration state,
    ~8 s here; the executor's progress callback reports each migration it unapplied.)"""
    present = _indexes()
    assert present >= ADDED | {"lead_org_search_col", "mentorado_org_search_fold"}
    assert not REMOVED & present
    seen: dict[str, set[str]] = {}
    limits: dict[str, dict[str, list[str] | None]] = {"before": _gin_limits()}

    def progress(
        action: str, migration: Migration | None = None, fake: bool | None = None, /
    ) -> None:
        if action != "unapply_success" or migration is None:
            return
        if migration.app_label == "leads" and migration.name in BACK_TO:
            seen[BACK_TO[migration.name]] = _indexes()
            if migration.name.startswith("0030"):
                limits["0029"] = _gin_limits()

    try:
        executor = MigrationExecutor(connection, progress_callback=progress)
        target = executor.loader.get_migration_by_prefix("leads", "0005")
        executor.migrate([("leads", target.name)])
        # Before leads 0033: the plain filter indexes alone.
        assert {"lead_org_status_temp_score", "lead_org_temp_score"} <= seen["0032"]
        assert not {"lead_org_status_temp_cover", "lead_org_temp_score_cover"} & seen["0032"]
        # Before leads 0030: PostgreSQL's default pending list (no storage parameter).
        assert limits["before"]["lead_org_search_col"] == ["gin_pending_list_limit=256"]
        assert limits["0029"]["lead_org_search_col"] is None
        # Before leads 0029: the created-order index without the carried columns.
        assert REPLACED in seen["0028"]
        assert "lead_org_created_cover" not in seen["0028"]
        # Before the stored column (leads 0019): the index over the expression.
        assert "lead_org_search_fold" in seen["0018"]
        assert "lead_org_search_col" not in seen["0018"]
        assert "lead_org_search_trgm" in seen["0011"]
        assert not {"lead_org_search_fold", "mentorado_org_search_fold"} & seen["0011"]
        present = _indexes()
        assert not ADDED & present
        assert REPLACED not in present
        assert present >= REMOVED
    finally:
        call_command("migrate", verbosity=0)  # every app: later apps' migrations depend on these
    present = _indexes()
    assert present >= ADDED | {"lead_org_search_col", "mentorado_org_search_fold"}
    assert not REMOVED & present
    assert not {"lead_org_search_trgm", "lead_org_search_fold", REPLACED} & present
    assert {
        "lead_org_status_temp_cover",
        "lead_org_temp_score_cover",
        "lead_org_status_temp_score",
        "lead_org_temp_score",
    } <= present
    assert all(value == ["gin_pending_list_limit=256"] for value in _gin_limits().values())


def test_every_gin_index_keeps_a_short_pending_list() -> None:
    """Every GIN index (search, names, tags; leads, lead_search_rows, mentees) has the short
    pending list of config.search.GIN_PENDING_LIST_KB, set in place by leads 0030 and
    mentorados 0006; a new GIN index without it fails here."""
    limits = _gin_limits()
    assert {"lead_org_search_col", "lead_search_rows_trgm", "mentorado_org_search_fold"} <= set(
        limits
    )
    assert {
        name: value for name, value in limits.items() if value != ["gin_pending_list_limit=256"]
    } == {}


def test_a_rerun_keeps_indexes_already_built_and_drops_nothing_twice() -> None:
    executor = MigrationExecutor(connection)
    before = _indexes()
    # Applying the operations again, as after an interruption, raises nothing.
    for name in (
        "0006_list_search_indexes",
        "0007_status_change_stage_index",
        "0012_search_unaccent",
    ):
        _apply_again(executor, name)
    # 0019 after its column was added: the trigger again, the backfill, the index kept and
    # 0012's expression index (re-built just above) dropped again.
    migration = executor.loader.get_migration("leads", "0019_search_fold_column")
    before_0019 = executor.loader.project_state(("leads", migration.name), at_end=False)
    after_0019 = executor.loader.project_state(("leads", migration.name), at_end=True)
    with connection.schema_editor(atomic=False) as editor:
        for operation in migration.operations[1:]:
            operation.database_forwards("leads", editor, before_0019, after_0019)
    # 0029 and 0033, twice each: the covering indexes kept, and 0006's created-order index
    # (re-built above) dropped again, then nothing left to drop.
    for name in ("0029_created_index_covers_origin_status", "0033_filter_indexes_carry_the_order"):
        _apply_again(executor, name, times=2)
    assert _indexes() == before


def _apply_again(executor: MigrationExecutor, name: str, times: int = 1) -> None:
    """Applies the leads migration `name` `times` more, each from the state before it."""
    migration = executor.loader.get_migration("leads", name)
    state = executor.loader.project_state(("leads", migration.name), at_end=False)
    for _ in range(times):
        with connection.schema_editor(atomic=False) as editor:
            migration.apply(state.clone(), editor)


def _plan_states() -> Iterator[tuple[str, Operation, ProjectState]]:
    """Every operation of every migration in order, with the state just before it (models
    states only: nothing is rendered)."""
    executor = MigrationExecutor(connection)
    state = ProjectState()
    for migration, _ in executor.migration_plan(executor.loader.graph.leaf_nodes(), True):
        for operation in migration.operations:
            yield migration.app_label, operation, state
            operation.state_forwards(migration.app_label, state)


def test_every_label_alteration_is_one_the_schema_editor_would_skip() -> None:
    """AlterFieldLabels leaves the database alone: Django's schema editor finds nothing to alter
    between each field and the one before it (`_field_should_be_altered`, the base class's
    check, which neither PostgreSQL's editor nor SQLite's overrides)."""
    checked = 0
    for app_label, operation, state in _plan_states():
        if not isinstance(operation, AlterFieldLabels):
            continue
        before = state.models[app_label, operation.model_name_lower].fields[operation.name]
        pair: list[Any] = [before.clone(), operation.field.clone()]
        for field in pair:
            field.set_attributes_from_name(operation.name)
            if field.is_relation:  # the editor compares the tables the keys point to
                field.remote_field.model = apps.get_model(field.remote_field.model)
        editor: Any
        with connection.schema_editor() as editor:
            assert not editor._field_should_be_altered(*pair), (app_label, operation)
        checked += 1
    # The twelve migrations that relabel fields (`*_verbose_names_pt` and a few more).
    assert checked == 96


@pytest.mark.parametrize(
    "changed",
    [
        {"max_length": 40},
        {"db_column": "nome"},  # a renamed column: Django's non_db_attrs lists db_column
        {"null": True},
    ],
)
def test_a_label_alteration_refuses_anything_but_labels(changed: dict[str, Any]) -> None:
    state = ProjectState()
    CreateModel(
        "Thing",
        [
            ("id", models.AutoField(primary_key=True)),
            ("name", models.CharField(max_length=20)),
        ],
    ).state_forwards("app", state)
    relabel = AlterFieldLabels(
        "thing", "name", models.CharField(max_length=20, verbose_name="nome", blank=True)
    )
    relabel.state_forwards("app", state)
    assert state.models["app", "thing"].fields["name"].verbose_name == "nome"
    field = models.CharField(**{"max_length": 20, "verbose_name": "nome", **changed})
    with pytest.raises(ValueError, match="changes more than labels"):
        AlterFieldLabels("thing", "name", field).state_forwards("app", state)
    assert state.models["app", "thing"].fields["name"].deconstruct()[3] == {
        "max_length": 20,
        "verbose_name": "nome",
        "blank": True,
    }


def test_a_label_alteration_of_a_key_keeps_the_relations_and_refuses_a_new_related_name() -> None:
    """A related name is a reverse accessor of the rendered models, which it does not reload."""
    state = ProjectState()
    CreateModel(
        "Thing",
        [
            ("id", models.AutoField(primary_key=True)),
            ("owner", models.ForeignKey("app.thing", models.CASCADE, related_name="owned")),
        ],
    ).state_forwards("app", state)
    assert state.relations  # built (the autodetector reads it): a relabelling keeps it current
    relabel = AlterFieldLabels(
        "thing",
        "owner",
        models.ForeignKey("app.thing", models.CASCADE, related_name="owned", verbose_name="dono"),
    )
    relabel.state_forwards("app", state)
    assert state.relations["app", "thing"]["app", "thing"]["owner"] is relabel.field
    with pytest.raises(ValueError, match="changes more than labels"):
        AlterFieldLabels(
            "thing", "owner", models.ForeignKey("app.thing", models.CASCADE, related_name="mine")
        ).state_forwards("app", state)
