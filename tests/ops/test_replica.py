"""Reads on a real streaming replica: lists go to it, a writer reads its writes from the primary.

The machine's PostgreSQL has no replication entry in pg_hba.conf, so the test builds its own
pair (design/NOTES.md): `initdb` a primary on a spare port, `pg_basebackup -R` a replica from it,
then runs tests/ops/replica_scenario.py against them in a child process with
DATABASE_REPLICA_URL set. Pausing WAL replay freezes the replica, which makes "served by the
replica" observable: a lead written after the pause is missing from the replica's list.
"""

from __future__ import annotations

import glob
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.db import connections

ROOT = Path(__file__).resolve().parents[2]


def _bin(name: str) -> str:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    assert found, f"{name} not found: install PostgreSQL's server package"
    return found[-1]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _as_postgres(*command: str) -> None:
    prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    subprocess.run([*prefix, *command], check=True, capture_output=True, timeout=120)


def _copy_test_schema(primary_port: int) -> None:
    """The migrated test database, dumped into the new primary (faster than migrating again)."""
    source = connections["default"].settings_dict
    dump = subprocess.run(
        [
            _bin("pg_dump"),
            *("-h", source["HOST"] or "127.0.0.1", "-p", str(source["PORT"] or 5432)),
            *("-U", source["USER"] or "postgres", "--no-owner", source["NAME"]),
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    subprocess.run(
        [
            *(_bin("psql"), "-h", "127.0.0.1", "-p", str(primary_port), "-U", "postgres", "-q"),
            *("-v", "ON_ERROR_STOP=1", "leads"),
        ],
        input=dump.stdout,
        check=True,
        capture_output=True,
        timeout=120,
    )


@pytest.fixture
def primary_and_replica(db: None) -> Iterator[tuple[int, int]]:
    workdir = tempfile.mkdtemp(prefix="pg-replica-")
    if os.geteuid() == 0:
        shutil.chown(workdir, "postgres", "postgres")
    primary, replica = f"{workdir}/primary", f"{workdir}/replica"
    primary_port, replica_port = _free_port(), _free_port()
    settings = (
        "listen_addresses = '127.0.0.1'\nunix_socket_directories = '{dir}'\nport = {port}\n"
        "wal_level = replica\nmax_wal_senders = 4\nfsync = off\nshared_buffers = 32MB\n"
    )
    started: list[str] = []
    try:
        _as_postgres(_bin("initdb"), "-D", primary, "-U", "postgres", "-A", "trust", "--no-sync")
        with open(f"{primary}/postgresql.auto.conf", "a") as conf:
            conf.write(settings.format(dir=workdir, port=primary_port))
        with open(f"{primary}/pg_hba.conf", "a") as hba:
            hba.write("host replication all 127.0.0.1/32 trust\n")
        _as_postgres(_bin("pg_ctl"), "-D", primary, "-l", f"{workdir}/primary.log", "-w", "start")
        started.append(primary)
        _as_postgres(_bin("createdb"), "-h", "127.0.0.1", "-p", str(primary_port), "leads")
        _copy_test_schema(primary_port)
        _as_postgres(
            _bin("pg_basebackup"),
            *("-h", "127.0.0.1", "-p", str(primary_port), "-U", "postgres"),
            *("-D", replica, "-R", "-X", "stream", "--checkpoint=fast"),
        )
        with open(f"{replica}/postgresql.auto.conf", "a") as conf:
            conf.write(f"port = {replica_port}\n")
        _as_postgres(_bin("pg_ctl"), "-D", replica, "-l", f"{workdir}/replica.log", "-w", "start")
        started.append(replica)
        yield primary_port, replica_port
    finally:
        for datadir in reversed(started):
            _as_postgres(_bin("pg_ctl"), "-D", datadir, "-m", "immediate", "stop")
        shutil.rmtree(workdir, ignore_errors=True)


def test_lists_and_dashboards_read_the_replica_and_a_writer_reads_its_own_writes(
    primary_and_replica: tuple[int, int],
) -> None:
    primary_port, replica_port = primary_and_replica
    env = {
        **os.environ,
        "DATABASE_URL": f"postgres://postgres@127.0.0.1:{primary_port}/leads",
        "DATABASE_REPLICA_URL": f"postgres://postgres@127.0.0.1:{replica_port}/leads",
        "REPLICA_PIN_SECONDS": "2",
        "DJANGO_SETTINGS_MODULE": "tests.settings",
    }
    run = subprocess.run(
        [sys.executable, "-m", "tests.ops.replica_scenario"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    lines = [line for line in run.stdout.splitlines() if line.startswith("RESULT ")]
    output = run.stdout[-3000:] + run.stderr[-3000:]
    assert run.returncode == 0, output
    assert lines, output
    seen = json.loads(lines[-1].removeprefix("RESULT "))
    assert seen == {
        "replica_in_recovery": True,
        # The list is served by the frozen replica: the lead written after the pause is missing.
        "list_while_paused": 1,
        # So is the sales dashboard (its rollups, read in a transaction on the replica).
        "dashboard_while_paused": 1,
        # A detail read stays on the primary.
        "detail_of_unreplayed": 200,
        # The timeline reads the replica, where that lead does not exist yet.
        "timeline_of_unreplayed": 404,
        # A page's extras (interaction count) come from the database its leads came from.
        "extras_of_replica_lead": 0,
        "extras_of_primary_lead": 1,
        "create_status": 201,
        # The writer is pinned to the primary: its own lead and the other fresh one.
        "writer_list_after_write": 3,
        "writer_dashboard_after_write": 3,
        # Nobody else is: the replica still shows the frozen state.
        "reader_list_after_write": 1,
        "reader_dashboard_after_write": 1,
        # After REPLICA_PIN_SECONDS the writer reads the replica again.
        "writer_list_after_window": 1,
        "reader_list_after_resume": 3,
    }


def test_without_a_replica_every_read_stays_on_the_primary(rf: Any) -> None:
    from config import replica

    request = rf.get("/api/v1/leads/")
    assert not replica.configured()
    assert replica.use_for_request(request) is False
    assert replica.ReplicaRouter().db_for_read(object) is None


def test_a_cache_outage_keeps_the_writer_on_the_primary(monkeypatch: pytest.MonkeyPatch) -> None:
    from django.core.cache import cache
    from redis.exceptions import ConnectionError as RedisConnectionError

    from config import replica

    def unreachable(*args: Any, **kwargs: Any) -> Any:
        raise RedisConnectionError("down")

    monkeypatch.setattr(cache, "get_or_raise", unreachable, raising=False)
    assert replica.pinned("some-user") is True


def test_the_replica_never_takes_migrations() -> None:
    from config import replica

    router = replica.ReplicaRouter()
    assert router.allow_migrate("replica", "leads") is False
    assert router.allow_migrate("default", "leads") is True
