"""Django's Redis cache with Prometheus metrics.

django-prometheus ships the same wrapper (`django_prometheus.cache.backends.redis.
NativeRedisCache`), but its module imports the django-redis package at import time, which we
do not use. This class records the same series (`django_cache_get_total`, hits, misses and
failures, backend="native_redis"), plus the latency of every cache operation, which
django-prometheus does not measure.

Fail open: the cache holds nothing that a request cannot do without (the throttles' counters,
cached reads), so when Redis is unreachable every operation answers as if the cache were empty
(get -> default, add -> False, set -> nothing) instead of raising into the request: the API
keeps answering without throttling or caching. Each such failure increments
`cache_unavailable_total{operation}` and logs a warning (at most one line per
`LOG_EVERY_SECONDS` per process, so an outage does not flood the logs). Only connection errors
and timeouts fail open; any other Redis error is a bug and raises.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable
from typing import Any, TypeVar

from django.core.cache.backends.base import DEFAULT_TIMEOUT
from django.core.cache.backends.redis import RedisCache, RedisCacheClient
from django_prometheus.cache.metrics import (
    django_cache_get_fail_total,
    django_cache_get_total,
    django_cache_hits_total,
    django_cache_misses_total,
)
from prometheus_client import Counter, Histogram
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

logger = logging.getLogger(__name__)

BACKEND = "native_redis"
LOG_EVERY_SECONDS = 30.0
UNAVAILABLE_ERRORS = (RedisConnectionError, RedisTimeoutError)

CACHE_UNAVAILABLE = Counter(
    "cache_unavailable_total",
    "Cache operations that failed open because Redis was unreachable",
    ["operation"],
)
_last_logged = 0.0

T = TypeVar("T")


def _fail_open(operation: str, fallback: Callable[..., Any]) -> Callable[[T], T]:
    """Run the cache operation; on a Redis outage count it, log it, return `fallback(...)`."""

    def decorate(method: Any) -> Any:
        @functools.wraps(method)
        def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
            try:
                return method(self, *args, **kwargs)
            except UNAVAILABLE_ERRORS as exc:
                _record_outage(operation, exc)
                return fallback(*args, **kwargs)

        return wrapper

    return decorate


def _record_outage(operation: str, exc: Exception) -> None:
    global _last_logged
    CACHE_UNAVAILABLE.labels(operation=operation).inc()
    now = time.monotonic()
    if now - _last_logged >= LOG_EVERY_SECONDS:
        _last_logged = now
        logger.warning(
            "cache unavailable, failing open (no throttling or caching): %s",
            exc,
            extra={"event": "cache.unavailable", "operation": operation},
        )


CACHE_OPERATION_DURATION = Histogram(
    "django_cache_operation_duration_seconds",
    "Latency of cache operations by backend and operation",
    ["backend", "operation"],
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0),
)


def _default(key: Any, default: Any = None, *args: Any, **kwargs: Any) -> Any:
    return default


def _none(*args: Any, **kwargs: Any) -> None:
    return None


def _false(*args: Any, **kwargs: Any) -> bool:
    return False


def _empty(*args: Any, **kwargs: Any) -> dict[Any, Any]:
    return {}


def _all_keys(data: Any, *args: Any, **kwargs: Any) -> list[Any]:
    return list(data)  # set_many: every key "failed"


def _delta(key: Any, delta: int = 1, *args: Any, **kwargs: Any) -> int:
    return delta


def _counted_nothing(*args: Any, **kwargs: Any) -> tuple[int, int]:
    return 0, 0


class KeptClientRedisCacheClient(RedisCacheClient):
    """Django's Redis cache client, keeping one `redis.Redis` per connection pool: Django makes
    a new one for every operation (~60 us of CPU, most of it copying redis-py's ~170 response
    callbacks), that is for every API request's throttle count (~215 us in all). A client
    holds no connection of its own (each command borrows one from the pool), so the threads
    of a worker share it as they share the pool."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._clients: dict[int, Any] = {}

    def get_client(self, key: Any = None, *, write: bool = False) -> Any:
        django: Any = self  # Django's private helpers, absent from django-stubs
        index = django._get_connection_pool_index(write)
        client = self._clients.get(index)
        if client is None:
            client = django._client(connection_pool=django._get_connection_pool(index))
            self._clients[index] = client
        return client


class InstrumentedRedisCache(RedisCache):
    """RedisCache counting gets, hits and misses, timing every operation, failing open."""

    def __init__(self, server: Any, params: Any) -> None:
        super().__init__(server, params)
        self._class = KeptClientRedisCacheClient

    def _timer(self, operation: str) -> Any:
        return CACHE_OPERATION_DURATION.labels(backend=BACKEND, operation=operation).time()

    @_fail_open("get", _default)
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

    def get_or_raise(self, key: Any, default: Any = None, version: int | None = None) -> Any:
        """`get` that raises on a Redis outage instead of failing open (config/replica.py)."""
        return super().get(key, default, version=version)

    @_fail_open("set", _none)
    def set(
        self, key: Any, value: Any, timeout: Any = DEFAULT_TIMEOUT, version: int | None = None
    ) -> None:
        with self._timer("set"):
            super().set(key, value, timeout=timeout, version=version)

    @_fail_open("add", _false)
    def add(
        self, key: Any, value: Any, timeout: Any = DEFAULT_TIMEOUT, version: int | None = None
    ) -> bool:
        with self._timer("add"):
            return super().add(key, value, timeout=timeout, version=version)

    @_fail_open("delete", _false)
    def delete(self, key: Any, version: int | None = None) -> bool:
        with self._timer("delete"):
            return super().delete(key, version=version)

    @_fail_open("get_many", _empty)
    def get_many(self, keys: Any, version: int | None = None) -> dict[Any, Any]:
        with self._timer("get_many"):
            return super().get_many(keys, version=version)

    @_fail_open("set_many", _all_keys)
    def set_many(
        self, data: Any, timeout: Any = DEFAULT_TIMEOUT, version: int | None = None
    ) -> list[Any]:
        with self._timer("set_many"):
            return super().set_many(data, timeout=timeout, version=version)

    @_fail_open("incr", _delta)
    def incr(self, key: Any, delta: int = 1, version: int | None = None) -> int:
        with self._timer("incr"):
            return super().incr(key, delta, version=version)

    @_fail_open("count", _counted_nothing)
    def count(self, key: Any, timeout: int, version: int | None = None) -> tuple[int, int]:
        """Adds one to the key's counter, which starts at 0 and expires `timeout` seconds after
        its first count, in one round trip: (the count, its seconds left). A throttle's fixed
        window (config/api/throttling.py)."""
        key = self.make_and_validate_key(key, version=version)
        with self._timer("count"):
            # MULTI/EXEC: the key cannot expire between SET and INCR (an INCR then would make a
            # counter without expiry).
            pipeline = self._cache.get_client(key, write=True).pipeline(transaction=True)
            pipeline.set(key, 0, ex=timeout, nx=True)  # Django stores ints unpickled: INCR works
            pipeline.incr(key)
            pipeline.ttl(key)
            _, count, seconds_left = pipeline.execute()
        return int(count), int(seconds_left)

    @_fail_open("has_key", _false)
    def has_key(self, key: Any, version: int | None = None) -> bool:
        return super().has_key(key, version=version)

    @_fail_open("touch", _false)
    def touch(self, key: Any, timeout: Any = DEFAULT_TIMEOUT, version: int | None = None) -> bool:
        return super().touch(key, timeout=timeout, version=version)

    @_fail_open("delete_many", _none)
    def delete_many(self, keys: Any, version: int | None = None) -> None:
        super().delete_many(keys, version=version)
