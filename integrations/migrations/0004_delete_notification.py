# Notification moved to organizations (members receive notifications; lower apps notify
# without importing integrations). Only the migration state changes: the `notifications`
# table, its rows, indexes and constraints stay as they are and organizations.0002 adopts them.

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("integrations", "0003_whatsapp_crm"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.DeleteModel(name="Notification")],
            database_operations=[],
        ),
    ]
