# The pipeline board's columns read one status's leads highest score first (leads/admin_board.py):
# an index in that order serves a column's first 26 cards without sorting the status's leads.
# Built CONCURRENTLY: writes to leads go on while it builds.

from django.db import migrations, models

from config.migrations_ops import AddIndexConcurrentlyOnPostgres


class Migration(migrations.Migration):

    atomic = False

    dependencies = [
        ('leads', '0026_lead_tag_counts'),
        ('organizations', '0011_notification_push_error'),
    ]

    operations = [
        AddIndexConcurrentlyOnPostgres(
            model_name='lead',
            index=models.Index(fields=['organization', 'status', '-lead_score', '-created_at', '-id'], name='lead_org_status_score_id'),
        ),
    ]
