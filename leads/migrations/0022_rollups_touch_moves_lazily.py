"""lead_rollups_moves_touched updates prev_same_stage_at only when a value is wrong.

An UPDATE statement fires the statement-level UPDATE trigger of lead_status_changes even when
it changes no row; appending a move (the usual write) leaves every earlier move's
prev_same_stage_at as it was, so the check first saves that statement and its trigger.
"""

from typing import Any

from django.db import migrations

FUNCTION = """
CREATE OR REPLACE FUNCTION lead_rollups_moves_touched(lead_ids uuid[]) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    ids bigint[];
    prevs timestamptz[];
BEGIN
    SELECT array_agg(id), array_agg(prev) INTO ids, prevs FROM (
        SELECT id, prev_same_stage_at, LAG(changed_at) OVER (
                   PARTITION BY lead_id, to_status ORDER BY changed_at, id) AS prev
        FROM lead_status_changes WHERE lead_id = ANY(lead_ids)) x
    WHERE x.prev_same_stage_at IS DISTINCT FROM x.prev;
    IF ids IS NOT NULL THEN
        UPDATE lead_status_changes c SET prev_same_stage_at = u.prev
        FROM unnest(ids, prevs) AS u(id, prev) WHERE c.id = u.id;
    END IF;
    INSERT INTO lead_rollup_marks (organization_id, day, marked_at)
    SELECT DISTINCT org, (at AT TIME ZONE 'UTC')::date, now() FROM (
        SELECT organization_id, changed_at FROM lead_status_changes WHERE lead_id = ANY(lead_ids)
        UNION ALL
        SELECT organization_id, created_at FROM leads WHERE id = ANY(lead_ids)
    ) touched(org, at);
END $$;
"""
PREVIOUS = """
CREATE OR REPLACE FUNCTION lead_rollups_moves_touched(lead_ids uuid[]) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE lead_status_changes c SET prev_same_stage_at = x.prev
    FROM (SELECT id, LAG(changed_at) OVER (
              PARTITION BY lead_id, to_status ORDER BY changed_at, id) AS prev
          FROM lead_status_changes WHERE lead_id = ANY(lead_ids)) x
    WHERE c.id = x.id AND c.prev_same_stage_at IS DISTINCT FROM x.prev;
    INSERT INTO lead_rollup_marks (organization_id, day, marked_at)
    SELECT DISTINCT org, (at AT TIME ZONE 'UTC')::date, now() FROM (
        SELECT organization_id, changed_at FROM lead_status_changes WHERE lead_id = ANY(lead_ids)
        UNION ALL
        SELECT organization_id, created_at FROM leads WHERE id = ANY(lead_ids)
    ) touched(org, at);
END $$;
"""


def forward(apps: Any, schema_editor: Any) -> None:
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(FUNCTION, params=None)


def backward(apps: Any, schema_editor: Any) -> None:
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(PREVIOUS, params=None)


class Migration(migrations.Migration):
    dependencies = [("leads", "0021_rollup_member_indexes")]

    operations = [migrations.RunPython(forward, backward)]
