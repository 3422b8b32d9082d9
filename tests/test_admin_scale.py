"""The back office at a million leads: the date hierarchy probes (config.admin_dates), the
closer, SDR and origin filters list their choices by a skip scan (config.admin_filters), and
the lead list's page count comes from the kept counts (leads.admin.LeadAdmin.get_paginator).
Each gives what Django's own query gives; the queries they replace are asserted absent."""

from __future__ import annotations

import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from config.admin_dates import probed_dates
from config.admin_filters import distinct_in_organization
from leads.admin_board import BoardFilters, board_queryset, column_page
from leads.models import Lead
from organizations.models import Organization
from tests.admin_support import login
from tests.factories import InteractionFactory, LeadFactory, TaskFactory

pytestmark = pytest.mark.django_db

SAO_PAULO = ZoneInfo("America/Sao_Paulo")
URL = "/admin/leads/lead/"


def _statements(client: Any, path: str) -> tuple[Any, list[str]]:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(path)
    assert response.status_code == 200
    return response, [q["sql"] for q in queries.captured_queries]


# Moments on the edges of São Paulo's years, months and days (UTC-3), and arbitrary ones.
_edges = [
    datetime.datetime(2025, 1, 1, 2, 59, tzinfo=datetime.UTC),  # 2024-12-31 23:59 local
    datetime.datetime(2025, 1, 1, 3, 0, tzinfo=datetime.UTC),  # 2025-01-01 00:00 local
    datetime.datetime(2026, 3, 1, 2, 30, tzinfo=datetime.UTC),  # 2026-02-28 local
    datetime.datetime(2026, 3, 31, 12, 0, tzinfo=datetime.UTC),
]
_moments = st.lists(
    st.one_of(
        st.sampled_from(_edges),
        st.datetimes(
            min_value=datetime.datetime(2024, 11, 1),  # noqa: DTZ001 (hypothesis: naive bounds)
            max_value=datetime.datetime(2026, 12, 31),  # noqa: DTZ001
            timezones=st.just(datetime.UTC),
        ),
    ),
    min_size=0,
    max_size=12,
)


@settings(
    max_examples=20,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(moments=_moments)
def test_probed_dates_are_djangos_distinct_buckets(org_a: Any, moments: list[Any]) -> None:
    Lead.objects.filter(organization=org_a.org).delete()
    for moment in moments:
        LeadFactory(organization=org_a.org, created_at=moment)
    leads = Lead.objects.filter(organization=org_a.org)
    for tz in (SAO_PAULO, datetime.UTC):
        for kind in ("year", "month", "day"):
            expected = list(leads.datetimes("created_at", kind, tzinfo=tz))
            assert probed_dates(leads, "created_at", kind, tz) == expected, (kind, tz)


def test_the_date_hierarchy_probes_an_unfiltered_list(org_a: Any) -> None:
    for moment in _edges:
        LeadFactory(organization=org_a.org, created_at=moment, nome_completo="Ana Silva")
    client = login(org_a.admin)
    distinct = "SELECT DISTINCT DATE_TRUNC"

    response, statements = _statements(client, URL)
    assert not any(distinct in sql for sql in statements)
    years = [choice["title"] for choice in response.context["choices"]]
    assert years == ["2024", "2025", "2026"]  # in the organization's time zone

    response, statements = _statements(client, f"{URL}?created_at__year=2026")
    assert not any(distinct in sql for sql in statements)
    assert len(response.context["choices"]) == 2  # February and March 2026, local time

    # Sorted by a column: still no filter, still probed.
    response, statements = _statements(client, f"{URL}?o=2")
    assert not any(distinct in sql for sql in statements)
    assert [choice["title"] for choice in response.context["choices"]] == years

    # A search with few matches keeps Django's query (a probe could walk far past a filter)
    response, statements = _statements(client, f"{URL}?q=silva")
    assert any(distinct in sql for sql in statements)
    assert [choice["title"] for choice in response.context["choices"]] == years


def test_a_search_with_many_matches_lists_the_periods_of_the_list_without_it(
    org_a: Any, org_b: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Above SEARCH_PROBE_ABOVE matches the hierarchy offers the periods of the unsearched
    list (probed, no DISTINCT over the matches), drill-down kept; at or below it, Django's."""
    for moment in _edges[:2]:  # 2024 and 2025, local time
        LeadFactory(organization=org_a.org, created_at=moment, nome_completo="Ana Silva")
    LeadFactory(organization=org_a.org, created_at=_edges[2], nome_completo="Bruno Costa")
    LeadFactory(organization=org_b.org, created_at=datetime.datetime(2023, 6, 1, tzinfo=SAO_PAULO))
    client = login(org_a.admin)
    distinct = "SELECT DISTINCT DATE_TRUNC"

    monkeypatch.setattr("config.admin_dates.SEARCH_PROBE_ABOVE", 2)  # 2 matches: Django's
    response, statements = _statements(client, f"{URL}?q=silva")
    assert any(distinct in sql for sql in statements)
    assert [choice["title"] for choice in response.context["choices"]] == ["2024", "2025"]

    monkeypatch.setattr("config.admin_dates.SEARCH_PROBE_ABOVE", 1)
    response, statements = _statements(client, f"{URL}?q=silva")
    assert not any(distinct in sql for sql in statements)
    # 2026 holds only Bruno: offered, with no match; never org_b's 2023
    assert [choice["title"] for choice in response.context["choices"]] == ["2024", "2025", "2026"]
    assert response.context["cl"].result_count == 2

    # A year's months: that year's months of the unsearched list (2026: February only).
    response, statements = _statements(client, f"{URL}?q=silva&created_at__year=2026")
    assert response.context["cl"].result_count == 0
    response, statements = _statements(client, f"{URL}?q=ana&created_at__year=2025")
    assert response.context["cl"].result_count == 1
    assert len(response.context["choices"]) == 1  # not over the limit: Django's, exact
    LeadFactory(organization=org_a.org, created_at=_edges[3], nome_completo="Ana Souza")
    response, statements = _statements(client, f"{URL}?q=ana&created_at__year=2026")
    assert response.context["cl"].result_count == 1
    monkeypatch.setattr("config.admin_dates.SEARCH_PROBE_ABOVE", 0)
    response, statements = _statements(client, f"{URL}?q=ana&created_at__year=2026")
    assert not any(distinct in sql for sql in statements)
    assert len(response.context["choices"]) == 2  # February (Bruno) and March 2026

    # Every row of the search in one year: Django drills down itself, with its own query.
    response, statements = _statements(client, f"{URL}?q=souza")
    assert any(distinct in sql for sql in statements)
    assert len(response.context["choices"]) == 1  # March 2026

    # Another filter beside the search: Django's query.
    _, statements = _statements(client, f"{URL}?q=silva&origem__exact=site")
    assert any(distinct in sql for sql in statements)


def test_the_closer_sdr_and_origin_filters_list_the_values_in_use(org_a: Any, org_b: Any) -> None:
    LeadFactory(organization=org_a.org, closer=org_a.closer, sdr=org_a.sdr, origem="instagram")
    LeadFactory(organization=org_a.org, closer=org_a.gestor, origem="google")
    LeadFactory(organization=org_b.org, closer=org_b.closer, origem="outdoor")
    org_id = org_a.org.pk
    assert distinct_in_organization(Lead, "closer", org_id) == sorted(
        [org_a.closer.pk, org_a.gestor.pk]
    )
    assert distinct_in_organization(Lead, "origem", org_id) == ["google", "instagram"]
    assert distinct_in_organization(Lead, "sdr", org_b.org.pk) == []

    client = login(org_a.admin)
    response, statements = _statements(client, URL)
    assert sum("WITH RECURSIVE seen" in sql for sql in statements) == 3
    specs = {
        spec.field_path: spec
        for spec in response.context["cl"].filter_specs
        if hasattr(spec, "field_path")
    }
    assert {pk for pk, _ in specs["closer"].lookup_choices} == {org_a.closer.pk, org_a.gestor.pk}
    assert {pk for pk, _ in specs["sdr"].lookup_choices} == {org_a.sdr.pk}
    assert list(specs["origem"].lookup_choices) == ["google", "instagram"]


def test_a_seller_who_sees_only_their_leads_keeps_djangos_filters(org_a: Any) -> None:
    org_a.org.visibilidade_leads = Organization.LeadVisibility.ATRIBUIDOS
    org_a.org.save()
    LeadFactory(organization=org_a.org, closer=org_a.closer, origem="instagram")
    LeadFactory(organization=org_a.org, closer=org_a.gestor, origem="google")
    response, statements = _statements(login(org_a.closer), URL)
    assert not any("WITH RECURSIVE seen" in sql for sql in statements)
    specs = {
        spec.field_path: spec
        for spec in response.context["cl"].filter_specs
        if hasattr(spec, "field_path")
    }
    assert {pk for pk, _ in specs["closer"].lookup_choices} == {org_a.closer.pk}
    assert list(specs["origem"].lookup_choices) == ["instagram"]


def test_the_lead_list_counts_from_the_kept_counts(org_a: Any, org_b: Any) -> None:
    LeadFactory.create_batch(3, organization=org_a.org, nome_completo="Ana Silva")
    LeadFactory.create_batch(
        2, organization=org_a.org, nome_completo="Rita Souza", status="perdido"
    )
    LeadFactory(organization=org_b.org, nome_completo="Outra Silva")
    client = login(org_a.admin)
    lead_count = 'SELECT COUNT(*) AS "__count" FROM "leads"'

    for path, total, kept in [
        (URL, 5, "lead_counts"),
        (f"{URL}?o=2", 5, "lead_counts"),
        (f"{URL}?q=silva", 3, "lead_search_rows"),
        (f"{URL}?q=silva&p=1", 3, "lead_search_rows"),
    ]:
        response, statements = _statements(client, path)
        assert response.context["cl"].result_count == total, path
        assert not any(lead_count in sql for sql in statements), path
        assert any(kept in sql for sql in statements), path

    # a filter: Django's count of the rows
    response, statements = _statements(client, f"{URL}?status__exact=perdido")
    assert response.context["cl"].result_count == 2
    assert any(lead_count in sql for sql in statements)


def test_the_board_lists_the_origins_in_use_by_a_skip_scan(org_a: Any, org_b: Any) -> None:
    LeadFactory(organization=org_a.org, origem="instagram")
    LeadFactory(organization=org_a.org, origem="google")
    LeadFactory(organization=org_b.org, origem="outdoor")
    response, statements = _statements(login(org_a.admin), "/admin/leads/lead/board/")
    assert [code for code, _ in response.context["origens"]] == ["google", "instagram"]
    assert any("WITH RECURSIVE seen" in sql for sql in statements)
    assert not any('SELECT DISTINCT "leads"."origem"' in sql for sql in statements)


def test_the_tag_filter_reads_the_kept_tags_unless_a_role_narrows(org_a: Any) -> None:
    LeadFactory(organization=org_a.org, closer=org_a.closer, tags=["vip"])
    LeadFactory(organization=org_a.org, closer=org_a.gestor, tags=["frio", "vip"])
    scan = "jsonb_array_elements_text"

    def tags(member: Any) -> tuple[list[str], list[str]]:
        response, statements = _statements(login(member), URL)
        specs = response.context["cl"].filter_specs
        spec = next(s for s in specs if getattr(s, "parameter_name", None) == "tag")
        return [value for value, _ in spec.lookup_choices], statements

    choices, statements = tags(org_a.admin)
    assert choices == ["frio", "vip"]
    assert any("lead_tag_counts" in sql for sql in statements)
    assert not any(scan in sql for sql in statements)

    org_a.org.visibilidade_leads = Organization.LeadVisibility.ATRIBUIDOS
    org_a.org.save()
    choices, statements = tags(org_a.closer)
    assert choices == ["vip"]  # only the tags of the leads this closer sees
    assert any(scan in sql for sql in statements)


def test_a_board_column_is_read_in_the_order_of_its_index(org_a: Any) -> None:
    """The board's column statement can be answered by lead_org_status_score_id without a
    sort (leads 0027). A tiny table is cheaper to scan and sort, so those plans are off."""
    LeadFactory.create_batch(3, organization=org_a.org, status="novo")
    queryset = board_queryset(org_a.admin, BoardFilters(values={}, query="", errors={}))
    with CaptureQueriesContext(connection) as queries:
        column_page(queryset, "novo", 0)
    (statement,) = [q["sql"] for q in queries.captured_queries]
    with transaction.atomic(), connection.cursor() as cursor:
        for setting in ("enable_seqscan", "enable_sort", "enable_bitmapscan"):
            cursor.execute(f"SET LOCAL {setting} = off")
        cursor.execute("EXPLAIN " + statement)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "lead_org_status_score_id" in plan, plan
    assert "Sort" not in plan.split("SubPlan")[0], plan


def test_the_date_hierarchy_probes_only_with_an_organization_first_index(org_a: Any) -> None:
    """Tasks have no (organization, vencimento) index: their hierarchy keeps Django's query;
    interactions have one (interaction_org_date) and probe."""
    lead = LeadFactory(organization=org_a.org)
    TaskFactory(organization=org_a.org, lead=lead)
    InteractionFactory(organization=org_a.org, lead=lead)
    client = login(org_a.admin)
    distinct = "SELECT DISTINCT DATE_TRUNC"
    _, statements = _statements(client, "/admin/leads/task/")
    assert any(distinct in sql for sql in statements)
    _, statements = _statements(client, "/admin/leads/leadinteraction/")
    assert not any(distinct in sql for sql in statements)
