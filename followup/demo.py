"""Demo follow-up for `seed_demo`: an active sequence (email, task, WhatsApp) and some leads
enrolled in it, so `make run` shows the engine at work (emails go to the console).

Sends happen inside the sequence's window (09:00-18:00, São Paulo time, weekdays that are not
holidays): outside it, the first emails wait for the next window.
"""

from __future__ import annotations

import datetime

from followup import services
from leads.models import Lead, LeadStatus
from organizations.demo import DemoContext
from organizations.models import Role

STEPS = [
    {
        "tipo_acao": "email",
        "delay_dias": 0,
        "delay_horas": 0,
        "assunto": "{{ primeiro_nome }}, vamos retomar nossa conversa?",
        "mensagem": (
            "Olá, {{ primeiro_nome }}!\n\n"
            "Vi que conversamos há um tempo sobre a mentoria para a {{ empresa }}. "
            "Abrimos novas vagas para a próxima turma: quer que eu te mostre como funciona?\n\n"
            "Abraço,\n{{ closer_nome }}"
        ),
    },
    {
        "tipo_acao": "tarefa",
        "delay_dias": 1,
        "delay_horas": 0,
        "titulo": "Ligar para {{ nome_completo }}",
        "descricao": "Follow-up automático: confirmar se recebeu o email sobre a nova turma.",
    },
    {
        "tipo_acao": "whatsapp",
        "delay_dias": 2,
        "delay_horas": 0,
        "mensagem": "Oi, {{ primeiro_nome }}! Aqui é {{ closer_nome }}. Posso te ligar amanhã?",
        "template_name": "retomada_contato",
    },
]

DEMO_ENROLLED = 8


def seed(demo: DemoContext) -> str:
    admin = demo.by_role(Role.ADMIN)[0] if demo.by_role(Role.ADMIN) else None
    sequence = services.sequence_create(
        organization=demo.organization,
        actor=admin,
        data={
            "nome": "Reaquecimento de leads frios",
            "descricao": "Email, ligação e WhatsApp para leads que esfriaram.",
            "ativo": True,
            "criterios_ativacao": {
                "status": ["novo", "em_contato"],
                "temperatura": ["frio", "morno"],
            },
            "steps": STEPS,
            "horario_envio_inicio": datetime.time(9, 0),
            "horario_envio_fim": datetime.time(18, 0),
            "pausar_fim_semana": True,
            "pausar_feriados": True,
        },
    )
    # A few leads right away; the activation job (on commit) enrolls every other match.
    leads = list(
        Lead.objects.for_org(demo.organization)
        .filter(
            status__in=[LeadStatus.NOVO, LeadStatus.EM_CONTATO],
            email__isnull=False,
            closer__isnull=False,
        )
        .select_related("closer")
        .order_by("created_at")[:DEMO_ENROLLED]
    )
    result = services.followup_enroll_leads(sequence=sequence, leads=leads, actor=admin)
    return (
        f"sequence '{sequence.nome}' (active), {len(result.enrolled)} leads enrolled now, "
        "the other matching leads by the activation job"
    )
