# Accent- and case-blind search of mentees (config.search), as leads' 0012: the trigram index
# over f_unaccent(lower(the searched columns joined)), organization first, built CONCURRENTLY; PostgreSQL only.

import config.search
import django.contrib.postgres.indexes
import django.db.models.functions.text
from django.db import migrations, models

from config.migrations_ops import (
    AddPostgresIndexConcurrently,
    CreateExtensionOnPostgres,
    CreateUnaccentFunction,
)


class Migration(migrations.Migration):

    atomic = False

    dependencies = [
        ('leads', '0012_search_unaccent'),
        ('mentorados', '0002_mentorado_org_updated'),
        ('organizations', '0004_sync_deletions_notification_updated_at'),
    ]

    operations = [
        # Idempotent; repeated so that this index never depends on the order apps migrate in.
        CreateExtensionOnPostgres('unaccent'),
        CreateUnaccentFunction(),
        AddPostgresIndexConcurrently(
            model_name='mentorado',
            index=django.contrib.postgres.indexes.GinIndex(models.F('organization'), django.contrib.postgres.indexes.OpClass(config.search.FUnaccent(django.db.models.functions.text.Lower(config.search.SearchText(models.F('nome_completo'), models.F('email'), models.F('programa')))), name='gin_trgm_ops'), django.contrib.postgres.indexes.OpClass(models.F('telefone'), name='gin_trgm_ops'), name='mentorado_org_search_fold'),
        ),
    ]
