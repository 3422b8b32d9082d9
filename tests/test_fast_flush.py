"""The flush between transactional tests (tests/fast_flush.py) empties every table."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.core.management.color import no_style
from django.db import connection

from leads.models import Lead
from tests.factories import InteractionFactory, LeadFactory, TaskFactory

pytestmark = pytest.mark.django_db(transaction=True)


def _tables() -> list[str]:
    return connection.introspection.django_table_names(only_existing=True, include_views=False)


def _nonempty(tables: list[str]) -> list[str]:
    found = []
    with connection.cursor() as cursor:
        for table in tables:
            quoted = connection.ops.quote_name(table)
            cursor.execute(f"SELECT EXISTS (SELECT 1 FROM {quoted})")  # noqa: S608 - quoted name
            if cursor.fetchone()[0]:
                found.append(table)
    return found


def test_the_flush_deletes_every_row_without_firing_triggers(org_a) -> None:
    lead = LeadFactory(organization=org_a.org, closer=org_a.closer)
    InteractionFactory(lead=lead)
    TaskFactory(lead=lead, responsavel=org_a.closer)
    LeadFactory(organization=org_a.org)
    Lead.objects.filter(pk=lead.pk).delete()  # a tombstone and trigger-maintained rows
    tables = _tables()
    assert len(_nonempty(tables)) > 5

    sql = connection.ops.sql_flush(no_style(), tables)
    assert sql[0].startswith("SET LOCAL session_replication_role")
    assert len(sql) == len(tables) + 1
    call_command("flush", verbosity=0, interactive=False, inhibit_post_migrate=True)

    assert _nonempty(tables) == []


def test_a_sequence_reset_keeps_djangos_truncate() -> None:
    sql = connection.ops.sql_flush(no_style(), _tables(), reset_sequences=True)
    assert sql[0].startswith("TRUNCATE")
