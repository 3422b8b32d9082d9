"""Benchmark: a sequence's results (`followup.selectors.sequence_stats`) over a large history.

Usage (a dedicated, migrated database; each run adds a fresh organization):

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/h_stats_bench \\
    .venv/bin/python bench/sequence_stats.py --executions 50000

One sequence of three steps (an email with two A/B variants, a WhatsApp message, a task) and
``--executions`` executions: every one reached step 0 (sent, skipped without email 10%), 70%
step 1 (sent, 20% of those skipped without phone), 40% step 2; 8% replied, 3% converted after
enrolling, 2% revoked a channel. The figures (median and worst of ``--repeat`` runs after one
warm-up, and the SQL statements of one run) go to stderr.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ.setdefault("LOG_LEVEL", "WARNING")

import django

django.setup()

from django.db import connection  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from django.utils import timezone  # noqa: E402

from followup import services  # noqa: E402
from followup.models import (  # noqa: E402
    FollowupExecution,
    FollowupSequenceVersion,
    FollowupStepRun,
)
from followup.selectors import sequence_stats  # noqa: E402
from leads.models import ConsentRecord, Lead, LeadStatusChange  # noqa: E402
from organizations.models import Organization  # noqa: E402

STEPS = [
    {
        "tipo_acao": "email",
        "assunto": "Oi",
        "mensagem": "Olá",
        "variantes": [{"id": "a", "mensagem": "A"}, {"id": "b", "mensagem": "B"}],
    },
    {"tipo_acao": "whatsapp", "mensagem": "Oi", "delay_dias": 1},
    {"tipo_acao": "tarefa", "titulo": "Ligar", "delay_dias": 2},
]


def _runs_for(index: int, execution: FollowupExecution) -> list[FollowupStepRun]:
    variant = "ab"[index % 2]
    runs = [
        FollowupStepRun(
            execution=execution,
            step=0,
            tipo_acao="email",
            state="done",
            outcome="skipped" if index % 10 == 0 else "sent",
            reason="sem_email" if index % 10 == 0 else "",
            variant=variant,
        )
    ]
    if index % 10 < 7:
        skipped = index % 5 == 1
        runs.append(
            FollowupStepRun(
                execution=execution,
                step=1,
                tipo_acao="whatsapp",
                state="done",
                outcome="skipped" if skipped else "sent",
                reason="sem_telefone" if skipped else "",
            )
        )
    if index % 10 < 4:
        runs.append(
            FollowupStepRun(
                execution=execution, step=2, tipo_acao="tarefa", state="done", outcome="sent"
            )
        )
    return runs


def build(n: int) -> object:
    name = f"stats-bench-{uuid.uuid4().hex[:8]}"
    organization = Organization.objects.create(nome=name, slug=name)
    sequence = services.sequence_create(
        organization=organization,
        actor=None,
        data={"nome": "Bench", "ativo": False, "steps": STEPS},
    )
    version = FollowupSequenceVersion.objects.get(sequence=sequence, numero=sequence.versao)
    now = timezone.now()
    leads = Lead.objects.bulk_create(
        [Lead(organization=organization, nome_completo=f"Lead {i}") for i in range(n)],
        batch_size=5000,
    )
    executions = FollowupExecution.objects.bulk_create(
        [
            FollowupExecution(
                organization=organization,
                sequence=sequence,
                versao=version,
                lead=lead,
                status="responded" if i % 100 < 8 else "completed",
                data_resposta=now if i % 100 < 8 else None,
                created_at=now,
            )
            for i, lead in enumerate(leads)
        ],
        batch_size=5000,
    )
    runs = [run for i, e in enumerate(executions) for run in _runs_for(i, e)]
    FollowupStepRun.objects.bulk_create(runs, batch_size=5000)
    LeadStatusChange.objects.bulk_create(
        [
            LeadStatusChange(
                organization=organization, lead=lead, to_status="convertido", changed_at=now
            )
            for i, lead in enumerate(leads)
            if i % 100 in (10, 11, 12)
        ]
    )
    ConsentRecord.objects.bulk_create(
        [
            ConsentRecord(
                organization=organization,
                lead=lead,
                canal="email",
                estado="revogado",
                base_legal="consentimento",
                origem="descadastro",
                at=now,
            )
            for i, lead in enumerate(leads)
            if i % 100 in (20, 21)
        ]
    )
    with connection.cursor() as cursor:
        cursor.execute(
            "ANALYZE lead_followup_executions, followup_step_runs, lead_status_changes, "
            "lead_consents"
        )
    print(f"built {n} executions and {len(runs)} step records", file=sys.stderr)
    return sequence


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--executions", type=int, default=50_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    sequence = build(args.executions)
    sequence_stats(sequence=sequence)  # warm-up
    timings = []
    for _ in range(args.repeat):
        with CaptureQueriesContext(connection) as queries:
            started = time.perf_counter()
            stats = sequence_stats(sequence=sequence)
            timings.append((time.perf_counter() - started) * 1000)
    print(
        f"sequence_stats over {args.executions} executions: median "
        f"{statistics.median(timings):.1f} ms, worst {max(timings):.1f} ms, "
        f"{len(queries.captured_queries)} SQL queries",
        file=sys.stderr,
    )
    for query in queries.captured_queries:
        print(f"  {float(query['time']) * 1000:.1f} ms", file=sys.stderr)
    first = stats["passos"][0]
    print(
        f"check: inscritos {stats['inscritos']}, enviados {stats['enviados']}, respondidos "
        f"{stats['respondidos']}, convertidos {stats['convertidos']}, opt_outs "
        f"{stats['opt_outs']}; step 1 variants {first['variantes']}",
        file=sys.stderr,
    )


if __name__ == "__main__":
    main()
