"""lead_tag_counts: how many leads of an organization carry each tag, for the tag filter.

The admin's tag filter lists an organization's tags from this table (leads.models.LeadTagCount,
leads.selectors.known_tags) instead of expanding the `tags` of every lead of the organization
(`SELECT DISTINCT jsonb_array_elements_text(tags)`: ~440 ms at a million leads).

Triggers on `leads` keep the counts in the writing transaction, on every path (API, import,
bulk writes, update(), raw SQL, merge, cascade), like lead_counts (leads 0018), and all three
are statement-level with transition tables: one upsert statement per writing statement, +1 per
(organization, tag) for each new row carrying the tag, -1 for each old row. An UPDATE counts
its old rows out and its new rows in, summed per key (a key whose leads kept the tag sums to 0
and is not written), so a move between organizations, a change of id or tags, and any number
of rows at once are exact. Not a row-level UPDATE trigger: each row's upsert touches the same
few count rows again in the same transaction, whose versions cannot be pruned before it ends,
so a statement re-tagging 19,000 leads took 16 s (quadratic) against 1.3 s here. The UPDATE
trigger fires on every UPDATE of `leads` (a trigger with transition tables cannot list
columns); lead_rollups_leads_update (leads 0020) already has PostgreSQL keep both transition
tables of every UPDATE, so the cost is expanding the rows' tags (within the noise of a 19,000-row
lead_score update). Each writing backend adds to its own shard (pg_backend_pid() % 8), so
concurrent writers do not queue on one row; each statement upserts its keys in (organization,
tag) order, so two statements never wait on each other in opposite orders.

A lead counts once per tag (a tag repeated in its array once), and only the string elements
of an array count (the values the tag filter can match with `tags @> '["x"]'`); any other
`tags` value (JSON null, an object, a string) counts nothing and never fails a write. A tag
that no lead carries any more sums to 0: its rows stay, the reader skips them.

The triggers are created and the existing leads counted in one transaction (CREATE TRIGGER
locks `leads` against writes until it commits: none is missed or counted twice; 2.2 s for the
1,510,000 leads of the benchmark database). PostgreSQL only: on SQLite (`make run`) nothing is
created and the filter scans the leads.
"""


from django.db import migrations, models

from config.migrations_ops import RunSQLOnPostgres


def _tags_of(value: str) -> str:
    """A subquery of the distinct string elements (`tag`) of the jsonb `value`, none when it
    is not an array."""
    return (
        "(SELECT DISTINCT e #>> '{}' AS tag FROM jsonb_array_elements("
        f"CASE WHEN jsonb_typeof({value}) = 'array' THEN {value} ELSE '[]'::jsonb END) e "
        "WHERE jsonb_typeof(e) = 'string')"
    )


def _counted(*parts: tuple[str, int]) -> str:
    """The function of a trigger: per (organization, tag), `delta` for each row of each
    (transition table, delta) carrying it, summed (ON CONFLICT cannot touch a row twice in one
    statement) and upserted in key order into the writing backend's shard."""
    rows = "\n        UNION ALL\n        ".join(
        f"SELECT r.organization_id, t.tag, {delta} AS delta "
        f"FROM {table} r, LATERAL {_tags_of('r.tags')} t"
        for table, delta in parts
    )
    return f"""BEGIN
    INSERT INTO lead_tag_counts (organization_id, tag, shard, total)
    SELECT organization_id, tag, pg_backend_pid() % 8, SUM(delta) FROM (
        {rows}
    ) d
    GROUP BY organization_id, tag HAVING SUM(delta) <> 0 ORDER BY organization_id, tag
    ON CONFLICT (organization_id, tag, shard)
    DO UPDATE SET total = lead_tag_counts.total + EXCLUDED.total;
    RETURN NULL;
END"""


def _function(name: str, body: str) -> str:
    return f"CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$\n{body} $$"


POSTGRES_SQL = [
    _function("lead_tag_counts_added", _counted(("new_rows", 1))),
    _function("lead_tag_counts_removed", _counted(("old_rows", -1))),
    _function("lead_tag_counts_changed", _counted(("old_rows", -1), ("new_rows", 1))),
    """CREATE FUNCTION lead_tag_counts_forget() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM lead_tag_counts WHERE organization_id = OLD.id;
    RETURN NULL;
END $$""",
    """CREATE TRIGGER lead_tag_counts_insert AFTER INSERT ON leads
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT
    EXECUTE FUNCTION lead_tag_counts_added()""",
    """CREATE TRIGGER lead_tag_counts_delete AFTER DELETE ON leads
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT
    EXECUTE FUNCTION lead_tag_counts_removed()""",
    """CREATE TRIGGER lead_tag_counts_update AFTER UPDATE ON leads
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT
    EXECUTE FUNCTION lead_tag_counts_changed()""",
    """CREATE TRIGGER lead_tag_counts_forget AFTER DELETE ON organizations FOR EACH ROW
    EXECUTE FUNCTION lead_tag_counts_forget()""",
    f"""INSERT INTO lead_tag_counts (organization_id, tag, shard, total)
    SELECT l.organization_id, t.tag, 0, count(*)
    FROM leads l, LATERAL {_tags_of("l.tags")} t
    GROUP BY l.organization_id, t.tag""",
]
POSTGRES_REVERSE_SQL = [
    "DROP TRIGGER lead_tag_counts_insert ON leads",
    "DROP TRIGGER lead_tag_counts_delete ON leads",
    "DROP TRIGGER lead_tag_counts_update ON leads",
    "DROP TRIGGER lead_tag_counts_forget ON organizations",
    "DROP FUNCTION lead_tag_counts_added(), lead_tag_counts_removed(), "
    "lead_tag_counts_changed(), lead_tag_counts_forget()",
]


class Migration(migrations.Migration):
    dependencies = [
        ("leads", "0025_lead_search_rows"),
    ]

    operations = [
        migrations.CreateModel(
            name="LeadTagCount",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("organization_id", models.UUIDField()),
                ("tag", models.TextField()),
                ("shard", models.SmallIntegerField(default=0)),
                ("total", models.BigIntegerField(default=0)),
            ],
            options={
                "db_table": "lead_tag_counts",
                "constraints": [
                    models.UniqueConstraint(
                        fields=("organization_id", "tag", "shard"), name="lead_tag_count_shard"
                    )
                ],
            },
        ),
        # PostgreSQL only: on SQLite the tag filter scans the leads (leads.selectors.known_tags).
        RunSQLOnPostgres(POSTGRES_SQL, POSTGRES_REVERSE_SQL),
    ]
