"""Request-scoped context (the request id) shared by the web process and the jobs it enqueues."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextvars import ContextVar

_request_id: ContextVar[str | None] = ContextVar("request_id", default=None)


def current_request_id() -> str | None:
    return _request_id.get()


@contextlib.contextmanager
def bind_request_id(request_id: str | None) -> Iterator[None]:
    token = _request_id.set(request_id)
    try:
        yield
    finally:
        _request_id.reset(token)


# How the current work reached us: "api", "admin", "job" or "import" (audit trail and consent
# ledger). Set by RequestLogMiddleware for requests and by the import job; outside any of them
# (workers, commands) it is "job".
_via: ContextVar[str | None] = ContextVar("via", default=None)


def current_via() -> str:
    return _via.get() or "job"


def via_for_path(path: str) -> str | None:
    if path.startswith("/admin/"):
        return "admin"
    if path.startswith("/api/"):
        return "api"
    return None


@contextlib.contextmanager
def bind_via(via: str | None) -> Iterator[None]:
    token = _via.set(via)
    try:
        yield
    finally:
        _via.reset(token)
