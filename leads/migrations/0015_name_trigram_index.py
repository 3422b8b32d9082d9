# The organization-first trigram index over f_unaccent(lower(nome_completo)) that the duplicate
# candidates' name similarity join reads (leads/merge.py); built CONCURRENTLY, skipped on SQLite.

import config.search
import django.contrib.postgres.indexes
import django.db.models.functions.text
from django.db import migrations, models

from config.migrations_ops import AddPostgresIndexConcurrently


class Migration(migrations.Migration):

    atomic = False

    dependencies = [
        ('leads', '0014_lead_merges'),
        ('organizations', '0007_member_absences'),
    ]

    operations = [
        AddPostgresIndexConcurrently(
            model_name='lead',
            index=django.contrib.postgres.indexes.GinIndex(models.F('organization'), django.contrib.postgres.indexes.OpClass(config.search.FUnaccent(django.db.models.functions.text.Lower(config.search.SearchText(models.F('nome_completo')))), name='gin_trgm_ops'), name='lead_org_name_fold'),
        ),
    ]
