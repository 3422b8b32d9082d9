"""Demo leads for `seed_demo`: a pipeline with history spread over the last six months.

Rows are bulk-created with explicit timestamps (the services would stamp "now"), so the
dashboards have believable funnels and cycle times from the first `make run`.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.utils import timezone

from leads.models import (
    PIPELINE_ORDER,
    Lead,
    LeadInteraction,
    LeadQualification,
    LeadStatus,
    LeadStatusChange,
    Task,
)
from leads.phones import phone_match_key
from leads.scores import qualification_score
from leads.scoring import lead_scores_recalculate
from organizations.demo import DemoContext
from organizations.models import Membership, Organization, Role

FIRST_NAMES = [
    "Ana",
    "Bruno",
    "Carla",
    "Daniel",
    "Eduarda",
    "Felipe",
    "Gabriel",
    "Helena",
    "Igor",
    "Juliana",
    "Karina",
    "Lucas",
    "Mariana",
    "Nicolas",
    "Otávio",
    "Patrícia",
    "Renata",
    "Sérgio",
    "Tatiana",
    "Vinícius",
    "Yasmin",
    "Thiago",
    "Larissa",
    "Rodrigo",
]
LAST_NAMES = [
    "Silva",
    "Santos",
    "Oliveira",
    "Souza",
    "Rodrigues",
    "Ferreira",
    "Alves",
    "Pereira",
    "Lima",
    "Gomes",
    "Costa",
    "Ribeiro",
    "Martins",
    "Carvalho",
    "Almeida",
    "Lopes",
    "Soares",
    "Fernandes",
    "Vieira",
    "Barbosa",
    "Rocha",
    "Dias",
    "Nascimento",
]
COMPANIES = [
    "Estúdio Bem-Estar",
    "Clínica Sorriso",
    "Loja da Praça",
    "Academia Movimento",
    "Padaria Pão Quente",
    "Consultório Vida",
    "Agência Criativa",
    "Escola Aprender",
    "Pet Feliz",
    "Ótica Visão",
    "Salão Bela",
    "Contabilidade Exata",
    "Restaurante Sabor",
    "Imobiliária Lar",
]
ORIGENS = ["instagram", "indicacao", "trafego_pago", "whatsapp", "evento", "site", "organico"]
RESULTADOS = ["contato_realizado", "sem_resposta", "agendamento", "proposta_enviada", "follow_up"]
TIPOS = ["ligacao", "whatsapp", "email", "reuniao"]
# Share of leads that stop at each stage (the rest move on), tuned for a plausible funnel.
FINAL_STATUS_WEIGHTS = {
    LeadStatus.NOVO: 18,
    LeadStatus.EM_CONTATO: 20,
    LeadStatus.QUALIFICADO: 14,
    LeadStatus.AGENDADO: 10,
    LeadStatus.NEGOCIACAO: 8,
    LeadStatus.CONVERTIDO: 12,
    LeadStatus.PERDIDO: 18,
}
LEADS = 300

RESUMOS = [
    "Primeiro contato",
    "Apresentação da mentoria",
    "Envio de proposta",
    "Dúvidas sobre pagamento",
    "Reunião de diagnóstico",
]


def _new_lead(
    org: Organization,
    rng: random.Random,
    n: int,
    now: datetime,
    closers: list[Membership],
    sdrs: list[Membership],
) -> tuple[Lead, str, Membership]:
    """The n-th demo lead (unsaved), its first name and its closer."""
    first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
    created = now - timedelta(days=rng.uniform(0, 180), minutes=rng.randint(0, 600))
    final = rng.choices(list(FINAL_STATUS_WEIGHTS), list(FINAL_STATUS_WEIGHTS.values()))[0]
    phone = f"+55{rng.choice([11, 21, 31, 41, 51, 61, 71, 81])}9{rng.randint(60000000, 99999999)}"
    closer = rng.choice(closers)
    lead = Lead(
        organization=org,
        nome_completo=f"{first} {last}",
        email=f"{first.lower()}.{last.lower()}.{n}@exemplo.com.br".encode("ascii", "ignore")
        .decode()
        .replace(" ", ""),
        telefone=phone,
        telefone_chave=phone_match_key(phone),
        empresa=rng.choice(COMPANIES),
        cargo=rng.choice(["Proprietário(a)", "Sócio(a)", "Diretor(a)", "Gerente"]),
        origem=rng.choice(ORIGENS),
        status=final,
        valor_potencial=Decimal(rng.choice([5000, 8000, 12000, 15000, 20000, 30000])),
        closer=closer,
        sdr=rng.choice(sdrs),
        tags=rng.sample(["vip", "evento-sp", "retorno", "parceiro"], k=rng.randint(0, 2)),
        created_at=created,
    )
    return lead, first, closer


def _walk_pipeline(
    org: Organization,
    rng: random.Random,
    lead: Lead,
    closer: Membership,
    now: datetime,
    changes: list[LeadStatusChange],
) -> datetime:
    """Walks the pipeline up to the lead's final status, appending a status change per step.

    Returns the moment after the last step (capped at `now`).
    """
    final = lead.status
    path = ["novo"]
    if final == LeadStatus.PERDIDO:
        stop = rng.randint(0, PIPELINE_ORDER.index("negociacao"))
        path = [*PIPELINE_ORDER[: stop + 1], "perdido"]
        lead.motivo_perda = rng.choice(["Sem orçamento", "Escolheu concorrente", "Sem resposta"])
    else:
        path = PIPELINE_ORDER[: PIPELINE_ORDER.index(final) + 1]
    moment = lead.created_at
    previous = ""
    for status in path:
        changes.append(
            LeadStatusChange(
                organization=org,
                lead=lead,
                from_status=previous,
                to_status=status,
                changed_by=closer,
                changed_at=moment,
            )
        )
        previous = status
        moment = min(now, moment + timedelta(days=rng.uniform(1, 12)))
    if final == LeadStatus.CONVERTIDO:
        lead.converted_at = changes[-1].changed_at
        lead.valor_fechado = lead.valor_potencial
    return moment


def _add_interactions(
    org: Organization,
    rng: random.Random,
    lead: Lead,
    closer: Membership,
    until: datetime,
    interactions: list[LeadInteraction],
) -> None:
    """Appends 0-6 interactions between the lead's creation and `until`; sets the last contact."""
    created = lead.created_at
    last_contact = None
    for _ in range(rng.randint(0 if lead.status == "novo" else 1, 6)):
        when = created + (until - created) * rng.random()
        resultado = rng.choice(RESULTADOS)
        interactions.append(
            LeadInteraction(
                organization=org,
                lead=lead,
                closer=closer,
                tipo_interacao=rng.choice(TIPOS),
                resultado=resultado,
                resumo=rng.choice(RESUMOS),
                data_interacao=when,
                duracao_minutos=rng.randint(5, 60),
                created_at=when,
            )
        )
        last_contact = max(last_contact or when, when)
    lead.last_interaction_at = last_contact


def _add_qualification(
    org: Organization, rng: random.Random, lead: Lead, qualifications: list[LeadQualification]
) -> None:
    """A BANT qualification for most leads past first contact."""
    if lead.status not in ("novo", "em_contato") and rng.random() < 0.8:
        fields: dict[str, Any] = {
            "budget_confirmado": rng.random() < 0.6,
            "authority_nivel": rng.choice(["decisor", "influenciador", "usuario"]),
            "necessidade_identificada": rng.random() < 0.8,
            "prazo_decisao": rng.choice(["imediato", "curto", "medio", "longo"]),
        }
        qualifications.append(
            LeadQualification(
                organization=org,
                lead=lead,
                dor_principal="Quer escalar as vendas sem perder qualidade",
                qualification_score=qualification_score(**fields),
                **fields,
            )
        )


def _add_task(
    org: Organization,
    rng: random.Random,
    lead: Lead,
    first: str,
    closer: Membership,
    now: datetime,
    tasks: list[Task],
) -> None:
    """A follow-up task for some open leads."""
    if not lead.is_closed and rng.random() < 0.3:
        tasks.append(
            Task(
                organization=org,
                lead=lead,
                responsavel=closer,
                tipo=rng.choice(["ligacao", "tarefa"]),
                titulo=f"Retornar para {first}",
                vencimento=now + timedelta(days=rng.randint(-3, 7), hours=rng.randint(0, 8)),
            )
        )


def seed(demo: DemoContext) -> str:
    rng = demo.rng
    org = demo.organization
    closers = demo.by_role(Role.CLOSER)
    sdrs = demo.by_role(Role.SDR)
    now = timezone.now()
    leads: list[Lead] = []
    changes: list[LeadStatusChange] = []
    interactions: list[LeadInteraction] = []
    qualifications: list[LeadQualification] = []
    tasks: list[Task] = []

    for n in range(LEADS):
        lead, first, closer = _new_lead(org, rng, n, now, closers, sdrs)
        moment = _walk_pipeline(org, rng, lead, closer, now, changes)
        _add_interactions(org, rng, lead, closer, min(now, moment), interactions)
        _add_qualification(org, rng, lead, qualifications)
        _add_task(org, rng, lead, first, closer, now, tasks)
        leads.append(lead)

    Lead.objects.bulk_create(leads, batch_size=500)
    LeadStatusChange.objects.bulk_create(changes, batch_size=1000)
    LeadInteraction.objects.bulk_create(interactions, batch_size=1000)
    LeadQualification.objects.bulk_create(qualifications, batch_size=500)
    Task.objects.bulk_create(tasks, batch_size=500)
    # Rows were bulk-created with default scores: compute them now (same code as the jobs), so
    # the demo does not show every lead "frio" with score 0 until the nightly decay.
    lead_scores_recalculate(organization_id=org.pk, lead_ids=[lead.pk for lead in leads])
    return (
        f"{len(leads)} leads, {len(interactions)} interactions, "
        f"{len(qualifications)} qualifications, {len(tasks)} tasks"
    )
