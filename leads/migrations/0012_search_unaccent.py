# Accent- and case-blind search (config.search): the `unaccent` extension, the IMMUTABLE
# f_unaccent() wrapper, and the organization-first trigram index over f_unaccent(lower(the searched columns joined)),
# built CONCURRENTLY before the old UPPER(col) index it replaces is dropped. On SQLite nothing
# is built (f_unaccent is a Python function registered per connection).

import config.search
import django.contrib.postgres.indexes
import django.db.models.functions.text
from django.db import migrations, models

from config.migrations_ops import (
    AddPostgresIndexConcurrently,
    CreateExtensionOnPostgres,
    CreateUnaccentFunction,
    RemovePostgresIndexConcurrently,
)


class Migration(migrations.Migration):

    atomic = False

    dependencies = [
        ('leads', '0011_lead_routing'),
        ('organizations', '0004_sync_deletions_notification_updated_at'),
    ]

    operations = [
        CreateExtensionOnPostgres('unaccent'),
        CreateUnaccentFunction(),
        AddPostgresIndexConcurrently(
            model_name='lead',
            index=django.contrib.postgres.indexes.GinIndex(models.F('organization'), django.contrib.postgres.indexes.OpClass(config.search.FUnaccent(django.db.models.functions.text.Lower(config.search.SearchText(models.F('nome_completo'), models.F('email'), models.F('empresa')))), name='gin_trgm_ops'), django.contrib.postgres.indexes.OpClass(models.F('telefone'), name='gin_trgm_ops'), name='lead_org_search_fold'),
        ),
        RemovePostgresIndexConcurrently(
            model_name='lead',
            name='lead_org_search_trgm',
        ),
    ]
