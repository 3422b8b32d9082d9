"""Production settings and serving: check --deploy, required keys, gunicorn, static files."""

from __future__ import annotations

import json
import re
import secrets
import subprocess
import textwrap
from typing import Any, cast

import pytest

from tests.ops.conftest import PYTHON, ROOT, http_get, http_get_no_redirect, run_manage

pytestmark = [pytest.mark.django_db, pytest.mark.slow]


@pytest.fixture
def production_env(subprocess_env, tmp_path):
    def make(**overrides: str) -> dict[str, str]:
        settings = {
            "DEBUG": "0",
            "SECRET_KEY": secrets.token_urlsafe(64),
            "FIELD_ENCRYPTION_KEY": secrets.token_urlsafe(32),
            "ALLOWED_HOSTS": "app.example.com,127.0.0.1",
            "STATIC_ROOT": str(tmp_path / "static"),
            "METRICS_TOKEN": secrets.token_urlsafe(24),
            "EMAIL_URL": "smtp://mail.example.com:587/?tls=True",
        }
        return subprocess_env(**{**settings, **overrides})

    return make


def test_it_passes_the_deployment_checklist(production_env):
    result = run_manage("check", "--deploy", "--fail-level", "WARNING", env=production_env())

    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


def test_it_flags_an_insecure_production_configuration(production_env):
    env = production_env(SECURE_SSL_REDIRECT="0", SECURE_HSTS_SECONDS="0")

    result = run_manage("check", "--deploy", "--fail-level", "WARNING", env=env)

    assert result.returncode != 0
    assert "security.W008" in result.stderr + result.stdout
    assert "security.W004" in result.stderr + result.stdout


@pytest.mark.parametrize("missing", ["SECRET_KEY", "FIELD_ENCRYPTION_KEY"])
def test_it_refuses_to_start_without_its_keys_in_production(production_env, missing):
    env = production_env()
    del env[missing]

    result = run_manage("check", env=env)

    assert result.returncode != 0
    assert f"{missing} must be set when DEBUG is off" in result.stderr


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"METRICS_TOKEN": ""}, "config.E001"),
        ({"EMAIL_URL": "consolemail://"}, "config.E002"),
    ],
)
@pytest.mark.parametrize("command", [("check",), ("check", "--deploy")])
def test_it_refuses_open_metrics_or_console_email_in_production(
    production_env, overrides, expected, command
):
    result = run_manage(*command, env=production_env(**overrides))

    assert result.returncode != 0
    assert expected in result.stderr


def test_an_allowed_address_list_is_enough_to_protect_metrics(production_env):
    env = production_env(METRICS_TOKEN="", METRICS_ALLOWED_IPS="10.0.0.0/8")

    result = run_manage("check", env=env)

    assert result.returncode == 0, result.stderr


def test_gunicorn_refuses_to_boot_with_an_unsafe_configuration(production_env):
    env = production_env(METRICS_TOKEN="", WEB_CONCURRENCY="1", GUNICORN_BIND="127.0.0.1:0")

    result = subprocess.run(
        [PYTHON, "-m", "gunicorn", "config.wsgi"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert result.returncode != 0
    assert "config.E001" in result.stdout + result.stderr


def test_it_serves_hashed_static_files_and_secure_headers_with_gunicorn(
    production_env, start_gunicorn
):
    env = production_env(
        SECURE_PROXY_SSL_HEADER="HTTP_X_FORWARDED_PROTO,https",
        WEB_CONCURRENCY="1",
        FORWARDED_ALLOW_IPS="",
    )
    collected = run_manage("collectstatic", "--noinput", env=env)
    assert collected.returncode == 0, collected.stderr
    server = start_gunicorn(env)
    https = {"X-Forwarded-Proto": "https", "Host": "app.example.com"}

    # Plain HTTP is redirected to HTTPS, except the probes.
    status, headers = http_get_no_redirect(server.url + "/api/docs/", {"Host": "app.example.com"})
    assert status == 301
    assert headers["Location"] == "https://app.example.com/api/docs/"
    assert http_get(server.url + "/health/")[0] == 200

    status, headers, body = http_get(server.url + "/api/docs/", https)
    assert status == 200
    assert headers["Strict-Transport-Security"].startswith("max-age=31536000")
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["X-Frame-Options"] == "DENY"
    page = body.decode()
    # Swagger UI from our own static files (hashed by the manifest storage), not a CDN.
    bundle = re.search(
        r'src="(/static/drf_spectacular_sidecar/[^"]*swagger-ui-bundle\.[0-9a-f]{12}\.js)"', page
    )
    assert bundle, page[:2000]
    # Nothing from another host (the page's random CSRF token rules out a bare "cdn" search).
    assert re.findall(r"https?://|//cdn|unpkg\.com", page) == []

    status, headers, asset = http_get(server.url + bundle.group(1), https)
    assert status == 200
    assert "javascript" in headers["Content-Type"]
    assert "immutable" in headers.get("Cache-Control", "")
    assert len(asset) > 100_000

    # One JSON line per request from our middleware, no gunicorn access log.
    lines = [json.loads(line) for line in server.output().splitlines() if line.startswith("{")]
    requests = [line for line in lines if line.get("event") == "request"]
    assert {(r["route"], r["status"]) for r in requests} >= {
        ("api/docs/", 301),
        ("api/docs/", 200),
        ("<static>", 200),
    }
    assert not [line for line in lines if line.get("logger") == "gunicorn.access"]
    assert not [line for line in server.output().splitlines() if '"GET /api/docs/ HTTP' in line]


def test_it_sizes_gunicorn_from_the_environment(subprocess_env, tmp_path):
    script = textwrap.dedent(
        """
        import json, multiprocessing, runpy
        conf = runpy.run_path("gunicorn.conf.py")
        print(json.dumps({
            "workers": conf["workers"], "cpus": multiprocessing.cpu_count(),
            "timeout": conf["timeout"], "accesslog": conf["accesslog"], "bind": conf["bind"],
            "worker_class": conf["worker_class"], "threads": conf["threads"],
        }))
        """
    )

    def load(**env: str) -> dict[str, Any]:
        result = subprocess.run(
            [PYTHON, "-c", script],
            cwd=ROOT,
            env=subprocess_env(PROMETHEUS_MULTIPROC_DIR=str(tmp_path / "mp"), **env),
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        return cast(dict[str, Any], json.loads(result.stdout))

    defaults = load()
    # gthread by default (bench/README.md, "Throughput"): CPU + 1 workers of 4 threads.
    assert (defaults["worker_class"], defaults["threads"]) == ("gthread", 4)
    assert defaults["workers"] == min(defaults["cpus"] + 1, 12)
    sync = load(GUNICORN_WORKER_CLASS="sync")
    assert (sync["worker_class"], sync["threads"]) == ("sync", 1)
    assert sync["workers"] == min(sync["cpus"] * 2 + 1, 12)
    assert defaults["timeout"] == 30
    assert defaults["accesslog"] is None
    assert defaults["bind"] == "0.0.0.0:8000"
    tuned = load(WEB_CONCURRENCY="5", GUNICORN_TIMEOUT="60", PORT="9000")
    assert (tuned["workers"], tuned["timeout"], tuned["bind"]) == (5, 60, "0.0.0.0:9000")


def test_a_worker_freezes_what_it_loaded_out_of_the_collectors_walks(production_env, tmp_path):
    # gunicorn calls post_worker_init once the worker has loaded config.wsgi (config/heap.py).
    script = textwrap.dedent(
        """
        import gc, json, runpy
        import config.wsgi
        from django.urls import get_resolver
        conf = runpy.run_path("gunicorn.conf.py")
        gc.collect()
        loaded = len(gc.get_objects())
        populated = get_resolver()._populated
        conf["post_worker_init"](None)
        print(json.dumps({
            "loaded": loaded, "populated_before": populated,
            "populated_after": get_resolver()._populated,
            "frozen": gc.get_freeze_count(), "walked": len(gc.get_objects()),
        }))
        """
    )
    env = production_env(PROMETHEUS_MULTIPROC_DIR=str(tmp_path / "mp"))
    result = subprocess.run(
        [PYTHON, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    figures = json.loads(result.stdout.strip().splitlines()[-1])

    # The URL resolver Django builds on a first request is built before the freeze.
    assert (figures["populated_before"], figures["populated_after"]) == (False, True)
    assert figures["frozen"] > figures["loaded"] > 100_000
    # What the collector still walks is what the freeze call itself made.
    assert figures["walked"] < 100
