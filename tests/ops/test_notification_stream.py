"""GET /api/v1/notifications/stream/ served by a real uvicorn (ASGI) process: a new notification
reaches its recipient's stream, a reconnect with Last-Event-ID replays what was missed, and no
other user's or organization's events arrive. Events cross processes through Redis: this test
process writes the notifications, the uvicorn child streams them."""

from __future__ import annotations

import contextlib
import json
import queue
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from django.db import transaction
from rest_framework_simplejwt.tokens import RefreshToken

from organizations.notifications import notify
from tests.conftest import make_org
from tests.ops.conftest import free_port

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

STREAM = "/api/v1/notifications/stream/"
# Generous for a loaded 2-core CI machine; the delivery is typically a few milliseconds.
WAIT = 10.0


@pytest.fixture
def uvicorn_url(subprocess_env: Callable[..., dict[str, str]], tmp_path: Path) -> Iterator[str]:
    port = free_port()
    log = (tmp_path / "uvicorn.log").open("w")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "config.asgi:application",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--no-access-log",
        ],
        env=subprocess_env(),
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError((tmp_path / "uvicorn.log").read_text())
        try:
            if httpx.get(f"{url}/health/live/", timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.2)
    yield url
    process.terminate()
    try:
        # uvicorn's graceful shutdown waits for every open connection; the streams' clients
        # stop reading but keep them open (a stream never ends): without the kill this waited
        # out the whole timeout, 15 s, after each streaming test.
        process.wait(timeout=3)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)
    log.close()


class Stream:
    """An SSE client in a thread: parsed events land in a queue."""

    def __init__(self, url: str, headers: dict[str, str]) -> None:
        self.events: queue.Queue[dict[str, Any]] = queue.Queue()
        self.opened = threading.Event()
        self.status: int | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(url, headers), daemon=True)
        self._thread.start()

    def _run(self, url: str, headers: dict[str, str]) -> None:
        with contextlib.suppress(httpx.HTTPError):  # the server stops at the end of the test
            self._read(url, headers)

    def _read(self, url: str, headers: dict[str, str]) -> None:
        timeout = httpx.Timeout(5.0, read=None)
        with (
            httpx.Client(timeout=timeout) as client,
            client.stream("GET", url, headers=headers) as response,
        ):
            self.status = response.status_code
            if response.status_code != 200:
                self.body = response.read()
                self.opened.set()
                return
            current: dict[str, Any] = {}
            for line in response.iter_lines():
                if self._stop.is_set():
                    return
                if not line:
                    if current.get("event") == "stream-open":
                        self.opened.set()
                    elif current.get("event"):
                        self.events.put(current)
                    current = {}
                    continue
                if line.startswith(":"):
                    continue
                field, _, value = line.partition(":")
                value = value.removeprefix(" ")
                if field == "data":
                    current["data"] = (current.get("data", "") + value) or ""
                else:
                    current[field] = value

    def next(self, timeout: float = WAIT) -> dict[str, Any]:
        while True:
            event = self.events.get(timeout=timeout)
            if event["event"] != "keep-alive":
                return event

    def close(self) -> None:
        self._stop.set()


def _bearer(membership: Any) -> dict[str, str]:
    token = RefreshToken.for_user(membership.user).access_token
    return {"Authorization": f"Bearer {token}", "Accept": "text/event-stream"}


def _notify(member: Any, titulo: str) -> str:
    with transaction.atomic():  # published on commit
        [row] = notify(
            organization=member.organization, recipients=[member], tipo="task_due", titulo=titulo
        )
    return str(row.pk)


def test_it_streams_new_notifications_to_their_recipient_only_and_replays_after_reconnect(
    uvicorn_url,
):
    org_a, org_b = make_org(nome="Alfa"), make_org(nome="Beta")
    closer = Stream(uvicorn_url + STREAM, _bearer(org_a.closer))
    colleague = Stream(uvicorn_url + STREAM, _bearer(org_a.sdr))
    foreigner = Stream(uvicorn_url + STREAM, _bearer(org_b.closer))
    for stream in (closer, colleague, foreigner):
        assert stream.opened.wait(WAIT), "stream did not open"
        assert stream.status == 200

    sent_at = time.monotonic()
    first = _notify(org_a.closer, "Ligar para a Ana")
    event = closer.next()
    latency = time.monotonic() - sent_at
    assert event["event"] == "notification"
    body = json.loads(event["data"])
    assert body["id"] == first
    assert body["titulo"] == "Ligar para a Ana"
    assert body["recipient_id"] == str(org_a.closer.pk)
    assert body["unread"] == 1
    print(f"stream latency {latency * 1000:.0f} ms")

    # Markers for the others: each sees its own, never the closer's.
    mine = _notify(org_a.sdr, "Para o SDR")
    theirs = _notify(org_b.closer, "Para a Beta")
    assert json.loads(colleague.next()["data"])["id"] == mine
    assert json.loads(foreigner.next()["data"])["id"] == theirs
    for stream in (colleague, foreigner):
        assert stream.events.empty() or all(
            e["event"] == "keep-alive" for e in list(stream.events.queue)
        )
    assert closer.events.empty()

    # The closer drops off; two notifications arrive meanwhile; the reconnect replays them.
    last_id = event["id"]
    closer.close()
    missed = [_notify(org_a.closer, "Perdida 1"), _notify(org_a.closer, "Perdida 2")]
    again = Stream(uvicorn_url + STREAM, {**_bearer(org_a.closer), "Last-Event-ID": last_id})
    assert again.opened.wait(WAIT)
    replayed = [json.loads(again.next()["data"])["id"] for _ in missed]
    assert replayed == missed
    for stream in (colleague, foreigner, again):
        stream.close()


def test_it_refuses_anonymous_and_bad_tokens(uvicorn_url):
    for headers in ({}, {"Authorization": "Bearer nao-e-um-token"}):
        response = httpx.get(uvicorn_url + STREAM, headers=headers, timeout=10)
        assert response.status_code == 401
        assert set(response.json()) == {"error", "details"}
