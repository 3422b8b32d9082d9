"""bench/today_marked.py's measurement runs on a small organization and leaves no trace."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection

from bench import today_marked
from leads import rollups
from leads.models import LeadDailyRollup, LeadRollupMark
from tests.factories import LeadFactory

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="rollups are PostgreSQL only"),
]


def test_it_measures_every_state_and_period_and_leaves_no_trace(org_a: Any) -> None:
    LeadFactory.create_batch(3, organization=org_a.org)
    figures = today_marked.measure(org_a.org.slug, repeats=2)
    assert set(figures["states"]) == set(today_marked.STATES)
    for by_period in figures["states"].values():
        assert set(by_period) == {"30", "365"}
        assert all(0 < values["p50_ms"] <= values["p95_ms"] for values in by_period.values())
    assert not LeadRollupMark.objects.exists()
    built = LeadDailyRollup.objects.filter(grain__gte=rollups.HOUR)
    assert set(built.values_list("day", flat=True)) <= set(rollups.edge_days())
