"""Marks carry the UTC hour of the fact they stand for (leads/rollups.py, "today's hours").

Every trigger function of migrations 0020 and 0022 that appends to lead_rollup_marks now writes
the hour beside the day, from the same timestamp: the window reads the hours of today that no
write has marked from today's hour rows, and only the marked hours and the current one from the
raw rows. A mark without an hour (written before this migration) stands for its whole day.
"""

import re
from typing import Any

from django.db import migrations, models

FUNCTIONS = """
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
    INSERT INTO lead_rollup_marks (organization_id, day, hour, marked_at)
    SELECT DISTINCT org, (at AT TIME ZONE 'UTC')::date,
           EXTRACT(HOUR FROM at AT TIME ZONE 'UTC')::smallint, now() FROM (
        SELECT organization_id, changed_at FROM lead_status_changes WHERE lead_id = ANY(lead_ids)
        UNION ALL
        SELECT organization_id, created_at FROM leads WHERE id = ANY(lead_ids)
    ) touched(org, at);
END $$;
CREATE OR REPLACE FUNCTION lead_rollups_moves_removed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO lead_rollup_marks (organization_id, day, hour, marked_at)
    SELECT DISTINCT organization_id, (changed_at AT TIME ZONE 'UTC')::date,
           EXTRACT(HOUR FROM changed_at AT TIME ZONE 'UTC')::smallint, now() FROM old_rows;
    PERFORM lead_rollups_moves_touched(ARRAY(SELECT DISTINCT lead_id FROM old_rows));
    RETURN NULL;
END $$;
CREATE OR REPLACE FUNCTION lead_rollups_moves_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO lead_rollup_marks (organization_id, day, hour, marked_at)
    SELECT DISTINCT o.organization_id, (o.changed_at AT TIME ZONE 'UTC')::date,
           EXTRACT(HOUR FROM o.changed_at AT TIME ZONE 'UTC')::smallint, now()
    FROM old_rows o JOIN new_rows n ON n.id = o.id
    WHERE (o.lead_id, o.organization_id, o.to_status, o.changed_at)
          IS DISTINCT FROM (n.lead_id, n.organization_id, n.to_status, n.changed_at);
    IF FOUND THEN
        PERFORM lead_rollups_moves_touched(ARRAY(
            SELECT o.lead_id FROM old_rows o JOIN new_rows n ON n.id = o.id
            WHERE (o.lead_id, o.organization_id, o.to_status, o.changed_at)
                  IS DISTINCT FROM (n.lead_id, n.organization_id, n.to_status, n.changed_at)
            UNION
            SELECT n.lead_id FROM old_rows o JOIN new_rows n ON n.id = o.id
            WHERE (o.lead_id, o.organization_id, o.to_status, o.changed_at)
                  IS DISTINCT FROM (n.lead_id, n.organization_id, n.to_status, n.changed_at)));
    END IF;
    RETURN NULL;
END $$;
CREATE OR REPLACE FUNCTION lead_rollups_leads_added() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO lead_rollup_marks (organization_id, day, hour, marked_at)
    SELECT DISTINCT organization_id, (at AT TIME ZONE 'UTC')::date,
           EXTRACT(HOUR FROM at AT TIME ZONE 'UTC')::smallint, now()
    FROM new_rows, LATERAL (VALUES (created_at), (converted_at)) v(at) WHERE at IS NOT NULL;
    RETURN NULL;
END $$;
CREATE OR REPLACE FUNCTION lead_rollups_leads_removed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO lead_rollup_marks (organization_id, day, hour, marked_at)
    SELECT DISTINCT organization_id, (at AT TIME ZONE 'UTC')::date,
           EXTRACT(HOUR FROM at AT TIME ZONE 'UTC')::smallint, now()
    FROM old_rows, LATERAL (VALUES (created_at), (converted_at)) v(at) WHERE at IS NOT NULL;
    RETURN NULL;
END $$;
CREATE OR REPLACE FUNCTION lead_rollups_leads_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    WITH changed AS (
        SELECT o.id, o.organization_id AS old_org, n.organization_id AS new_org,
               o.created_at AS old_created, n.created_at AS new_created,
               o.converted_at AS old_converted, n.converted_at AS new_converted,
               (o.closer_id, o.sdr_id, o.organization_id)
                   IS DISTINCT FROM (n.closer_id, n.sdr_id, n.organization_id) AS reassigned,
               o.sdr_id IS DISTINCT FROM n.sdr_id AS sdr_changed
        FROM old_rows o JOIN new_rows n ON n.id = o.id
        WHERE (o.status, o.temperatura, o.lead_score, o.created_at, o.converted_at,
               o.valor_fechado, o.closer_id, o.sdr_id, o.organization_id)
              IS DISTINCT FROM
              (n.status, n.temperatura, n.lead_score, n.created_at, n.converted_at,
               n.valor_fechado, n.closer_id, n.sdr_id, n.organization_id)
    )
    INSERT INTO lead_rollup_marks (organization_id, day, hour, marked_at)
    SELECT DISTINCT org, (at AT TIME ZONE 'UTC')::date,
           EXTRACT(HOUR FROM at AT TIME ZONE 'UTC')::smallint, now() FROM (
        SELECT v.org, v.at FROM changed, LATERAL (VALUES
            (old_org, old_created), (new_org, new_created),
            (old_org, old_converted), (new_org, new_converted)) v(org, at)
        UNION ALL
        SELECT c.organization_id, c.changed_at FROM lead_status_changes c
        WHERE c.lead_id IN (SELECT id FROM changed WHERE reassigned)
        UNION ALL
        SELECT i.organization_id, i.data_interacao FROM lead_interactions i
        WHERE i.lead_id IN (SELECT id FROM changed WHERE sdr_changed)
    ) touched(org, at)
    WHERE at IS NOT NULL;
    RETURN NULL;
END $$;
CREATE OR REPLACE FUNCTION lead_rollups_interactions_added() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO lead_rollup_marks (organization_id, day, hour, marked_at)
    SELECT DISTINCT organization_id, (data_interacao AT TIME ZONE 'UTC')::date,
           EXTRACT(HOUR FROM data_interacao AT TIME ZONE 'UTC')::smallint, now()
    FROM new_rows;
    RETURN NULL;
END $$;
CREATE OR REPLACE FUNCTION lead_rollups_interactions_removed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO lead_rollup_marks (organization_id, day, hour, marked_at)
    SELECT DISTINCT organization_id, (data_interacao AT TIME ZONE 'UTC')::date,
           EXTRACT(HOUR FROM data_interacao AT TIME ZONE 'UTC')::smallint, now()
    FROM old_rows;
    RETURN NULL;
END $$;
CREATE OR REPLACE FUNCTION lead_rollups_interactions_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO lead_rollup_marks (organization_id, day, hour, marked_at)
    SELECT DISTINCT v.org, (v.at AT TIME ZONE 'UTC')::date,
           EXTRACT(HOUR FROM v.at AT TIME ZONE 'UTC')::smallint, now()
    FROM old_rows o JOIN new_rows n ON n.id = o.id,
         LATERAL (VALUES (o.organization_id, o.data_interacao),
                         (n.organization_id, n.data_interacao)) v(org, at)
    WHERE (o.organization_id, o.lead_id, o.closer_id, o.data_interacao)
          IS DISTINCT FROM (n.organization_id, n.lead_id, n.closer_id, n.data_interacao);
    RETURN NULL;
END $$;
"""
# The functions as 0020 and 0022 left them: the same text without the hour.
PREVIOUS = re.sub(
    r",\n\s+EXTRACT\(HOUR FROM \S+ AT TIME ZONE 'UTC'\)::smallint",
    "",
    FUNCTIONS.replace("(organization_id, day, hour, marked_at)", "(organization_id, day, marked_at)"),
)


def forward(apps: Any, schema_editor: Any) -> None:
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(FUNCTIONS, params=None)


def backward(apps: Any, schema_editor: Any) -> None:
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(PREVIOUS, params=None)


class Migration(migrations.Migration):
    dependencies = [("leads", "0023_rollup_hours")]

    operations = [
        migrations.AddField(
            model_name="leadrollupmark",
            name="hour",
            field=models.SmallIntegerField(null=True),
        ),
        migrations.RunPython(forward, backward),
    ]
