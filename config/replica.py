"""Reads on a PostgreSQL streaming replica, with read-your-writes for the writer.

With `DATABASE_REPLICA_URL` set, the `replica` alias exists and `ReplicaRouter` sends a read to it
only while the current request has opted in (`use_for_request`): the API's list actions,
dashboards, timelines and exports (`organizations.scoping.OrgScopedMixin.REPLICA_ACTIONS`).
Everything else (writes, the reads of a write, authentication and the membership lookup, jobs,
the admin) stays on the primary.

A user who has just written reads from the primary for `REPLICA_PIN_SECONDS`: after every
successful unsafe request `ReplicaMiddleware` pins the user in the cache (shared by every web
process). If the cache cannot be read the request stays on the primary: the replica is an
optimisation, never a reason to show a writer stale data.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse

from config.cache import UNAVAILABLE_ERRORS

REPLICA = "replica"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

_reads_on_replica: ContextVar[bool] = ContextVar("reads_on_replica", default=False)


def configured() -> bool:
    return REPLICA in settings.DATABASES


class ReplicaRouter:
    """Django database router: reads to the replica only inside an opted-in request."""

    def db_for_read(self, model: Any, **hints: Any) -> str | None:
        return REPLICA if _reads_on_replica.get() else None

    def db_for_write(self, model: Any, **hints: Any) -> str | None:
        return None  # the primary ("default")

    def allow_relation(self, obj1: Any, obj2: Any, **hints: Any) -> bool:
        return True  # one database, two copies

    def allow_migrate(self, db: str, app_label: str, **hints: Any) -> bool:
        return db != REPLICA  # the replica follows the primary's WAL


def _pin_key(user_id: Any) -> str:
    return f"replica-pin:{user_id}"


def pinned(user_id: Any) -> bool:
    """True while the user's last write is younger than REPLICA_PIN_SECONDS (or unknown)."""
    try:
        # The strict read of config.cache's backend: an outage raises instead of failing open.
        return cache.get_or_raise(_pin_key(user_id)) is not None  # type: ignore[attr-defined]
    except UNAVAILABLE_ERRORS:
        return True


def pin(user_id: Any) -> None:
    cache.set(_pin_key(user_id), 1, timeout=settings.REPLICA_PIN_SECONDS)


def use_for_request(request: Any) -> bool:
    """Send the rest of this request's reads to the replica, unless its user has just written."""
    if not configured() or request.method not in SAFE_METHODS:
        return False
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated and pinned(user.pk):
        return False
    _reads_on_replica.set(True)
    return True


def reading_from_replica() -> bool:
    return _reads_on_replica.get()


@contextmanager
def primary() -> Iterator[None]:
    """Force the primary inside an opted-in request (e.g. a read that must see a fresh write)."""
    token = _reads_on_replica.set(False)
    try:
        yield
    finally:
        _reads_on_replica.reset(token)


class ReplicaMiddleware:
    """Scopes the opt-in to one request and pins the user after a successful write."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        token = _reads_on_replica.set(False)
        try:
            response = self.get_response(request)
        finally:
            _reads_on_replica.reset(token)
        if configured() and request.method not in SAFE_METHODS and response.status_code < 400:
            user = getattr(request, "user", None)  # DRF sets the user it authenticated
            if user is not None and user.is_authenticated:
                pin(user.pk)
        return response
