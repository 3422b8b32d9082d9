"""PostgreSQL settings for the current transaction only, in one statement.

`set_local(jit="off", work_mem="32MB")` sends `SELECT set_config('jit', 'off', true),
set_config('work_mem', '32MB', true)`: `set_config(name, value, true)` is `SET LOCAL name =
value` (the setting ends with the transaction), and all of them go in one round trip rather
than one statement each. Names and values are parameters. `using`: the database whose
transaction they are for (a read on the replica tunes the replica's). Off PostgreSQL (SQLite
in development) it does nothing: those settings are PostgreSQL's.
"""

from __future__ import annotations

from django.db import DEFAULT_DB_ALIAS, connections


def set_local(*, using: str = DEFAULT_DB_ALIAS, **settings: str) -> None:
    connection = connections[using]
    if connection.vendor != "postgresql" or not settings:
        return
    calls = ", ".join("set_config(%s, %s, true)" for _ in settings)
    params = [part for pair in settings.items() for part in pair]
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {calls}", params)
