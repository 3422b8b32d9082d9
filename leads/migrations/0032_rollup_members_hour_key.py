# The rollups' covering index takes the hour into its key (organization, grain, day, hour):
# the sales dashboard reads an edge day's hour rows before or after a moment
# (leads/rollups.py), and with the hour only INCLUDEd every hour of that day was read and
# filtered (7,598 index entries for 1,581 rows at 1,000,000 leads). The dashboard's statement
# replayed, the two indexes interleaved: 15.5 -> 13.7 ms p50 (period 30) and 19.5 -> 18.0 ms
# (period 365) at 1,000,000 leads, 7.2 -> 6.8 and 7.2 -> 6.7 ms at 10,000 (bench/README.md,
# "A `--million` run on the current code"). Built CONCURRENTLY before the old one is dropped,
# so no moment goes without either.

from django.db import migrations, models

from config.migrations_ops import AddIndexConcurrentlyOnPostgres, RemoveIndexConcurrentlyOnPostgres


class Migration(migrations.Migration):

    atomic = False

    dependencies = [
        ('leads', '0031_lead_origin_days'),
    ]

    operations = [
        AddIndexConcurrentlyOnPostgres(
            model_name='leaddailyrollup',
            index=models.Index(fields=['organization_id', 'grain', 'day', 'hour'], include=('closer_id', 'sdr_id', 'author_id', 'created', 'converted', 'valor_sum', 'interactions'), name='ldr_members_hour_cover'),
        ),
        RemoveIndexConcurrentlyOnPostgres(
            model_name='leaddailyrollup',
            name='ldr_members_cover',
        ),
    ]
