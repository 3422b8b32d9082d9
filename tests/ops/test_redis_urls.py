"""Redis URL helpers keep the forms redis-py accepts (make run's embedded Redis is unix://)."""

from __future__ import annotations

import redis

from config.redis_urls import redis_url_with_db, redis_url_with_options


def test_it_keeps_unix_urls_readable_by_redis_py():
    url = redis_url_with_options("unix:///tmp/x/redis.sock?db=0", socket_connect_timeout="2")
    assert url == "unix:///tmp/x/redis.sock?db=0&socket_connect_timeout=2"
    pool = redis.ConnectionPool.from_url(url)
    assert pool.connection_kwargs["path"] == "/tmp/x/redis.sock"
    assert redis_url_with_db("unix:///tmp/x/r.sock?db=0", 2) == "unix:///tmp/x/r.sock?db=2"


def test_it_adds_options_to_tcp_urls():
    url = redis_url_with_options("redis://127.0.0.1:6379/1", socket_connect_timeout="2")
    assert url == "redis://127.0.0.1:6379/1?socket_connect_timeout=2"
