"""lead_status_totals: per organization and status, how many leads and their summed
valor_potencial, for the pipeline board's column headers.

The board (leads/admin_board.py, `column_totals`) reads an organization's totals from this
table (leads.models.LeadStatusTotal) when it shows the organization's whole lead table, instead
of `SELECT status, COUNT(id), SUM(valor_potencial) FROM leads WHERE organization_id = X GROUP BY
status` (~270 ms at a million leads).

Triggers on `leads` keep the totals in the writing transaction, on every path (API, import,
bulk writes, update(), raw SQL, merge, cascade), like lead_counts (leads 0018) and
lead_tag_counts (leads 0026), and all three are statement-level with transition tables: one
upsert statement per writing statement. A new row adds 1 lead and its valor_potencial (0 when
it has none) under its (organization, status), an old row subtracts them. An UPDATE counts only
the rows whose organization_id, status or valor_potencial changed (old and new rows paired by
id; a row whose id changed counts as one removed and one added): the old row out under its old
key, the new row in under its new key, summed per key (a key whose leads and valor both sum to 0
is not written), so moves between statuses or organizations, value changes and any number of
rows at once are exact, and an update of other columns (a score, the search text) writes
nothing. Not a row-level UPDATE trigger: each row's upsert touches the same few total rows
again in the same transaction, whose versions cannot be pruned before it ends, so a big
statement grows quadratically (leads 0026: 16 s against 1.3 s for 19,000 leads). The UPDATE
trigger fires on every UPDATE of `leads` (a trigger with transition tables cannot list
columns); lead_rollups_leads_update (leads 0020) already has PostgreSQL keep both transition
tables of every UPDATE, so the added cost is pairing the rows. Each writing backend adds to its
own shard (pg_backend_pid() % 8), so concurrent writers do not queue on one row; each statement
upserts its keys in (organization, status) order, so two statements never wait on each other in
opposite orders. A status no lead is in any more sums to 0 leads: its rows stay, the reader
skips them.

The triggers are created and the existing leads summed in one transaction (CREATE TRIGGER
locks `leads` against writes until it commits: none is missed or counted twice). PostgreSQL
only: on SQLite (`make run`) nothing is created and the board groups the leads.
"""


from django.db import migrations, models

from config.migrations_ops import RunSQLOnPostgres

_UPSERT = """BEGIN
    INSERT INTO lead_status_totals (organization_id, status, shard, leads, valor)
    SELECT organization_id, status, pg_backend_pid() % 8, SUM(leads), SUM(valor) FROM (
        {rows}
    ) d
    GROUP BY organization_id, status HAVING SUM(leads) <> 0 OR SUM(valor) <> 0
    ORDER BY organization_id, status
    ON CONFLICT (organization_id, status, shard) DO UPDATE SET
        leads = lead_status_totals.leads + EXCLUDED.leads,
        valor = lead_status_totals.valor + EXCLUDED.valor;
    RETURN NULL;
END"""


def _summed(table: str, sign: int) -> str:
    """Every row of a transition table: `sign` lead and `sign` times its value, by key."""
    return _UPSERT.format(
        rows=f"SELECT organization_id, status, {sign} AS leads, "
        f"{sign} * COALESCE(valor_potencial, 0) AS valor FROM {table}"
    )


# An UPDATE: old and new rows paired by id (FULL JOIN: a row whose id changed has no pair), the
# pairs whose key or value changed only; each gives its old row (-1) and its new row (+1), the
# side a FULL JOIN left empty giving nothing.
_CHANGED_ROWS = """SELECT d.organization_id, d.status, d.leads, d.valor
        FROM old_rows o FULL JOIN new_rows n ON n.id = o.id
        CROSS JOIN LATERAL (VALUES
            (o.organization_id, o.status, -1, -COALESCE(o.valor_potencial, 0)),
            (n.organization_id, n.status, 1, COALESCE(n.valor_potencial, 0))
        ) d (organization_id, status, leads, valor)
        WHERE (o.organization_id, o.status, o.valor_potencial)
              IS DISTINCT FROM (n.organization_id, n.status, n.valor_potencial)
          AND d.organization_id IS NOT NULL"""


def _function(name: str, body: str) -> str:
    return f"CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$\n{body} $$"


POSTGRES_SQL = [
    _function("lead_status_totals_added", _summed("new_rows", 1)),
    _function("lead_status_totals_removed", _summed("old_rows", -1)),
    _function("lead_status_totals_changed", _UPSERT.format(rows=_CHANGED_ROWS)),
    """CREATE FUNCTION lead_status_totals_forget() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM lead_status_totals WHERE organization_id = OLD.id;
    RETURN NULL;
END $$""",
    """CREATE TRIGGER lead_status_totals_insert AFTER INSERT ON leads
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT
    EXECUTE FUNCTION lead_status_totals_added()""",
    """CREATE TRIGGER lead_status_totals_delete AFTER DELETE ON leads
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT
    EXECUTE FUNCTION lead_status_totals_removed()""",
    """CREATE TRIGGER lead_status_totals_update AFTER UPDATE ON leads
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT
    EXECUTE FUNCTION lead_status_totals_changed()""",
    """CREATE TRIGGER lead_status_totals_forget AFTER DELETE ON organizations FOR EACH ROW
    EXECUTE FUNCTION lead_status_totals_forget()""",
    """INSERT INTO lead_status_totals (organization_id, status, shard, leads, valor)
    SELECT organization_id, status, 0, count(*), COALESCE(sum(valor_potencial), 0)
    FROM leads GROUP BY 1, 2""",
]
POSTGRES_REVERSE_SQL = [
    "DROP TRIGGER lead_status_totals_insert ON leads",
    "DROP TRIGGER lead_status_totals_delete ON leads",
    "DROP TRIGGER lead_status_totals_update ON leads",
    "DROP TRIGGER lead_status_totals_forget ON organizations",
    "DROP FUNCTION lead_status_totals_added(), lead_status_totals_removed(), "
    "lead_status_totals_changed(), lead_status_totals_forget()",
]


class Migration(migrations.Migration):
    dependencies = [
        ("leads", "0027_board_column_index"),
    ]

    operations = [
        migrations.CreateModel(
            name="LeadStatusTotal",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("organization_id", models.UUIDField()),
                ("status", models.CharField(max_length=20)),
                ("shard", models.SmallIntegerField(default=0)),
                ("leads", models.BigIntegerField(default=0)),
                (
                    "valor",
                    models.DecimalField(decimal_places=2, default=0, max_digits=20),
                ),
            ],
            options={
                "db_table": "lead_status_totals",
                "constraints": [
                    models.UniqueConstraint(
                        fields=("organization_id", "status", "shard"),
                        name="lead_status_total_shard",
                    )
                ],
            },
        ),
        # PostgreSQL only: on SQLite the board groups the leads (leads.selectors.status_totals).
        RunSQLOnPostgres(POSTGRES_SQL, POSTGRES_REVERSE_SQL),
    ]
