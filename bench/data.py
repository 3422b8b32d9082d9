"""Benchmark data set: several organizations of realistic Brazilian leads, loaded with COPY.

Usage (a database of its own, migrated first; PostgreSQL only):

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench \\
        .venv/bin/python manage.py bench_data --orgs 5 --leads-per-org 100000
    # a smaller organization beside them, for growth comparisons:
    DATABASE_URL=... .venv/bin/python manage.py bench_data --start 6 --orgs 1 --leads-per-org 10000

Options: `--seed N` (default 42: same seed, same data), `--jobs N` (organizations generated at
the same time, default 2), `--replace` (delete and regenerate a `bench-i` of another size; one
already holding the requested number of leads is skipped).

Organization i is `bench-i` (name and slug). Its members log in with the password
`bench-password`: `admin@bench-i.test` (admin), `gestor@bench-i.test`, `closer1@...`,
`sdr1@...`, `mentor1@...` (20 closers, 5 SDRs and 10 mentors per 100,000 leads).

Per organization of N leads (seeded `random.Random`, so the same seed gives the same data):

- leads created over the last two years, names from Faker pt_BR pools with a realistic
  surname distribution (`COMMON_SURNAME` in about 6% of the names, `RARE_SURNAME` in
  `rare_surname_count(N)` of them, 10 per 100,000), valid E.164 mobile numbers and their
  `telefone_chave`, unique emails, some leads without email or phone;
- a pipeline mix (about 5% convertido, 23% perdido) with one status change per stage walked,
  about 4 interactions per lead (0-8), a BANT qualification for about half of them, and
  lead_score / temperatura computed with the project's own formulas (leads.scores);
- pending tasks for some open leads;
- every converted lead becomes a mentee of one of the mentors, with 12 monthly financial
  reports and a feedback every two or three months, figures from mentorados.figures;
- three follow-up sequences (email, task, WhatsApp steps) and executions for about 3% of the
  leads in every state, with step records and logs; about a third of the active executions are
  due now, so a dispatch benchmark has work.

Generation times and row counts: bench/README.md ("Data set generation").

Rows go in with COPY on the psycopg 3 connection, in one transaction per organization, with a
thread copying one chunk while the next is built; foreign keys stay checked. Most of the time
is PostgreSQL maintaining the indexes of the interactions and status history.
"""

from __future__ import annotations

import json
import multiprocessing
import random
import time
import unicodedata
import uuid
import zoneinfo
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.contrib.auth.hashers import make_password
from django.db import connection, connections, transaction
from django.utils import timezone

from followup.models import FollowupSequence, FollowupSequenceVersion
from followup.validation import normalize_criteria, normalize_steps
from leads import scores
from leads.phones import normalize_phone, phone_match_key
from mentorados import figures
from mentorados.demo import CATEGORIAS, COMENTARIOS, PROGRAMAS
from organizations.models import Membership, Organization, Role, User

PASSWORD = "bench-password"  # noqa: S105 - published benchmark credentials
MIN_LEADS = 1_000
MAX_LEADS = 1_000_000
DEFAULT_SEED = 42
CHUNK = 5_000  # leads generated and copied at a time: memory stays flat at any size

# Searched by the list benchmark: a surname in a few % of the leads and one in a handful.
COMMON_SURNAME = "Silva"
RARE_SURNAME = "Quixabeira"
# Share of leads carrying COMMON_SURNAME (as middle or last name), and of RARE_SURNAME.
RARE_SURNAME_PER_LEAD = 1 / 10_000

TIMEZONE = "America/Sao_Paulo"
HISTORY_DAYS = 730
CONVERTED_SHARE = 0.05
# Stage a lead stopped at (convertido is drawn separately, CONVERTED_SHARE of the leads).
OPEN_AND_LOST_WEIGHTS = {
    "novo": 20,
    "em_contato": 22,
    "qualificado": 14,
    "agendado": 9,
    "negociacao": 7,
    "perdido": 23,
}
FORWARD = [
    "novo",
    "em_contato",
    "qualificado",
    "agendado",
    "negociacao",
    "convertido",
]
# Probability that a lead has a qualification, by status (about half of all leads overall).
QUALIFIED_SHARE = {
    "novo": 0.1,
    "em_contato": 0.35,
    "qualificado": 0.85,
    "agendado": 0.9,
    "negociacao": 0.95,
    "convertido": 0.95,
    "perdido": 0.5,
}
# Interactions per lead (inclusive bounds) by status: about 4 on average.
INTERACTIONS = {
    "novo": (0, 3),
    "em_contato": (2, 6),
    "qualificado": (2, 8),
    "agendado": (2, 8),
    "negociacao": (2, 8),
    "convertido": (2, 8),
    "perdido": (1, 8),
}
ORIGENS = {
    "instagram": 30,
    "indicacao": 15,
    "google": 14,
    "facebook": 12,
    "evento": 8,
    "whatsapp": 8,
    "site": 8,
    "outro": 5,
}
TAGS = [
    "vip",
    "high-ticket",
    "evento-sp",
    "retorno",
    "parceiro",
    "black-friday",
    "lista-espera",
    "webinar",
]
VALORES = [Decimal(v) for v in (3000, 5000, 8000, 10000, 12000, 15000, 20000, 30000, 50000)]
# Brazilian surname frequencies (rough shares); every other Faker surname weighs FAKER_WEIGHT.
SURNAME_WEIGHTS = {
    COMMON_SURNAME: 3.0,
    "Santos": 2.4,
    "Oliveira": 2.0,
    "Souza": 1.8,
    "Rodrigues": 1.8,
    "Ferreira": 1.7,
    "Alves": 1.6,
    "Pereira": 1.5,
    "Lima": 1.4,
    "Gomes": 1.3,
    "Costa": 1.2,
    "Ribeiro": 1.2,
    "Martins": 1.1,
    "Carvalho": 1.1,
    "Almeida": 1.0,
    "Lopes": 1.0,
    "Sousa": 0.9,
    "Fernandes": 0.9,
    "Vieira": 0.9,
    "Barbosa": 0.8,
}
FAKER_WEIGHT = 0.5
EMAIL_DOMAINS = {
    "gmail.com": 50,
    "hotmail.com": 15,
    "outlook.com": 8,
    "yahoo.com.br": 6,
    "uol.com.br": 4,
    "bol.com.br": 3,
    "terra.com.br": 2,
    "icloud.com": 2,
}
# Valid Brazilian area codes (each checked with the app's normalizer when the pools are built).
DDDS = [11] * 12 + [21] * 5 + [31] * 4 + [41, 51, 61, 71, 81, 85, 19, 27, 48, 62, 92, 91, 98]
CARGOS = [
    "Proprietário(a)",
    "Sócio(a)",
    "CEO",
    "Diretor(a) comercial",
    "Gerente de vendas",
    "Gerente",
    "Coordenador(a) de marketing",
    "Empreendedor(a)",
    "Consultor(a)",
    "Médico(a)",
    "Dentista",
    "Nutricionista",
    "Advogado(a)",
    "Arquiteto(a)",
    "Psicólogo(a)",
]
RESUMOS = [
    "Primeiro contato",
    "Apresentação da mentoria",
    "Envio de proposta",
    "Dúvidas sobre pagamento",
    "Reunião de diagnóstico",
    "Retorno sobre a proposta",
    "Contato sem sucesso",
    "Confirmação da agenda",
    "Negociação de condições",
]
PROXIMOS_PASSOS = ["", "", "Ligar na próxima semana", "Enviar case de sucesso", "Agendar call"]
TIPOS_INTERACAO = {"ligacao": 30, "whatsapp": 40, "email": 15, "reuniao": 12, "presencial": 3}
RESULTADOS = {
    "contato_realizado": 35,
    "sem_resposta": 30,
    "follow_up": 15,
    "agendamento": 10,
    "proposta_enviada": 10,
}
MOTIVOS_PERDA = [
    "Sem orçamento",
    "Escolheu concorrente",
    "Sem resposta",
    "Não é o momento",
    "Achou caro",
]
DORES = [
    "Quer escalar as vendas sem perder qualidade",
    "Não consegue delegar",
    "Faturamento estagnado há meses",
    "Precisa estruturar o comercial",
    "Margem baixa",
]
SEQUENCES: list[dict[str, Any]] = [
    {
        "nome": "Reaquecimento de leads frios",
        "criterios_ativacao": {"status": ["novo", "em_contato"], "temperatura": ["frio"]},
        "steps": [
            {
                "tipo_acao": "email",
                "assunto": "{{ primeiro_nome }}, vamos retomar nossa conversa?",
                "mensagem": "Olá, {{ primeiro_nome }}! Abrimos novas vagas.\n\n{{ closer_nome }}",
            },
            {"tipo_acao": "tarefa", "delay_dias": 1, "titulo": "Ligar para {{ nome_completo }}"},
            {
                "tipo_acao": "whatsapp",
                "delay_dias": 2,
                "mensagem": "Oi, {{ primeiro_nome }}! Posso te ligar amanhã?",
                "template_name": "retomada_contato",
            },
        ],
    },
    {
        "nome": "Pós-reunião",
        "criterios_ativacao": {"status": ["agendado", "negociacao"]},
        "steps": [
            {
                "tipo_acao": "email",
                "assunto": "Resumo da nossa reunião",
                "mensagem": "{{ primeiro_nome }}, segue o resumo.\n\n{{ closer_nome }}",
            },
            {
                "tipo_acao": "email",
                "delay_dias": 3,
                "assunto": "Ficou alguma dúvida?",
                "mensagem": "Oi, {{ primeiro_nome }}, ficou alguma dúvida sobre a proposta?",
            },
        ],
    },
    {
        "nome": "Boas-vindas a novos leads",
        "criterios_ativacao": {"status": ["novo"]},
        "steps": [
            {
                "tipo_acao": "whatsapp",
                "mensagem": "Oi, {{ primeiro_nome }}! Recebemos seu contato.",
                "template_name": "boas_vindas",
            },
            {
                "tipo_acao": "email",
                "delay_horas": 4,
                "assunto": "Bem-vindo(a), {{ primeiro_nome }}",
                "mensagem": "Conheça a mentoria da {{ empresa }}.",
            },
            {"tipo_acao": "tarefa", "delay_dias": 2, "titulo": "Qualificar {{ nome_completo }}"},
        ],
    },
]
EXECUTION_SHARE = 0.03
EXECUTION_STATUS = {
    "active": 60,
    "completed": 20,
    "responded": 8,
    "cancelled": 6,
    "paused": 3,
    "failed": 3,
}
DUE_EVERY = 3  # one active execution in three is due now (proxima_execucao in the past)
CENT = Decimal("0.01")

# COPY column lists (every NOT NULL column without a database default is given).
COLUMNS: dict[str, list[str]] = {
    "leads": [
        "id", "organization_id", "nome_completo", "email", "telefone", "telefone_chave",
        "empresa", "cargo", "origem", "status", "temperatura", "lead_score", "valor_potencial",
        "valor_fechado", "closer_id", "sdr_id", "motivo_perda", "observacoes", "tags",
        "crm_provider", "crm_id", "crm_sync_error", "opt_out_email", "opt_out_whatsapp",
        "last_interaction_at", "converted_at", "created_at", "updated_at",
    ],
    "lead_status_changes": [
        "organization_id", "lead_id", "from_status", "to_status", "changed_by_id", "changed_at",
        "motivo",
    ],
    "lead_interactions": [
        "id", "organization_id", "lead_id", "closer_id", "tipo_interacao", "resumo",
        "detalhes_completos", "resultado", "valor", "data_interacao", "duracao_minutos",
        "proximo_passo", "created_at", "updated_at",
    ],
    "lead_qualification_details": [
        "id", "organization_id", "lead_id", "budget_confirmado", "valor_orcamento",
        "authority_nivel", "necessidade_identificada", "dor_principal", "prazo_decisao",
        "qualification_score", "updated_at",
    ],
    "tarefas": [
        "id", "organization_id", "lead_id", "responsavel_id", "tipo", "titulo", "descricao",
        "vencimento", "status", "origem", "concluida_em", "created_by_id", "created_at",
        "updated_at",
    ],
    "mentorados": [
        "id", "organization_id", "lead_id", "mentor_id", "nome_completo", "email", "telefone",
        "programa", "data_inicio", "data_fim", "status", "faturamento_inicial",
        "faturamento_atual", "crescimento_percentual", "engagement_score", "created_at",
        "updated_at",
    ],
    "mentorado_evolucao_financeira": [
        "id", "organization_id", "mentorado_id", "ano", "mes", "faturamento", "lucro",
        "numero_clientes", "ticket_medio", "observacoes", "created_at", "updated_at",
    ],
    "mentorado_feedbacks": [
        "id", "organization_id", "mentorado_id", "data_feedback", "nota_nps", "nota_geral",
        "categoria", "comentario", "pontos_positivos", "pontos_melhoria", "created_by_id",
        "created_at",
    ],
    "lead_followup_executions": [
        "id", "organization_id", "sequence_id", "versao_id", "lead_id", "status",
        "pause_reason", "step_atual", "proxima_execucao", "steps_executados", "tentativas",
        "data_resposta", "created_at", "updated_at", "finished_at",
    ],
    "followup_step_runs": [
        "execution_id", "step", "tipo_acao", "state", "outcome", "token", "attempts", "detail",
        "created_at", "updated_at",
    ],
    "followup_execution_logs": [
        "organization_id", "execution_id", "step", "tipo_acao", "evento", "level", "message",
        "error", "created_at",
    ],
}  # fmt: skip
# Columns the generator leaves at their model default (NOT NULL without a database default):
# appended to every row of their table at COPY time.
DEFAULTED: dict[str, dict[str, Any]] = {
    "lead_followup_executions": {"motivos_sem_envio": "[]"},
    "followup_step_runs": {"reason": "", "variant": ""},
    "followup_execution_logs": {"variante": ""},
}
# Children first: the order rows are deleted in (--replace) is the reverse of COPY's.
COPY_ORDER = list(COLUMNS)
EXTRA_TABLES = ["followup_sequence_versions", "lead_followup_sequences"]


def rare_surname_count(leads: int) -> int:
    """How many leads of an organization of `leads` carry RARE_SURNAME (10 per 100,000)."""
    return max(2, round(leads * RARE_SURNAME_PER_LEAD))


def member_counts(leads: int) -> dict[str, int]:
    """Members per role for an organization of `leads` (20 closers per 100,000 leads...)."""
    return {
        Role.ADMIN: 1,
        Role.GESTOR: 1,
        Role.CLOSER: min(200, max(2, round(leads / 5_000))),
        Role.SDR: min(50, max(1, round(leads / 20_000))),
        Role.MENTOR: min(100, max(2, round(leads / 10_000))),
    }


def member_email(role: str, n: int, index: int) -> str:
    """`admin@bench-1.test`, `gestor@...`, `closer3@bench-1.test`..."""
    local = role if role in (Role.ADMIN, Role.GESTOR) else f"{role}{n}"
    return f"{local}@bench-{index}.test"


def _ascii(text: str) -> str:
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return "".join(ch for ch in folded.lower() if ch.isalnum())


def _weighted(rng: random.Random, weights: Mapping[str, int]) -> Callable[[], str]:
    """A fast weighted chooser: `rng.choice` over a list holding each value `weight` times
    (an order of magnitude cheaper than `rng.choices` per draw)."""
    bag = [value for value, weight in weights.items() for _ in range(weight)]
    choice = rng.choice
    return lambda: choice(bag)


@dataclass
class Pools:
    """Names, companies and job titles drawn once from Faker pt_BR (Faker is slow per call)."""

    first_names: list[str]
    surnames: list[str]
    surname_weights: list[float]
    # Each surname repeated in proportion to its weight, for cheap `rng.choice` draws.
    surname_bag: list[str]
    companies: list[str]
    ascii_names: dict[str, str] = field(default_factory=dict)

    def ascii(self, text: str) -> str:
        folded = self.ascii_names.get(text)
        if folded is None:
            folded = self.ascii_names[text] = _ascii(text)
        return folded


def build_pools(seed: int) -> Pools:
    from faker import Faker

    fake = Faker("pt_BR")
    fake.seed_instance(seed)
    first_names = sorted({fake.first_name() for _ in range(3000)})
    faker_surnames = {fake.last_name() for _ in range(3000)}
    faker_surnames.discard(RARE_SURNAME)
    surnames = sorted(faker_surnames | set(SURNAME_WEIGHTS))
    weights = [SURNAME_WEIGHTS.get(name, FAKER_WEIGHT) for name in surnames]
    companies = sorted({fake.company() for _ in range(1500)})
    companies = [c for c in companies if RARE_SURNAME not in c]
    for ddd in set(DDDS):
        sample = f"+55{ddd}987654321"
        if normalize_phone(sample) != sample:  # raises InvalidPhone for an unknown area code
            raise ValueError(f"bad DDD {ddd}")
    bag = [
        name
        for name, weight in zip(surnames, weights, strict=True)
        for _ in range(round(weight * 20))
    ]
    return Pools(first_names, surnames, weights, bag, companies)


@dataclass
class OrgContext:
    """What one organization's generation needs: members, sequences, clock and randomness."""

    organization: Organization
    index: int
    leads: int
    rng: random.Random
    pools: Pools
    now: datetime
    members: dict[str, list[uuid.UUID]]
    sequences: list[tuple[uuid.UUID, int, list[dict[str, Any]]]]
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(COPY_ORDER, 0))

    def uuid(self) -> uuid.UUID:
        return uuid.UUID(int=self.rng.getrandbits(128), version=4)


@dataclass
class Rows:
    """One chunk's rows, per table."""

    tables: dict[str, list[tuple[Any, ...]]] = field(
        default_factory=lambda: {table: [] for table in COPY_ORDER}
    )

    def add(self, table: str, row: tuple[Any, ...]) -> None:
        self.tables[table].append(row)


# --- organizations and members -----------------------------------------------------------------


def organization_delete(organization: Organization) -> None:
    """Deletes a benchmark organization quickly: its big tables by organization_id with raw SQL
    (children first), then the organization and what little is left through the ORM, then the
    users of its `@bench-i.test` domain. Django's foreign keys are deferred in PostgreSQL, so
    the order only matters for speed."""
    org_id = organization.pk
    domain = f"@{organization.slug}.test"
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "DELETE FROM followup_step_runs WHERE execution_id IN "
            "(SELECT id FROM lead_followup_executions WHERE organization_id = %s)",
            [org_id],
        )
        for table in reversed(COPY_ORDER):
            if table != "followup_step_runs":
                cursor.execute(f"DELETE FROM {table} WHERE organization_id = %s", [org_id])
        cursor.execute(
            "DELETE FROM followup_sequence_versions WHERE sequence_id IN "
            "(SELECT id FROM lead_followup_sequences WHERE organization_id = %s)",
            [org_id],
        )
        cursor.execute("DELETE FROM lead_followup_sequences WHERE organization_id = %s", [org_id])
        Organization.objects.filter(pk=org_id).delete()
        User.objects.filter(email__endswith=domain, memberships__isnull=True).delete()


def _create_members(
    organization: Organization, index: int, leads: int, rng: random.Random, pools: Pools
) -> dict[str, list[uuid.UUID]]:
    # One hash for every member: PBKDF2 per user would cost seconds.
    password = make_password(PASSWORD)
    users: list[User] = []
    memberships: list[Membership] = []
    for role, count in member_counts(leads).items():
        for n in range(1, count + 1):
            nome = f"{rng.choice(pools.first_names)} {rng.choice(pools.surnames)}"
            user = User(email=member_email(role, n, index), nome_completo=nome, password=password)
            user.is_staff = role in (Role.ADMIN, Role.GESTOR)
            users.append(user)
            memberships.append(
                Membership(
                    id=uuid.UUID(int=rng.getrandbits(128), version=4),
                    organization=organization,
                    user=user,
                    role=role,
                    nome_completo=nome,
                    tipo_closer=rng.choice(["high ticket", "inside sales"])
                    if role == Role.CLOSER
                    else "",
                )
            )
    User.objects.bulk_create(users)
    for membership in memberships:
        membership.user_id = membership.user.pk  # set by bulk_create (PostgreSQL RETURNING)
    Membership.objects.bulk_create(memberships)
    members: dict[str, list[uuid.UUID]] = {}
    for membership in memberships:
        members.setdefault(membership.role, []).append(membership.pk)
    return members


def _create_sequences(
    organization: Organization, admin: uuid.UUID, now: datetime
) -> list[tuple[uuid.UUID, int, list[dict[str, Any]]]]:
    """The sequences through the ORM with the app's validation, but without the activation job
    of followup.services.sequence_create: the executions are generated below."""
    result = []
    for spec in SEQUENCES:
        steps = normalize_steps(spec["steps"])
        sequence = FollowupSequence.objects.create(
            organization=organization,
            nome=spec["nome"],
            descricao="Sequência do conjunto de dados de benchmark.",
            ativo=True,
            criterios_ativacao=normalize_criteria(spec["criterios_ativacao"]),
            steps=steps,
            versao=1,
            created_by_id=admin,
            created_at=now - timedelta(days=90),
        )
        version = FollowupSequenceVersion.objects.create(
            sequence=sequence, numero=1, steps=steps, created_at=now - timedelta(days=90)
        )
        result.append((sequence.pk, version.pk, steps))
    return result


# --- rows ----------------------------------------------------------------------------------------


class Generator:
    """Builds the rows of one organization chunk by chunk."""

    def __init__(self, ctx: OrgContext) -> None:
        self.ctx = ctx
        rng = ctx.rng
        self.rng = rng
        self.status = _weighted(rng, OPEN_AND_LOST_WEIGHTS)
        self.origem = _weighted(rng, ORIGENS)
        self.domain = _weighted(rng, EMAIL_DOMAINS)
        self.tipo = _weighted(rng, TIPOS_INTERACAO)
        self.resultado = _weighted(rng, RESULTADOS)
        self.execution_status = _weighted(rng, EXECUTION_STATUS)
        self.tz = zoneinfo.ZoneInfo(TIMEZONE)
        self.today = ctx.now.astimezone(self.tz).date()
        # Which lead indexes carry the rare surname: spread over the organization.
        self.rare = set(rng.sample(range(ctx.leads), rare_surname_count(ctx.leads)))
        # An affine map of the lead index onto 7 digits: unique phone numbers that look random.
        self.phone_a = rng.choice([7919, 7927, 7933, 7937, 7949, 7951])
        self.phone_b = rng.randrange(10**7)
        self.ticket_alvo = ctx.organization.ticket_alvo
        self.org_id = ctx.organization.pk
        self.closers = ctx.members[Role.CLOSER]
        self.sdrs = ctx.members[Role.SDR]
        self.mentors = ctx.members[Role.MENTOR]
        self.active = 0  # active executions so far

    # lead ---------------------------------------------------------------------------------------

    def _name(self, n: int) -> tuple[str, str, str]:
        rng, pools = self.rng, self.ctx.pools
        first = rng.choice(pools.first_names)
        bag = pools.surname_bag
        last = RARE_SURNAME if n in self.rare else rng.choice(bag)
        middle = ""
        if rng.random() < 0.35:
            other = rng.choice(bag)
            middle = f" {other}" if other != last else ""
        return f"{first}{middle} {last}", first, last

    def lead(self, n: int, rows: Rows) -> None:
        ctx, rng, now = self.ctx, self.rng, self.ctx.now
        lead_id = ctx.uuid()
        nome, first, last = self._name(n)
        # Slightly more recent leads than old ones (a growing business).
        created = now - timedelta(seconds=HISTORY_DAYS * 86400 * rng.random() ** 1.2 + 60)
        age = (now - created).total_seconds()
        status = "convertido" if rng.random() < CONVERTED_SHARE else self.status()
        if age < 3 * 86400 and status not in ("novo", "em_contato"):
            status = "novo"  # too fresh to be far down the pipeline
        if status == "perdido":
            path = [*FORWARD[: rng.randint(1, 5)], "perdido"]
        else:
            path = FORWARD[: FORWARD.index(status) + 1]
        closer = rng.choice(self.closers) if rng.random() < (0.6 if n % 5 else 0.95) else None
        if status != "novo" and closer is None:
            closer = rng.choice(self.closers)
        sdr = rng.choice(self.sdrs) if rng.random() < 0.7 else None

        # Status history: one move per stage walked, squeezed into the lead's age.
        gaps = [rng.uniform(0.1, 12) * 86400 for _ in path[1:]]
        span = sum(gaps)
        factor = min(1.0, age * 0.9 / span) if span else 1.0
        moment = created
        previous = ""
        moves: list[datetime] = []
        for step, gap in zip(path, [0.0, *gaps], strict=True):
            moment = moment + timedelta(seconds=gap * factor)
            moves.append(moment)
            rows.add(
                "lead_status_changes",
                (self.org_id, lead_id, previous, step, closer or sdr, moment, ""),
            )
            previous = step
        closed_at = moves[-1] if status in ("convertido", "perdido") else None

        # Interactions between creation and the close (or a while after the last move).
        low, high = INTERACTIONS[status]
        end = closed_at or min(now, moves[-1] + timedelta(days=rng.uniform(1, 45)))
        window = (end - created).total_seconds()
        moments = sorted(
            created + timedelta(seconds=window * rng.random())
            for _ in range(rng.randint(low, high))
        )
        contacts: list[scores.Contact] = []
        for k, when in enumerate(moments):
            resultado = self.resultado()
            if k == len(moments) - 1 and status == "convertido":
                resultado = "fechamento_positivo"
            elif k == len(moments) - 1 and status == "perdido" and rng.random() < 0.5:
                resultado = "fechamento_negativo"
            tipo = self.tipo()
            contacts.append(scores.Contact(resultado, when))
            rows.add(
                "lead_interactions",
                (
                    ctx.uuid(),
                    self.org_id,
                    lead_id,
                    closer if k or sdr is None else sdr,
                    tipo,
                    rng.choice(RESUMOS),
                    "",
                    resultado,
                    None,
                    when,
                    rng.randint(5, 90) if tipo in ("ligacao", "reuniao", "presencial") else None,
                    rng.choice(PROXIMOS_PASSOS),
                    when,
                    when,
                ),
            )
        last_interaction = moments[-1] if moments else None

        valor = rng.choice(VALORES) if rng.random() < 0.85 else None
        qualification = None
        if rng.random() < QUALIFIED_SHARE[status]:
            advanced = FORWARD.index(path[-2] if status == "perdido" else status) >= 2
            bant: dict[str, Any] = {
                "budget_confirmado": rng.random() < (0.7 if advanced else 0.3),
                "authority_nivel": rng.choice(
                    ["decisor", "decisor", "influenciador", "usuario", "desconhecido"]
                ),
                "necessidade_identificada": rng.random() < (0.85 if advanced else 0.5),
                "prazo_decisao": rng.choice(["imediato", "curto", "medio", "longo", "indefinido"]),
            }
            qualification = scores.qualification_score(**bant)
            rows.add(
                "lead_qualification_details",
                (
                    ctx.uuid(),
                    self.org_id,
                    lead_id,
                    bant["budget_confirmado"],
                    valor if bant["budget_confirmado"] else None,
                    bant["authority_nivel"],
                    bant["necessidade_identificada"],
                    rng.choice(DORES),
                    bant["prazo_decisao"],
                    qualification,
                    moves[min(2, len(moves) - 1)],
                ),
            )
        origem = self.origem()
        score = scores.lead_score(
            status=status,
            qualification_score=qualification,
            interactions=contacts,
            valor_potencial=valor,
            origem=origem,
            ticket_alvo=self.ticket_alvo,
            now=now,
        )
        temperatura = scores.temperatura(
            lead_score=score, last_contact_at=scores.last_contact_at(contacts), now=now
        )

        pools = self.ctx.pools
        email = None
        if rng.random() < 0.92:
            email = f"{pools.ascii(first)}.{pools.ascii(last)}{n}@{self.domain()}"
        telefone = chave = None
        if rng.random() < 0.95:
            digits = (n * self.phone_a + self.phone_b) % 10**7
            telefone = f"+55{rng.choice(DDDS)}9{rng.randint(6, 9)}{digits:07d}"
            chave = phone_match_key(telefone)
        tags = rng.sample(TAGS, k=rng.choice((0, 0, 0, 1, 1, 2, 3)))
        converted_at = closed_at if status == "convertido" else None
        valor_fechado = None
        if converted_at is not None:
            base = valor or rng.choice(VALORES)
            valor_fechado = (base * Decimal(str(rng.uniform(0.8, 1.0)))).quantize(CENT)
        rows.add(
            "leads",
            (
                lead_id,
                self.org_id,
                nome,
                email,
                telefone,
                chave,
                rng.choice(pools.companies),
                rng.choice(CARGOS),
                origem,
                status,
                temperatura,
                score,
                valor,
                valor_fechado,
                closer,
                sdr,
                rng.choice(MOTIVOS_PERDA) if status == "perdido" else "",
                "",
                json.dumps(tags),
                "",
                "",
                "",
                rng.random() < 0.02,
                rng.random() < 0.02,
                last_interaction,
                converted_at,
                created,
                max(moves[-1], last_interaction or created),
            ),
        )
        is_open = closed_at is None
        if is_open and closer is not None and rng.random() < 0.08:
            due = now + timedelta(hours=rng.uniform(-72, 240))
            rows.add(
                "tarefas",
                (
                    ctx.uuid(),
                    self.org_id,
                    lead_id,
                    closer,
                    rng.choice(["ligacao", "tarefa"]),
                    f"Retornar para {first}",
                    "",
                    due,
                    "pendente",
                    "manual",
                    None,
                    closer,
                    moves[-1],
                    moves[-1],
                ),
            )
        if converted_at is not None:
            self.mentorado(lead_id, nome, email, telefone, converted_at, rows)
        if email and telefone and rng.random() < EXECUTION_SHARE:
            self.execution(lead_id, created, status, rows)

    # mentee -------------------------------------------------------------------------------------

    def mentorado(
        self,
        lead_id: uuid.UUID,
        nome: str,
        email: str | None,
        telefone: str | None,
        converted_at: datetime,
        rows: Rows,
    ) -> None:
        ctx, rng, today = self.ctx, self.rng, self.today
        mentorado_id = ctx.uuid()
        mentor = rng.choice(self.mentors)
        inicio = converted_at.astimezone(self.tz).date()
        status, fim = "ativo", None
        tenure = (today - inicio).days
        draw = rng.random()
        if tenure > 300 and draw < 0.15:
            status, fim = "concluido", min(today, inicio + timedelta(days=365))
        elif tenure > 60 and draw < 0.25:
            status, fim = "cancelado", inicio + timedelta(days=rng.randint(30, tenure))
        elif draw < 0.3:
            status = "pausado"
        # Twelve monthly reports: the first 12 months of the programme, or for recent mentees
        # the 12 closed months before today (the months before the start are the baseline they
        # reported when joining). The current (open) month is never reported.
        last_closed = figures.month_index(today.year, today.month) - 1
        first = min(figures.month_index(inicio.year, inicio.month), last_closed - 11)
        base = Decimal(rng.choice([8000, 12000, 18000, 25000, 40000, 65000, 120000]))
        revenue = base
        months: list[figures.MonthRevenue] = []
        created = datetime.combine(inicio, datetime.min.time(), tzinfo=self.tz)
        for index in range(first, first + 12):
            ano, mes = figures.month_of_index(index)
            if index > first:
                # About 3% a month once in the programme, flat-ish before it.
                mean = 0.03 if index > figures.month_index(inicio.year, inicio.month) else 0.005
                growth = Decimal(str(round(1 + rng.gauss(mean, 0.06), 4)))
                revenue = max(Decimal("0"), (revenue * growth).quantize(CENT, ROUND_HALF_UP))
            months.append(figures.MonthRevenue(ano, mes, revenue))
            clientes = rng.randint(20, 400)
            reported = max(created, datetime(ano, mes, 28, 12, tzinfo=self.tz))
            reported = min(reported, ctx.now)
            rows.add(
                "mentorado_evolucao_financeira",
                (
                    ctx.uuid(),
                    self.org_id,
                    mentorado_id,
                    ano,
                    mes,
                    revenue,
                    (revenue * Decimal(str(round(rng.uniform(-0.05, 0.3), 3)))).quantize(CENT),
                    clientes,
                    (revenue / clientes).quantize(CENT),
                    "",
                    reported,
                    reported,
                ),
            )
        notes: list[figures.FeedbackNote] = []
        last_day = fim or today
        day = min(last_day, inicio + timedelta(days=rng.randint(20, 45)))
        while day <= last_day:
            nota_geral = min(10, max(2, round(rng.gauss(8, 1.8))))
            nota_nps = min(10, max(0, nota_geral + rng.choice([-2, -1, 0, 0, 1, 1])))
            notes.append(figures.FeedbackNote(day, nota_geral))
            at = min(ctx.now, datetime.combine(day, datetime.min.time(), tzinfo=self.tz))
            rows.add(
                "mentorado_feedbacks",
                (
                    ctx.uuid(),
                    self.org_id,
                    mentorado_id,
                    day,
                    nota_nps,
                    nota_geral,
                    rng.choice(CATEGORIAS),
                    rng.choice(COMENTARIOS),
                    "",
                    "",
                    mentor,
                    min(ctx.now, at + timedelta(hours=rng.uniform(9, 18))),
                ),
            )
            day += timedelta(days=rng.randint(45, 100))
        rows.add(
            "mentorados",
            (
                mentorado_id,
                self.org_id,
                lead_id,
                mentor,
                nome,
                email,
                telefone,
                rng.choice(PROGRAMAS),
                inicio,
                fim,
                status,
                base,
                figures.faturamento_atual(months),
                figures.crescimento_percentual(months),
                figures.engagement_score(months, notes, today),
                converted_at,
                ctx.now,
            ),
        )

    # follow-up ----------------------------------------------------------------------------------

    def execution(self, lead_id: uuid.UUID, created: datetime, status: str, rows: Rows) -> None:
        ctx, rng, now = self.ctx, self.rng, self.ctx.now
        sequence_id, version_id, steps = rng.choice(ctx.sequences)
        execution_id = ctx.uuid()
        closed = status in ("convertido", "perdido")
        state = "cancelled" if closed else self.execution_status()
        enrolled = max(created, now - timedelta(days=60)) + timedelta(minutes=rng.randint(1, 600))
        enrolled = min(enrolled, now - timedelta(minutes=5))
        total = len(steps)
        done = {
            "completed": total,
            "active": rng.randint(0, total - 1),
            "paused": rng.randint(0, total - 1),
        }.get(state, rng.randint(1, total - 1))
        logs: list[tuple[Any, ...]] = [
            (self.org_id, execution_id, None, "", "enrolled", "info", "Inscrito.", "", enrolled)
        ]
        executed: list[dict[str, Any]] = []
        at = enrolled
        span = (now - enrolled).total_seconds()
        for step in range(done):
            at = at + timedelta(seconds=span * rng.uniform(0.05, 1 / (total + 1)))
            tipo = steps[step]["tipo_acao"]
            failed = state == "failed" and step == done - 1
            executed.append(
                {
                    "step": step,
                    "tipo_acao": tipo,
                    "executed_at": at.isoformat(),
                    "success": not failed,
                    "detail": "erro do provedor" if failed else "",
                }
            )
            rows.add(
                "followup_step_runs",
                (
                    execution_id,
                    step,
                    tipo,
                    "failed" if failed else "done",
                    "failed" if failed else "sent",
                    ctx.uuid(),
                    1,
                    "",
                    at,
                    at,
                ),
            )
            logs.append(
                (
                    self.org_id,
                    execution_id,
                    step,
                    tipo,
                    "failed" if failed else "executed",
                    "error" if failed else "info",
                    "Passo executado." if not failed else "O passo falhou.",
                    "erro do provedor" if failed else "",
                    at,
                )
            )
        proxima = finished = resposta = None
        pause_reason = ""
        if state == "active":
            self.active += 1
            if self.active % DUE_EVERY == 1:  # the first one too: small organizations get work
                proxima = now - timedelta(minutes=rng.uniform(1, 180))
            else:
                proxima = now + timedelta(hours=rng.uniform(1, 120))
        elif state == "paused":
            pause_reason = "manual"
            logs.append((self.org_id, execution_id, None, "", "paused", "info", "", "", at))
        else:
            finished = min(now, at + timedelta(minutes=rng.randint(1, 600)))
            if state == "responded":
                resposta = finished
            if state != "failed":
                logs.append((self.org_id, execution_id, None, "", state, "info", "", "", finished))
        rows.add(
            "lead_followup_executions",
            (
                execution_id,
                self.org_id,
                sequence_id,
                version_id,
                lead_id,
                state,
                pause_reason,
                done,
                proxima,
                json.dumps(executed),
                0,
                resposta,
                enrolled,
                finished or at,
                finished,
            ),
        )
        for log in logs:
            rows.add("followup_execution_logs", log)


# --- loading -------------------------------------------------------------------------------------


def _copy_rows(raw: Any, rows: Rows) -> None:
    """COPY one chunk, table by table in foreign-key order, on the psycopg 3 connection."""
    with raw.cursor() as cursor:
        for table in COPY_ORDER:
            if not rows.tables[table]:
                continue
            defaulted = DEFAULTED.get(table, {})
            columns = [*COLUMNS[table], *defaulted]
            tail = tuple(defaulted.values())
            sql = f"COPY {table} ({', '.join(columns)}) FROM STDIN"
            with cursor.copy(sql) as copy:
                for row in rows.tables[table]:
                    copy.write_row((*row, *tail))


@dataclass
class OrgResult:
    """What one organization's generation wrote, and how long it took."""

    slug: str
    seconds: float
    counts: dict[str, int]


def generate_organization(
    *, index: int, leads: int, seed: int, pools: Pools, now: datetime | None = None
) -> OrgResult:
    """Creates organization `bench-<index>` with `leads` leads and everything around them, in
    one transaction."""
    started = time.monotonic()
    rng = random.Random(seed * 1_000_003 + index)
    now = now or timezone.now()
    slug = f"bench-{index}"
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL synchronous_commit = off")
        organization = Organization.objects.create(
            nome=slug,
            slug=slug,
            estado="SP",
            timezone=TIMEZONE,
            ticket_alvo=Decimal("10000.00"),
            created_at=now - timedelta(days=HISTORY_DAYS + 30),
        )
        members = _create_members(organization, index, leads, rng, pools)
        sequences = _create_sequences(organization, members[Role.ADMIN][0], now)
        ctx = OrgContext(organization, index, leads, rng, pools, now, members, sequences)
        generator = Generator(ctx)
        # The database works on one chunk (in a thread, on the same connection and transaction)
        # while Python builds the next: the two halves of the load overlap on two cores.
        raw = connection.connection
        pending: Future[None] | None = None
        with ThreadPoolExecutor(max_workers=1) as loader:
            for start in range(0, leads, CHUNK):
                rows = Rows()
                for n in range(start, min(leads, start + CHUNK)):
                    generator.lead(n, rows)
                for table in COPY_ORDER:
                    ctx.counts[table] += len(rows.tables[table])
                if pending is not None:
                    pending.result()
                pending = loader.submit(_copy_rows, raw, rows)
            if pending is not None:
                pending.result()
    counts = {"members": sum(len(ids) for ids in members.values()), **ctx.counts}
    return OrgResult(slug, time.monotonic() - started, counts)


def _generate_in_child(index: int, leads: int, seed: int, pools: Pools, now: datetime) -> OrgResult:
    connections.close_all()  # never share the parent's socket: this process opens its own
    try:
        return generate_organization(index=index, leads=leads, seed=seed, pools=pools, now=now)
    finally:
        connections.close_all()


def generate_organizations(
    *, indexes: Sequence[int], leads: int, seed: int, pools: Pools, jobs: int
) -> Iterator[OrgResult]:
    """Generates several organizations, `jobs` at a time in forked processes (each with its own
    connection and transaction); yields each result as it completes."""
    now = timezone.now()
    if jobs <= 1 or len(indexes) <= 1:
        for index in indexes:
            yield generate_organization(index=index, leads=leads, seed=seed, pools=pools, now=now)
        return
    connections.close_all()
    context = multiprocessing.get_context("fork")
    with ProcessPoolExecutor(max_workers=jobs, mp_context=context) as pool:
        futures = [
            pool.submit(_generate_in_child, index, leads, seed, pools, now) for index in indexes
        ]
        for future in as_completed(futures):
            yield future.result()


def analyze() -> None:
    """VACUUM (ANALYZE) the whole database, as autovacuum does on a live one: planner
    statistics, dead rows gone, and the visibility map without which no index-only scan skips
    the heap (freshly COPYed pages are not all-visible until vacuumed). Every table, not only
    those the generator wrote: `rollups_backfill` replaces the dashboards' rollup rows (delete
    and insert), and an unvacuumed rollup table kept ~10 M dead rows that tripled the sales
    dashboard's time at 1,000,000 leads."""
    with connection.cursor() as cursor:
        cursor.execute("VACUUM (ANALYZE)")


def common_surname_share(pools: Pools) -> float:
    """Expected share of names with COMMON_SURNAME (last name or, 35% of the time, middle)."""
    total = sum(pools.surname_weights)
    p = pools.surname_weights[pools.surnames.index(COMMON_SURNAME)] / total
    return p + 0.35 * p * (1 - p)
