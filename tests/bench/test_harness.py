"""The benchmark's own parts: the framework-floor route, the SQL-floor replay and the report."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.conf import settings
from django.db import connection
from django.test import Client, override_settings
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from bench import harness
from organizations.models import Membership
from tests.conftest import Org
from tests.factories import InteractionFactory, LeadFactory

pytestmark = pytest.mark.django_db


def test_ping_route_is_off_unless_benchmarking() -> None:
    assert settings.BENCH_ENDPOINTS is False
    response = Client().get("/api/v1/bench/ping/")
    assert response.status_code == 404


@override_settings(ROOT_URLCONF="bench.urls")
def test_ping_answers_json_through_the_middleware_without_queries() -> None:
    with CaptureQueriesContext(connection) as queries:
        response = Client().get("/bench/ping/", HTTP_ACCEPT="application/json")
    assert response.status_code == 200
    assert response.json() == {"ok": True}
    assert response["X-Request-ID"]  # config.middleware ran
    # Only the transaction of ATOMIC_REQUESTS, as for every endpoint: no query of its own.
    own = [
        query["sql"]
        for query in queries.captured_queries
        if query["sql"] not in {"BEGIN", "COMMIT"} and "SAVEPOINT" not in query["sql"]
    ]
    assert own == []


def test_sql_floor_replays_the_exact_statements_of_a_request(
    org_a: Org, client_for: Callable[[Membership], APIClient]
) -> None:
    lead = LeadFactory(organization=org_a.org, nome_completo="Ana Replay", closer=org_a.closer)
    InteractionFactory(lead=lead, organization=org_a.org, closer=org_a.closer)
    client = client_for(org_a.admin)
    with CaptureQueriesContext(connection) as captured:
        response = client.get("/api/v1/leads/?search=Replay")
    assert response.status_code == 200
    statements = [query["sql"] for query in captured.captured_queries]
    assert any("LIKE" in statement for statement in statements)
    # The test's transaction holds the rows: replay through Django's own psycopg connection.
    replayed = []
    with connection.cursor() as cursor:
        for statement in statements:
            cursor.execute(statement)
            replayed.append(cursor.fetchall() if cursor.description else None)
    assert ["Ana Replay" in str(rows) for rows in replayed if rows].count(True) >= 1


def test_replay_sql_times_statements_over_a_real_connection() -> None:
    url = _database_url()
    figures = harness.replay_sql(url, ["SELECT 1", "SELECT count(*) FROM pg_class"], repeat=5)
    assert figures["statements"] == 2
    assert 0 < figures["p50_ms"] <= figures["p95_ms"]


def test_replay_sql_refuses_a_broken_statement() -> None:
    import psycopg

    with pytest.raises(psycopg.errors.UndefinedTable):
        harness.replay_sql(_database_url(), ["SELECT * FROM no_such_table"], repeat=1)


def test_percentile_is_nearest_rank() -> None:
    values = [float(n) for n in range(1, 101)]
    assert harness.percentile(values, 50) == 50.0
    assert harness.percentile(values, 95) == 95.0
    assert harness.percentile(values, 99) == 99.0
    assert harness.percentile([7.0], 95) == 7.0


def _row(name: str, group: str, p95: float, ratio: float | None, rps: float | None = None) -> Any:
    return {
        "name": name,
        "title": name,
        "group": group,
        "leads": 100_000,
        "status": 200,
        "queries": 5,
        "response_bytes": 1000,
        "c1": {"p50_ms": p95 / 2, "p95_ms": p95, "p99_ms": p95 * 1.2, "errors": 0},
        "c8": {"rps": rps} if rps else {},
        "c32": {},
        "sql_floor": {"p50_ms": 1.0, "p95_ms": 2.0},
        "ratio_p50": ratio,
        "ratio_p95": ratio,
    }


def test_targets_say_met_or_missed_and_by_how_much() -> None:
    report = {
        "main_leads": 100_000,
        "results": [
            _row("leads_list", "list", 40.0, 1.2, rps=240.0),
            _row("search_common", "list", 60.0, 1.8),
            _row("dashboard_365", "api", 300.0, 1.1),
        ],
        "dispatch": [{"workers": 1, "steps_per_second_per_worker": 250.0}],
    }
    checks = {item["what"]: item for item in harness.target_checks(report)}
    assert checks["leads_list p95 ms (c=1)"]["met"] is True
    assert checks["search_common p95 ms (c=1)"]["met"] is False
    assert checks["search_common p95 ms (c=1)"]["by_percent"] == 20.0
    assert checks["search_common ratio p95 to floors"]["met"] is False
    assert checks["leads_list throughput c=8 req/s"]["met"] is False
    assert checks["leads_list throughput c=8 req/s"]["by_percent"] == 20.0
    assert checks["dashboard_365 p95 ms"]["met"] is False
    assert checks["dispatch steps/s per worker (1 worker(s))"]["met"] is True


def test_markdown_report_holds_every_scenario_growth_and_targets() -> None:
    rows = [_row("leads_list", "list", 40.0, 1.2, rps=320.0)]
    report = {
        "date": "2026-11-29",
        "commit": "abc1234",
        "machine": "2 cores",
        "postgres": "15.19",
        "gunicorn_workers": 5,
        "load_before": "1.00",
        "load_after": "1.10",
        "total_leads": 510_000,
        "organizations": {"bench-6": 10_000, "bench-1": 100_000},
        "main_leads": 100_000,
        "framework": {"p50_ms": 1.5, "p95_ms": 2.0},
        "framework_c8": {"rps": 900.0},
        "results": rows,
        "growth_sizes": [10_000, 100_000],
        "growth": {
            "leads_list": {
                "10000": {"p50_ms": 10.0, "p95_ms": 12.0},
                "100000": {"p50_ms": 15.0, "p95_ms": 18.0},
            }
        },
        "dispatch": [
            {
                "workers": 1,
                "steps": 10_000,
                "sent": 10_000,
                "seconds": 20.0,
                "steps_per_second": 500.0,
                "steps_per_second_per_worker": 500.0,
            }
        ],
    }
    report["targets"] = harness.target_checks(report)
    text = harness.markdown(report)
    assert "| leads_list | 100,000 | 20.0 | 40.0 |" in text
    assert "| leads_list | 10.0 / 12.0 | 15.0 / 18.0 | x1.50 |" in text
    assert "| 1 | 10,000 | 10,000 | 20.00 | 500.0 | 500.0 |" in text
    assert "leads_list throughput c=8 req/s | 320.00 | 300.00 | yes, 6.7% to spare |" in text


def test_lua_literals_escape_quotes_and_newlines() -> None:
    assert harness.lua_literal('a"b\nc') == '"a\\"b\\nc"'
    assert harness.lua_literal("Magalhães") == '"Magalhães"'  # LuaJIT has no \\uXXXX escape
    assert harness.lua_literal(None) == "nil"
    assert harness.lua_literal(b"{}") == '"{}"'


def _database_url() -> str:
    db = connection.settings_dict
    host = db["HOST"] or "127.0.0.1"
    return f"postgresql://{db['USER']}@{host}:{db['PORT'] or 5432}/{db['NAME']}"


def test_dispatch_scenario_data_is_due_and_sent_once_by_one_pass(mailoutbox: list[Any]) -> None:
    from followup.engine import dispatch_due
    from followup.models import FollowupExecution

    organization = harness.prepare_dispatch(25)
    executions = FollowupExecution.objects.filter(organization=organization)
    assert executions.count() == 25
    stats = dispatch_due()
    assert stats.sent == 25
    assert len(mailoutbox) == 25
    assert not executions.filter(step_atual=0).exists()
    assert dispatch_due().sent == 0  # nothing is due twice


def test_server_env_passes_the_production_start_up_checks() -> None:
    import environ

    from config.checks import production_settings

    env = harness.server_env(harness.parse(["--quick"]))
    assert env["DEBUG"] == "false"
    email = environ.Env.email_url_config(env["EMAIL_URL"])
    with override_settings(
        DEBUG=False,
        EMAIL_BACKEND=email["EMAIL_BACKEND"],
        METRICS_TOKEN=env["METRICS_TOKEN"],
        METRICS_ALLOWED_IPS=[],
    ):
        assert production_settings() == []
    with override_settings(DEBUG=False, METRICS_TOKEN="", METRICS_ALLOWED_IPS=[]):
        assert [error.id for error in production_settings()] == ["config.E001"]
