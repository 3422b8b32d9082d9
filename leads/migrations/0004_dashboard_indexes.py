# Indexes for the sales dashboard (leads/dashboard_selectors.py), chosen from EXPLAIN ANALYZE on a
# 100,000-lead organization (bench/dashboard.py). Built CONCURRENTLY on PostgreSQL so that
# adding them to a large production table does not block writes to leads.

from django.db import migrations, models

from config.migrations_ops import AddIndexConcurrentlyOnPostgres


class Migration(migrations.Migration):

    atomic = False

    dependencies = [
        ('leads', '0003_lead_import'),
        ('organizations', '0001_initial'),
    ]

    operations = [
        AddIndexConcurrentlyOnPostgres(
            model_name='lead',
            index=models.Index(condition=models.Q(('converted_at__isnull', False)), fields=['organization', 'converted_at'], name='lead_org_converted'),
        ),
        AddIndexConcurrentlyOnPostgres(
            model_name='lead',
            index=models.Index(fields=['organization', 'closer', 'created_at'], name='lead_org_closer_created'),
        ),
        AddIndexConcurrentlyOnPostgres(
            model_name='lead',
            index=models.Index(fields=['organization', 'sdr', 'created_at'], name='lead_org_sdr_created'),
        ),
        AddIndexConcurrentlyOnPostgres(
            model_name='leadstatuschange',
            index=models.Index(fields=['organization', 'changed_at', 'lead', 'to_status'], name='lsc_org_at'),
        ),
        AddIndexConcurrentlyOnPostgres(
            model_name='leadstatuschange',
            index=models.Index(fields=['organization', 'lead', 'changed_at', 'to_status'], name='lsc_org_lead_at'),
        ),
        AddIndexConcurrentlyOnPostgres(
            model_name='leadinteraction',
            index=models.Index(fields=['organization', 'data_interacao', 'closer'], name='interaction_org_date_closer'),
        ),
    ]
