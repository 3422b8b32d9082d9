"""Demo mentees for `seed_demo`: the demo's converted leads plus an older cohort.

The older cohort started 12-24 months ago, so every month of the default 12-month dashboard
has reports; the converted leads (recent) are linked to their mentee. Rows are bulk-created
and the derived figures computed with the same pure functions the services use.
"""

from __future__ import annotations

import random
import zoneinfo
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

from django.utils import timezone

from leads.models import Lead, LeadStatus
from mentorados import figures
from mentorados.models import (
    FINISHED_STATUSES,
    EvolucaoFinanceira,
    Mentorado,
    MentoradoFeedback,
    MentoradoStatus,
)
from mentorados.services import organization_nps_refresh, organization_today
from organizations.demo import DemoContext
from organizations.models import Membership, Organization, Role

VETERANS = 40
PROGRAMAS = ["Mentoria Escala", "Mentoria Elite", "Aceleração 90 dias"]
FIRST_NAMES = ["Aline", "Beatriz", "César", "Denise", "Elaine", "Fábio", "Giovana", "Hugo"]
LAST_NAMES = ["Moreira", "Teixeira", "Correia", "Cardoso", "Mendes", "Freitas", "Batista"]
CATEGORIAS = ["mentoria", "conteudo", "suporte", "resultados"]
COMENTARIOS = [
    "As reuniões semanais estão ajudando muito.",
    "Gostaria de mais material prático.",
    "Dobramos o número de clientes desde o início.",
    "Senti falta de acompanhamento no último mês.",
    "O plano de ação ficou claro e aplicável.",
]
# Status of the older cohort, in a fixed rotation so every status (and churn) shows up.
STATUS_CYCLE = [
    *[MentoradoStatus.ATIVO] * 12,
    *[MentoradoStatus.PAUSADO] * 2,
    *[MentoradoStatus.CONCLUIDO] * 3,
    *[MentoradoStatus.CANCELADO] * 3,
]
CENT = Decimal("0.01")


def _months_between(start: date, end: date) -> list[tuple[int, int]]:
    first = figures.month_index(start.year, start.month)
    last = figures.month_index(end.year, end.month)
    return [figures.month_of_index(i) for i in range(first, last + 1)]


def _store(
    org: Organization,
    mentees: list[Mentorado],
    rows: list[EvolucaoFinanceira],
    feedbacks: list[MentoradoFeedback],
) -> None:
    Mentorado.objects.bulk_create(mentees, batch_size=500)
    EvolucaoFinanceira.objects.bulk_create(rows, batch_size=1000)
    MentoradoFeedback.objects.bulk_create(feedbacks, batch_size=1000)
    # bulk_create skips the feedback service, which keeps the organization's NPS (the painel's
    # "NPS da organização (90 dias)" card and the API's nps_atual): computed once here.
    organization_nps_refresh(
        organization=org, months={(f.data_feedback.year, f.data_feedback.month) for f in feedbacks}
    )


def _converted_mentees(
    org: Organization, rng: random.Random, mentors: list[Membership]
) -> list[Mentorado]:
    """One mentee per converted demo lead, started on the conversion day."""
    tz = zoneinfo.ZoneInfo(org.timezone)
    mentees: list[Mentorado] = []
    for lead in Lead.objects.for_org(org).filter(status=LeadStatus.CONVERTIDO):
        converted = timezone.localtime(lead.converted_at or timezone.now(), tz).date()
        mentees.append(
            Mentorado(
                organization=org,
                lead=lead,
                mentor=rng.choice(mentors),
                nome_completo=lead.nome_completo,
                email=lead.email,
                telefone=lead.telefone,
                programa=rng.choice(PROGRAMAS),
                data_inicio=converted,
                status=MentoradoStatus.ATIVO,
            )
        )
    return mentees


def _veteran_mentees(
    org: Organization, rng: random.Random, mentors: list[Membership], today: date
) -> list[Mentorado]:
    """The older cohort (started 12-24 months ago), statuses in the fixed rotation."""
    mentees: list[Mentorado] = []
    for n in range(VETERANS):
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        inicio = today - timedelta(days=rng.randint(365, 730))
        status = STATUS_CYCLE[n % len(STATUS_CYCLE)]
        fim = None
        if status in FINISHED_STATUSES:
            fim = today - timedelta(days=rng.randint(5, 300))
        mentees.append(
            Mentorado(
                organization=org,
                mentor=rng.choice(mentors),
                nome_completo=f"{first} {last}",
                email=f"{first.lower()}.{last.lower()}.{n}@negocio.com.br".encode(
                    "ascii", "ignore"
                ).decode(),
                telefone=f"+55{rng.choice([11, 21, 31, 41])}9{rng.randint(60000000, 99999999)}",
                programa=rng.choice(PROGRAMAS),
                data_inicio=inicio,
                data_fim=fim,
                status=status,
            )
        )
    return mentees


def _monthly_reports(
    org: Organization,
    rng: random.Random,
    mentee: Mentorado,
    base: Decimal,
    last_day: date,
    rows: list[EvolucaoFinanceira],
) -> list[figures.MonthRevenue]:
    """Appends the mentee's monthly reports (from `base`) to `rows`; returns the months reported."""
    revenue = base
    months: list[figures.MonthRevenue] = []
    for ano, mes in _months_between(mentee.data_inicio, last_day):
        revenue = max(
            Decimal("0"),
            (revenue * Decimal(str(1 + rng.gauss(0.035, 0.08)))).quantize(
                CENT, rounding=ROUND_HALF_UP
            ),
        )
        if rng.random() < 0.06:  # a forgotten month now and then
            continue
        months.append(figures.MonthRevenue(ano, mes, revenue))
        rows.append(
            EvolucaoFinanceira(
                organization=org,
                mentorado=mentee,
                ano=ano,
                mes=mes,
                faturamento=revenue,
                lucro=(revenue * Decimal(str(rng.uniform(0.08, 0.3)))).quantize(CENT),
                numero_clientes=rng.randint(20, 400),
                ticket_medio=(revenue / rng.randint(20, 400)).quantize(CENT),
            )
        )
    return months


def _feedback_notes(
    org: Organization,
    rng: random.Random,
    mentee: Mentorado,
    today: date,
    feedbacks: list[MentoradoFeedback],
) -> list[figures.FeedbackNote]:
    """Appends the mentee's feedbacks (every 40-100 days) to `feedbacks`; returns their notes."""
    notes: list[figures.FeedbackNote] = []
    day = mentee.data_inicio + timedelta(days=rng.randint(20, 45))
    while day <= (mentee.data_fim or today):
        nota_geral = min(10, max(2, round(rng.gauss(8, 1.8))))
        nota_nps = min(10, max(0, nota_geral + rng.choice([-2, -1, 0, 0, 1, 1])))
        notes.append(figures.FeedbackNote(day, nota_geral))
        feedbacks.append(
            MentoradoFeedback(
                organization=org,
                mentorado=mentee,
                data_feedback=day,
                nota_nps=nota_nps,
                nota_geral=nota_geral,
                categoria=rng.choice(CATEGORIAS),
                comentario=rng.choice(COMENTARIOS),
            )
        )
        day += timedelta(days=rng.randint(40, 100))
    return notes


def seed(demo: DemoContext) -> str:
    rng = demo.rng
    org = demo.organization
    today = organization_today(org)
    mentors = demo.by_role(Role.MENTOR) or demo.by_role(Role.GESTOR)
    mentees = _converted_mentees(org, rng, mentors) + _veteran_mentees(org, rng, mentors, today)

    rows: list[EvolucaoFinanceira] = []
    feedbacks: list[MentoradoFeedback] = []
    for mentee in mentees:
        base = Decimal(rng.choice([8000, 12000, 18000, 25000, 40000, 65000]))
        mentee.faturamento_inicial = base
        # Reports until the month the mentee left; the current (open) month only for some.
        last_day = mentee.data_fim or today
        if mentee.data_fim is None and rng.random() < 0.5:
            last_day = today.replace(day=1) - timedelta(days=1)
        months = _monthly_reports(org, rng, mentee, base, last_day, rows)
        notes = _feedback_notes(org, rng, mentee, today, feedbacks)
        mentee.faturamento_atual = figures.faturamento_atual(months)
        mentee.crescimento_percentual = figures.crescimento_percentual(months)
        mentee.engagement_score = figures.engagement_score(months, notes, today)

    _store(org, mentees, rows, feedbacks)
    linked = sum(1 for m in mentees if m.lead_id)
    return (
        f"{len(mentees)} mentees ({linked} from converted leads), {len(rows)} monthly reports, "
        f"{len(feedbacks)} feedbacks"
    )
