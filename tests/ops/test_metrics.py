"""/metrics: protection, request/DB/cache series, our counters, RQ gauges, multiprocess sums."""

from __future__ import annotations

import re
import subprocess
import textwrap
import threading
from pathlib import Path

import django_rq
import pytest
from django.core.cache import cache
from django.db import transaction
from prometheus_client import REGISTRY

from config.context import bind_request_id
from config.jobs import enqueue
from leads import services
from tests.factories import LeadFactory
from tests.ops.conftest import PYTHON, ROOT, http_get, run_manage

pytestmark = pytest.mark.django_db


def sample(text: str, name: str, **labels: str) -> float | None:
    """The value of one sample in Prometheus text output (None when absent)."""
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        match = re.match(r"^([a-zA-Z_:][\w:]*)(\{(.*)\})? (\S+)$", line)
        if not match or match.group(1) != name:
            continue
        found = dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', match.group(3) or ""))
        if all(found.get(k) == v for k, v in labels.items()):
            return float(match.group(4))
    return None


UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def label_values(text: str) -> list[str]:
    """Every label value of every sample."""
    return re.findall(r'\w+="((?:[^"\\]|\\.)*)"', text)


def scrape(client, **headers) -> str:
    response = client.get("/metrics", **headers)
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/plain")
    return response.content.decode()


# --- protection


def test_it_serves_metrics_openly_when_no_protection_is_configured(anon):
    text = scrape(anon)
    assert "# TYPE http_request_duration_seconds histogram" in text


def test_it_requires_the_bearer_token_when_configured(anon, settings):
    settings.METRICS_TOKEN = "s3cret-scrape-token"

    assert anon.get("/metrics").status_code == 401
    assert anon.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 401
    assert anon.get("/metrics", HTTP_AUTHORIZATION="s3cret-scrape-token").status_code == 401
    response = anon.get("/metrics", HTTP_AUTHORIZATION="Bearer s3cret-scrape-token")
    assert response.status_code == 200
    assert b"leads_created_total" in response.content or b"rq_queue_depth" in response.content


def test_it_allows_only_listed_addresses_when_configured(anon, settings):
    settings.METRICS_ALLOWED_IPS = ["10.0.0.0/8", "192.168.1.7"]

    assert anon.get("/metrics", REMOTE_ADDR="127.0.0.1").status_code == 403
    assert anon.get("/metrics", REMOTE_ADDR="10.2.3.4").status_code == 200
    assert anon.get("/metrics", REMOTE_ADDR="192.168.1.7").status_code == 200
    # X-Forwarded-For is ignored unless we sit behind a known number of proxies...
    spoofed = anon.get("/metrics", REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR="10.0.0.1")
    assert spoofed.status_code == 403
    # ...and then only the address our proxy saw counts, not what the client wrote.
    settings.NUM_PROXIES = 1
    assert (
        anon.get("/metrics", REMOTE_ADDR="172.17.0.2", HTTP_X_FORWARDED_FOR="10.0.0.9").status_code
        == 200
    )
    assert (
        anon.get(
            "/metrics", REMOTE_ADDR="172.17.0.2", HTTP_X_FORWARDED_FOR="10.0.0.9, 8.8.8.8"
        ).status_code
        == 403
    )


def test_it_requires_both_the_address_and_the_token_when_both_are_set(anon, settings):
    settings.METRICS_ALLOWED_IPS = ["127.0.0.1"]
    settings.METRICS_TOKEN = "tok-123456"

    assert anon.get("/metrics").status_code == 401
    assert (
        anon.get("/metrics", REMOTE_ADDR="10.1.1.1", HTTP_AUTHORIZATION="Bearer tok-123456")
    ).status_code == 403
    assert anon.get("/metrics", HTTP_AUTHORIZATION="Bearer tok-123456").status_code == 200


def test_it_serves_metrics_to_probes_whatever_the_host_and_scheme(anon, settings):
    settings.ALLOWED_HOSTS = ["app.example.com"]
    settings.SECURE_SSL_REDIRECT = True

    assert anon.get("/metrics", HTTP_HOST="10.0.3.7:8000").status_code == 200
    assert anon.get("/api/v1/me/", HTTP_HOST="app.example.com").status_code == 301


# --- request, database and cache series


def test_it_exports_request_latency_by_route_and_status(org_a, client_for, anon):
    lead = LeadFactory(organization=org_a.org)
    before = scrape(anon)
    route = "api/v1/leads/<pk>/"

    client_for(org_a.admin).get(f"/api/v1/leads/{lead.pk}/")
    client_for(org_a.admin).get(f"/api/v1/leads/{LeadFactory().pk}/")  # another org's: 404
    text = scrape(anon)

    def count(status: str, output: str) -> float:
        return (
            sample(
                output,
                "http_request_duration_seconds_count",
                route=route,
                status=status,
                method="GET",
            )
            or 0.0
        )

    assert count("200", text) - count("200", before) == 1
    assert count("404", text) - count("404", before) == 1
    assert str(lead.pk) not in text


def test_it_keeps_label_values_bounded(anon):
    anon.generic("BREW", "/api/v1/leads/")
    anon.get("/some/random/path/12345/")

    text = scrape(anon)

    assert sample(
        text, "http_request_duration_seconds_count", method="other", route="api/v1/leads/"
    )
    assert sample(text, "http_request_duration_seconds_count", route="<unmatched>", status="404")
    assert "BREW" not in text
    # Neither the path nor its number becomes a label value. (The digits alone may well be in
    # the text: inside a float sample such as a *_created timestamp, or a UUID label.)
    assert "random/path" not in text
    assert not [value for value in label_values(text) if "12345" in value and not UUID.match(value)]


def test_it_exports_database_and_cache_metrics(org_a, client_for, anon):
    before = scrape(anon)

    client_for(org_a.admin).get("/api/v1/leads/")  # queries and the throttle's counter
    cache.get("metrics-probe")  # a miss
    text = scrape(anon)

    queries = sample(text, "django_db_execute_total", alias="default", vendor="postgresql")
    assert queries is not None
    assert queries > (sample(before, "django_db_execute_total", vendor="postgresql") or 0)
    assert sample(text, "django_db_query_duration_seconds_count", vendor="postgresql")
    gets = sample(text, "django_cache_get_total", backend="native_redis")
    assert gets is not None
    assert gets > (sample(before, "django_cache_get_total", backend="native_redis") or 0)
    counted = sample(text, "django_cache_operation_duration_seconds_count", operation="count")
    assert counted is not None
    assert counted > (
        sample(before, "django_cache_operation_duration_seconds_count", operation="count") or 0
    )


# --- our counters


def value(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_it_counts_leads_and_interactions_created_once_committed(
    org_a, client_for, django_capture_on_commit_callbacks
):
    org = str(org_a.org.pk)
    leads_before = value("leads_created_total", organization_id=org)
    calls_before = value(
        "interactions_created_total", organization_id=org, tipo_interacao="ligacao"
    )

    with django_capture_on_commit_callbacks(execute=True):
        response = client_for(org_a.admin).post(
            "/api/v1/leads/", {"nome_completo": "Bia Reis", "origem": "site"}, format="json"
        )
        assert response.status_code == 201
        lead_id = response.json()["id"]
        # Committed work is not counted before the commit.
        assert value("leads_created_total", organization_id=org) == leads_before
        response = client_for(org_a.closer).post(
            f"/api/v1/leads/{lead_id}/interactions/",
            {"tipo_interacao": "ligacao", "resumo": "Primeiro contato"},
            format="json",
        )
        assert response.status_code == 201, response.content

    assert value("leads_created_total", organization_id=org) == leads_before + 1
    assert (
        value("interactions_created_total", organization_id=org, tipo_interacao="ligacao")
        == calls_before + 1
    )


def test_it_does_not_count_a_rolled_back_lead(org_a, django_capture_on_commit_callbacks):
    org = str(org_a.org.pk)
    before = value("leads_created_total", organization_id=org)

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        try:
            with transaction.atomic():
                services.lead_create(
                    organization=org_a.org,
                    actor=org_a.admin,
                    data={"nome_completo": "Desfeito", "origem": "site"},
                )
                raise RuntimeError("roll back")
        except RuntimeError:
            pass

    assert callbacks == []
    assert value("leads_created_total", organization_id=org) == before


# --- RQ gauges


def test_it_exports_queue_depth_and_failed_jobs_per_queue(
    org_a, anon, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        enqueue("tests.ops.jobs.count_step", queue="low")
        enqueue("tests.ops.jobs.count_step", queue="low")
        enqueue("tests.ops.jobs.fail_with_email", queue="high", email="x@y.com.br")

    text = scrape(anon)
    assert sample(text, "rq_queue_depth", queue="low") == 2
    assert sample(text, "rq_queue_depth", queue="high") == 1
    assert sample(text, "rq_queue_depth", queue="default") == 0
    assert sample(text, "rq_failed_jobs", queue="high") == 0
    assert sample(text, "rq_up") == 1

    django_rq.get_worker("high", worker_class="config.worker.SimpleWorker").work(burst=True)

    text = scrape(anon)
    assert sample(text, "rq_queue_depth", queue="high") == 0
    assert sample(text, "rq_failed_jobs", queue="high") == 1
    assert sample(text, "rq_queue_depth", queue="low") == 2


def test_it_still_answers_when_redis_is_down(anon, settings):
    settings.RQ_QUEUES = {
        name: {**config, "URL": "redis://127.0.0.1:1/0"}
        for name, config in settings.RQ_QUEUES.items()
    }

    text = scrape(anon)

    assert sample(text, "rq_up") == 0
    assert sample(text, "rq_queue_depth", queue="default") is None


# --- multiprocess mode: real processes


INCREMENT = textwrap.dedent(
    """
    import sys, django
    django.setup()
    from config.metrics import LEADS_CREATED
    LEADS_CREATED.labels(organization_id="org-mp").inc(int(sys.argv[1]))
    """
)
RENDER = textwrap.dedent(
    """
    import django
    django.setup()
    from django.test import Client
    response = Client().get("/metrics")
    assert response.status_code == 200, response.status_code
    print(response.content.decode())
    """
)


@pytest.mark.slow
def test_it_sums_counters_of_several_processes(tmp_path, subprocess_env):
    env = subprocess_env(PROMETHEUS_MULTIPROC_DIR=str(tmp_path / "mp"))
    procs = [subprocess.Popen([PYTHON, "-c", INCREMENT, str(n)], cwd=ROOT, env=env) for n in (3, 4)]
    assert [p.wait(timeout=60) for p in procs] == [0, 0]

    rendered = subprocess.run(
        [PYTHON, "-c", RENDER], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )

    assert rendered.returncode == 0, rendered.stderr
    assert sample(rendered.stdout, "leads_created_total", organization_id="org-mp") == 7
    assert len(list((tmp_path / "mp").glob("counter_*.db"))) >= 2


@pytest.mark.slow
def test_it_sums_gunicorn_workers_and_rq_jobs(
    tmp_path, subprocess_env, start_gunicorn, django_capture_on_commit_callbacks
):
    metrics_dir = tmp_path / "metrics"
    env = subprocess_env(PROMETHEUS_MULTIPROC_DIR=str(metrics_dir), WEB_CONCURRENCY="2")
    server = start_gunicorn(env)

    # Concurrent requests so both workers serve some of them.
    def hit() -> None:
        for _ in range(10):
            status, _headers, _body = http_get(server.url + "/api/v1/leads/")
            assert status == 401

    threads = [threading.Thread(target=hit) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    # Three jobs run by a real forking RQ worker, each in its own work horse.
    with bind_request_id("req-metrics"), django_capture_on_commit_callbacks(execute=True):
        for _ in range(3):
            enqueue("tests.ops.jobs.count_step")
    worker = run_manage("rqworker", "default", "--burst", env=env)
    assert worker.returncode == 0, worker.stderr

    status, _headers, body = http_get(server.url + "/metrics")
    assert status == 200
    text = body.decode()
    assert (
        sample(text, "http_request_duration_seconds_count", route="api/v1/leads/", status="401")
        == 40
    )
    assert sample(text, "followup_steps_total", channel="test", outcome="executed") == 3
    # Two gunicorn workers wrote their own files...
    web_ids = {
        path.stem.split("_", 1)[1]
        for path in metrics_dir.glob("histogram_*.db")
        if "-rq" not in path.stem
    }
    assert len(web_ids) >= 2
    # ...and the three work horses shared one file set instead of leaving one per job.
    horse_files = [p.name for p in metrics_dir.glob("counter_*-rq*.db")]
    assert len(horse_files) == 1, sorted(p.name for p in metrics_dir.iterdir())


def test_it_marks_dead_gunicorn_workers(tmp_path, subprocess_env):
    metrics_dir = tmp_path / "mp"
    metrics_dir.mkdir()
    script = textwrap.dedent(
        """
        import runpy, types
        from pathlib import Path
        from config import multiprocess
        conf = runpy.run_path("gunicorn.conf.py")
        live = Path(__import__("os").environ["PROMETHEUS_MULTIPROC_DIR"])
        name = f"gauge_livesum_{multiprocess.identifier_for(4242)}.db"
        (live / name).write_bytes(b"")
        conf["child_exit"](None, types.SimpleNamespace(pid=4242))
        print("gone" if not (live / name).exists() else "still there")
        """
    )
    env = subprocess_env(PROMETHEUS_MULTIPROC_DIR=str(metrics_dir))

    result = subprocess.run(
        [PYTHON, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "gone"


def test_it_names_metric_files_by_host_and_process(tmp_path, subprocess_env):
    env = subprocess_env(PROMETHEUS_MULTIPROC_DIR=str(tmp_path / "mp"))

    result = subprocess.run(
        [PYTHON, "-c", INCREMENT, "1"], cwd=ROOT, env=env, capture_output=True, timeout=60
    )

    assert result.returncode == 0, result.stderr
    names = [p.name for p in Path(tmp_path / "mp").glob("counter_*.db")]
    assert len(names) == 1
    assert re.fullmatch(r"counter_[A-Za-z0-9-]+-\d+\.db", names[0])
