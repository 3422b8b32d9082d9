"""Follow-up shapes: sequences (steps and criteria validated field by field), executions, logs."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from followup.models import (
    LOG_ENTRY_FIELDS,
    ExecutionStatus,
    FollowupExecution,
    FollowupExecutionLog,
    FollowupSequence,
)
from followup.validation import (
    SequenceDataInvalid,
    normalize_criteria,
    normalize_steps,
    validate_window,
)
from leads.models import Lead, TipoInteracao
from organizations.scoping import OrgPrimaryKeyRelatedField


@extend_schema_field(
    {
        "type": "array",
        "items": {
            "type": "object",
            "required": ["tipo_acao"],
            "properties": {
                "tipo_acao": {"type": "string", "enum": ["email", "whatsapp", "ligacao", "tarefa"]},
                "delay_dias": {"type": "integer", "minimum": 0},
                "delay_horas": {"type": "integer", "minimum": 0},
                "assunto": {"type": "string", "description": "email"},
                "mensagem": {"type": "string", "description": "email, whatsapp"},
                "template_name": {"type": "string", "description": "whatsapp (fora da janela)"},
                "titulo": {"type": "string", "description": "ligacao, tarefa"},
                "descricao": {"type": "string", "description": "ligacao, tarefa"},
                "variantes": {
                    "type": "array",
                    "description": "email, whatsapp: 2 a 5 variantes A/B da mensagem",
                    "items": {
                        "type": "object",
                        "required": ["id", "mensagem"],
                        "properties": {
                            "id": {"type": "string", "pattern": "^[a-z0-9_-]{1,20}$"},
                            "mensagem": {"type": "string"},
                            "assunto": {"type": "string", "description": "email"},
                            "peso": {"type": "integer", "minimum": 1, "maximum": 100},
                        },
                    },
                },
            },
        },
    }
)
class StepsField(serializers.JSONField):
    """Ordered steps; errors are keyed by step index then field."""

    def to_internal_value(self, data: Any) -> Any:
        try:
            return normalize_steps(super().to_internal_value(data))
        except SequenceDataInvalid as exc:
            raise serializers.ValidationError(exc.details) from None


@extend_schema_field(
    {
        "type": "object",
        "properties": {
            "status": {"type": "array", "items": {"type": "string"}},
            "temperatura": {"type": "array", "items": {"type": "string"}},
            "origem": {"type": "array", "items": {"type": "string"}},
            "tags": {"type": "array", "items": {"type": "string"}},
            "score_min": {"type": "integer", "minimum": 0, "maximum": 100},
            "score_max": {"type": "integer", "minimum": 0, "maximum": 100},
            "dias_sem_interacao": {"type": "integer", "minimum": 0},
        },
        "additionalProperties": False,
    }
)
class CriteriaField(serializers.JSONField):
    """Activation criteria; unknown keys and bad enum values are errors keyed by criterion."""

    def to_internal_value(self, data: Any) -> Any:
        try:
            return normalize_criteria(super().to_internal_value(data))
        except SequenceDataInvalid as exc:
            raise serializers.ValidationError(exc.details) from None


class SequenceSerializer(serializers.ModelSerializer[FollowupSequence]):
    steps = StepsField(label=gettext_lazy("Passos"))
    criterios_ativacao = CriteriaField(label=gettext_lazy("Critérios de ativação"), required=False)
    created_by_id = serializers.UUIDField(read_only=True, allow_null=True)
    estatisticas = serializers.SerializerMethodField()

    class Meta:
        model = FollowupSequence
        fields = [
            "id",
            "nome",
            "descricao",
            "ativo",
            "criterios_ativacao",
            "steps",
            "versao",
            "horario_envio_inicio",
            "horario_envio_fim",
            "pausar_fim_semana",
            "pausar_feriados",
            "created_by_id",
            "created_at",
            "updated_at",
            "estatisticas",
        ]
        read_only_fields = ["id", "versao", "created_by_id", "created_at", "updated_at"]

    @extend_schema_field(
        {
            "type": "object",
            "description": "Execuções por status",
            "additionalProperties": {"type": "integer"},
        }
    )
    def get_estatisticas(self, sequence: FollowupSequence) -> dict[str, int] | None:
        if not hasattr(sequence, "n_active"):
            return None
        return {status: getattr(sequence, f"n_{status}", 0) for status in ExecutionStatus.values}

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        instance = self.instance
        start = attrs.get("horario_envio_inicio", getattr(instance, "horario_envio_inicio", None))
        end = attrs.get("horario_envio_fim", getattr(instance, "horario_envio_fim", None))
        try:
            validate_window(start, end)
        except SequenceDataInvalid as exc:
            raise serializers.ValidationError(exc.details) from None
        return attrs


class SequenceRefSerializer(serializers.ModelSerializer[FollowupSequence]):
    class Meta:
        model = FollowupSequence
        fields = ["id", "nome", "ativo"]


class LeadRefSerializer(serializers.ModelSerializer[Lead]):
    class Meta:
        model = Lead
        fields = ["id", "nome_completo", "email", "telefone", "status"]


class ExecutionSerializer(serializers.ModelSerializer[FollowupExecution]):
    sequence_id = serializers.UUIDField(read_only=True)
    lead_id = serializers.UUIDField(read_only=True)
    sequence = SequenceRefSerializer(read_only=True)
    lead = LeadRefSerializer(read_only=True)
    versao = serializers.IntegerField(source="versao.numero", read_only=True)
    total_steps = serializers.SerializerMethodField()

    class Meta:
        model = FollowupExecution
        fields = [
            "id",
            "sequence_id",
            "sequence",
            "lead_id",
            "lead",
            "versao",
            "status",
            "pause_reason",
            "step_atual",
            "total_steps",
            "proxima_execucao",
            "steps_executados",
            "tentativas",
            "data_resposta",
            "motivos_sem_envio",
            "created_at",
            "updated_at",
            "finished_at",
        ]
        read_only_fields = fields

    def get_total_steps(self, execution: FollowupExecution) -> int:
        return len(execution.versao.steps)


class ExecutionLogSerializer(serializers.ModelSerializer[FollowupExecutionLog]):
    execution_id = serializers.UUIDField(read_only=True)

    class Meta:
        model = FollowupExecutionLog
        fields = [
            "id",
            "execution_id",
            *LOG_ENTRY_FIELDS,
            "variante",
            "created_at",
        ]
        read_only_fields = fields


def _visible_leads(queryset: Any, context: dict[str, Any]) -> Any:
    membership = context.get("membership")
    return queryset.visible_to(membership) if membership else queryset.none()


class EnrollSerializer(serializers.Serializer[Any]):
    lead_ids = serializers.ListField(
        child=serializers.UUIDField(), min_length=1, max_length=1000, allow_empty=False
    )


class EnrollResultSerializer(serializers.Serializer[Any]):
    enrolled = serializers.ListField(child=serializers.DictField(child=serializers.CharField()))
    skipped = serializers.ListField(child=serializers.DictField(child=serializers.CharField()))


class ResponseSerializer(serializers.Serializer[Any]):
    lead_id = OrgPrimaryKeyRelatedField(
        label=gettext_lazy("Lead"), queryset=Lead.objects.all(), scope=_visible_leads
    )
    channel = serializers.ChoiceField(choices=TipoInteracao.choices)
    message = serializers.CharField(max_length=10_000, trim_whitespace=True)
    received_at = serializers.DateTimeField(label=gettext_lazy("Recebida em"), required=False)

    def validate_received_at(self, value: Any) -> Any:
        # Client clocks drift; up to a minute ahead is taken as "now".
        if value > timezone.now() + timedelta(minutes=1):
            raise serializers.ValidationError(_("Não pode estar no futuro."))
        return value


class ResponseResultSerializer(serializers.Serializer[Any]):
    success = serializers.BooleanField()
    message = serializers.CharField()
    responded = serializers.IntegerField()
    interaction_id = serializers.UUIDField()
