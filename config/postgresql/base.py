"""PostgreSQL with django-prometheus's query metrics, and Django's connection health check
for a connection that has sat idle, not for one that ran a statement a moment ago.

With `CONN_HEALTH_CHECKS`, Django sends `SELECT 1` before the first statement of every
request on a reused connection: a round trip more than the request's own statements on
every request (bench/README.md, "The server against the test client"). The check is there
for a connection that went bad while it sat unused (the database restarted or failed over, a
proxy dropped it). Here it runs when the connection's last statement started at least
`HEALTH_CHECK_IDLE_SECONDS` ago: the DATABASES entry's key, set by config/settings.py from
DB_HEALTH_CHECK_IDLE_SECONDS (0.5 s by default, as HikariCP's `aliveBypassWindowMs`). 0, or
an entry without the key, checks every request as Django does.

A connection used within that window is taken to be alive. If it is not (its server process
ended in that half second), its request fails as it would without the check, and Django
closes the connection when that request ends (`errors_occurred`). A connection that sat
through a restart or a failover has been idle for longer than the window.
"""

from __future__ import annotations

import math
import time
from typing import Any

from django_prometheus.db.backends.postgresql import base


class DatabaseWrapper(base.DatabaseWrapper):
    health_check_enabled: bool
    health_check_done: bool

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # time.monotonic() when a cursor or a transaction last started on this connection.
        self.last_active = -math.inf

    def close_if_health_check_failed(self) -> None:
        if (
            self.connection is not None
            and self.health_check_enabled
            and not self.health_check_done
            and time.monotonic() - self.last_active
            < self.settings_dict.get("HEALTH_CHECK_IDLE_SECONDS", 0)
        ):
            self.health_check_done = True
        super().close_if_health_check_failed()
        self.last_active = time.monotonic()
