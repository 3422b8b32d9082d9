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
