"""Django's Redis cache with Prometheus metrics.

django-prometheus ships the same wrapper (`django_prometheus.cache.backends.redis.
NativeRedisCache`), but its module imports the django-redis package at import time, which we
do not use. This class records the same series (`django_cache_get_total`, hits, misses and
failures, backend="native_redis"), plus the latency of every cache operation, which
django-prometheus does not measure.
"""

from __future__ import annotations

from typing import Any

from django.core.cache.backends.base import DEFAULT_TIMEOUT
from django.core.cache.backends.redis import RedisCache
from django_prometheus.cache.metrics import (
    django_cache_get_fail_total,
    django_cache_get_total,
    django_cache_hits_total,
    django_cache_misses_total,
)
from prometheus_client import Histogram

BACKEND = "native_redis"

CACHE_OPERATION_DURATION = Histogram(
    "django_cache_operation_duration_seconds",
    "Latency of cache operations by backend and operation",
    ["backend", "operation"],
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0),
)


class InstrumentedRedisCache(RedisCache):
    """RedisCache counting gets, hits and misses and timing every operation."""

    def _timer(self, operation: str) -> Any:
        return CACHE_OPERATION_DURATION.labels(backend=BACKEND, operation=operation).time()

    def get(self, key: Any, default: Any = None, version: int | None = None) -> Any:
        django_cache_get_total.labels(backend=BACKEND).inc()
        sentinel = object()
        try:
            with self._timer("get"):
                result = super().get(key, sentinel, version=version)
        except Exception:
            django_cache_get_fail_total.labels(backend=BACKEND).inc()
            raise
        if result is sentinel:
            django_cache_misses_total.labels(backend=BACKEND).inc()
            return default
        django_cache_hits_total.labels(backend=BACKEND).inc()
        return result

    def set(
        self, key: Any, value: Any, timeout: Any = DEFAULT_TIMEOUT, version: int | None = None
    ) -> None:
        with self._timer("set"):
            super().set(key, value, timeout=timeout, version=version)

    def add(
        self, key: Any, value: Any, timeout: Any = DEFAULT_TIMEOUT, version: int | None = None
    ) -> bool:
        with self._timer("add"):
            return super().add(key, value, timeout=timeout, version=version)

    def delete(self, key: Any, version: int | None = None) -> bool:
        with self._timer("delete"):
            return super().delete(key, version=version)

    def get_many(self, keys: Any, version: int | None = None) -> dict[Any, Any]:
        with self._timer("get_many"):
            return super().get_many(keys, version=version)

    def set_many(
        self, data: Any, timeout: Any = DEFAULT_TIMEOUT, version: int | None = None
    ) -> list[Any]:
        with self._timer("set_many"):
            return super().set_many(data, timeout=timeout, version=version)

    def incr(self, key: Any, delta: int = 1, version: int | None = None) -> int:
        with self._timer("incr"):
            return super().incr(key, delta, version=version)
