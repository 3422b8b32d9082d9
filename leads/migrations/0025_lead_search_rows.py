"""lead_search_rows: a narrow copy of each lead's searched text, for counting a search's matches.

A search-only list of a whole organization counts its matches in this table instead of `leads`
(leads.models.LeadSearchRow, leads/selectors.py): the count rechecks every page of the
organization for a common term, and these rows are about half as wide.

Triggers on `leads` keep one row per lead in the writing transaction, on every path. On
PostgreSQL, inserts and deletes are statement-level (transition tables: an import of 19,000
rows costs one statement), updates row-level and only when the organization, the folded text
(kept by the leads 0019 trigger, which runs before) or the phone changes. SQLite (`make run`)
has the same triggers row by row and folds the text itself.

The triggers are created and the existing rows copied in one transaction (writes wait for it,
none is missed or copied twice); the trigram index is then built CONCURRENTLY.
"""

from typing import Any

import django.contrib.postgres.indexes
from django.db import migrations, models, transaction

from config.migrations_ops import AddPostgresIndexConcurrently
from config.search import folded_sql

FOLDED = ("nome_completo", "email", "empresa")

POSTGRES_SQL = [
    """CREATE FUNCTION lead_search_rows_added() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO lead_search_rows (lead_id, organization_id, search_fold, telefone)
    SELECT id, organization_id, search_fold, telefone FROM new_rows;
    RETURN NULL;
END $$""",
    """CREATE FUNCTION lead_search_rows_removed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM lead_search_rows s USING old_rows o WHERE s.lead_id = o.id;
    RETURN NULL;
END $$""",
    """CREATE FUNCTION lead_search_rows_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE lead_search_rows
    SET lead_id = NEW.id, organization_id = NEW.organization_id,
        search_fold = NEW.search_fold, telefone = NEW.telefone
    WHERE lead_id = OLD.id;
    RETURN NULL;
END $$""",
    """CREATE TRIGGER lead_search_rows_insert AFTER INSERT ON leads
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT
    EXECUTE FUNCTION lead_search_rows_added()""",
    """CREATE TRIGGER lead_search_rows_delete AFTER DELETE ON leads
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT
    EXECUTE FUNCTION lead_search_rows_removed()""",
    """CREATE TRIGGER lead_search_rows_update
    AFTER UPDATE OF id, organization_id, nome_completo, email, empresa, telefone, search_fold
    ON leads FOR EACH ROW
    WHEN (OLD.id IS DISTINCT FROM NEW.id
          OR OLD.organization_id IS DISTINCT FROM NEW.organization_id
          OR OLD.search_fold IS DISTINCT FROM NEW.search_fold
          OR OLD.telefone IS DISTINCT FROM NEW.telefone)
    EXECUTE FUNCTION lead_search_rows_changed()""",
    """INSERT INTO lead_search_rows (lead_id, organization_id, search_fold, telefone)
    SELECT id, organization_id, search_fold, telefone FROM leads""",
]
POSTGRES_REVERSE_SQL = [
    "DROP TRIGGER lead_search_rows_insert ON leads",
    "DROP TRIGGER lead_search_rows_delete ON leads",
    "DROP TRIGGER lead_search_rows_update ON leads",
    "DROP FUNCTION lead_search_rows_added(), lead_search_rows_removed(), "
    "lead_search_rows_changed()",
]


def _sqlite_sql() -> list[str]:
    fold = folded_sql([f"NEW.{column}" for column in FOLDED], vendor="sqlite")
    return [
        "CREATE TRIGGER lead_search_rows_insert AFTER INSERT ON leads BEGIN "
        "INSERT INTO lead_search_rows (lead_id, organization_id, search_fold, telefone) "
        f"VALUES (NEW.id, NEW.organization_id, {fold}, NEW.telefone); END",
        "CREATE TRIGGER lead_search_rows_update AFTER UPDATE OF "
        "id, organization_id, nome_completo, email, empresa, telefone ON leads BEGIN "
        "UPDATE lead_search_rows SET lead_id = NEW.id, organization_id = NEW.organization_id, "
        f"search_fold = {fold}, telefone = NEW.telefone WHERE lead_id = OLD.id; END",
        "CREATE TRIGGER lead_search_rows_delete AFTER DELETE ON leads BEGIN "
        "DELETE FROM lead_search_rows WHERE lead_id = OLD.id; END",
        "INSERT INTO lead_search_rows (lead_id, organization_id, search_fold, telefone) "
        f"SELECT id, organization_id, {folded_sql(FOLDED, vendor='sqlite')}, telefone FROM leads",
    ]


SQLITE_REVERSE_SQL = [
    "DROP TRIGGER lead_search_rows_insert",
    "DROP TRIGGER lead_search_rows_update",
    "DROP TRIGGER lead_search_rows_delete",
]


def create_triggers(apps: Any, schema_editor: Any) -> None:
    connection = schema_editor.connection
    statements = POSTGRES_SQL if connection.vendor == "postgresql" else _sqlite_sql()
    with transaction.atomic(using=connection.alias):
        for statement in statements:
            schema_editor.execute(statement, params=None)


def drop_triggers(apps: Any, schema_editor: Any) -> None:
    connection = schema_editor.connection
    statements = POSTGRES_REVERSE_SQL if connection.vendor == "postgresql" else SQLITE_REVERSE_SQL
    for statement in statements:
        schema_editor.execute(statement, params=None)


class Migration(migrations.Migration):

    atomic = False

    dependencies = [
        ('leads', '0024_rollup_mark_hours'),
    ]

    operations = [
        migrations.CreateModel(
            name='LeadSearchRow',
            fields=[
                ('lead_id', models.UUIDField(primary_key=True, serialize=False)),
                ('organization_id', models.UUIDField()),
                ('search_fold', models.TextField(null=True)),
                ('telefone', models.CharField(max_length=20, null=True)),
            ],
            options={
                'db_table': 'lead_search_rows',
            },
        ),
        migrations.RunPython(create_triggers, drop_triggers),
        AddPostgresIndexConcurrently(
            model_name='leadsearchrow',
            index=django.contrib.postgres.indexes.GinIndex(models.F('organization_id'), django.contrib.postgres.indexes.OpClass(models.F('search_fold'), name='gin_trgm_ops'), django.contrib.postgres.indexes.OpClass(models.F('telefone'), name='gin_trgm_ops'), name='lead_search_rows_trgm'),
        ),
    ]
