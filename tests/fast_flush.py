"""The flush after each transactional test: DELETE with triggers off instead of one TRUNCATE.

Transactional tests (`django_db(transaction=True)`, `live_server`, the browser tests) end with
Django's `flush`, which on PostgreSQL is one `TRUNCATE` over every table. TRUNCATE gives each
table, index and TOAST table new files, synced at commit: ~2 s per flush on a loaded 2-core
machine, over 60 times a run. The tables of a test hold a handful of rows; `DELETE FROM` each
one empties them in milliseconds. It runs with `session_replication_role = replica`, as
TRUNCATE does: no row trigger fires (our triggers must not write into tables already emptied)
and foreign keys are not checked (they are triggers too), so the order does not matter.

That setting needs a superuser (the test database's owner is `postgres` here and in CI); for
any other user, and for the sequence reset Django asks for in some cases, Django's own TRUNCATE
is kept.
"""

from __future__ import annotations

from collections.abc import Sequence

from django.core.management.color import Style
from django.db.backends.base.operations import BaseDatabaseOperations
from django.db.backends.postgresql.operations import DatabaseOperations

_truncate = DatabaseOperations.sql_flush
_superuser: dict[str, bool] = {}  # per database alias


def _is_superuser(operations: BaseDatabaseOperations) -> bool:
    connection = operations.connection
    if connection.alias not in _superuser:
        with connection.cursor() as cursor:
            cursor.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
            row = cursor.fetchone()
        _superuser[connection.alias] = bool(row and row[0])
    return _superuser[connection.alias]


def sql_flush(
    self: BaseDatabaseOperations,
    style: Style,
    tables: Sequence[str],
    *,
    reset_sequences: bool = False,
    allow_cascade: bool = False,
) -> list[str]:
    if reset_sequences or not tables or not _is_superuser(self):
        return _truncate(
            self, style, tables, reset_sequences=reset_sequences, allow_cascade=allow_cascade
        )
    # SET LOCAL: the flush runs its statements in one transaction (execute_sql_flush).
    return [
        "SET LOCAL session_replication_role = replica;",
        *(
            f"{style.SQL_KEYWORD('DELETE FROM')} {style.SQL_FIELD(self.quote_name(table))};"
            for table in sorted(tables)
        ),
    ]


def install() -> None:
    DatabaseOperations.sql_flush = sql_flush  # type: ignore[method-assign]
