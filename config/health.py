"""Health endpoints for load balancers, orchestrators and Docker's HEALTHCHECK.

- `GET /health/`: readiness. Checks PostgreSQL and Redis, each with a short timeout and in
  parallel; 200 `{"status": "ok", ...}`; 200 `{"status": "degraded", ...}` with
  `services.redis = "error"` when only Redis is down (the API still serves reads and writes:
  the cache fails open and jobs wait in the outbox, docs/jobs.md; answering 503 would make the
  load balancer take every instance out for an outage they survive); 503
  `{"status": "error", ...}` when the database is down. No auth, no writes.
- `GET /health/live/`: liveness. Answers without touching anything: a process that can run
  this view is alive (restarting it will not fix a database outage).

`ProbeMiddleware` answers these paths and /metrics before Django's host validation and HTTPS
redirect: probes address the container by IP over plain HTTP, and must not need the public
host name in ALLOWED_HOSTS nor follow a redirect to HTTPS.
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from datetime import UTC, datetime
from typing import Any

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections, transaction
from django.db.utils import load_backend
from django.http import HttpRequest, HttpResponseBase, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

STARTED_AT = time.monotonic()
OK, ERROR, DEGRADED = "ok", "error", "degraded"


def _timeout() -> float:
    return float(getattr(settings, "HEALTH_CHECK_TIMEOUT", 2.0))


def check_database(timeout: float, alias: str = DEFAULT_DB_ALIAS) -> None:
    """Raises unless the database answers `SELECT 1` on a fresh, short-timeout connection.

    A fresh connection, not the request's: a persistent connection can look fine while the
    server is gone, and the health check must not leave the shared connection broken.
    """
    settings_dict = copy.deepcopy(connections[alias].settings_dict)
    options = settings_dict.setdefault("OPTIONS", {})
    if settings_dict["ENGINE"].endswith("postgresql"):
        # libpq counts whole seconds (and treats less than 2 as 2).
        options["connect_timeout"] = max(2, math.ceil(timeout))
        statement_timeout = f"-c statement_timeout={int(timeout * 1000)}"
        options["options"] = f"{options.get('options', '')} {statement_timeout}".strip()
    else:
        options["timeout"] = timeout
    wrapper = load_backend(settings_dict["ENGINE"]).DatabaseWrapper(settings_dict, alias)
    try:
        with wrapper.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    finally:
        wrapper.close()


def check_redis(timeout: float) -> None:
    """Raises unless Redis answers PING within `timeout`."""
    import redis

    client = redis.Redis.from_url(
        settings.REDIS_URL, socket_timeout=timeout, socket_connect_timeout=timeout
    )
    try:
        if not client.ping():
            raise RuntimeError("redis did not answer PING")
    finally:
        client.close()


CHECKS: dict[str, Callable[[float], None]] = {"database": check_database, "redis": check_redis}


def run_checks(timeout: float | None = None) -> dict[str, str]:
    """Every check in parallel; a check that raises or overruns its timeout is an error."""
    timeout = _timeout() if timeout is None else timeout
    results: dict[str, str] = {}
    # Not a `with` block: leaving it would wait for a hung check, defeating the timeout.
    pool = ThreadPoolExecutor(max_workers=len(CHECKS), thread_name_prefix="health")
    try:
        futures = {name: pool.submit(check, timeout) for name, check in CHECKS.items()}
        deadline = time.monotonic() + timeout + 1.0
        for name, future in futures.items():
            try:
                future.result(timeout=max(0.0, deadline - time.monotonic()))
                results[name] = OK
            except (FutureTimeout, Exception):
                results[name] = ERROR
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
    return results


def resident_memory_bytes() -> int | None:
    """This process's resident set size (VmRSS) in bytes, or None where it cannot be read.

    Linux's /proc/self/status gives the current figure (in kB); elsewhere
    `resource.getrusage` gives the peak (ru_maxrss: kB on Linux, bytes on macOS), which is
    the best available there.
    """
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        import resource
        import sys

        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    except (ImportError, OSError):
        return None
    return int(peak) if sys.platform == "darwin" else int(peak) * 1024


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


@never_cache
@require_safe
@transaction.non_atomic_requests
def health(request: HttpRequest) -> JsonResponse:
    services = run_checks()
    if services["database"] != OK:
        status, code = ERROR, 503
    elif any(state != OK for state in services.values()):
        status, code = DEGRADED, 200
    else:
        status, code = OK, 200
    return JsonResponse(
        {
            "status": status,
            "timestamp": _now(),
            "services": services,
            "uptime": round(time.monotonic() - STARTED_AT, 1),
            "memory_rss_bytes": resident_memory_bytes(),
        },
        status=code,
    )


@never_cache
@require_safe
@transaction.non_atomic_requests
def live(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": OK, "timestamp": _now()})


def _probe_views() -> dict[str, tuple[str, Callable[..., HttpResponseBase]]]:
    from config.metrics import metrics_view

    return {
        "/health/": ("health/", health),
        "/health/live/": ("health/live/", live),
        "/metrics": ("metrics", metrics_view),
    }


class ProbeMiddleware:
    """Serves the probe paths before host validation and the HTTPS redirect."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response
        self.views = _probe_views()

    def __call__(self, request: HttpRequest) -> Any:
        target = self.views.get(request.path_info)
        if target is None:
            return self.get_response(request)
        route, view = target
        request.log_route = route  # type: ignore[attr-defined]
        return view(request)
