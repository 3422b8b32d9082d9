"""Benchmark: one worker dispatching N due email steps with the console email backend.

Usage (a dedicated, migrated database; it is filled with a fresh organization each run):

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/h_follow_bench \\
    REDIS_URL=redis://127.0.0.1:6379/1 EMAIL_URL=consolemail:// \\
    .venv/bin/python bench/followup_dispatch.py --steps 10000 > /dev/null

Emails are written to stdout by the console backend (send it to /dev/null); the figures go to
stderr. Each execution has two email steps, so every dispatched step also computes the next
step's time with the timing rule (window 09:00-18:00, weekends and holidays paused).
"""

from __future__ import annotations

import argparse
import datetime
import os
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
from followup.engine import dispatch_due  # noqa: E402
from followup.models import FollowupExecution, FollowupSequenceVersion  # noqa: E402
from leads.models import Lead  # noqa: E402
from organizations.models import Organization  # noqa: E402

EMAIL = {
    "tipo_acao": "email",
    "delay_dias": 0,
    "delay_horas": 0,
    "assunto": "{{ primeiro_nome }}, uma novidade para a {{ empresa }}",
    "mensagem": "Olá {{ primeiro_nome }},\n\nAbrimos novas vagas na mentoria.\n\n{{ closer_nome }}",
}


def prepare(count: int) -> Organization:
    tag = uuid.uuid4().hex[:8]
    organization = Organization.objects.create(
        nome=f"Bench {tag}", slug=f"bench-{tag}", estado="SP"
    )
    sequence = services.sequence_create(
        organization=organization,
        actor=None,
        data={
            "nome": "Bench",
            "ativo": False,  # no activation job: executions are inserted below
            "steps": [EMAIL, {**EMAIL, "delay_dias": 2}],
            "horario_envio_inicio": datetime.time(9, 0),
            "horario_envio_fim": datetime.time(18, 0),
        },
    )
    type(sequence).objects.filter(pk=sequence.pk).update(ativo=True)
    version = FollowupSequenceVersion.objects.get(sequence=sequence, numero=1)
    leads = [
        Lead(
            organization=organization,
            nome_completo=f"Pessoa {n} Bench",
            email=f"bench{n}.{tag}@exemplo.com.br",
            empresa="Empresa Bench",
        )
        for n in range(count)
    ]
    Lead.objects.bulk_create(leads, batch_size=2000)
    due = timezone.now() - datetime.timedelta(minutes=1)
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


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=10_000)
    parser.add_argument("--batch-size", type=int, default=200)
    args = parser.parse_args()
    if FollowupExecution.objects.filter(
        status="active", proxima_execucao__lte=timezone.now()
    ).exists():
        sys.exit("the database already has due executions; use a fresh benchmark database")

    organization = prepare(args.steps)
    with CaptureQueriesContext(connection) as queries:
        started = time.perf_counter()
        stats = dispatch_due(batch_size=args.batch_size)
        elapsed = time.perf_counter() - started
    done = stats.sent
    print(
        f"dispatched {done} email steps in {elapsed:.2f} s with one worker: "
        f"{done / elapsed:.0f} steps/s; {len(queries.captured_queries)} SQL queries "
        f"({len(queries.captured_queries) / max(done, 1):.2f} per step); batch {args.batch_size}",
        file=sys.stderr,
    )
    print(f"counts: {stats.as_dict()}", file=sys.stderr)
    assert done == args.steps, "not every step was dispatched"
    assert not FollowupExecution.objects.filter(organization=organization, step_atual=0).exists()


if __name__ == "__main__":
    main()
