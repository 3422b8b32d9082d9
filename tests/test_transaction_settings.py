"""config.transaction_settings: settings for the current transaction, in one statement."""

from __future__ import annotations

import pytest
from django.db import DatabaseError, connection, transaction
from django.test.utils import CaptureQueriesContext

from config.transaction_settings import set_local

pytestmark = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="PostgreSQL settings (a no-op elsewhere)"
)


def _shown() -> tuple[str, str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_setting('jit'), current_setting('work_mem')")
        jit, work_mem = cursor.fetchone()
    return jit, work_mem


def test_the_settings_hold_for_the_transaction_only(transactional_db) -> None:
    before = _shown()
    with transaction.atomic():
        with CaptureQueriesContext(connection) as queries:
            set_local(jit="on", work_mem="7MB")
        assert len(queries) == 1
        assert _shown() == ("on", "7MB")
    assert _shown() == before


def test_values_are_parameters_not_text(db) -> None:
    """A value is never spliced into the statement: a quote is an invalid value, refused by
    PostgreSQL, and the transaction's settings stay as they were."""
    with pytest.raises(DatabaseError), transaction.atomic():
        set_local(work_mem="1MB'; SET work_mem = '2MB")
    assert _shown()[1] not in ("1MB", "2MB")
