"""Sales dashboard benchmark: a 100,000-lead organization, p50/p95 of the whole response.

Usage (a database of its own; the data is generated, never committed):

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/h_dash_bench \\
        .venv/bin/python bench/dashboard.py generate   # migrate + ~100k leads, ~300k moves...
    DATABASE_URL=... .venv/bin/python bench/dashboard.py measure   # p50/p95 per period/scope
    DATABASE_URL=... .venv/bin/python bench/dashboard.py explain   # EXPLAIN ANALYZE each query

`generate` writes one measured organization (100,000 leads over two years, 20 closers, 5 SDRs,
about 3 status moves and 3 interactions per lead) and a second organization of 50,000 leads
so that organization-first indexes have something to skip. Rows go in with COPY.

Latest figures: bench/README.md ("Sales dashboard in-process").
"""

from __future__ import annotations

import json
import os
import random
import statistics
import sys
import time
import uuid
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

import django

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from django.utils import timezone  # noqa: E402

from leads import dashboard_selectors  # noqa: E402
from leads.models import PIPELINE_ORDER  # noqa: E402
from organizations.models import Membership, Organization, Role, User  # noqa: E402

MEASURED_SLUG = "bench-dashboard"
FORWARD = [s for s in PIPELINE_ORDER if s != "perdido"]
STATUS_WEIGHTS = {
    "novo": 25,
    "em_contato": 20,
    "qualificado": 15,
    "agendado": 10,
    "negociacao": 8,
    "convertido": 10,
    "perdido": 12,
}
LEAD_COLUMNS = [
    "id",
    "organization_id",
    "nome_completo",
    "email",
    "telefone",
    "telefone_chave",
    "empresa",
    "cargo",
    "origem",
    "status",
    "temperatura",
    "lead_score",
    "valor_potencial",
    "valor_fechado",
    "closer_id",
    "sdr_id",
    "motivo_perda",
    "observacoes",
    "tags",
    "crm_provider",
    "crm_id",
    "crm_sync_error",
    "opt_out_email",
    "opt_out_whatsapp",
    "last_interaction_at",
    "converted_at",
    "created_at",
    "updated_at",
]


def _org(
    slug: str, closers: int, sdrs: int
) -> tuple[Organization, list[Membership], list[Membership]]:
    org, _ = Organization.objects.get_or_create(slug=slug, defaults={"nome": slug})
    members: dict[str, list[Membership]] = {Role.CLOSER: [], Role.SDR: []}
    for role, count in ((Role.CLOSER, closers), (Role.SDR, sdrs), (Role.ADMIN, 1)):
        for n in range(count):
            user, _ = User.objects.get_or_create(
                email=f"{role}{n}@{slug}.test", defaults={"nome_completo": f"{role} {n}"}
            )
            membership, _ = Membership.objects.get_or_create(
                organization=org, user=user, defaults={"role": role, "nome_completo": f"{role} {n}"}
            )
            members.setdefault(role, []).append(membership)
    return org, members[Role.CLOSER], members[Role.SDR]


def _leads(
    rng: random.Random,
    org: Organization,
    closers: list[Membership],
    sdrs: list[Membership],
    count: int,
    now: datetime,
) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    leads, moves, interactions = [], [], []
    statuses = list(STATUS_WEIGHTS)
    weights = list(STATUS_WEIGHTS.values())
    for n in range(count):
        lead_id = uuid.uuid4()
        created = now - timedelta(seconds=rng.uniform(0, 730 * 86400))
        status = rng.choices(statuses, weights)[0]
        if status == "perdido":
            path = [*FORWARD[: rng.randint(1, 5)], "perdido"]
        else:
            path = FORWARD[: FORWARD.index(status) + 1]
        moment = created
        converted_at = None
        for step in path:
            moves.append((org.pk, lead_id, "", step, moment))
            if step == "convertido":
                converted_at = moment
            moment = min(now, moment + timedelta(hours=rng.uniform(1, 24 * 20)))
        closer = rng.choice(closers).pk if rng.random() < 0.9 else None
        sdr = rng.choice(sdrs).pk if rng.random() < 0.7 else None
        valor = Decimal(rng.randrange(2000, 50000))
        last_interaction = None
        for _ in range(rng.randint(0, 6)):
            at = min(now, created + timedelta(seconds=rng.uniform(0, 60 * 86400)))
            interactions.append((uuid.uuid4(), org.pk, lead_id, closer, at))
            last_interaction = max(last_interaction or at, at)
        leads.append(
            (
                lead_id,
                org.pk,
                f"Lead {n}",
                f"lead{n}@{org.slug}.test",
                f"+5511{900000000 + n}",
                f"5511{900000000 + n}",
                "Empresa",
                "",
                rng.choice(["instagram", "indicacao", "site", "whatsapp"]),
                status,
                rng.choice(["frio", "morno", "quente"]),
                rng.randint(0, 100),
                valor,
                valor if status == "convertido" else None,
                closer,
                sdr,
                "",
                "",
                json.dumps(["bench"]),
                "",
                "",
                "",
                False,
                False,
                last_interaction,
                converted_at,
                created,
                now,
            )
        )
    return leads, moves, interactions


def _copy(table: str, columns: list[str], rows: list[tuple[Any, ...]]) -> None:
    with connection.cursor() as cursor:
        raw = cursor.cursor  # psycopg 3 cursor
        with raw.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)


def generate() -> None:
    call_command("migrate", verbosity=0)
    if Organization.objects.filter(slug=MEASURED_SLUG).exists():
        print("already generated")
        return
    rng = random.Random(20261129)
    now = timezone.now()
    for slug, size in ((MEASURED_SLUG, 100_000), ("bench-other", 50_000)):
        org, closers, sdrs = _org(slug, 20, 5)
        started = time.monotonic()
        leads, moves, interactions = _leads(rng, org, closers, sdrs, size, now)
        _copy("leads", LEAD_COLUMNS, leads)
        _copy(
            "lead_status_changes",
            ["organization_id", "lead_id", "from_status", "to_status", "changed_at"],
            moves,
        )
        _copy(
            "lead_interactions",
            [
                "id", "organization_id", "lead_id", "closer_id", "data_interacao", "tipo_interacao",
                "resumo", "detalhes_completos", "resultado", "proximo_passo", "created_at",
            ],
            [(*row, "ligacao", "", "", "contato_realizado", "", row[4]) for row in interactions],
        )  # fmt: skip
        print(
            f"{slug}: {len(leads)} leads, {len(moves)} moves, {len(interactions)} interactions "
            f"in {time.monotonic() - started:.1f}s"
        )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")


def _scopes() -> list[tuple[str, Membership, uuid.UUID | None]]:
    org = Organization.objects.get(slug=MEASURED_SLUG)
    admin = Membership.objects.get(organization=org, role=Role.ADMIN)
    closer = Membership.objects.filter(organization=org, role=Role.CLOSER).first()
    sdr = Membership.objects.filter(organization=org, role=Role.SDR).first()
    if closer is None:
        raise RuntimeError("closer is None")
    if sdr is None:
        raise RuntimeError("sdr is None")
    return [
        ("admin (whole organization)", admin, None),
        ("admin, closer_id", admin, closer.pk),
        ("closer (own)", closer, None),
        ("sdr (own)", sdr, None),
    ]


def _percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def measure(runs: int = 40) -> None:
    from rest_framework.test import APIClient

    org = Organization.objects.get(slug=MEASURED_SLUG)
    print(f"leads in the organization: {org.leads.count()}")
    print(f"{'scope':30} {'period':>6} {'p50 ms':>8} {'p95 ms':>8}   (whole HTTP request)")
    for label, membership, closer_id in _scopes():
        client = APIClient()
        client.force_authenticate(membership.user)
        for period in (30, 365):
            params: dict[str, Any] = {"period": period}
            if closer_id:
                params["closer_id"] = str(closer_id)
            samples = []
            for _ in range(runs + 3):
                started = time.perf_counter()
                response = client.get(
                    "/api/v1/leads/performance/", params, HTTP_X_ORGANIZATION_ID=str(org.pk)
                )
                samples.append((time.perf_counter() - started) * 1000)
                if response.status_code != 200:
                    raise SystemExit(response.content)
            samples = samples[3:]  # warm-up
            print(
                f"{label:30} {period:>6} {statistics.median(samples):8.1f} "
                f"{_percentile(samples, 0.95):8.1f}"
            )


def explain() -> None:
    from django.test.utils import CaptureQueriesContext

    for label, membership, closer_id in _scopes():
        for period in (30, 365):
            scope = dashboard_selectors.dashboard_scope(
                membership=membership, period_days=period, closer_id=closer_id
            )
            with CaptureQueriesContext(connection) as queries:
                dashboard_selectors.sales_dashboard(scope)
            print(f"\n######## {label}, period {period}")
            with transaction.atomic(), connection.cursor() as cursor:
                for query in queries.captured_queries:
                    sql = query["sql"].lstrip()
                    if sql.startswith("SET"):
                        cursor.execute(sql)  # the same session settings as the real run
                    if not sql.startswith(("SELECT", "WITH")):
                        continue
                    cursor.execute("EXPLAIN (ANALYZE, BUFFERS OFF) " + sql)
                    plan = "\n".join(row[0] for row in cursor.fetchall())
                    print(f"\n-- {sql[:160]}...\n{plan}")


if __name__ == "__main__":
    command = sys.argv[1] if len(sys.argv) > 1 else "measure"
    {"generate": generate, "measure": measure, "explain": explain}[command]()
