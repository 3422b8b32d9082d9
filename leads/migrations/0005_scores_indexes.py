# Indexes for score recalculation (leads/scoring.py), chosen from EXPLAIN ANALYZE on a
# 1,000,000-lead organization (bench/score_decay.py): the daily decay walks an organization's
# open leads in id order (lead_org_open_id) and reads each lead's contacts from the index
# alone (interaction_lead_contact). Built CONCURRENTLY on PostgreSQL so that adding them to
# large production tables does not block writes.

from django.contrib.postgres.operations import AddIndexConcurrently
from django.db import migrations, models


class AddIndexConcurrentlyOnPostgres(AddIndexConcurrently):
    """CREATE INDEX CONCURRENTLY on PostgreSQL, a plain CREATE INDEX elsewhere (SQLite)."""

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            return super().database_forwards(app_label, schema_editor, from_state, to_state)
        return migrations.AddIndex.database_forwards(
            self, app_label, schema_editor, from_state, to_state
        )

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            return super().database_backwards(app_label, schema_editor, from_state, to_state)
        return migrations.AddIndex.database_backwards(
            self, app_label, schema_editor, from_state, to_state
        )


class Migration(migrations.Migration):

    atomic = False

    dependencies = [
        ('leads', '0004_dashboard_indexes'),
        ('organizations', '0001_initial'),
    ]

    operations = [
        AddIndexConcurrentlyOnPostgres(
            model_name='lead',
            index=models.Index(condition=models.Q(('status__in', ['convertido', 'perdido']), _negated=True), fields=['organization', 'id'], name='lead_org_open_id'),
        ),
        AddIndexConcurrentlyOnPostgres(
            model_name='leadinteraction',
            index=models.Index(condition=models.Q(('resultado', 'sem_resposta'), _negated=True), fields=['lead', 'data_interacao', 'resultado'], name='interaction_lead_contact'),
        ),
    ]
