"""Application metrics (Prometheus), defined once so every app increments the same series.

Exposed at /metrics by `metrics_view` (optionally behind METRICS_TOKEN and/or
METRICS_ALLOWED_IPS). Label values must stay low-cardinality: ids of organizations are fine
(few), lead ids or phone numbers never.

Under gunicorn with several workers and for counters incremented inside RQ jobs, set
PROMETHEUS_MULTIPROC_DIR (see config/multiprocess.py): the view then sums every process's
files. Queue depth and failed-job counts are read from Redis at scrape time by `RQCollector`,
so they are right whichever process answers.
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
import os
from collections.abc import Iterable, Iterator
from typing import Any

from django.db import transaction
from django.views.decorators.csrf import csrf_exempt
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

logger = logging.getLogger(__name__)

LEADS_CREATED = Counter("leads_created_total", "Leads created", ["organization_id"])
INTERACTIONS_CREATED = Counter(
    "interactions_created_total", "Lead interactions created", ["organization_id", "tipo_interacao"]
)
FOLLOWUP_STEPS = Counter(
    "followup_steps_total",
    "Follow-up steps by channel and outcome (executed, skipped, retried, failed)",
    ["channel", "outcome"],
)
WEBHOOK_NOTIFICATIONS = Counter(
    "webhook_notifications_total",
    "Inbound webhook notifications by provider and outcome (accepted, rejected, ignored)",
    ["provider", "outcome"],
)
CRM_SYNC = Counter(
    "crm_sync_total", "CRM sync attempts by provider and outcome", ["provider", "outcome"]
)
# django-prometheus labels its latency histogram by view and method only; dashboards and
# alerts want error rates and latency per URL pattern and status together.
HTTP_REQUEST_DURATION = Histogram(
    "http_request_duration_seconds",
    "Request latency by route (URL pattern), method and status, measured by our middleware",
    ["method", "route", "status"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
)


# --- Signal receivers (connected in config.apps) ----------------------------------------------


def count_lead_created(sender: Any, lead: Any, **kwargs: Any) -> None:
    organization_id = str(lead.organization_id)
    # On commit: a rolled-back create is not a lead.
    transaction.on_commit(
        lambda: LEADS_CREATED.labels(organization_id=organization_id).inc(), robust=True
    )


def count_interaction_created(sender: Any, interaction: Any, **kwargs: Any) -> None:
    labels = {
        "organization_id": str(interaction.organization_id),
        "tipo_interacao": str(interaction.tipo_interacao),
    }
    transaction.on_commit(lambda: INTERACTIONS_CREATED.labels(**labels).inc(), robust=True)


# --- RQ queues, read at scrape time -----------------------------------------------------------


class RQCollector(Collector):
    """Jobs waiting, running, scheduled and failed per RQ queue, and live workers."""

    def __init__(self, timeout: float = 1.0) -> None:
        self.timeout = timeout

    def collect(self) -> Iterator[Metric]:
        import redis
        from django.conf import settings
        from rq.queue import Queue
        from rq.registry import FailedJobRegistry, ScheduledJobRegistry, StartedJobRegistry
        from rq.worker import Worker

        depth = GaugeMetricFamily(
            "rq_queue_depth", "Jobs waiting in the RQ queue", labels=["queue"]
        )
        failed = GaugeMetricFamily(
            "rq_failed_jobs", "Jobs in the RQ queue's failed registry", labels=["queue"]
        )
        started = GaugeMetricFamily(
            "rq_started_jobs", "Jobs of the RQ queue being executed", labels=["queue"]
        )
        scheduled = GaugeMetricFamily(
            "rq_scheduled_jobs", "Jobs of the RQ queue waiting for their time", labels=["queue"]
        )
        workers = GaugeMetricFamily("rq_workers", "RQ workers registered in Redis")
        up = GaugeMetricFamily("rq_up", "1 when Redis answered the RQ queries of this scrape")
        ok = True
        worker_names: set[str] = set()
        by_url: dict[str, list[str]] = {}
        for name, config in settings.RQ_QUEUES.items():
            by_url.setdefault(config["URL"], []).append(name)
        for url, names in by_url.items():
            try:
                connection = redis.Redis.from_url(
                    url, socket_timeout=self.timeout, socket_connect_timeout=self.timeout
                )
                pipe = connection.pipeline(transaction=False)
                for name in names:
                    pipe.llen(Queue(name, connection=connection).key)
                    for registry_class in (FailedJobRegistry, StartedJobRegistry):
                        pipe.zcard(registry_class(name, connection=connection).key)
                    pipe.zcard(ScheduledJobRegistry(name, connection=connection).key)
                results = pipe.execute()
                worker_names.update(
                    key.decode() if isinstance(key, bytes) else str(key)
                    for key in connection.smembers(Worker.redis_workers_keys)
                )
                connection.close()
            except (redis.RedisError, OSError) as exc:
                logger.warning("rq metrics unavailable: %s", type(exc).__name__)
                ok = False
                continue
            for index, name in enumerate(names):
                queued, n_failed, n_started, n_scheduled = results[index * 4 : index * 4 + 4]
                depth.add_metric([name], queued)
                failed.add_metric([name], n_failed)
                started.add_metric([name], n_started)
                scheduled.add_metric([name], n_scheduled)
        workers.add_metric([], len(worker_names))
        up.add_metric([], 1 if ok else 0)
        yield from (depth, failed, started, scheduled, workers, up)


# --- The /metrics view ------------------------------------------------------------------------


def _allowed_networks(
    entries: Iterable[str],
) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    return [ipaddress.ip_network(entry.strip(), strict=False) for entry in entries if entry.strip()]


def metrics_denial(request: Any) -> tuple[int, str] | None:
    """(status, reason) when the scrape is not allowed, None when it is."""
    from django.conf import settings

    from config.middleware import client_ip

    allowed = list(getattr(settings, "METRICS_ALLOWED_IPS", []) or [])
    if allowed:
        ip = client_ip(request)
        try:
            address = ipaddress.ip_address(ip or "")
        except ValueError:
            return 403, "forbidden"
        if not any(address in network for network in _allowed_networks(allowed)):
            return 403, "forbidden"
    token = getattr(settings, "METRICS_TOKEN", "") or ""
    if token:
        header = request.headers.get("Authorization", "")
        scheme, _, given = header.partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(
            given.strip().encode(), token.encode()
        ):
            return 401, "unauthorized"
    return None


def render_metrics() -> bytes:
    """The text exposition of every metric: summed over processes in multiprocess mode."""
    from prometheus_client import multiprocess

    rq_registry = CollectorRegistry(auto_describe=False)
    rq_registry.register(RQCollector())
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        process_output = generate_latest(registry)
    else:
        process_output = generate_latest(REGISTRY)
    return process_output + generate_latest(rq_registry)


@csrf_exempt
@transaction.non_atomic_requests
def metrics_view(request: Any) -> Any:
    from django.http import HttpResponse

    from config.responses import error_response

    denial = metrics_denial(request)
    if denial is not None:
        status, reason = denial
        denied = error_response(status, reason)
        if status == 401:
            denied["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return denied
    response = HttpResponse(render_metrics(), content_type=CONTENT_TYPE_LATEST)
    response["Cache-Control"] = "no-store"
    return response
