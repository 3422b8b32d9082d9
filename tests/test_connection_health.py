"""config/postgresql: Django's connection health check (`SELECT 1` before a request's first
statement) only for a connection idle for `HEALTH_CHECK_IDLE_SECONDS`; a connection whose
server process went away while it sat idle is replaced before the request's statement."""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import partial
from typing import Any

import psycopg
import pytest
from django.db import OperationalError, connection, connections

pytestmark = [
    pytest.mark.skipif(connection.vendor != "postgresql", reason="the PostgreSQL backend"),
    pytest.mark.django_db(transaction=True),
]


@pytest.fixture
def checks(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """Every health check the connection runs, with its answer."""
    seen: list[bool] = []
    wrapper = type(connections["default"])
    real = wrapper.is_usable

    def is_usable(self: Any) -> bool:
        usable: bool = real(self)
        seen.append(usable)
        return usable

    monkeypatch.setattr(wrapper, "is_usable", is_usable)
    return seen


def _next_request() -> None:
    """What Django does when a request starts (`close_old_connections`)."""
    connection.close_if_unusable_or_obsolete()


def _backend_pid() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pid: int = cursor.fetchone()[0]
    return pid


def _terminate(pid: int) -> None:
    dsn = connection.get_connection_params()
    params = {k: v for k, v in dsn.items() if k in {"dbname", "user", "host", "port", "password"}}
    with psycopg.connect(**params, autocommit=True) as other:
        other.execute("SELECT pg_terminate_backend(%s)", [pid])
    for _ in range(50):  # the server process ends asynchronously
        with psycopg.connect(**params, autocommit=True) as other:
            gone = other.execute(
                "SELECT NOT EXISTS (SELECT 1 FROM pg_stat_activity WHERE pid = %s)", [pid]
            ).fetchone()
        if gone and gone[0]:
            return
        time.sleep(0.02)


@pytest.fixture
def idle_seconds(monkeypatch: pytest.MonkeyPatch) -> Callable[[float], None]:
    """Sets the connection's idle window for the test (monkeypatch restores it)."""
    return partial(monkeypatch.setitem, connection.settings_dict, "HEALTH_CHECK_IDLE_SECONDS")


def test_the_settings_turn_it_on_for_postgresql() -> None:
    assert connection.settings_dict["ENGINE"] == "config.postgresql"
    assert connection.settings_dict["CONN_HEALTH_CHECKS"] is True
    assert connection.settings_dict["HEALTH_CHECK_IDLE_SECONDS"] == 0.5


@pytest.mark.parametrize(
    ("window", "expected"),
    [(60.0, []), (0.0, [True, True, True])],
    ids=["used-a-moment-ago-not-checked", "window-0-checks-every-request-as-django-does"],
)
def test_requests_on_a_busy_connection(checks, idle_seconds, window, expected) -> None:
    idle_seconds(window)
    _backend_pid()
    for _ in range(3):
        _next_request()
        _backend_pid()
    assert checks == expected


def test_an_idle_connection_is_checked_once_a_request(checks, idle_seconds) -> None:
    idle_seconds(0.05)
    pid = _backend_pid()
    time.sleep(0.1)
    _next_request()
    assert _backend_pid() == pid
    _backend_pid()  # the same request's next statement: checked already
    assert checks == [True]


def test_a_connection_lost_while_idle_is_replaced_before_the_statement(
    checks, idle_seconds
) -> None:
    idle_seconds(0.05)
    pid = _backend_pid()
    _terminate(pid)
    time.sleep(0.1)
    _next_request()
    assert _backend_pid() != pid
    assert checks == [False]


def test_a_connection_lost_within_the_window_fails_one_request_and_is_replaced(
    checks, idle_seconds
) -> None:
    """The trade documented in config/postgresql/base.py: the window's one exposure."""
    idle_seconds(60.0)
    pid = _backend_pid()
    _terminate(pid)
    _next_request()
    with pytest.raises(OperationalError):
        _backend_pid()
    _next_request()  # Django's end of that request: the broken connection is closed
    assert connection.connection is None
    assert _backend_pid() != pid
