"""config.statements: psycopg keeps its split of the sales dashboard's long statement."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.utils import timezone
from psycopg import _queries

from config import statements
from leads import rollups

# psycopg's own limits (3.3): a statement past either is split again on every execute.
PSYCOPG_LENGTH, PSYCOPG_PARAMS = 4096, 50


def test_the_limits_are_raised_at_start_up() -> None:
    assert _queries.MAX_CACHED_STATEMENT_LENGTH == statements.MAX_LENGTH
    assert _queries.MAX_CACHED_STATEMENT_PARAMS == statements.MAX_PARAMS


@pytest.mark.django_db
def test_the_sales_dashboard_statement_is_split_once() -> None:
    text = rollups._window_sql(None).encode()
    # Past psycopg's own limits, so the test below fails without config.statements.
    assert len(text) > PSYCOPG_LENGTH
    assert text.count(b"%(") > PSYCOPG_PARAMS
    assert len(text) <= statements.MAX_LENGTH
    assert text.count(b"%(") <= statements.MAX_PARAMS

    end = timezone.now()
    organization_id, start = uuid.uuid4(), end - timedelta(days=30)
    # Kept from the first read on (or already, by an earlier test in this process).
    rollups.read_window(organization_id=organization_id, start=start, end=end)
    before = _queries._query2pg_client.cache_info()
    rollups.read_window(organization_id=organization_id, start=start, end=end)
    rollups.read_window(organization_id=organization_id, start=start, end=end)
    after = _queries._query2pg_client.cache_info()
    assert after.hits - before.hits == 2
    assert after.misses == before.misses


def test_a_psycopg_without_the_limits_is_left_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_queries, "MAX_CACHED_STATEMENT_LENGTH", PSYCOPG_LENGTH)
    monkeypatch.delattr(_queries, "MAX_CACHED_STATEMENT_PARAMS")
    assert statements.install() is False
    assert _queries.MAX_CACHED_STATEMENT_LENGTH == PSYCOPG_LENGTH  # untouched
