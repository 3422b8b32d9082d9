"""Parallel test databases cloned from one migrated database instead of migrated one by one.

pytest-xdist gives each worker its own test database (`test_<name>_gw0`, `_gw1`, ...), and
Django builds each by running every migration: ~20 s of CPU apiece on a 2-core machine, paid
by every worker at the same moment. Here the first worker to arrive migrates `test_<name>` (the
database a run without workers uses) once per run, under a file lock, and every worker's
database is Django's own clone of it (`clone_test_db`, the parallel test runner's
`CREATE DATABASE ... TEMPLATE`: 0.2 s for the ~16 MB schema).

The source is marked with the run's id (`PYTEST_XDIST_TESTRUNUID`, as a comment on the
database), so a later run, with migrations that may have changed, builds it again. A worker
that finds its database already there under `--reuse-db` keeps Django's path (migrate on top of
it), as does every run that is not parallel or not on PostgreSQL.
"""

from __future__ import annotations

import fcntl
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.conf import settings
from django.db.backends.postgresql.creation import DatabaseCreation

_create_test_db = DatabaseCreation.create_test_db


@contextmanager
def _locked(name: str) -> Iterator[None]:
    path = os.path.join(tempfile.gettempdir(), f"{name}.lock")
    with open(path, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _marker(creation: Any, name: str) -> str | None:
    with creation._nodb_cursor() as cursor:
        cursor.execute(
            "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = %s",
            [name],
        )
        row = cursor.fetchone()
    return row[0] if row else None


def _point_at(creation: Any, name: str) -> None:
    creation.connection.close()
    settings.DATABASES[creation.connection.alias]["NAME"] = name
    creation.connection.settings_dict["NAME"] = name


def create_test_db(
    self: Any,  # a DatabaseCreation (its private helpers are not in django-stubs)
    verbosity: int = 1,
    autoclobber: bool = False,
    serialize: bool = True,
    keepdb: bool = False,
) -> str:
    run = os.environ.get("PYTEST_XDIST_TESTRUNUID", "")
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    name = self._get_test_db_name()
    if not (run and worker and name.endswith(f"_{worker}")):
        return _create_test_db(self, verbosity, autoclobber, serialize, keepdb)
    if keepdb:
        with self._nodb_cursor() as cursor:
            if self._database_exists(cursor, name):
                return _create_test_db(self, verbosity, autoclobber, serialize, keepdb)
    source = name.removesuffix(f"_{worker}")
    with _locked(source):
        if _marker(self, source) != run:
            test = self.connection.settings_dict["TEST"]
            test["NAME"] = source
            try:
                _create_test_db(self, verbosity, True, False, False)
            finally:
                test["NAME"] = name
            with self._nodb_cursor() as cursor:
                cursor.execute(
                    f"COMMENT ON DATABASE {self.connection.ops.quote_name(source)} IS %s", [run]
                )
        _point_at(self, source)
        # `source`_`worker`, that is `name`; it closes the connection to `source` first.
        self.clone_test_db(suffix=worker, verbosity=verbosity)
    _point_at(self, name)
    if serialize:
        self.connection._test_serialized_contents = self.serialize_db_to_string()
    self.connection.ensure_connection()
    return name


def install() -> None:
    DatabaseCreation.create_test_db = create_test_db  # type: ignore[method-assign,assignment]
