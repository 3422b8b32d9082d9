# The mentees' search index keeps a pending list of at most 256 kB, as leads' (leads 0030,
# config.search.GIN_PENDING_LIST_KB). A storage parameter: set in place, no rebuild.

import django.contrib.postgres.indexes
import django.db.models.functions.text
from django.db import migrations, models

import config.search
from config.migrations_ops import set_gin_pending_list_limit


class Migration(migrations.Migration):

    dependencies = [
        ('mentorados', '0005_dashboard_rollups'),
    ]

    operations = [
        set_gin_pending_list_limit(
            'mentorado',
            django.contrib.postgres.indexes.GinIndex(models.F('organization'), django.contrib.postgres.indexes.OpClass(config.search.FUnaccent(django.db.models.functions.text.Lower(config.search.SearchText(models.F('nome_completo'), models.F('email'), models.F('programa')))), name='gin_trgm_ops'), django.contrib.postgres.indexes.OpClass(models.F('telefone'), name='gin_trgm_ops'), gin_pending_list_limit=256, name='mentorado_org_search_fold'),
        ),
    ]
