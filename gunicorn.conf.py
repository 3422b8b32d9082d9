"""gunicorn settings for production: `gunicorn config.wsgi` (this file is read by default).

Every value can be overridden from the environment (Docker, Procfile, systemd):
  PORT / GUNICORN_BIND           where to listen (default 0.0.0.0:8000)
  GUNICORN_WORKER_CLASS          gthread (default), sync, or uvicorn (ASGI: serve config.asgi)
  GUNICORN_THREADS               threads per gthread worker (default 4)
  WEB_CONCURRENCY                worker processes (default: CPU cores + 1 for gthread,
                                 2 x CPU cores + 1 for sync and uvicorn; at most 12)
  GUNICORN_TIMEOUT               seconds before a silent worker is killed (default 30)
  GUNICORN_GRACEFUL_TIMEOUT      seconds to finish requests on restart/stop (default 30)
  GUNICORN_KEEPALIVE             seconds to keep idle connections from the proxy (default 5)
  GUNICORN_MAX_REQUESTS          recycle a worker after N requests (default 1000, 0 = never)
  PROMETHEUS_MULTIPROC_DIR       metric files shared by the workers (default: a temp dir)

gunicorn's access log is off: config.middleware writes one JSON line per request with the
request id, route, user and organization. gunicorn's own messages use the same formatter.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

# Several workers need the multiprocess metrics mode; it must be on before any metric exists,
# and workers inherit this environment (the RQ worker must be given the same directory).
if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(
        Path(tempfile.gettempdir()) / "lead-tracking-metrics"
    )

from config import multiprocess
from config.logging import build_logging

multiprocess.configure()


# gthread, measured on the 2-core machine against sync and uvicorn workers (bench/README.md,
# "Throughput"): threads keep the client's connection alive between requests (a sync worker
# closes it after each one) and overlap one request's database waits with another's Python.
# uvicorn workers run Django's sync views in a thread per request, each with its own database
# connection: "too many clients" at concurrency 8.
WORKER_CLASSES = {
    "gthread": "gthread",
    "sync": "sync",
    "uvicorn": "uvicorn.workers.UvicornWorker",
}
_worker_class_name = os.environ.get("GUNICORN_WORKER_CLASS", "").strip() or "gthread"
worker_class = WORKER_CLASSES[_worker_class_name]
threads = int(os.environ.get("GUNICORN_THREADS") or (4 if _worker_class_name == "gthread" else 1))


def _default_workers() -> int:
    cores = multiprocessing.cpu_count()
    return min(cores + 1 if _worker_class_name == "gthread" else cores * 2 + 1, 12)


bind = os.environ.get("GUNICORN_BIND") or f"0.0.0.0:{os.environ.get('PORT', '8000')}"
workers = int(os.environ.get("WEB_CONCURRENCY") or _default_workers())
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
graceful_timeout = int(os.environ.get("GUNICORN_GRACEFUL_TIMEOUT", "30"))
keepalive = int(os.environ.get("GUNICORN_KEEPALIVE", "5"))
max_requests = int(os.environ.get("GUNICORN_MAX_REQUESTS", "1000"))
# Spread recycling so workers do not all restart at once.
max_requests_jitter = max(1, max_requests // 10) if max_requests else 0
# Request line and header limits (bodies are limited by Django: DATA_UPLOAD_MAX_MEMORY_SIZE).
limit_request_line = 8190
limit_request_fields = 100
# Heartbeat files in memory: a slow disk must not get healthy workers killed.
worker_tmp_dir = "/dev/shm" if Path("/dev/shm").is_dir() else None  # noqa: S108
# The proxy in front adds X-Forwarded-*; Django decides what to trust (NUM_PROXIES,
# SECURE_PROXY_SSL_HEADER), so gunicorn passes the headers through unchanged.
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")

accesslog = None
# No runtime control socket (gunicornc): nothing uses it, and it needs a writable $HOME.
control_socket_disable = True
errorlog = "-"
loglevel = os.environ.get("LOG_LEVEL", "info").lower()
_log_format = os.environ.get("LOG_FORMAT") or (
    "console" if os.environ.get("DEBUG", "").lower() in {"1", "true", "yes", "on"} else "json"
)
logconfig_dict: dict[str, Any] = build_logging(level=loglevel, fmt=_log_format)
logconfig_dict["loggers"].update(
    {
        "gunicorn.error": {"level": loglevel.upper(), "handlers": [], "propagate": True},
        "gunicorn.access": {"level": "WARNING", "handlers": [], "propagate": True},
    }
)


def on_starting(server: Any) -> None:
    """Master start-up: make sure the metrics directory exists."""
    if multiprocess.enabled():
        Path(os.environ["PROMETHEUS_MULTIPROC_DIR"]).mkdir(parents=True, exist_ok=True)


def post_worker_init(worker: Any) -> None:
    """A worker has loaded the application: what it holds for its lifetime is frozen out of
    the garbage collector's full walks (config/heap.py)."""
    from config.heap import freeze_loaded

    freeze_loaded()


def child_exit(server: Any, worker: Any) -> None:
    """A worker died or was recycled: its live gauges must stop counting."""
    multiprocess.mark_process_dead(worker.pid)
