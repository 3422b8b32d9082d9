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


JIT_MUST_BE_OFF = (
    "DO $$ BEGIN IF current_setting('jit') <> 'off'"
    " THEN RAISE EXCEPTION 'jit is on'; END IF; END $$"
)


@pytest.mark.django_db
def test_the_floor_runs_with_the_servers_session_options() -> None:
    # Django's connections turn PostgreSQL's JIT off (config.settings PG_SESSION_OPTIONS); the
    # SQL floor must replay the statements the same way, or it would time another plan.
    with connection.cursor() as cursor:
        cursor.execute("SHOW jit")
        assert cursor.fetchone() == ("off",)
    figures = harness.replay_sql(_database_url(), [JIT_MUST_BE_OFF], repeat=1)
    assert figures["statements"] == 1


def test_the_floor_plans_every_statement_as_django_does(monkeypatch) -> None:
    # Prepared statements skip planning, which every request of the server pays.
    import psycopg

    opened: list[Any] = []
    connect = psycopg.connect

    def spy(*args: Any, **kwargs: Any) -> Any:
        opened.append(connect(*args, **kwargs))
        return opened[-1]

    monkeypatch.setattr(psycopg, "connect", spy)
    harness.replay_sql(_database_url(), ["SELECT 1"], repeat=8)
    assert opened
    assert opened[0].prepare_threshold is None


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


def _row(
    name: str,
    p95: float,
    ratio: float | None,
    rps: float | None = None,
    leads: int = 100_000,
    kind: str = "read",
) -> Any:
    return {
        "name": name,
        "title": name,
        "group": "list" if name.startswith(("leads", "search")) else "api",
        "kind": kind,
        "leads": leads,
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


def _million_report() -> dict[str, Any]:
    return {
        "main_leads": 100_000,
        "results": [
            _row("leads_list", 30.0, 1.2, rps=240.0),
            _row("dashboard_30", 40.0, 1.1, leads=10_000),
            _row("dashboard_365", 60.0, 1.1, leads=10_000),
            _row("leads_list", 45.0, 1.4, rps=180.0, leads=1_000_000),
            _row("search_common", 160.0, 1.8, leads=1_000_000),
            _row("dashboard_30", 70.0, 1.0, leads=1_000_000),
            _row("dashboard_365", 200.0, 1.3, leads=1_000_000),
            _row("create_interaction", 20.0, None, kind="write"),
        ],
        "dispatch": [
            {"workers": 1, "steps_per_second": 400.0},
            {"workers": 2, "steps_per_second": 700.0},
        ],
    }


def test_targets_are_the_issues_at_the_largest_organization() -> None:
    checks = {
        (item["what"], item["leads"]): item for item in harness.target_checks(_million_report())
    }
    million = 1_000_000
    assert checks[("Sales dashboard p95 ms, period 30", million)]["met"] is True
    dashboard_365 = checks[("Sales dashboard p95 ms, period 365", million)]
    assert (dashboard_365["met"], dashboard_365["by_percent"]) == (False, 33.3)
    growth = checks[("Sales dashboard growth (p50) from 10,000 leads, period 30", million)]
    assert (growth["value"], growth["met"]) == (1.75, True)
    growth = checks[("Sales dashboard growth (p50) from 10,000 leads, period 365", million)]
    assert (growth["value"], growth["met"]) == (3.33, False)
    assert checks[("Leads list p95 ms", million)]["met"] is True
    assert checks[("Common search p95 ms", million)]["met"] is False
    # Throughput at every size measured at concurrency 8.
    assert checks[("Leads list req/s at concurrency 8", 100_000)]["met"] is True
    assert checks[("Leads list req/s at concurrency 8", million)]["met"] is False
    # Every read scenario's ratio; writes have none.
    ratios = [item for item in checks.values() if "ratio to floors" in item["what"]]
    assert len(ratios) == 7
    assert checks[("search_common: ratio to floors, worse of p50/p95", million)]["met"] is False
    scaling = checks[("Dispatch steps/s, 2 workers over 1 (must grow)", None)]
    assert (scaling["value"], scaling["met"]) == (1.75, True)


def test_the_dashboard_while_today_is_marked_is_a_target_when_measured() -> None:
    report = _million_report()
    assert not [c for c in harness.target_checks(report) if "today marked" in c["what"]]
    hour = {"30": {"p50_ms": 50.0, "p95_ms": 60.0}, "365": {"p50_ms": 70.0, "p95_ms": 180.0}}
    report["today_marked"] = {"leads": 1_000_000, "states": {"hour": hour}}
    checks = {c["what"]: c for c in harness.target_checks(report) if "today marked" in c["what"]}
    period_30 = checks["Sales dashboard p95 ms, today marked (in-process, 23:30), period 30"]
    assert (period_30["value"], period_30["leads"], period_30["met"]) == (60.0, 1_000_000, True)
    period_365 = checks["Sales dashboard p95 ms, today marked (in-process, 23:30), period 365"]
    assert (period_365["value"], period_365["met"]) == (180.0, False)


def test_a_target_not_measured_is_said_so_and_never_met() -> None:
    report = _million_report()
    report["results"] = [r for r in report["results"] if r["name"] != "search_common"]
    checks = {item["what"]: item for item in harness.target_checks(report)}
    assert checks["Common search p95 ms"]["value"] is None
    assert checks["Common search p95 ms"]["met"] is False
    assert "| Common search p95 ms | 1,000,000 | - | <= 150.00 | not measured |" in "\n".join(
        harness.targets_table(list(checks.values()))
    )


def test_markdown_report_holds_every_scenario_growth_and_targets() -> None:
    rows = [_row("leads_list", 40.0, 1.2, rps=320.0)]
    report = {
        "date": "2026-11-29",
        "commit": "abc1234",
        "machine": "2 cores",
        "postgres": "15.19",
        "server": "gunicorn 2 gthread workers x 4 threads",
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
    assert "gunicorn 2 gthread workers x 4 threads, DEBUG off" in text
    assert "| leads_list | 100,000 | 20.0 | 40.0 |" in text
    assert "| leads_list | 10.0 / 12.0 | 15.0 / 18.0 | x1.50 |" in text
    assert "| 1 | 10,000 | 10,000 | 20.00 | 500.0 | 500.0 |" in text
    assert (
        "| Leads list req/s at concurrency 8 | 100,000 | 320.00 | > 200.00 | yes, 60.0% to spare |"
        in text
    )


def test_the_readme_gets_the_targets_between_its_markers_only(tmp_path: Any) -> None:
    readme = tmp_path / "README.md"
    readme.write_text(
        f"# Bench\n\nbefore\n{harness.TARGETS_START}\nold table\n{harness.TARGETS_END}\nafter\n"
    )
    report = _million_report() | {
        "date": "2026-12-05",
        "commit": "abc1234",
        "argv": ["--skip-data", "--million"],
        "server": "gunicorn 2 gthread workers x 4 threads",
        "load_before": "1.00",
        "load_after": "2.00",
    }
    report["targets"] = harness.target_checks(report)
    harness.write_readme_targets(readme, report, "bench/results/2026-12-05.md")
    text = readme.read_text()
    assert text.startswith("# Bench\n\nbefore\n")
    assert text.endswith(f"{harness.TARGETS_END}\nafter\n")
    assert "old table" not in text
    assert "`bench/run --skip-data --million`" in text
    assert (
        "| Common search p95 ms | 1,000,000 | 160.00 | <= 150.00 | **no**, missed by 6.7% |" in text
    )
    harness.write_readme_targets(readme, report, "bench/results/2026-12-05.md")
    assert readme.read_text() == text  # rerunnable: the block is replaced, not added


def test_the_sql_floor_stops_at_its_budget() -> None:
    figures = harness.replay_sql(
        _database_url(), ["SELECT pg_sleep(0.05)"], repeat=100, budget_seconds=0.2
    )
    assert 3 <= figures["runs"] < 20


def test_million_runs_write_the_readme_and_quick_ones_do_not() -> None:
    assert harness.parse(["--million"]).readme == str(harness.README)
    assert harness.parse(["--million", "--quick"]).readme == ""
    assert harness.parse(["--million", "--only", "leads_list"]).readme == ""
    assert harness.parse([]).readme == ""


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
