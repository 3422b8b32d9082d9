"""Shared helpers for the integration client tests (no Django needed).

Every HTTP test talks to a real local server (pytest-httpserver). After each test the server is
checked for unmatched requests, handler errors and unconsumed ordered/oneshot expectations, so
a stub that asserts method, path, headers and JSON body also proves the request was sent.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest
from pytest_httpserver import HTTPServer


@pytest.fixture
def httpserver(make_httpserver: HTTPServer) -> Iterator[HTTPServer]:
    """pytest-httpserver's fixture, plus strict checks once the test is over."""
    server = make_httpserver
    server.clear()
    yield server
    server.check_assertions()
    server.check_handler_errors()
    assert not server.ordered_handlers, "expected ordered requests were never made"
    assert not list(server.oneshot_handlers), "expected oneshot requests were never made"


@pytest.fixture
def refused_url() -> str:
    """Base URL of a local port nobody listens on (connection refused)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"
