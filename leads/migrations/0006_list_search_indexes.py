# Indexes for the leads list and search (GET /api/v1/leads/), chosen from EXPLAIN ANALYZE on a
# 100,000-lead organization in a 500,000-lead table: one organization-first index per filter
# and per ordering (ending in id, the tie-breaker), a trigram GIN index for `search` and a GIN
# index for `tags`. Built CONCURRENTLY on PostgreSQL (no lock that blocks writes to leads while
# they build); on SQLite the btree indexes are plain and the GIN ones (and the extensions) are
# skipped. The new created/status indexes are built before the ones they replace are dropped.

import django.contrib.postgres.indexes
import django.db.models.functions.text
from django.db import migrations, models

from config.migrations_ops import (
    AddIndexConcurrentlyOnPostgres,
    AddPostgresIndexConcurrently,
    CreateExtensionOnPostgres,
    RemoveIndexConcurrentlyOnPostgres,
)


class Migration(migrations.Migration):

    atomic = False

    dependencies = [
        ('leads', '0005_scores_indexes'),
        ('organizations', '0001_initial'),
    ]

    operations = [
        CreateExtensionOnPostgres('pg_trgm'),
        CreateExtensionOnPostgres('btree_gin'),
        AddIndexConcurrentlyOnPostgres(
            model_name='lead',
            index=models.Index(fields=['organization', '-created_at', '-id'], name='lead_org_created_id'),
        ),
        AddIndexConcurrentlyOnPostgres(
            model_name='lead',
            index=models.Index(fields=['organization', 'status', 'temperatura', 'lead_score'], name='lead_org_status_temp_score'),
        ),
        RemoveIndexConcurrentlyOnPostgres(
            model_name='lead',
            name='lead_org_created',
        ),
        RemoveIndexConcurrentlyOnPostgres(
            model_name='lead',
            name='lead_org_status',
        ),
        AddIndexConcurrentlyOnPostgres(
            model_name='lead',
            index=models.Index(fields=['organization', 'temperatura', 'lead_score'], name='lead_org_temp_score'),
        ),
        AddIndexConcurrentlyOnPostgres(
            model_name='lead',
            index=models.Index(fields=['organization', 'origem'], name='lead_org_origem'),
        ),
        AddIndexConcurrentlyOnPostgres(
            model_name='lead',
            index=models.Index(fields=['organization', 'lead_score', 'id'], name='lead_org_score_id'),
        ),
        AddIndexConcurrentlyOnPostgres(
            model_name='lead',
            index=models.Index(fields=['organization', 'valor_potencial', 'id'], name='lead_org_valor_id'),
        ),
        AddIndexConcurrentlyOnPostgres(
            model_name='lead',
            index=models.Index(fields=['organization', 'nome_completo', 'id'], name='lead_org_nome_id'),
        ),
        AddIndexConcurrentlyOnPostgres(
            model_name='lead',
            index=models.Index(fields=['organization', 'last_interaction_at', 'id'], name='lead_org_last_inter_id'),
        ),
        AddPostgresIndexConcurrently(
            model_name='lead',
            index=django.contrib.postgres.indexes.GinIndex(models.F('organization'), django.contrib.postgres.indexes.OpClass(django.db.models.functions.text.Upper('nome_completo'), name='gin_trgm_ops'), django.contrib.postgres.indexes.OpClass(django.db.models.functions.text.Upper('email'), name='gin_trgm_ops'), django.contrib.postgres.indexes.OpClass(django.db.models.functions.text.Upper('empresa'), name='gin_trgm_ops'), django.contrib.postgres.indexes.OpClass(models.F('telefone'), name='gin_trgm_ops'), name='lead_org_search_trgm'),
        ),
        AddPostgresIndexConcurrently(
            model_name='lead',
            index=django.contrib.postgres.indexes.GinIndex(fields=['organization', 'tags'], name='lead_org_tags'),
        ),
    ]
