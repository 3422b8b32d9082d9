"""Benchmark of the daily lead score decay (leads.scoring.lead_scores_decay) on PostgreSQL.

Usage (a database of its own, never the development or test one):

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/h_jobs_bench \\
        .venv/bin/python bench/score_decay.py --generate 1000000
    DATABASE_URL=... .venv/bin/python bench/score_decay.py --run

--generate builds, with generate_series (no Python loop over rows), one organization with N
leads and a second one with N/10 (so the walk over one organization's leads is not a plain
table scan), about 4 interactions per lead (0-8, dated over the last 90 days, ~30%
sem_resposta), a qualification for a third of the leads and ~15% closed leads.

--run resets every score, then times three decay passes over the big organization:
1. "first": from the defaults (score 0 / frio), nearly every open lead changes;
2. "daily": one day later (now + 1 day), only leads whose values moved are written;
3. "no-op": the same moment again, nothing changes, nothing is written.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

import django

django.setup()

from django.db import connection  # noqa: E402
from django.utils import timezone  # noqa: E402

from leads.scoring import lead_scores_decay  # noqa: E402
from organizations.models import Organization  # noqa: E402

BIG, SMALL = "bench-decay-big", "bench-decay-small"


def generate(count: int) -> None:
    for slug, size in ((BIG, count), (SMALL, max(1, count // 10))):
        org, _ = Organization.objects.get_or_create(slug=slug, defaults={"nome": slug})
        with connection.cursor() as cursor:
            started = time.monotonic()
            cursor.execute(
                """
                INSERT INTO leads (id, organization_id, nome_completo, empresa, cargo, origem,
                    status, temperatura, lead_score, valor_potencial, motivo_perda, observacoes,
                    tags, crm_provider, crm_id, crm_sync_error, opt_out_email, opt_out_whatsapp,
                    created_at, updated_at)
                SELECT gen_random_uuid(), %(org)s, 'Lead ' || g, '', '',
                    (ARRAY['instagram','indicacao','trafego_pago','whatsapp','site'])
                        [1 + floor(random() * 5)::int],
                    (ARRAY['novo','em_contato','qualificado','agendado','negociacao',
                           'novo','em_contato','convertido','perdido','em_contato',
                           'novo','qualificado','agendado'])[1 + floor(random() * 13)::int],
                    'frio', 0, round((random() * 20000)::numeric, 2), '', '', '[]', '', '', '',
                    false, false, now() - random() * interval '180 days',
                    now() - interval '2 days'
                FROM generate_series(1, %(size)s) g
                """,
                {"org": org.pk, "size": size},
            )
            cursor.execute(
                """
                INSERT INTO lead_interactions (id, organization_id, lead_id, tipo_interacao,
                    resumo, detalhes_completos, resultado, data_interacao, proximo_passo,
                    created_at)
                SELECT gen_random_uuid(), l.organization_id, l.id, 'ligacao', '', '',
                    (ARRAY['contato_realizado','sem_resposta','agendamento','proposta_enviada',
                           'follow_up','sem_resposta','contato_realizado','sem_resposta',
                           'follow_up','contato_realizado'])[1 + floor(random() * 10)::int],
                    now() - random() * interval '90 days', '', now()
                FROM leads l
                -- "0 * length(l.id)" correlates the series with the row, so random() is
                -- drawn per lead instead of once for the whole statement.
                CROSS JOIN LATERAL generate_series(
                    1, floor(random() * 9)::int + 0 * length(l.id::text)) s
                WHERE l.organization_id = %(org)s
                """,
                {"org": org.pk},
            )
            cursor.execute(
                """
                INSERT INTO lead_qualification_details (id, organization_id, lead_id,
                    budget_confirmado, authority_nivel, necessidade_identificada, dor_principal,
                    prazo_decisao, qualification_score, updated_at)
                SELECT gen_random_uuid(), l.organization_id, l.id, b, 'decisor', n, '',
                    'curto', (CASE WHEN b THEN 30 ELSE 0 END) + 25
                        + (CASE WHEN n THEN 25 ELSE 0 END) + 12, now()
                FROM (SELECT id, organization_id, random() < 0.5 AS b, random() < 0.5 AS n
                      FROM leads WHERE organization_id = %(org)s) l
                WHERE random() < 0.33
                """,
                {"org": org.pk},
            )
            print(f"generated {slug}: {size} leads in {time.monotonic() - started:.1f}s")
    with connection.cursor() as cursor:
        for table in ("leads", "lead_interactions", "lead_qualification_details"):
            cursor.execute(f"VACUUM ANALYZE {table}")


def run(batch_size: int | None) -> None:
    org = Organization.objects.get(slug=BIG)
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE leads SET lead_score = 0, temperatura = 'frio', "
            "updated_at = now() - interval '1 day' WHERE organization_id = %s",
            [org.pk],
        )
        cursor.execute("VACUUM ANALYZE leads")
        cursor.execute(
            "SELECT count(*) FILTER (WHERE status NOT IN ('convertido', 'perdido')), count(*) "
            "FROM leads WHERE organization_id = %s",
            [org.pk],
        )
        open_leads, total = cursor.fetchone()
        cursor.execute(
            "SELECT count(*) FROM lead_interactions WHERE organization_id = %s", [org.pk]
        )
        (interactions,) = cursor.fetchone()
    print(f"organization: {total} leads ({open_leads} open), {interactions} interactions")
    today = timezone.now()
    for label, moment in (
        ("first", today),
        ("daily", today + timedelta(days=1)),
        ("no-op", today + timedelta(days=1)),
    ):
        started = time.monotonic()
        result = lead_scores_decay(organization_id=org.pk, now=moment, batch_size=batch_size)
        elapsed = time.monotonic() - started
        print(
            f"{label:6s}: {result.leads_seen} open leads, {result.leads_updated} updated, "
            f"{result.batches} batches, {elapsed:.1f}s, {result.leads_seen / elapsed:,.0f} leads/s"
        )


def main() -> None:
    name = connection.settings_dict["NAME"]
    if connection.vendor != "postgresql" or not str(name).endswith("_bench"):
        sys.exit(f"refusing to run on {connection.vendor} database {name!r} (needs *_bench)")
    parser = argparse.ArgumentParser()
    parser.add_argument("--generate", type=int, metavar="N")
    parser.add_argument("--run", action="store_true")
    parser.add_argument("--batch-size", type=int, default=None)
    args = parser.parse_args()
    if args.generate:
        generate(args.generate)
    if args.run:
        run(args.batch_size)


if __name__ == "__main__":
    main()
