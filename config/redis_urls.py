"""Small helpers for Redis URLs (kept out of settings so they can be tested)."""

from __future__ import annotations

from typing import Any, cast
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit


def _unsplit(parts: Any) -> str:
    """urlunsplit that keeps `unix://` (it writes `unix:/path` for an empty host, which
    redis-py refuses)."""
    url = urlunsplit(parts)
    if parts.scheme == "unix" and not url.startswith("unix://"):
        url = "unix://" + url.removeprefix("unix:")
    return cast("str", url)


def redis_db(url: str) -> int:
    """The database index a redis:// or unix:// URL selects (0 when absent)."""
    parts = urlsplit(url)
    if parts.scheme == "unix":
        return int(dict(parse_qsl(parts.query)).get("db", 0))
    return int(parts.path.strip("/") or 0)


def redis_url_with_db(url: str, offset: int) -> str:
    """The same URL moved `offset` databases further (wrapping at Redis's 16 databases)."""
    db = (redis_db(url) + offset) % 16
    parts = urlsplit(url)
    if parts.scheme == "unix":
        query = dict(parse_qsl(parts.query))
        query["db"] = str(db)
        return _unsplit(parts._replace(query=urlencode(query)))
    return _unsplit(parts._replace(path=f"/{db}"))


def redis_url_with_options(url: str, **options: str) -> str:
    """The same URL with connection options in its query string (redis-py reads them)."""
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query))
    query.update(options)
    return _unsplit(parts._replace(query=urlencode(query)))


def redis_is_up(url: str, timeout: float = 0.5) -> bool:
    """True when a Redis server answers PING at `url`."""
    import redis

    try:
        return bool(
            redis.Redis.from_url(url, socket_timeout=timeout, socket_connect_timeout=timeout).ping()
        )
    except (redis.RedisError, OSError):
        return False


def redis_connection_kwargs(url: str) -> dict[str, Any]:
    """`redis.Redis(**kwargs)` for a redis://, rediss:// or unix:// URL (django-eventstream
    takes connection keywords, not a URL)."""
    parts = urlsplit(url)
    kwargs: dict[str, Any] = {"db": redis_db(url)}
    if parts.scheme == "unix":
        kwargs["unix_socket_path"] = parts.path
        return kwargs
    kwargs["host"] = parts.hostname or "127.0.0.1"
    kwargs["port"] = parts.port or 6379
    if parts.password:
        kwargs["password"] = parts.password
    if parts.username:
        kwargs["username"] = parts.username
    if parts.scheme == "rediss":
        kwargs["ssl"] = True
    return kwargs
