"""psycopg keeps the split of long statements too.

Django's psycopg connections bind parameters on the client (psycopg's `ClientCursor`; the
project leaves `server_side_binding` off). Every `execute` first splits the statement text at
its placeholders (`psycopg._queries._query2pg_client`). psycopg keeps the split in an LRU
cache of 128 statements, but only for statements of at most 4,096 bytes and 50 parameters;
a longer one is split again on every call.

The sales dashboard's statement (`leads.rollups._window_sql`) is ~35 KB with 135-148
placeholders: splitting it took 0.41-0.45 ms of CPU on every dashboard request on the 2-core
machine, about a fifteenth of the request (bench/README.md, "Long statements kept"). The
painel (`/admin/painel/`) runs the same statement. No other statement of the benchmark's
requests (the lead list in each mode, the mentee dashboard, the back office's lead list and
"my day") is past the limits.

`install()` (config.apps.ProjectConfig.ready) raises both limits. The cache keeps its size
(128 entries), so a process holds at most 128 x `MAX_LENGTH` bytes of statement text (8 MB)
and about as much again in the split parts, at the worst.
"""

from __future__ import annotations

from psycopg import _queries

MAX_LENGTH = 64 * 1024
MAX_PARAMS = 1024


def install() -> bool:
    """Once, at start-up. psycopg reads both limits at each call (3.3). If a later psycopg
    drops them, this changes nothing and answers False (tests/test_statements.py fails)."""
    if not (
        hasattr(_queries, "MAX_CACHED_STATEMENT_LENGTH")
        and hasattr(_queries, "MAX_CACHED_STATEMENT_PARAMS")
    ):
        return False
    _queries.MAX_CACHED_STATEMENT_LENGTH = max(_queries.MAX_CACHED_STATEMENT_LENGTH, MAX_LENGTH)
    _queries.MAX_CACHED_STATEMENT_PARAMS = max(_queries.MAX_CACHED_STATEMENT_PARAMS, MAX_PARAMS)
    return True
