# The accent-blind search over a stored column: `search_fold` holds config.search's folded
# text of nome_completo, email and empresa, written by a trigger with every insert and every
# update of those columns (whatever the path: save, bulk_update, update(), raw SQL), so a
# search rechecks a plain column instead of calling f_unaccent per candidate row.
#
# No table rewrite and no long lock: the column is added nullable (instant on PostgreSQL, a
# plain ADD COLUMN on SQLite), the trigger then keeps new writes folded while existing rows are filled in
# batches of BATCH rows, each its own transaction; the new organization-first trigram index is
# built CONCURRENTLY before the expression index it replaces is dropped CONCURRENTLY.

from typing import Any

import django.contrib.postgres.indexes
from django.db import migrations, models

from config.migrations_ops import AddPostgresIndexConcurrently, RemovePostgresIndexConcurrently
from config.search import folded_sql

COLUMNS = ("nome_completo", "email", "empresa")
BATCH = 5000


def _expression(vendor: str, prefix: str = "") -> str:
    return folded_sql([f"{prefix}{column}" for column in COLUMNS], vendor=vendor)


def _postgres_sql() -> list[str]:
    return [
        "CREATE OR REPLACE FUNCTION leads_search_fold() RETURNS trigger LANGUAGE plpgsql AS $$ "
        f"BEGIN NEW.search_fold := {_expression('postgresql', 'NEW.')}; RETURN NEW; END $$",
        "CREATE OR REPLACE TRIGGER leads_search_fold BEFORE INSERT OR UPDATE OF "
        "nome_completo, email, empresa, search_fold ON leads "
        "FOR EACH ROW EXECUTE FUNCTION leads_search_fold()",
    ]


def _sqlite_sql() -> list[str]:
    # SQLite has no BEFORE-trigger assignment: the row is folded right after it is written
    # (recursive triggers are off, so the inner UPDATE does not fire the trigger again).
    update = (
        f"UPDATE leads SET search_fold = {_expression('sqlite', 'NEW.')} WHERE id = NEW.id;"
    )
    return [
        f"CREATE TRIGGER IF NOT EXISTS leads_search_fold_insert AFTER INSERT ON leads BEGIN {update} END",
        "CREATE TRIGGER IF NOT EXISTS leads_search_fold_update AFTER UPDATE OF "
        f"nome_completo, email, empresa, search_fold ON leads BEGIN {update} END",
    ]


def create_trigger(apps: Any, schema_editor: Any) -> None:
    vendor = schema_editor.connection.vendor
    for statement in _postgres_sql() if vendor == "postgresql" else _sqlite_sql():
        schema_editor.execute(statement, params=None)


def drop_trigger(apps: Any, schema_editor: Any) -> None:
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("DROP TRIGGER leads_search_fold ON leads", params=None)
        schema_editor.execute("DROP FUNCTION leads_search_fold()", params=None)
        return
    schema_editor.execute("DROP TRIGGER leads_search_fold_insert", params=None)
    schema_editor.execute("DROP TRIGGER leads_search_fold_update", params=None)


def backfill(apps: Any, schema_editor: Any) -> None:
    """Existing rows, BATCH at a time in id order (the migration is not atomic: each UPDATE
    commits on its own, so no lock is held on the whole table)."""
    vendor = schema_editor.connection.vendor
    update = f"UPDATE leads SET search_fold = {_expression(vendor)} WHERE id IN ({{ids}})"  # noqa: S608
    with schema_editor.connection.cursor() as cursor:
        last = None
        while True:
            if last is None:
                cursor.execute("SELECT id FROM leads ORDER BY id LIMIT %s", [BATCH])
            else:
                cursor.execute(
                    "SELECT id FROM leads WHERE id > %s ORDER BY id LIMIT %s", [last, BATCH]
                )
            ids = [row[0] for row in cursor.fetchall()]
            if not ids:
                return
            cursor.execute(update.format(ids=", ".join(["%s"] * len(ids))), ids)
            last = ids[-1]


class Migration(migrations.Migration):

    atomic = False

    dependencies = [
        ('leads', '0018_lead_counts'),
    ]

    operations = [
        migrations.AddField(
            model_name='lead',
            name='search_fold',
            field=models.TextField(editable=False, null=True),
        ),
        migrations.RunPython(create_trigger, drop_trigger),
        migrations.RunPython(backfill, migrations.RunPython.noop),
        AddPostgresIndexConcurrently(
            model_name='lead',
            index=django.contrib.postgres.indexes.GinIndex(models.F('organization'), django.contrib.postgres.indexes.OpClass(models.F('search_fold'), name='gin_trgm_ops'), django.contrib.postgres.indexes.OpClass(models.F('telefone'), name='gin_trgm_ops'), name='lead_org_search_col'),
        ),
        RemovePostgresIndexConcurrently(
            model_name='lead',
            name='lead_org_search_fold',
        ),
    ]
