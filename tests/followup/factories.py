"""Follow-up test data: sequences built through the service (so versions exist) and due
executions inserted directly (the engine is what the tests exercise)."""

from __future__ import annotations

import datetime
from datetime import timedelta
from typing import Any

from django.utils import timezone

from followup import services
from followup.models import (
    ExecutionStatus,
    FollowupExecution,
    FollowupSequence,
    FollowupSequenceVersion,
)
from leads.models import Lead
from organizations.models import Organization

EMAIL_STEP = {
    "tipo_acao": "email",
    "delay_dias": 0,
    "delay_horas": 0,
    "assunto": "Oi {{ primeiro_nome }}",
    "mensagem": "Olá {{ nome_completo }}, da {{ empresa }}. Abraço, {{ closer_nome }}",
}
WHATSAPP_STEP = {
    "tipo_acao": "whatsapp",
    "delay_dias": 0,
    "delay_horas": 0,
    "mensagem": "Oi {{ primeiro_nome }}!",
    "template_name": "retomada_contato",
}
TASK_STEP = {
    "tipo_acao": "tarefa",
    "delay_dias": 1,
    "delay_horas": 0,
    "titulo": "Ligar para {{ nome_completo }}",
    "descricao": "Follow-up",
}
CALL_STEP = {**TASK_STEP, "tipo_acao": "ligacao", "titulo": "Ligação para {{ primeiro_nome }}"}


def make_sequence(
    organization: Organization,
    *,
    steps: list[dict[str, Any]] | None = None,
    ativo: bool = True,
    criterios: dict[str, Any] | None = None,
    whole_day: bool = True,
    **fields: Any,
) -> FollowupSequence:
    """A sequence through the service; by default sending all day, every day."""
    data: dict[str, Any] = {
        "nome": fields.pop("nome", "Sequência de teste"),
        "ativo": ativo,
        "criterios_ativacao": criterios or {},
        "steps": steps if steps is not None else [EMAIL_STEP],
        "pausar_fim_semana": not whole_day,
        "pausar_feriados": not whole_day,
    }
    if whole_day:
        data["horario_envio_inicio"] = datetime.time(0, 0)
        data["horario_envio_fim"] = datetime.time(0, 0)
    data.update(fields)
    return services.sequence_create(organization=organization, actor=None, data=data)


def make_execution(
    sequence: FollowupSequence,
    lead: Lead,
    *,
    due: datetime.datetime | None = None,
    status: str = ExecutionStatus.ACTIVE,
    **fields: Any,
) -> FollowupExecution:
    version = FollowupSequenceVersion.objects.get(sequence=sequence, numero=sequence.versao)
    return FollowupExecution.objects.create(
        organization_id=sequence.organization_id,
        sequence=sequence,
        versao=version,
        lead=lead,
        status=status,
        proxima_execucao=due or timezone.now() - timedelta(minutes=1),
        **fields,
    )
