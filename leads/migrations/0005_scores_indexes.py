# Indexes for score recalculation (leads/scoring.py), chosen from EXPLAIN ANALYZE on a
# 1,000,000-lead organization (bench/score_decay.py): the daily decay walks an organization's
# open leads in id order (lead_org_open_id) and reads each lead's contacts from the index
# alone (interaction_lead_contact). Built CONCURRENTLY on PostgreSQL so that adding them to
# large production tables does not block writes.

from django.db import migrations, models

from config.migrations_ops import AddIndexConcurrentlyOnPostgres


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
