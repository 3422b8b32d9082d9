"""A private redis-server for tests that stop Redis (never the shared servers on 6379-6387)."""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import redis


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class RedisServer:
    """`redis-server` on a free port, no persistence: stop() kills it, start() brings it back
    empty on the same port (what a restart of a cache-only Redis looks like)."""

    def __init__(self) -> None:
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="test-redis-"))
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            pytest.fail("redis-server is not installed")
        self.process = subprocess.Popen(
            [
                binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.dir),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        client = redis.Redis.from_url(self.url, socket_connect_timeout=0.2)
        deadline = time.monotonic() + 10
        while True:
            try:
                if client.ping():
                    return
            except redis.ConnectionError:
                pass
            assert time.monotonic() < deadline, "the test redis-server did not start"
            time.sleep(0.05)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)
        self.process = None

    def client(self) -> redis.Redis:
        return redis.Redis.from_url(self.url)


@contextmanager
def private_redis(settings: Any) -> Iterator[RedisServer]:
    """Start a private Redis and point the cache, the queues and /health/ at it."""
    server = RedisServer()
    server.start()
    try:
        settings.REDIS_URL = server.url
        settings.CACHES = {
            "default": {
                **settings.CACHES["default"],
                "LOCATION": server.url,
            }
        }
        settings.RQ_QUEUES = {
            name: {**config, "URL": server.url} for name, config in settings.RQ_QUEUES.items()
        }
        yield server
    finally:
        server.stop()
        shutil.rmtree(server.dir, ignore_errors=True)
