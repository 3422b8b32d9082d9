"""Fixtures for the operations tests: captured log output, real subprocesses (gunicorn, RQ)."""

from __future__ import annotations

import io
import json
import logging
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.db import connection

from config.logging import JsonFormatter, RedactingFilter

ROOT = Path(settings.BASE_DIR)
PYTHON = sys.executable


@dataclass
class LogCapture:
    """What our configured log handlers wrote (formatted as JSON lines)."""

    stream: io.StringIO = field(default_factory=io.StringIO)

    @property
    def text(self) -> str:
        return self.stream.getvalue()

    def records(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.text.splitlines() if line.startswith("{")]

    def requests(self) -> list[dict[str, Any]]:
        return [r for r in self.records() if r.get("event") == "request"]


@pytest.fixture
def log_output() -> Iterator[LogCapture]:
    """Redirects the real handlers (with their filters) to memory, in JSON, at DEBUG level.

    DEBUG so that every library's records pass through the redaction, not only ours.
    """
    capture = LogCapture()
    root = logging.getLogger()
    ours = [h for h in root.handlers if any(isinstance(f, RedactingFilter) for f in h.filters)]
    assert ours, "the LOGGING handler with the redaction filter is not installed"
    saved = [(h, h.stream, h.formatter) for h in ours if isinstance(h, logging.StreamHandler)]
    old_level = root.level
    for handler, _stream, _formatter in saved:
        handler.setStream(capture.stream)
        handler.setFormatter(JsonFormatter())
    root.setLevel(logging.DEBUG)
    try:
        yield capture
    finally:
        root.setLevel(old_level)
        for handler, stream, formatter in saved:
            handler.setStream(stream)
            handler.setFormatter(formatter)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def database_url() -> str:
    """The URL of the database the tests use (the test database, once set up)."""
    db = connection.settings_dict
    assert db["ENGINE"].endswith("postgresql"), "ops tests need PostgreSQL"
    auth = db["USER"] or ""
    if db.get("PASSWORD"):
        auth += f":{db['PASSWORD']}"
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


# Variables of the test process that must not leak into the processes we start.
_DROP = {
    "PYTEST_XDIST_WORKER",
    "PYTEST_XDIST_TESTRUNUID",
    "PYTEST_XDIST_WORKER_COUNT",
    "PROMETHEUS_MULTIPROC_DIR",
    "SENTRY_DSN",
    "SECRET_KEY",
    "FIELD_ENCRYPTION_KEY",
    "DEBUG",
    "LOG_FORMAT",
    "WEB_CONCURRENCY",
}


@pytest.fixture
def subprocess_env(django_db_setup: None) -> Callable[..., dict[str, str]]:
    """Environment for a child process using this test's database and Redis database."""

    def make(**overrides: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k not in _DROP}
        env.update(
            DEBUG="1",  # the development defaults, explicitly; production tests override it
            DATABASE_URL=database_url(),
            # Already moved to this xdist worker's Redis database: no second offset.
            REDIS_URL=settings.REDIS_URL,
            PYTHONPATH=str(ROOT),
            DJANGO_SETTINGS_MODULE="config.settings",
        )
        env.update(overrides)
        return env

    return make


def http_get(
    url: str, headers: dict[str, str] | None = None, timeout: float = 10
) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(url, headers=headers or {})  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read()


def wait_until_serving(url: str, process: subprocess.Popen[Any], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"server exited with {process.returncode}")
        try:
            status, _headers, _body = http_get(url, timeout=2)
            if status == 200:
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"{url} did not answer within {timeout}s")


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def http_get_no_redirect(
    url: str, headers: dict[str, str] | None = None
) -> tuple[int, dict[str, str]]:
    opener = urllib.request.build_opener(_NoRedirect)
    request = urllib.request.Request(url, headers=headers or {})  # noqa: S310
    try:
        with opener.open(request, timeout=10) as response:
            return response.status, dict(response.headers)
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers)


@dataclass
class Server:
    """A gunicorn started for a test, with its captured output."""

    url: str
    process: subprocess.Popen[str]
    log_path: Path

    def output(self) -> str:
        return self.log_path.read_text()

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode


@pytest.fixture
def start_gunicorn(tmp_path: Path) -> Iterator[Callable[..., Server]]:
    """Starts `gunicorn config.wsgi` (our gunicorn.conf.py) with the given environment."""
    servers: list[Server] = []

    def start(env: dict[str, str], ready_path: str = "/health/live/") -> Server:
        port = free_port()
        env = {
            "LOG_FORMAT": "json",
            **env,
            "PORT": str(port),
            "GUNICORN_BIND": f"127.0.0.1:{port}",
            "PYTHONUNBUFFERED": "1",
        }
        log_path = tmp_path / f"gunicorn-{port}.log"
        log = log_path.open("w")
        process = subprocess.Popen(
            [PYTHON, "-m", "gunicorn", "config.wsgi"],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            text=True,
        )
        server = Server(url=f"http://127.0.0.1:{port}", process=process, log_path=log_path)
        servers.append(server)
        wait_until_serving(server.url + ready_path, process)
        return server

    yield start
    for server in servers:
        server.stop()


def run_manage(
    *args: str, env: dict[str, str], timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [PYTHON, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
