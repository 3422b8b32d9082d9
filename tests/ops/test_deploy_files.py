"""Deployment files: what can be validated without Docker (structure, variables, entrypoint)."""

from __future__ import annotations

import os
import re
import signal
import stat
import subprocess

import pytest
import yaml

from tests.ops.conftest import PYTHON, ROOT, free_port, wait_until_serving

ENTRYPOINT = ROOT / "bin" / "docker-entrypoint.sh"


def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


# --- docker-compose.yml


def test_it_composes_web_worker_scheduler_postgres_and_redis():
    services = compose()["services"]

    assert {"web", "worker", "scheduler", "db", "redis", "migrate"} <= set(services)
    assert services["web"]["command"] == ["web"]
    assert services["worker"]["command"] == ["worker"]
    assert services["scheduler"]["command"] == ["scheduler"]
    assert services["migrate"]["command"] == ["migrate"]
    assert services["db"]["image"].startswith("postgres:")
    assert services["redis"]["image"].startswith("redis:")


def test_its_postgres_is_sized_for_the_host_not_left_at_128_mb():
    command = compose()["services"]["db"]["command"]
    settings = dict(arg.split("=", 1) for arg in command if "=" in arg)
    assert settings["shared_buffers"].startswith("${POSTGRES_SHARED_BUFFERS:-")
    assert settings["effective_cache_size"].startswith("${POSTGRES_EFFECTIVE_CACHE_SIZE:-")
    assert command[0] == "postgres"


def test_it_migrates_before_any_process_starts():
    services = compose()["services"]

    for name in ("web", "worker", "scheduler"):
        depends = services[name]["depends_on"]
        assert depends["migrate"]["condition"] == "service_completed_successfully"
        assert depends["db"]["condition"] == "service_healthy"
        assert depends["redis"]["condition"] == "service_healthy"
    assert services["migrate"]["restart"] == "no"


def test_it_configures_every_app_container_for_production():
    services = compose()["services"]

    for name in ("web", "worker", "scheduler", "migrate"):
        env = services[name]["environment"]
        assert env["DEBUG"] == "0"
        assert env["DATABASE_URL"].startswith("postgres://")
        assert "@db:5432/" in env["DATABASE_URL"]
        assert env["REDIS_URL"] == "redis://redis:6379/0"
        assert "SECRET_KEY" in env
        assert "FIELD_ENCRYPTION_KEY" in env
        # Required: start-up refuses an open /metrics and the console email backend.
        assert env["METRICS_TOKEN"].startswith("${METRICS_TOKEN:?")
        assert env["EMAIL_URL"].startswith("${EMAIL_URL:?")


def test_it_shares_the_metrics_directory_between_web_and_worker():
    document = compose()
    services = document["services"]

    for name in ("web", "worker"):
        assert services[name]["environment"]["PROMETHEUS_MULTIPROC_DIR"] == "/run/metrics"
        assert "metrics:/run/metrics" in services[name]["volumes"]
    assert document["volumes"]["metrics"]["driver_opts"]["type"] == "tmpfs"


# --- Dockerfile, Procfile, .env.example


def test_it_builds_a_multi_stage_non_root_image_with_a_healthcheck():
    lines = [
        line.strip()
        for line in (ROOT / "Dockerfile").read_text().splitlines()
        if line.strip() and not line.strip().startswith("#")
    ]
    stages = [line for line in lines if line.startswith("FROM ")]
    assert len(stages) >= 2
    assert any("COPY --from=build" in line for line in lines)
    users = [line.split()[1] for line in lines if line.startswith("USER ")]
    assert users
    assert users[-1] not in {"root", "0"}
    assert any(line.startswith("HEALTHCHECK") for line in lines)
    assert 'ENTRYPOINT ["bin/docker-entrypoint.sh"]' in lines
    assert any("collectstatic" in line for line in lines)
    healthcheck = ROOT / "bin" / "healthcheck.py"
    assert healthcheck.exists()


def test_it_lists_the_processes_in_a_procfile():
    entries = dict(
        line.split(":", 1)
        for line in (ROOT / "Procfile").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    )

    assert entries["web"].strip() == "gunicorn config.wsgi"
    assert entries["worker"].strip() == "python manage.py rqworker high default low"
    assert entries["scheduler"].strip() == "python manage.py rqscheduler"
    assert entries["release"].strip() == "python manage.py migrate --noinput"


_READS = re.compile(
    r"""env(?:\.\w+)?\(\s*"([A-Z][A-Z0-9_]+)"|environ(?:\.get)?\(\s*"([A-Z][A-Z0-9_]+)"|"""
    r"""environ\[\s*"([A-Z][A-Z0-9_]+)"\s*\]|\$\{([A-Z][A-Z0-9_]+)"""
)
# Set by tools, not by operators.
_NOT_CONFIGURATION = {"PYTEST_XDIST_WORKER", "PYTHON", "HOME", "DJANGO_SETTINGS_MODULE"}


def test_it_documents_every_variable_the_code_reads():
    sources = [ROOT / "config" / "settings.py", ROOT / "gunicorn.conf.py", ENTRYPOINT]
    read = {
        name
        for source in sources
        for groups in _READS.findall(source.read_text())
        for name in groups
        if name
    } - _NOT_CONFIGURATION
    documented = set(
        re.findall(r"^#? ?([A-Z][A-Z0-9_]+)=", (ROOT / ".env.example").read_text(), re.M)
    )

    assert {"SECRET_KEY", "DATABASE_URL", "SENTRY_DSN", "METRICS_TOKEN"} <= read
    assert read - documented == set()


# --- the entrypoint, run here outside Docker


def run_entrypoint(*args: str, env: dict[str, str], timeout: float = 120):
    return subprocess.run(
        [str(ENTRYPOINT), *args],
        cwd="/",
        env={**env, "PYTHON": PYTHON},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def test_it_ships_an_executable_entrypoint():
    assert ENTRYPOINT.stat().st_mode & stat.S_IXUSR
    assert ENTRYPOINT.read_text().startswith("#!/bin/sh")


@pytest.mark.django_db
@pytest.mark.slow
def test_it_waits_migrates_and_execs_the_given_command(subprocess_env):
    env = subprocess_env(MIGRATE_ON_START="1")

    result = run_entrypoint(PYTHON, "-c", "import os; print('started as', os.getpid())", env=env)

    assert result.returncode == 0, result.stderr
    assert "Services ready: database, redis" in result.stdout
    assert "No migrations to apply" in result.stdout or "Applying" in result.stdout
    assert "started as" in result.stdout


@pytest.mark.django_db
@pytest.mark.slow
def test_it_runs_the_migrate_role_and_exits(subprocess_env):
    result = run_entrypoint("migrate", env=subprocess_env())

    assert result.returncode == 0, result.stderr
    assert "Operations to perform" in result.stdout


@pytest.mark.django_db
@pytest.mark.slow
def test_it_gives_up_when_a_service_stays_down(subprocess_env):
    env = subprocess_env(REDIS_URL="redis://127.0.0.1:1/0", WAIT_TIMEOUT="1")

    result = run_entrypoint("web", env=env)

    assert result.returncode != 0
    assert "Services still unavailable: redis" in result.stderr


@pytest.mark.django_db
@pytest.mark.slow
def test_it_runs_the_worker_role(subprocess_env):
    result = run_entrypoint("worker", "--burst", env=subprocess_env())

    assert result.returncode == 0, result.stderr


@pytest.mark.django_db
@pytest.mark.slow
def test_it_execs_gunicorn_for_the_web_role_and_stops_on_sigterm(subprocess_env, tmp_path):
    port = free_port()
    env = subprocess_env(
        GUNICORN_BIND=f"127.0.0.1:{port}",
        WEB_CONCURRENCY="1",
        PROMETHEUS_MULTIPROC_DIR=str(tmp_path / "mp"),
        PYTHON=PYTHON,
    )
    process = subprocess.Popen(
        [str(ENTRYPOINT), "web"], cwd="/", env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    try:
        wait_until_serving(f"http://127.0.0.1:{port}/health/", process)
        # exec: the entrypoint's process *is* gunicorn's master, so signals reach it directly.
        with open(f"/proc/{process.pid}/cmdline", "rb") as cmdline:
            assert b"gunicorn" in cmdline.read()
        healthcheck = subprocess.run(
            [PYTHON, str(ROOT / "bin" / "healthcheck.py"), f"http://127.0.0.1:{port}/health/live/"],
            capture_output=True,
            timeout=30,
            check=False,
        )
        assert healthcheck.returncode == 0, healthcheck.stderr
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_it_reports_an_unhealthy_web_container():
    port = free_port()  # nobody listens there

    result = subprocess.run(
        [PYTHON, str(ROOT / "bin" / "healthcheck.py"), f"http://127.0.0.1:{port}/health/live/"],
        capture_output=True,
        text=True,
        timeout=30,
        env={**os.environ},
        check=False,
    )

    assert result.returncode == 1
    assert "unhealthy" in result.stderr
