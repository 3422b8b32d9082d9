"""Re-encrypt every EncryptedTextField value with the first FIELD_ENCRYPTION_KEY.

Step 2 of a key rotation (see integrations/fields.py): after deploying `new,old`, run this,
then drop `old`. Rows are rewritten from their raw ciphertext, so the secrets never exist in
plaintext outside `cryptography`, and running it twice is harmless.
"""

from __future__ import annotations

from typing import Any

from django.apps import apps
from django.core.management.base import BaseCommand
from django.db import connection, transaction

from integrations.fields import EncryptedTextField, rotate


class Command(BaseCommand):
    help = "Re-encrypts stored secrets with the first key of FIELD_ENCRYPTION_KEY."

    def handle(self, *args: Any, **options: Any) -> None:
        total = 0
        for model in apps.get_models():
            fields = [f for f in model._meta.concrete_fields if isinstance(f, EncryptedTextField)]
            if not fields:
                continue
            primary_key = model._meta.pk
            if primary_key is None:
                raise RuntimeError("primary_key is None")
            if primary_key.column is None:
                raise RuntimeError("primary_key.column is None")
            table = connection.ops.quote_name(model._meta.db_table)
            pk = connection.ops.quote_name(primary_key.column)
            for field in fields:
                if field.column is None:
                    raise RuntimeError("field.column is None")
                column = connection.ops.quote_name(field.column)
                with transaction.atomic(), connection.cursor() as cursor:
                    # Raw SQL: the ORM would decrypt on read; rotation works on ciphertext.
                    cursor.execute(
                        f"SELECT {pk}, {column} FROM {table} "  # noqa: S608 - quoted identifiers
                        f"WHERE {column} IS NOT NULL AND {column} <> ''"
                    )
                    rows = cursor.fetchall()
                    for row_pk, token in rows:
                        cursor.execute(
                            f"UPDATE {table} SET {column} = %s WHERE {pk} = %s",  # noqa: S608
                            [rotate(token), row_pk],
                        )
                total += len(rows)
                self.stdout.write(f"{model._meta.label}.{field.name}: {len(rows)} value(s)")
        self.stdout.write(self.style.SUCCESS(f"{total} secret(s) re-encrypted."))
