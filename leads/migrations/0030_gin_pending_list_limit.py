# Every GIN index of leads (search, names, tags) and of lead_search_rows keeps a pending list of
# at most 256 kB instead of PostgreSQL's 4 MB (config.search.GIN_PENDING_LIST_KB): each search
# scans the whole list, and the write that fills it merges it into the index. A storage
# parameter: set in place, no rebuild.

import django.contrib.postgres.indexes
import django.db.models.functions.text
from django.db import migrations, models

import config.search
from config.migrations_ops import set_gin_pending_list_limit


class Migration(migrations.Migration):

    dependencies = [
        ('leads', '0029_created_index_covers_origin_status'),
    ]

    operations = [
        set_gin_pending_list_limit(
            'lead',
            django.contrib.postgres.indexes.GinIndex(models.F('organization'), django.contrib.postgres.indexes.OpClass(models.F('search_fold'), name='gin_trgm_ops'), django.contrib.postgres.indexes.OpClass(models.F('telefone'), name='gin_trgm_ops'), gin_pending_list_limit=256, name='lead_org_search_col'),
        ),
        set_gin_pending_list_limit(
            'lead',
            django.contrib.postgres.indexes.GinIndex(models.F('organization'), django.contrib.postgres.indexes.OpClass(config.search.FUnaccent(django.db.models.functions.text.Lower(config.search.SearchText(models.F('nome_completo')))), name='gin_trgm_ops'), gin_pending_list_limit=256, name='lead_org_name_fold'),
        ),
        set_gin_pending_list_limit(
            'lead',
            django.contrib.postgres.indexes.GinIndex(fields=['organization', 'tags'], gin_pending_list_limit=256, name='lead_org_tags'),
        ),
        set_gin_pending_list_limit(
            'leadsearchrow',
            django.contrib.postgres.indexes.GinIndex(models.F('organization_id'), django.contrib.postgres.indexes.OpClass(models.F('search_fold'), name='gin_trgm_ops'), django.contrib.postgres.indexes.OpClass(models.F('telefone'), name='gin_trgm_ops'), gin_pending_list_limit=256, name='lead_search_rows_trgm'),
        ),
    ]
