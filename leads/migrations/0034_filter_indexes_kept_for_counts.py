# Leads 0033 replaced the filter indexes with covering ones (created_at and id carried), which
# made a filtered page's ids an index-only read. But an index with INCLUDE columns is not
# deduplicated: 118 and 98 MB for 1,510,000 leads against 13 and 11 MB, and counting a broad
# filter's matches reads all of it (1,000,000-lead organization, status = qualificado, 138,178
# matches: 14.3 ms from the plain index, 24.3 ms from the covering one). The plain indexes come
# back for the counts; the planner takes each index for what it reads best.

from django.db import migrations, models

from config.migrations_ops import AddIndexConcurrentlyOnPostgres


class Migration(migrations.Migration):

    atomic = False

    dependencies = [
        ('leads', '0033_filter_indexes_carry_the_order'),
    ]

    operations = [
        AddIndexConcurrentlyOnPostgres(
            model_name='lead',
            index=models.Index(fields=['organization', 'status', 'temperatura', 'lead_score'], name='lead_org_status_temp_score'),
        ),
        AddIndexConcurrentlyOnPostgres(
            model_name='lead',
            index=models.Index(fields=['organization', 'temperatura', 'lead_score'], name='lead_org_temp_score'),
        ),
    ]
