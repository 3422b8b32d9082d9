"""The benchmark harness behind `bench/run` (`make bench`): see bench/README.md.

It prepares the data set (`manage.py bench_data`), starts the production server (gunicorn with
DEBUG off, PostgreSQL, Redis), drives it over HTTP with wrk and a JWT, measures the floors in the
same run, and writes `bench/results/<date>.md` and `.json`.

Per scenario:
- latency p50/p95/p99 at concurrency 1 and throughput at concurrency 8 and 32 (wrk);
- queries per request and response size (the same request once in-process, queries captured);
- SQL floor: the exact queries that request ran, replayed through psycopg (p50/p95);
- framework floor: `/api/v1/bench/ping/` (config/bench.py) through the same server;
- ratio = endpoint / (SQL floor + framework floor), at p50 and p95, for read scenarios.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import math
import os
import platform
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
import zlib
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
RESULTS = ROOT / "bench" / "results"
DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/bench"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/8"

# Targets of issue 18 (milliseconds, requests per second, factors), checked at the largest
# organization measured (1,000,000 leads with --million): `target_checks`.
TARGETS = {
    "dashboard_p95_ms": 150.0,  # sales dashboard, period 30 and 365
    "dashboard_growth": 2.0,  # sales dashboard p50, smallest to largest organization
    "list_p95_ms": 50.0,
    "search_common_p95_ms": 150.0,
    "list_throughput_c8": 200.0,  # leads list, every size measured at concurrency 8
    "read_ratio": 1.5,  # every read scenario, p50 and p95, to SQL floor + framework floor
    "dispatch_scaling": 1.0,  # steps/s with 2 workers over 1 worker: must grow
}

LUA_TEMPLATE = r"""
local requests_ = {REQUESTS}
local n = #requests_
local counter = 0
local offset = 0

setup = function(thread)
  thread:set("offset", counter * {STRIDE})
  counter = counter + 1
end

request = function()
  offset = offset + 1
  local r = requests_[((offset - 1) % n) + 1]
  return wrk.format(r[1], r[2], r[3], r[4])
end

done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests":%d,"duration_us":%d,"bytes":%d,"connect":%d,"read":%d,' ..
    '"write":%d,"status":%d,"timeout":%d,"p50":%d,"p95":%d,"p99":%d,"mean":%.1f,"max":%d}\n',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write,
    e.status, e.timeout, latency:percentile(50), latency:percentile(95),
    latency:percentile(99), latency.mean, latency.max))
end
"""


@dataclass
class Request:
    method: str
    path: str
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes | None = None


@dataclass
class Scenario:
    name: str
    title: str
    kind: str  # "read" (floors and ratio) or "write"
    organization: str
    requests: list[Request]
    group: str = "api"  # "list" scenarios count for the list targets
    growth: bool = False


@dataclass
class Result:
    name: str
    title: str
    organization: str
    leads: int
    kind: str
    status: int = 0
    queries: int = 0
    response_bytes: int = 0
    c1: dict[str, Any] = field(default_factory=dict)
    c8: dict[str, Any] = field(default_factory=dict)
    c32: dict[str, Any] = field(default_factory=dict)
    sql_floor: dict[str, float] = field(default_factory=dict)
    ratio_p50: float | None = None
    ratio_p95: float | None = None


# --- environment and processes ------------------------------------------------------------------


def server_env(args: argparse.Namespace) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        {
            "DATABASE_URL": args.database_url,
            "REDIS_URL": args.redis_url,
            "DEBUG": "false",
            "SECRET_KEY": env.get("BENCH_SECRET_KEY") or "bench-" + "k" * 50,
            "FIELD_ENCRYPTION_KEY": "bench-field-key-" + "f" * 32,
            "ALLOWED_HOSTS": "127.0.0.1,localhost,testserver",
            "SECURE_SSL_REDIRECT": "false",
            "SESSION_COOKIE_SECURE": "false",
            "CSRF_COOKIE_SECURE": "false",
            "BENCH": "true",
            "BENCH_ENDPOINTS": "true",
            "THROTTLE_USER": "1000000/min",
            "THROTTLE_AUTH": "1000/min",
            "JWT_ACCESS_MINUTES": "600",
            "LOG_LEVEL": "WARNING",
            "RQ_LOG_LEVEL": "WARNING",
            # Production settings refuse the console backend (config/checks.py). The in-memory
            # one still builds every message (as console did) and sends nothing.
            "EMAIL_URL": "memorymail://",
            "EMAIL_PROVIDER": "",
            # /metrics must not be open with DEBUG off (config/checks.py); nothing scrapes it.
            "METRICS_TOKEN": env.get("BENCH_METRICS_TOKEN") or "bench-metrics-" + "m" * 32,
            "SENTRY_DSN": "",
            "INTEGRATIONS_ALLOW_PRIVATE_URLS": "true",
            "PYTHONUNBUFFERED": "1",
        }
    )
    return env


def manage(env: dict[str, str], *command: str) -> None:
    print("$ manage.py " + " ".join(command), flush=True)
    subprocess.run([PYTHON, "manage.py", *command], cwd=ROOT, env=env, check=True)


def rollups_backfill(env: dict[str, str]) -> float:
    """`manage.py rollups_backfill` for every organization (the dashboards read the rollups);
    prints and returns its duration in seconds."""
    started = time.perf_counter()
    manage(env, "rollups_backfill")
    elapsed = time.perf_counter() - started
    print(f"rollups_backfill: {elapsed:.1f} s", flush=True)
    return elapsed


def ensure_database(database_url: str) -> None:
    import psycopg

    name = database_url.rsplit("/", 1)[-1].split("?")[0]
    admin_url = database_url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{name}"')  # the name comes from our own option


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def server_settings(
    env: dict[str, str], workers: int, worker_class: str, threads: int, root: Path = ROOT
) -> dict[str, Any]:
    """What gunicorn.conf.py resolves to with these overrides: workers, threads, class."""
    run_env = dict(env)
    for key, value in (
        ("WEB_CONCURRENCY", workers),
        ("GUNICORN_WORKER_CLASS", worker_class),
        ("GUNICORN_THREADS", threads),
    ):
        if value:
            run_env[key] = str(value)
    code = (
        "import json, runpy; g = runpy.run_path('gunicorn.conf.py');"
        " print(json.dumps({'workers': g['workers'], 'threads': g.get('threads', 1),"
        " 'worker_class': g.get('worker_class', 'sync')}))"
    )
    completed = subprocess.run(
        [PYTHON, "-c", code], cwd=root, env=run_env, capture_output=True, text=True, check=True
    )
    settings: dict[str, Any] = json.loads(completed.stdout.strip().splitlines()[-1])
    return settings


# A scenario slower than this at concurrency 1 gets no throughput runs (`measure`).
SLOW_MS = 1000.0

# Base URL -> gunicorn master pid (its process group holds the workers): bench/ab.py reads
# their CPU time.
SERVERS: dict[str, int] = {}


@contextlib.contextmanager
def gunicorn(
    env: dict[str, str],
    port: int,
    workers: int,
    *,
    worker_class: str = "",
    threads: int = 0,
    root: Path = ROOT,
) -> Iterator[str]:
    """gunicorn with `gunicorn.conf.py` of `root` (a checkout); empty/0 keeps its defaults."""
    server_settings(env, workers, worker_class, threads, root)  # fails early on a bad value
    run_env = dict(env)
    run_env.update(
        {
            "GUNICORN_BIND": f"127.0.0.1:{port}",
            "GUNICORN_MAX_REQUESTS": "0",
            "PROMETHEUS_MULTIPROC_DIR": tempfile.mkdtemp(prefix="bench-metrics-"),
        }
    )
    if workers:
        run_env["WEB_CONCURRENCY"] = str(workers)
    if worker_class:
        run_env["GUNICORN_WORKER_CLASS"] = worker_class
    if threads:
        run_env["GUNICORN_THREADS"] = str(threads)
    app = "config.asgi:application" if worker_class == "uvicorn" else "config.wsgi"
    process = subprocess.Popen(
        [PYTHON, "-m", "gunicorn", app, "-c", "gunicorn.conf.py"],
        cwd=root,
        env=run_env,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    SERVERS[base] = process.pid
    try:
        import httpx

        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(base + "/health/live/", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise SystemExit("gunicorn did not start")
            time.sleep(0.3)
        yield base
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)


# --- measuring ------------------------------------------------------------------------------------


def lua_literal(value: str | bytes | None) -> str:
    if value is None:
        return "nil"
    if isinstance(value, bytes):
        value = value.decode()
    # A JSON string literal is a Lua one too, as long as non-ASCII stays raw UTF-8 (LuaJIT
    # has no \\uXXXX escape).
    return json.dumps(value, ensure_ascii=False)


def wrk(base: str, requests: list[Request], *, connections: int, duration: float) -> dict[str, Any]:
    rows = []
    for request in requests:
        headers = (
            "{"
            + ", ".join(f"[{lua_literal(k)}]={lua_literal(v)}" for k, v in request.headers.items())
            + "}"
        )
        rows.append(
            f"{{{lua_literal(request.method)}, {lua_literal(request.path)}, {headers}, "
            f"{lua_literal(request.body)}}}"
        )
    stride = max(1, len(requests) // max(1, min(connections, 4)))
    script = LUA_TEMPLATE.replace("{REQUESTS}", "{\n" + ",\n".join(rows) + "\n}").replace(
        "{STRIDE}", str(stride)
    )
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as handle:
        handle.write(script)
        path = handle.name
    threads = min(connections, 2)
    try:
        completed = subprocess.run(
            [
                "wrk",
                f"-t{threads}",
                f"-c{connections}",
                f"-d{max(1, round(duration))}s",
                "--timeout",
                "30s",
                "-s",
                path,
                base,
            ],
            capture_output=True,
            text=True,
            check=True,
        )
    finally:
        os.unlink(path)
    line = next(
        (row for row in completed.stdout.splitlines() if row.startswith("BENCH_JSON ")), None
    )
    if line is None:
        raise SystemExit("wrk printed no result:\n" + completed.stdout + completed.stderr)
    raw = json.loads(line.removeprefix("BENCH_JSON "))
    seconds = raw["duration_us"] / 1e6
    errors = raw["connect"] + raw["read"] + raw["write"] + raw["status"] + raw["timeout"]
    done = raw["requests"] > 0  # none finished: no latency to report (not a 0 ms one)
    return {
        "connections": connections,
        "requests": raw["requests"],
        "rps": round(raw["requests"] / seconds, 1) if seconds else 0.0,
        "p50_ms": raw["p50"] / 1000 if done else None,
        "p95_ms": raw["p95"] / 1000 if done else None,
        "p99_ms": raw["p99"] / 1000 if done else None,
        "mean_ms": round(raw["mean"] / 1000, 2) if done else None,
        "max_ms": raw["max"] / 1000 if done else None,
        "errors": errors,
        "non_2xx": raw["status"],
    }


def timed_requests(base: str, request: Request, *, count: int, budget: float) -> dict[str, Any]:
    """Concurrency 1 for an endpoint slower than wrk's run: `count` requests one after another
    (at least 2, fewer once `budget` seconds are spent), in the shape of `wrk`'s figures."""
    import httpx

    timings: list[float] = []
    errors = 0
    started = time.perf_counter()
    with httpx.Client(base_url=base, headers=request.headers, timeout=120) as client:
        while len(timings) < count and (len(timings) < 2 or time.perf_counter() - started < budget):
            began = time.perf_counter()
            response = client.request(request.method, request.path, content=request.body)
            timings.append((time.perf_counter() - began) * 1000)
            errors += response.status_code >= 400
    total = time.perf_counter() - started
    return {
        "connections": 1,
        "requests": len(timings),
        "rps": round(len(timings) / total, 2),
        "p50_ms": round(statistics.median(timings), 1),
        "p95_ms": round(percentile(timings, 95), 1),
        "p99_ms": round(percentile(timings, 99), 1),
        "mean_ms": round(statistics.fmean(timings), 2),
        "max_ms": round(max(timings), 1),
        "errors": errors,
        "non_2xx": errors,
        "sequential": True,
    }


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return 0.0
    index = min(len(ordered) - 1, max(0, math.ceil(pct / 100 * len(ordered)) - 1))
    return ordered[index]


def replay_sql(
    database_url: str, statements: list[str], repeat: int, budget_seconds: float = 0.0
) -> dict[str, float]:
    """The SQL floor: the request's own statements through psycopg, no ORM, no Django.

    `repeat` runs after 3 warm-ups (1 when the first run took over half a second); with a
    budget, it stops once the budget is spent and at least 3 runs are measured (a multi-second
    dashboard at 1,000,000 leads must not take minutes)."""
    import psycopg

    timings: list[float] = []
    warm_ups = 3
    deadline = time.perf_counter() + budget_seconds if budget_seconds else math.inf
    # The server's own session options (config.settings PG_SESSION_OPTIONS: JIT off), so
    # the floor runs the statements as the endpoint's connection does.
    from django.conf import settings

    options = settings.DATABASES["default"].get("OPTIONS", {}).get("options", "")
    # Not prepared: psycopg would prepare a statement after its 5th run and PostgreSQL would
    # stop planning it, while Django's connections send each statement to be planned anew
    # (client-side binding). The floor is the statements as the request sent them.
    with psycopg.connect(
        database_url, autocommit=True, options=options, prepare_threshold=None
    ) as conn:
        conn.execute("SET TIME ZONE 'UTC'")
        for attempt in range(repeat + 3):
            started = time.perf_counter()
            for statement in statements:
                with conn.cursor() as cursor:
                    cursor.execute(statement.encode())
                    if cursor.description is not None:
                        cursor.fetchall()
            elapsed = (time.perf_counter() - started) * 1000
            if attempt == 0 and elapsed > 500:
                warm_ups = 1
            if attempt >= warm_ups:  # warm-up runs are not counted
                timings.append(elapsed)
            if len(timings) >= 3 and time.perf_counter() > deadline:
                break
    return {
        "p50_ms": round(statistics.median(timings), 2),
        "p95_ms": round(percentile(timings, 95), 2),
        "statements": len(statements),
        "runs": len(timings),
    }


def inprocess(request: Request) -> tuple[int, int, list[str]]:
    """Runs the request once through Django in this process: status, size and its SQL."""
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    client = Client()
    extra = {
        "HTTP_" + key.upper().replace("-", "_"): value for key, value in request.headers.items()
    }
    extra.pop("HTTP_CONTENT_TYPE", None)
    with CaptureQueriesContext(connection) as captured:
        if request.method == "GET":
            response = client.get(request.path, **extra)  # type: ignore[arg-type]
        else:
            response = client.generic(
                request.method,
                request.path,
                data=request.body or b"",
                content_type=request.headers.get("Content-Type", "application/json"),
                **extra,  # type: ignore[arg-type]
            )
    statements = [query["sql"] for query in captured.captured_queries]
    return response.status_code, len(response.content), statements


# --- the data set and the scenarios ------------------------------------------------------------


def add_database_arguments(parser: argparse.ArgumentParser) -> None:
    """`--database-url` and `--redis-url` of the benchmark's data set (BENCH_DATABASE_URL and
    BENCH_REDIS_URL when set): bench/run and the in-process scripts read the same one."""
    parser.add_argument(
        "--database-url", default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_DATABASE_URL)
    )
    parser.add_argument("--redis-url", default=os.environ.get("BENCH_REDIS_URL", DEFAULT_REDIS_URL))


def django_setup(env: dict[str, str]) -> None:
    """Django in this process, with the same settings as the server (`server_env`)."""
    os.environ.update(env)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()


def lead_count(slug: str) -> int:
    from leads.models import Lead

    return Lead.objects.filter(organization__slug=slug).count()


def token_for(base: str, slug: str) -> str:
    import httpx

    from bench.data import PASSWORD

    response = httpx.post(
        base + "/api/v1/auth/token/",
        json={"email": f"admin@{slug}.test", "password": PASSWORD},
        timeout=30,
    )
    response.raise_for_status()
    return str(response.json()["access"])


def surnames() -> tuple[str, str]:
    from bench import data

    return data.COMMON_SURNAME, data.RARE_SURNAME


def read_scenarios(slug: str, token: str, *, growth_only: bool) -> list[Scenario]:
    auth = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
    common, rare = surnames()

    def get(name: str, title: str, path: str, group: str = "api", growth: bool = True) -> Scenario:
        return Scenario(name, title, "read", slug, [Request("GET", path, auth)], group, growth)

    scenarios = [
        get("leads_list", "Leads list (default order)", "/api/v1/leads/", "list"),
        get(
            "leads_filtered",
            "Leads list, status+temperatura+score_min",
            "/api/v1/leads/?status=em_contato,qualificado&temperatura=quente&score_min=50",
            "list",
        ),
        get(
            "search_common",
            f"Search common surname ({common})",
            f"/api/v1/leads/?search={quote(common)}",
            "list",
        ),
        get(
            "search_rare",
            f"Search rare surname ({rare})",
            f"/api/v1/leads/?search={quote(rare)}",
            "list",
        ),
        get(
            "deep_page", "Deep page (page 2,000)", "/api/v1/leads/?page=2000", "list", growth=False
        ),
        get(
            "cursor_first",
            "Cursor mode, first page",
            "/api/v1/leads/?cursor=",
            "list",
            growth=False,
        ),
        get("dashboard_30", "Sales dashboard, period 30", "/api/v1/leads/performance/?period=30"),
        get(
            "dashboard_365", "Sales dashboard, period 365", "/api/v1/leads/performance/?period=365"
        ),
        get("mentee_dashboard", "Mentee dashboard", "/api/v1/mentorados/dashboard/"),
    ]
    if growth_only:
        scenarios = [scenario for scenario in scenarios if scenario.growth]
    return scenarios


def deep_cursor(base: str, token: str, pages: int) -> str | None:
    """A cursor about `pages` x 100 rows deep, walked over HTTP (the mobile app's way)."""
    import httpx

    cursor = ""
    with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}) as client:
        for _ in range(pages):
            response = client.get("/api/v1/leads/", params={"cursor": cursor, "limit": 100})
            if response.status_code != 200:
                return None
            cursor = response.json()["pagination"].get("next_cursor") or ""
            if not cursor:
                return None
    return cursor


def interaction_scenario(slug: str, token: str) -> Scenario:
    from leads.models import Lead

    ids = list(
        Lead.objects.filter(organization__slug=slug)
        .exclude(status__in=["convertido", "perdido"])
        .order_by("?")
        .values_list("id", flat=True)[:2000]
    )
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    body = json.dumps(
        {
            "tipo_interacao": "ligacao",
            "resultado": "contato_realizado",
            "resumo": "Ligação de benchmark",
        }
    ).encode()
    return Scenario(
        "create_interaction",
        "Create an interaction",
        "write",
        slug,
        [Request("POST", f"/api/v1/leads/{pk}/interactions/", headers, body) for pk in ids],
    )


def ensure_whatsapp_account(slug: str) -> tuple[str, str]:
    from integrations.models import WhatsAppAccount
    from integrations.services import whatsapp_account_create
    from organizations.models import Organization

    organization = Organization.objects.get(slug=slug)
    phone_number_id = f"9{zlib.crc32(slug.encode()):012d}"
    app_secret = "bench-app-secret-" + slug
    account = WhatsAppAccount.objects.filter(organization=organization, ativo=True).first()
    if account is None:
        account = whatsapp_account_create(
            organization=organization,
            data={
                "phone_number_id": phone_number_id,
                "access_token": "bench-access-token",
                "app_secret": app_secret,
                "verify_token": "bench-verify-token",
                "api_base_url": "http://127.0.0.1:9/",
            },
        )
    return account.phone_number_id, account.app_secret


def webhook_scenario(slug: str, count: int) -> Scenario:
    """Signed notifications like Meta's: one text message each, most from known leads."""
    from integrations.whatsapp.signature import sign
    from leads.models import Lead

    phone_number_id, app_secret = ensure_whatsapp_account(slug)
    phones = list(
        Lead.objects.filter(organization__slug=slug, telefone__isnull=False)
        .order_by("?")
        .values_list("telefone", flat=True)[: max(10, count)]
    )
    run = uuid.uuid4().hex[:10]
    requests = []
    for n in range(count):
        sender = phones[n % len(phones)].lstrip("+") if n % 10 else f"55119{n % 10**8:08d}"
        body = {
            "object": "whatsapp_business_account",
            "entry": [
                {
                    "id": "102290129340398",
                    "changes": [
                        {
                            "field": "messages",
                            "value": {
                                "messaging_product": "whatsapp",
                                "metadata": {
                                    "display_phone_number": "5511999990000",
                                    "phone_number_id": phone_number_id,
                                },
                                "contacts": [{"profile": {"name": "Cliente"}, "wa_id": sender}],
                                "messages": [
                                    {
                                        "from": sender,
                                        "id": f"wamid.BENCH{run}{n:07d}",
                                        "timestamp": str(int(time.time())),
                                        "type": "text",
                                        "text": {"body": "Olá, tenho interesse na mentoria"},
                                    }
                                ],
                            },
                        }
                    ],
                }
            ],
        }
        raw = json.dumps(body, separators=(",", ":")).encode()
        requests.append(
            Request(
                "POST",
                "/webhooks/whatsapp/",
                {"Content-Type": "application/json", "X-Hub-Signature-256": sign(raw, app_secret)},
                raw,
            )
        )
    return Scenario("webhook", "WhatsApp webhook ingest (signed)", "write", slug, requests)


def measure(
    args: argparse.Namespace,
    base: str,
    scenario: Scenario,
    leads: int,
    framework: dict[str, Any],
    *,
    throughput: tuple[int, ...],
) -> Result:
    """One scenario: in-process once (status, size, SQL), wrk at concurrency 1 and at each of
    `throughput`'s (8, 32), and for a read its SQL floor and ratios."""
    result = Result(scenario.name, scenario.title, scenario.organization, leads, scenario.kind)
    status, size, statements = inprocess(scenario.requests[0])
    result.status, result.response_bytes, result.queries = status, size, len(statements)
    if status >= 400:
        print(f"  ! {scenario.name}: HTTP {status} in-process", flush=True)
    warm, c1, c8, c32 = [scenario.requests] * 4
    if scenario.kind == "write" and len(scenario.requests) > 1:
        # Each run gets requests of its own (the first one was just sent in-process): a webhook
        # body sent twice would take the cheaper duplicate path.
        rest = scenario.requests[1:]
        third = max(1, (len(rest) - 50) // 3)
        warm, rest = rest[:50], rest[50:]
        c1, c8, c32 = rest[:third], rest[third : 2 * third], rest[2 * third :]
    wrk(base, warm[:50], connections=1, duration=1)  # warm-up
    result.c1 = wrk(base, c1, connections=1, duration=args.duration)
    if result.c1["requests"] < 5 and scenario.kind == "read":
        # Slower than a wrk run allows (a dashboard taking seconds): timed one by one instead.
        result.c1 = timed_requests(base, c1[0], count=5, budget=3 * args.duration)
    if (result.c1["p50_ms"] or 0) > SLOW_MS:
        # Requests of seconds at concurrency 8 and 32 would still run on the server when the
        # next scenario starts (wrk stops at its deadline, the server does not).
        throughput = ()
        print(f"  {scenario.name}: p50 over {SLOW_MS:,.0f} ms, no throughput run", flush=True)
    if 8 in throughput:
        result.c8 = wrk(base, c8, connections=8, duration=args.throughput_duration)
    if 32 in throughput:
        result.c32 = wrk(base, c32, connections=32, duration=args.throughput_duration)
    if scenario.kind == "read":
        result.sql_floor = replay_sql(
            args.database_url, statements, args.sql_repeat, args.sql_budget
        )
        for pct in ("p50", "p95"):
            floor = result.sql_floor[f"{pct}_ms"] + framework[f"{pct}_ms"]
            measured = result.c1[f"{pct}_ms"]
            ratio = round(measured / floor, 2) if floor and measured is not None else None
            setattr(result, f"ratio_{pct}", ratio)
    one = result.c1
    print(
        f"  {scenario.name:<20} {leads:>9,} leads  p50 {fmt(one['p50_ms']):>7}"
        f"  p95 {fmt(one['p95_ms']):>7}  p99 {fmt(one['p99_ms']):>7} ms"
        f"  c8 {result.c8.get('rps', '-')}  c32"
        f" {result.c32.get('rps', '-')} req/s  q={result.queries}  {size} B"
        f"  sql {result.sql_floor.get('p50_ms', '-')} ms"
        f"  ratio {result.ratio_p50}/{result.ratio_p95}",
        flush=True,
    )
    return result


# --- follow-up dispatch -------------------------------------------------------------------------


def prepare_dispatch(steps: int) -> Any:
    """A fresh organization with `steps` due email steps (one per lead)."""
    from followup import services
    from followup.models import FollowupExecution, FollowupSequenceVersion
    from leads.models import Lead
    from organizations.models import Organization

    tag = uuid.uuid4().hex[:8]
    organization = Organization.objects.create(
        nome=f"bench-dispatch-{tag}", slug=f"bench-dispatch-{tag}", estado="SP"
    )
    email = {
        "tipo_acao": "email",
        "delay_dias": 0,
        "delay_horas": 0,
        "assunto": "{{ primeiro_nome }}, uma novidade para a {{ empresa }}",
        "mensagem": (
            "Olá {{ primeiro_nome }},\n\nAbrimos novas vagas na mentoria.\n\n{{ closer_nome }}"
        ),
    }
    sequence = services.sequence_create(
        organization=organization,
        actor=None,
        data={
            "nome": "Bench dispatch",
            "ativo": False,  # no activation job: the executions are inserted below
            "steps": [email, {**email, "delay_dias": 2}],
            "horario_envio_inicio": dt.time(9, 0),
            "horario_envio_fim": dt.time(18, 0),
        },
    )
    type(sequence).objects.filter(pk=sequence.pk).update(ativo=True)
    version = FollowupSequenceVersion.objects.get(sequence=sequence, numero=1)
    leads = [
        Lead(
            organization=organization,
            nome_completo=f"Pessoa {n} Disparo",
            email=f"disparo{n}.{tag}@exemplo.com.br",
            empresa="Empresa Exemplo",
        )
        for n in range(steps)
    ]
    Lead.objects.bulk_create(leads, batch_size=2000)
    due = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1)
    FollowupExecution.objects.bulk_create(
        (
            FollowupExecution(
                organization=organization,
                sequence=sequence,
                versao=version,
                lead=lead,
                proxima_execucao=due,
            )
            for lead in leads
        ),
        batch_size=2000,
    )
    return organization


def dispatch(args: argparse.Namespace, env: dict[str, str], workers: int) -> dict[str, Any]:
    import django_rq
    from rq.job import Job

    from followup.jobs import dispatch_followups
    from followup.models import FollowupExecution

    # Nothing else may be due, or the run would measure someone else's steps too.
    FollowupExecution.objects.filter(status="active").exclude(
        organization__slug__startswith="bench-dispatch-"
    ).update(proxima_execucao=dt.datetime.now(dt.UTC) + dt.timedelta(days=365))
    organization = prepare_dispatch(args.dispatch_steps)
    queue = django_rq.get_queue("default")
    queue.empty()
    jobs = [queue.enqueue(dispatch_followups) for _ in range(workers)]
    started = time.perf_counter()
    processes = [
        subprocess.Popen(
            [PYTHON, "manage.py", "rqworker", "default", "--burst"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
        )
        for _ in range(workers)
    ]
    for process in processes:
        process.wait(timeout=1800)
    wall = time.perf_counter() - started
    fetched = [Job.fetch(job.id, connection=queue.connection) for job in jobs]
    sent = sum(int((job.return_value() or {}).get("sent", 0)) for job in fetched)
    first = min(job.started_at for job in fetched if job.started_at)
    last = max(job.ended_at for job in fetched if job.ended_at)
    busy = (last - first).total_seconds()
    remaining = FollowupExecution.objects.filter(organization=organization, step_atual=0).count()
    figures = {
        "workers": workers,
        "steps": args.dispatch_steps,
        "sent": sent,
        "not_dispatched": remaining,
        "seconds": round(busy, 2),
        "wall_seconds_with_startup": round(wall, 2),
        "steps_per_second": round(sent / busy, 1) if busy else 0.0,
        "steps_per_second_per_worker": round(sent / busy / workers, 1) if busy else 0.0,
    }
    print(f"  dispatch x{workers}: {figures}", flush=True)
    from bench.data import organization_delete

    organization_delete(organization)
    return figures


# --- report -------------------------------------------------------------------------------------


def fmt(value: Any, digits: int = 1) -> str:
    if value is None or value == "":
        return "-"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def _check(
    what: str, leads: int | None, value: float | None, target: float, higher_is_better: bool
) -> dict[str, Any]:
    """One target row; `value` None means not measured in this run (never met)."""
    met = value is not None and (value > target if higher_is_better else value <= target)
    # Distance from the limit relative to the limit, whichever side of it.
    by = abs(value / target - 1) * 100 if value is not None and target else 0.0
    return {
        "what": what,
        "leads": leads,
        "value": value,
        "target": target,
        "higher_is_better": higher_is_better,
        "met": met,
        "by_percent": round(by, 1),
    }


def target_checks(report: dict[str, Any]) -> list[dict[str, Any]]:
    """Issue 18's targets against this run: p95 and growth at the largest organization,
    throughput at every size measured at concurrency 8, every read's ratio to its floors, and
    dispatch growing with workers."""
    rows: dict[tuple[str, int], dict[str, Any]] = {
        (r["name"], r["leads"]): r for r in report["results"]
    }
    sizes = sorted({leads for _, leads in rows})
    largest = sizes[-1] if sizes else 0

    def p(name: str, leads: int, key: str) -> float | None:
        row = rows.get((name, leads))
        return row["c1"].get(key) if row else None

    checks = []
    for name, period in (("dashboard_30", 30), ("dashboard_365", 365)):
        checks.append(
            _check(
                f"Sales dashboard p95 ms, period {period}",
                largest,
                p(name, largest, "p95_ms"),
                TARGETS["dashboard_p95_ms"],
                False,
            )
        )
    for name, period in (("dashboard_30", 30), ("dashboard_365", 365)):
        first, last = p(name, sizes[0], "p50_ms") if sizes else None, p(name, largest, "p50_ms")
        growth = round(last / first, 2) if first and last is not None else None
        checks.append(
            _check(
                f"Sales dashboard growth (p50) from {sizes[0]:,} leads, period {period}",
                largest,
                growth,
                TARGETS["dashboard_growth"],
                False,
            )
        )
    marked = report.get("today_marked")
    for period in ("30", "365") if marked else ():
        # The sales dashboard at 23:30 with a mark on that hour (bench/today_marked.py).
        figures = marked["states"]["hour"].get(period)
        checks.append(
            _check(
                f"Sales dashboard p95 ms, today marked (in-process, 23:30), period {period}",
                marked["leads"],
                figures["p95_ms"] if figures else None,
                TARGETS["dashboard_p95_ms"],
                False,
            )
        )
    checks.append(
        _check(
            "Leads list p95 ms",
            largest,
            p("leads_list", largest, "p95_ms"),
            TARGETS["list_p95_ms"],
            False,
        )
    )
    checks.append(
        _check(
            "Common search p95 ms",
            largest,
            p("search_common", largest, "p95_ms"),
            TARGETS["search_common_p95_ms"],
            False,
        )
    )
    for leads in sizes:
        row = rows.get(("leads_list", leads))
        if row and row["c8"].get("rps") is not None:
            checks.append(
                _check(
                    "Leads list req/s at concurrency 8",
                    leads,
                    row["c8"]["rps"],
                    TARGETS["list_throughput_c8"],
                    True,
                )
            )
    for row in report["results"]:
        if row["kind"] == "read" and row["ratio_p50"] is not None:
            worst = max(row["ratio_p50"], row["ratio_p95"] or 0.0)
            checks.append(
                _check(
                    f"{row['title']}: ratio to floors, worse of p50/p95",
                    row["leads"],
                    worst,
                    TARGETS["read_ratio"],
                    False,
                )
            )
    dispatch = {figures["workers"]: figures for figures in report.get("dispatch", [])}
    if 1 in dispatch and 2 in dispatch and dispatch[1]["steps_per_second"]:
        scaling = round(dispatch[2]["steps_per_second"] / dispatch[1]["steps_per_second"], 2)
        checks.append(
            _check(
                "Dispatch steps/s, 2 workers over 1 (must grow)",
                None,
                scaling,
                TARGETS["dispatch_scaling"],
                True,
            )
        )
    return checks


def targets_table(checks: list[dict[str, Any]]) -> list[str]:
    lines = ["| target | leads | measured | limit | met |", "|---|---:|---:|---:|---|"]
    for item in checks:
        if item["value"] is None:
            verdict = " not measured |"
        elif item["met"]:
            verdict = f" yes, {item['by_percent']:.1f}% to spare |"
        else:
            verdict = f" **no**, missed by {item['by_percent']:.1f}% |"
        limit = ("> " if item["higher_is_better"] else "<= ") + fmt(item["target"], 2)
        lines.append(
            f"| {item['what']} | {fmt(item['leads']) if item['leads'] else '-'} |"
            f" {fmt(item['value'], 2)} | {limit} |" + verdict
        )
    return lines


README = ROOT / "bench" / "README.md"
TARGETS_START, TARGETS_END = "<!-- targets:start -->", "<!-- targets:end -->"


def write_readme_targets(path: Path, report: dict[str, Any], results_file: str) -> None:
    """Replaces the block between the README's target markers with this run's table."""
    text = path.read_text()
    if TARGETS_START not in text or TARGETS_END not in text:
        raise SystemExit(f"{path}: no {TARGETS_START} ... {TARGETS_END} block to replace")
    met = sum(1 for item in report["targets"] if item["met"])
    block = [
        TARGETS_START,
        f"Run of {report['date']} on commit `{report['commit']}`: `bench/run"
        f" {' '.join(report.get('argv', []))}`, {report['server']}; PostgreSQL"
        f" {report.get('postgres', '-')}; load average before"
        f" {report['load_before']}, after {report['load_after']}. {met} of"
        f" {len(report['targets'])} targets met. Whole run: `{results_file}`.",
        "",
        *targets_table(report["targets"]),
        TARGETS_END,
    ]
    head, rest = text.split(TARGETS_START, 1)
    tail = rest.split(TARGETS_END, 1)[1]
    path.write_text(head + "\n".join(block) + tail)


def markdown(report: dict[str, Any]) -> str:
    lines = [
        f"# Benchmark {report['date']}",
        "",
        f"Commit `{report['commit']}`; {report['machine']}; PostgreSQL {report['postgres']};"
        f" {report.get('server', 'gunicorn')}, DEBUG off; load average before"
        f" {report['load_before']}, after {report['load_after']}.",
        f"Database: {fmt(report['total_leads'])} leads in all; measured organizations: "
        + ", ".join(f"`{slug}` ({fmt(n)} leads)" for slug, n in report["organizations"].items())
        + ".",
        "",
        f"Framework floor (`/api/v1/bench/ping/`): p50 {fmt(report['framework']['p50_ms'], 2)} ms,"
        f" p95 {fmt(report['framework']['p95_ms'], 2)} ms, c=8"
        f" {fmt(report['framework_c8'].get('rps'))} req/s.",
        "",
        "| scenario | leads | p50 ms | p95 ms | p99 ms | c=8 req/s | c=32 req/s | queries |"
        " bytes | SQL floor p50/p95 ms | ratio p50/p95 |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in report["results"]:
        floor = row["sql_floor"]
        lines.append(
            f"| {row['title']} | {fmt(row['leads'])} | {fmt(row['c1']['p50_ms'])} |"
            f" {fmt(row['c1']['p95_ms'])} | {fmt(row['c1']['p99_ms'])} |"
            f" {fmt(row['c8'].get('rps'))} | {fmt(row['c32'].get('rps'))} | {row['queries']} |"
            f" {fmt(row['response_bytes'])} |"
            f" {fmt(floor.get('p50_ms'), 2)} / {fmt(floor.get('p95_ms'), 2)} |"
            f" {fmt(row['ratio_p50'], 2)} / {fmt(row['ratio_p95'], 2)} |"
        )
    errors = [r for r in report["results"] if r["c1"].get("errors") or r["status"] >= 400]
    if errors:
        lines += [
            "",
            "Errors: "
            + ", ".join(
                f"{r['name']} ({r['c1'].get('errors')} errors, status {r['status']})"
                for r in errors
            ),
        ]
    if report.get("growth"):
        lines += [
            "",
            "## Growth (p50 / p95 ms at concurrency 1)",
            "",
            "| scenario | "
            + " | ".join(fmt(n) + " leads" for n in report["growth_sizes"])
            + " | growth p50 |",
            "|---|" + "---:|" * (len(report["growth_sizes"]) + 1),
        ]
        for name, sizes in report["growth"].items():
            cells = [
                f"{fmt(sizes[str(n)]['p50_ms'])} / {fmt(sizes[str(n)]['p95_ms'])}"
                if str(n) in sizes
                else "-"
                for n in report["growth_sizes"]
            ]
            first, last = str(report["growth_sizes"][0]), str(report["growth_sizes"][-1])
            factor = (
                f"x{sizes[last]['p50_ms'] / sizes[first]['p50_ms']:.2f}"
                if first in sizes
                and last in sizes
                and sizes[first]["p50_ms"]
                and sizes[last]["p50_ms"] is not None
                else "-"
            )
            lines.append(f"| {name} | " + " | ".join(cells) + f" | {factor} |")
    if report.get("dispatch"):
        lines += [
            "",
            "## Follow-up dispatch",
            "",
            "| workers | steps | sent | seconds | steps/s | steps/s per worker |",
            "|---:|---:|---:|---:|---:|---:|",
        ]
        for figures in report["dispatch"]:
            lines.append(
                f"| {figures['workers']} | {fmt(figures['steps'])} | {fmt(figures['sent'])} |"
                f" {fmt(figures['seconds'], 2)} | {fmt(figures['steps_per_second'])} |"
                f" {fmt(figures['steps_per_second_per_worker'])} |"
            )
    lines += ["", "## Targets (issue 18)", "", *targets_table(report["targets"])]
    return "\n".join(lines) + "\n"


def git_commit() -> str:
    """The checkout's short commit, `+dirty` when tracked files differ from it."""

    def git(*args: str) -> str:
        completed = subprocess.run(
            ["git", *args],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=False,
        )
        return completed.stdout.strip()

    dirty = git("status", "--porcelain", "--untracked-files=no")
    return git("rev-parse", "--short", "HEAD") + ("+dirty" if dirty else "")


# --- main ---------------------------------------------------------------------------------------


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="bench/run", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    add_database_arguments(parser)
    parser.add_argument("--orgs", type=int, default=5, help="organizations of --leads-per-org")
    parser.add_argument("--leads-per-org", type=int, default=100_000)
    parser.add_argument(
        "--growth-size",
        type=int,
        default=10_000,
        help="leads of the small organization the growth table compares with",
    )
    parser.add_argument(
        "--million",
        action="store_true",
        help="also every read scenario of issue 18 on a 1,000,000-lead organization (and the"
        " list at concurrency 8), and the targets table into bench/README.md",
    )
    parser.add_argument("--duration", type=float, default=10.0, help="seconds at concurrency 1")
    parser.add_argument(
        "--throughput-duration", type=float, default=8.0, help="seconds at concurrency 8 and 32"
    )
    parser.add_argument("--sql-repeat", type=int, default=30)
    parser.add_argument(
        "--sql-budget",
        type=float,
        default=20.0,
        help="seconds at most for one scenario's SQL floor (at least 3 runs; 0: no limit)",
    )
    parser.add_argument(
        "--workers", type=int, default=0, help="gunicorn workers (0: gunicorn.conf.py's default)"
    )
    parser.add_argument(
        "--worker-class",
        choices=["", "sync", "gthread", "uvicorn"],
        default="",
        help="gunicorn worker class (default: gunicorn.conf.py's)",
    )
    parser.add_argument(
        "--threads", type=int, default=0, help="threads per gthread worker (0: the default)"
    )
    parser.add_argument("--dispatch-steps", type=int, default=10_000)
    parser.add_argument("--skip-data", action="store_true", help="use the data set as it is")
    parser.add_argument(
        "--backfill",
        action="store_true",
        help="run manage.py rollups_backfill even with --skip-data (the data step runs it)",
    )
    parser.add_argument("--skip-dispatch", action="store_true")
    parser.add_argument("--only", default="", help="comma-separated scenario names")
    parser.add_argument("--quick", action="store_true", help="2-second runs: a smoke test")
    parser.add_argument("--out", default=str(RESULTS))
    parser.add_argument(
        "--readme",
        default="",
        help="file whose targets block to rewrite (default with --million: bench/README.md,"
        " unless --quick or --only; 'none': never)",
    )
    args = parser.parse_args(argv)
    args.argv = list(argv if argv is not None else sys.argv[1:])
    if args.quick:
        args.duration = args.throughput_duration = 2.0
        args.sql_repeat = 5
        args.sql_budget = min(args.sql_budget or 5.0, 5.0)
        args.dispatch_steps = min(args.dispatch_steps, 1000)
    if not args.readme and args.million and not args.quick and not args.only:
        args.readme = str(README)
    return args


def prepare_data(args: argparse.Namespace, env: dict[str, str]) -> float | None:
    """Migrates and generates the data set (unless --skip-data), then builds the rollups;
    returns the backfill's seconds (None when it did not run)."""
    sets = [
        ("1", args.orgs, args.leads_per_org),
        (str(args.orgs + 1), 1, args.growth_size),
    ]
    if args.million:
        sets.append((str(args.orgs + 2), 1, 1_000_000))
    if not args.skip_data:
        manage(env, "migrate", "--no-input", "-v", "0")
        for start, orgs, leads in sets:
            manage(
                env,
                "bench_data",
                "--start",
                start,
                "--orgs",
                str(orgs),
                "--leads-per-org",
                str(leads),
            )
    return rollups_backfill(env) if not args.skip_data or args.backfill else None


def main_org_scenarios(args: argparse.Namespace, base: str, slug: str, token: str) -> list[Any]:
    """Every scenario of the main organization: reads, the deep cursor, the two writes."""
    scenarios = read_scenarios(slug, token, growth_only=False)
    cursor_value = deep_cursor(base, token, 400)
    if cursor_value:
        after = next(i for i, item in enumerate(scenarios) if item.name == "cursor_first")
        deep = Request(
            "GET", f"/api/v1/leads/?cursor={cursor_value}", scenarios[0].requests[0].headers
        )
        scenarios.insert(
            after + 1,
            Scenario("cursor_deep", "Cursor mode, 40,000 rows deep", "read", slug, [deep], "list"),
        )
    scenarios.append(interaction_scenario(slug, token))
    scenarios.append(webhook_scenario(slug, 9000 if not args.quick else 600))
    return scenarios


def run_scenarios(
    args: argparse.Namespace, base: str, report: dict[str, Any], slugs: list[str], main_slug: str
) -> None:
    """Measures every organization's scenarios into the report: the main one all of them, at
    concurrency 1, 8 and 32; the others the growth scenarios at concurrency 1, and the list at
    concurrency 8 on the 1,000,000-lead organization."""
    sizes = report["organizations"]
    only = {name for name in args.only.split(",") if name}
    tokens = {slug: token_for(base, slug) for slug in slugs}
    for slug in slugs:
        if slug == main_slug:
            scenarios = main_org_scenarios(args, base, slug, tokens[slug])
        else:
            scenarios = read_scenarios(slug, tokens[slug], growth_only=True)
        for scenario in scenarios:
            if only and scenario.name not in only:
                continue
            throughput: tuple[int, ...] = ()
            if slug == main_slug:
                throughput = (8, 32)
            elif scenario.name == "leads_list" and sizes[slug] >= 1_000_000:
                throughput = (8,)
            result = measure(
                args, base, scenario, sizes[slug], report["framework"], throughput=throughput
            )
            report["results"].append(asdict(result) | {"group": scenario.group})
            if scenario.growth:
                report["growth"].setdefault(scenario.name, {})[str(sizes[slug])] = {
                    "p50_ms": result.c1["p50_ms"],
                    "p95_ms": result.c1["p95_ms"],
                }


POSTGRES_SHOWN = ("shared_buffers", "effective_cache_size", "work_mem", "jit")


def new_report(args: argparse.Namespace, sizes: dict[str, int], main_slug: str) -> dict[str, Any]:
    from django.db import connection

    from leads.models import Lead

    with connection.cursor() as cursor:
        shown = []
        for name in ("server_version", *POSTGRES_SHOWN):
            cursor.execute(f"SHOW {name}")  # names from the constant below
            shown.append(cursor.fetchone()[0])
    # The server's sizing and the session's JIT (bench/run tunes the first two).
    pairs = zip(POSTGRES_SHOWN, shown[1:], strict=True)
    postgres = f"{shown[0]} (" + ", ".join(f"{name} {value}" for name, value in pairs) + ")"
    conf = server_settings(server_env(args), args.workers, args.worker_class, args.threads)
    workers = conf["workers"]
    server = f"gunicorn {workers} {conf['worker_class'].rsplit('.', 1)[-1]} workers" + (
        f" x {conf['threads']} threads" if conf["threads"] > 1 else ""
    )
    return {
        "date": dt.datetime.now(dt.UTC).date().isoformat(),
        "started_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "commit": git_commit(),
        "machine": f"{os.cpu_count()} cores, Python {platform.python_version()}",
        "postgres": postgres,
        "gunicorn_workers": workers,
        "server": server,
        "load_before": " ".join(f"{x:.2f}" for x in os.getloadavg()),
        "total_leads": Lead.objects.count(),
        "organizations": sizes,
        "main_leads": sizes[main_slug],
        "growth_sizes": sorted(sizes.values()),
        "results": [],
        "growth": {},
        "dispatch": [],
        "argv": args.argv,
        "args": {
            k: v for k, v in vars(args).items() if k not in {"database_url", "redis_url", "argv"}
        },
    }


def save(args: argparse.Namespace, report: dict[str, Any]) -> None:
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    stem = out / report["date"]
    stem.with_suffix(".json").write_text(json.dumps(report, indent=2, default=str) + "\n")
    text = markdown(report)
    stem.with_suffix(".md").write_text(text)
    print("\n" + text)
    print(f"saved {stem}.md and {stem}.json")
    if args.readme and args.readme != "none":
        results_file = str(stem.with_suffix(".md"))
        with contextlib.suppress(ValueError):
            results_file = str(stem.with_suffix(".md").resolve().relative_to(ROOT))
        write_readme_targets(Path(args.readme), report, results_file)
        print(f"targets table written into {args.readme}")


def main(argv: list[str] | None = None) -> None:
    args = parse(argv)
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed: apt-get install -y wrk (bench/run does it)")
    env = server_env(args)
    ensure_database(args.database_url)
    backfill_seconds = prepare_data(args, env)
    manage(env, "collectstatic", "--no-input", "-v", "0")  # as a deployment does
    django_setup(env)
    import django_rq

    from bench.data import analyze
    from leads.jobs import refresh_rollups

    started = time.perf_counter()
    # The rollup job, as the scheduler runs it every minute: the writes of an earlier run's
    # write scenarios (no worker runs between runs) left today marked, and the sales
    # dashboard would read today from the raw rows (bench/README.md, "Still missed").
    days = refresh_rollups()
    print(f"rollup job: {days} days in {time.perf_counter() - started:.1f} s", flush=True)
    started = time.perf_counter()
    analyze()  # VACUUM (ANALYZE): what autovacuum keeps true on a live database
    print(f"vacuum/analyze: {time.perf_counter() - started:.1f} s", flush=True)

    django_rq.get_connection("default").flushdb()  # the bench Redis database: queues and caches
    main_slug = "bench-1"
    slugs = [f"bench-{args.orgs + 1}", main_slug]
    if args.million:
        slugs.append(f"bench-{args.orgs + 2}")
    sizes = {slug: lead_count(slug) for slug in slugs}
    if args.million and sizes[slugs[-1]] < 1_000_000:
        raise SystemExit(f"{slugs[-1]} has {sizes[slugs[-1]]:,} leads: generate it first")
    report = new_report(args, sizes, main_slug)
    report["rollups_backfill_seconds"] = backfill_seconds
    server = gunicorn(
        env, free_port(), args.workers, worker_class=args.worker_class, threads=args.threads
    )
    with server as base:
        ping = [Request("GET", "/api/v1/bench/ping/", {"Accept": "application/json"})]
        wrk(base, ping, connections=1, duration=1)
        report["framework"] = wrk(base, ping, connections=1, duration=args.duration)
        report["framework_c8"] = wrk(base, ping, connections=8, duration=args.throughput_duration)
        print(f"framework floor: {report['framework']}", flush=True)
        run_scenarios(args, base, report, slugs, main_slug)
    if args.million and (not args.only or "today_marked" in args.only.split(",")):
        from bench import today_marked

        # The sales dashboard while today is marked, in-process (bench/today_marked.py).
        report["today_marked"] = today_marked.measure(slugs[-1], repeats=10)
        report["today_marked"]["leads"] = sizes[slugs[-1]]
        print(f"today marked: {report['today_marked']}", flush=True)
    if not args.skip_dispatch and (not args.only or "dispatch" in args.only.split(",")):
        for count in (1, 2):
            report["dispatch"].append(dispatch(args, env, count))
    report["load_after"] = " ".join(f"{x:.2f}" for x in os.getloadavg())
    report["finished_at"] = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    report["targets"] = target_checks(report)
    save(args, report)


if __name__ == "__main__":
    main()
