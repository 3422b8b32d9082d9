"""lead_origin_days: per organization, UTC day of creation and origin, how many leads were created
and how many of them are now convertido, for the painel's origin breakdown.

The painel (leads.dashboard_selectors.origem_breakdown) reads the window's clean full days from
this table (leads.models.LeadOriginDay) and only the two partial edge days from `leads`, instead
of every lead created in the window (index-only, yet ~100-160 ms for a year at a million leads).

Triggers on `leads` keep the figures in the writing transaction, on every path (API, import,
bulk writes, update(), raw SQL, merge, cascade), as lead_status_totals (leads 0028) and the
other kept tables do: statement-level with transition tables, one upsert statement per writing
statement. A new row adds 1 lead, and 1 convertido when its status is convertido, under its
(organization, UTC day of created_at, origem); an old row subtracts them. An UPDATE counts only
the rows whose organization_id, created_at day, origem or being convertido changed (old and new
rows paired by id; a row whose id changed counts as one removed and one added), summed per key;
an update of other columns writes nothing. Each writing backend adds to its own shard
(pg_backend_pid() % 8); each statement upserts its keys in key order, so two statements never
wait on each other in opposite orders. A key no lead is in any more sums to 0: its rows stay,
the reader skips them.

The triggers are created and the existing leads counted in one transaction (CREATE TRIGGER
locks `leads` against writes until it commits: none is missed or counted twice). PostgreSQL
only: on SQLite (`make run`) nothing is created and the painel groups the leads.
"""

from django.db import migrations, models

from config.migrations_ops import RunSQLOnPostgres

_DAY = "(({row}.created_at AT TIME ZONE 'UTC')::date)"
_WON = "(CASE WHEN {row}.status = 'convertido' THEN 1 ELSE 0 END)"

_UPSERT = """BEGIN
    INSERT INTO lead_origin_days (organization_id, day, origem, shard, leads, convertidos)
    SELECT organization_id, day, origem, pg_backend_pid() % 8, SUM(leads), SUM(convertidos)
    FROM (
        {rows}
    ) d
    GROUP BY organization_id, day, origem HAVING SUM(leads) <> 0 OR SUM(convertidos) <> 0
    ORDER BY organization_id, day, origem
    ON CONFLICT (organization_id, day, origem, shard) DO UPDATE SET
        leads = lead_origin_days.leads + EXCLUDED.leads,
        convertidos = lead_origin_days.convertidos + EXCLUDED.convertidos;
    RETURN NULL;
END"""


def _summed(table: str, sign: int) -> str:
    """Every row of a transition table: `sign` lead and `sign` convertido when it is one."""
    return _UPSERT.format(
        rows=f"SELECT r.organization_id, {_DAY.format(row='r')} AS day, r.origem, "
        f"{sign} AS leads, {sign} * {_WON.format(row='r')} AS convertidos FROM {table} r"
    )


# An UPDATE: old and new rows paired by id (FULL JOIN: a row whose id changed has no pair), the
# pairs whose key or being convertido changed only; each gives its old row (-1) and its new row
# (+1), the side a FULL JOIN left empty giving nothing.
_CHANGED_ROWS = f"""SELECT d.organization_id, d.day, d.origem, d.leads, d.convertidos
        FROM old_rows o FULL JOIN new_rows n ON n.id = o.id
        CROSS JOIN LATERAL (VALUES
            (o.organization_id, {_DAY.format(row='o')}, o.origem, -1, -{_WON.format(row='o')}),
            (n.organization_id, {_DAY.format(row='n')}, n.origem, 1, {_WON.format(row='n')})
        ) d (organization_id, day, origem, leads, convertidos)
        WHERE (o.organization_id, {_DAY.format(row='o')}, o.origem, {_WON.format(row='o')})
              IS DISTINCT FROM
              (n.organization_id, {_DAY.format(row='n')}, n.origem, {_WON.format(row='n')})
          AND d.organization_id IS NOT NULL"""


def _function(name: str, body: str) -> str:
    return f"CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$\n{body} $$"


POSTGRES_SQL = [
    _function("lead_origin_days_added", _summed("new_rows", 1)),
    _function("lead_origin_days_removed", _summed("old_rows", -1)),
    _function("lead_origin_days_changed", _UPSERT.format(rows=_CHANGED_ROWS)),
    """CREATE FUNCTION lead_origin_days_forget() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM lead_origin_days WHERE organization_id = OLD.id;
    RETURN NULL;
END $$""",
    """CREATE TRIGGER lead_origin_days_insert AFTER INSERT ON leads
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT
    EXECUTE FUNCTION lead_origin_days_added()""",
    """CREATE TRIGGER lead_origin_days_delete AFTER DELETE ON leads
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT
    EXECUTE FUNCTION lead_origin_days_removed()""",
    """CREATE TRIGGER lead_origin_days_update AFTER UPDATE ON leads
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT
    EXECUTE FUNCTION lead_origin_days_changed()""",
    """CREATE TRIGGER lead_origin_days_forget AFTER DELETE ON organizations FOR EACH ROW
    EXECUTE FUNCTION lead_origin_days_forget()""",
    f"""INSERT INTO lead_origin_days (organization_id, day, origem, shard, leads, convertidos)
    SELECT l.organization_id, {_DAY.format(row='l')}, l.origem, 0, count(*),
           SUM({_WON.format(row='l')})
    FROM leads l GROUP BY 1, 2, 3""",
]
POSTGRES_REVERSE_SQL = [
    "DROP TRIGGER lead_origin_days_insert ON leads",
    "DROP TRIGGER lead_origin_days_delete ON leads",
    "DROP TRIGGER lead_origin_days_update ON leads",
    "DROP TRIGGER lead_origin_days_forget ON organizations",
    "DROP FUNCTION lead_origin_days_added(), lead_origin_days_removed(), "
    "lead_origin_days_changed(), lead_origin_days_forget()",
]


class Migration(migrations.Migration):
    dependencies = [
        ("leads", "0030_gin_pending_list_limit"),
    ]

    operations = [
        migrations.CreateModel(
            name="LeadOriginDay",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("organization_id", models.UUIDField()),
                ("day", models.DateField()),
                ("origem", models.CharField(max_length=40)),
                ("shard", models.SmallIntegerField(default=0)),
                ("leads", models.BigIntegerField(default=0)),
                ("convertidos", models.BigIntegerField(default=0)),
            ],
            options={
                "db_table": "lead_origin_days",
                "constraints": [
                    models.UniqueConstraint(
                        fields=("organization_id", "day", "origem", "shard"),
                        name="lead_origin_day_shard",
                    )
                ],
            },
        ),
        # PostgreSQL only: on SQLite the painel groups the leads (origem_breakdown).
        RunSQLOnPostgres(POSTGRES_SQL, POSTGRES_REVERSE_SQL),
    ]
