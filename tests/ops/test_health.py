"""/health/ (database and Redis, each with a short timeout) and /health/live/."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from datetime import datetime

import pytest
from django.core.management import CommandError, call_command
from django.db import connections

pytestmark = pytest.mark.django_db

DEAD_REDIS = "redis://127.0.0.1:1/0"


@pytest.fixture
def dead_database(monkeypatch) -> None:
    """The database's connection parameters point at a port nobody listens on."""
    settings_dict = connections["default"].settings_dict
    monkeypatch.setitem(settings_dict, "HOST", "127.0.0.1")
    monkeypatch.setitem(settings_dict, "PORT", "1")


@pytest.fixture
def silent_server() -> Iterator[str]:
    """A TCP server that accepts connections and never answers (a hung Redis)."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(16)
        yield f"redis://127.0.0.1:{server.getsockname()[1]}/0"


def test_it_reports_ok_when_everything_answers(anon, django_assert_num_queries):
    with django_assert_num_queries(0):  # its own short-lived connection, not the request's
        response = anon.get("/health/")

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["services"] == {"database": "ok", "redis": "ok"}
    assert datetime.fromisoformat(body["timestamp"].replace("Z", "+00:00")).tzinfo is not None
    assert isinstance(body["uptime"], float | int)
    assert body["uptime"] >= 0
    # This very process's resident memory, in bytes: a running Python with Django loaded
    # holds more than 10 MB and (in a test run) less than 4 GB.
    assert isinstance(body["memory_rss_bytes"], int)
    assert 10 * 1024 * 1024 < body["memory_rss_bytes"] < 4 * 1024**3
    assert "no-cache" in response["Cache-Control"] or "max-age=0" in response["Cache-Control"]


def test_it_reports_redis_down_as_degraded(anon, settings):
    # The API keeps serving without Redis (docs/jobs.md), so the instance stays in rotation.
    settings.REDIS_URL = DEAD_REDIS

    response = anon.get("/health/")

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "degraded"
    assert body["services"] == {"database": "ok", "redis": "error"}


def test_it_reports_the_database_down(anon, dead_database):
    response = anon.get("/health/")

    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "error"
    assert body["services"] == {"database": "error", "redis": "ok"}


def test_it_reports_both_down(anon, settings, dead_database):
    settings.REDIS_URL = DEAD_REDIS

    response = anon.get("/health/")

    assert response.status_code == 503
    assert response.json()["services"] == {"database": "error", "redis": "error"}


def test_it_gives_up_on_a_hung_dependency(anon, settings, silent_server):
    settings.REDIS_URL = silent_server
    settings.HEALTH_CHECK_TIMEOUT = 0.5

    response = anon.get("/health/")

    assert response.status_code == 200
    assert response.json()["status"] == "degraded"
    assert response.json()["services"]["redis"] == "error"


def test_it_answers_liveness_without_any_dependency(anon, settings, dead_database):
    settings.REDIS_URL = DEAD_REDIS

    response = anon.get("/health/live/")

    assert response.status_code == 200
    assert response.json()["status"] == "ok"


def test_it_needs_no_authentication_and_only_reads(anon, org_a, client_for):
    assert anon.get("/health/").status_code == 200
    assert client_for(org_a.sdr).get("/health/").status_code == 200
    assert anon.post("/health/").status_code == 405


def test_it_answers_probes_by_ip_over_plain_http_in_production(anon, settings):
    settings.ALLOWED_HOSTS = ["app.example.com"]
    settings.SECURE_SSL_REDIRECT = True

    for path in ("/health/", "/health/live/"):
        response = anon.get(path, HTTP_HOST="172.18.0.5:8000")
        assert response.status_code == 200, (path, response.status_code)
    # Everything else still gets host validation and the HTTPS redirect.
    assert anon.get("/api/v1/me/", HTTP_HOST="172.18.0.5:8000").status_code == 400
    assert anon.get("/api/v1/me/", HTTP_HOST="app.example.com").status_code == 301


def test_it_waits_for_services_from_the_command_line(settings, capsys):
    call_command("wait_for_services", "--timeout", "1")
    assert "Services ready" in capsys.readouterr().out

    settings.REDIS_URL = DEAD_REDIS
    with pytest.raises(CommandError, match="redis"):
        call_command("wait_for_services", "--timeout", "0.5", "--interval", "0.1")


def test_it_reads_resident_memory_from_proc_status():
    from config.health import resident_memory_bytes

    with open("/proc/self/status", encoding="ascii") as status:
        kib = next(int(line.split()[1]) for line in status if line.startswith("VmRSS:"))
    # Memory moves between the two reads; allow a few MiB either way.
    resident = resident_memory_bytes()
    assert resident is not None
    assert abs(resident - kib * 1024) < 8 * 1024 * 1024


def test_it_falls_back_to_getrusage_without_proc(monkeypatch):
    import builtins
    import resource

    from config import health

    real_open = builtins.open

    def no_proc(path, *args, **kwargs):
        if str(path).startswith("/proc/"):
            raise FileNotFoundError(path)
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", no_proc)
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

    resident = health.resident_memory_bytes()
    assert resident is not None
    assert resident >= peak_kib * 1024
