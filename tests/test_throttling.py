"""The API's throttles count requests in a fixed window, one Redis counter per client
(config/api/throttling.py)."""

from __future__ import annotations

from typing import Any, cast

import pytest
from django.core.cache import cache
from rest_framework.throttling import SimpleRateThrottle

pytestmark = pytest.mark.django_db


@pytest.fixture
def three_a_minute(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(SimpleRateThrottle, "THROTTLE_RATES", {"user": "3/min", "auth": "10/min"})


def test_a_user_over_the_rate_gets_a_429_with_retry_after(
    org_a: Any, client_for: Any, three_a_minute: None
) -> None:
    closer = client_for(org_a.closer)
    statuses = [closer.get("/api/v1/leads/").status_code for _ in range(5)]
    assert statuses == [200, 200, 200, 429, 429]
    refused = closer.get("/api/v1/leads/")
    assert 1 <= int(refused["Retry-After"]) <= 60
    body = refused.json()
    assert body["error"]
    assert 1 <= body["details"]["retry_after"] <= 60
    # Another user has an allowance of their own.
    assert client_for(org_a.sdr).get("/api/v1/leads/").status_code == 200


def test_the_counter_is_one_integer_that_expires_with_its_window(
    org_a: Any, client_for: Any, three_a_minute: None
) -> None:
    client_for(org_a.closer).get("/api/v1/leads/")
    client_for(org_a.closer).get("/api/v1/leads/")
    key = f"throttle_count_user_{org_a.closer.user.pk}"
    assert cache.get(key) == 2
    client = cast(Any, cache)._cache.get_client(cache.make_key(key))
    assert 0 < client.ttl(cache.make_key(key)) <= 60
    cache.delete(key)  # the window over: a new allowance
    statuses = [client_for(org_a.closer).get("/api/v1/leads/").status_code for _ in range(3)]
    assert statuses == [200, 200, 200]


def test_a_log_drf_left_under_the_old_key_does_not_break_the_counter(
    org_a: Any, client_for: Any, three_a_minute: None
) -> None:
    cache.set(f"throttle_user_{org_a.closer.user.pk}", [1.0, 2.0], 60)  # before the deploy
    assert client_for(org_a.closer).get("/api/v1/leads/").status_code == 200


def test_the_cache_keeps_one_redis_client_per_pool_across_threads() -> None:
    """config.cache.KeptClientRedisCacheClient: the same client for every operation, in
    every thread (it borrows a pooled connection per command), and the counter still counts
    when threads share it."""
    import threading

    backend = cast(Any, cache)._cache
    first = backend.get_client("a", write=True)
    assert backend.get_client("b", write=True) is first
    assert backend.get_client("c") is first  # one server: reads use the same pool
    key = "kept-client-counter"
    cache.delete(key)
    seen: list[Any] = []

    def count() -> None:
        seen.append(backend.get_client(key, write=True))
        for _ in range(50):
            cast(Any, cache).count(key, 60)

    threads = [threading.Thread(target=count) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert all(client is first for client in seen)
    assert cache.get(key) == 200
