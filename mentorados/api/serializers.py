"""Mentee, financial evolution, feedback and dashboard shapes (contract field names)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from decimal import Decimal
from typing import Any

from django.db.models import QuerySet
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from leads import validation
from mentorados import selectors
from mentorados.models import (
    EVOLUCAO_FIELDS,
    FEEDBACK_FIELDS,
    FIRST_YEAR,
    MENTORADO_FIELDS,
    EvolucaoFinanceira,
    Mentorado,
    MentoradoFeedback,
)
from mentorados.services import MENTOR_ROLES, organization_today
from organizations.models import Membership, Organization
from organizations.scoping import OrgPrimaryKeyRelatedField


def _eligible_mentors(
    queryset: QuerySet[Membership], context: dict[str, Any]
) -> QuerySet[Membership]:
    return queryset.filter(ativo=True, role__in=MENTOR_ROLES)


def _today(context: Mapping[str, Any]) -> date:
    organization: Organization = context["organization"]
    return organization_today(organization)


class MentorRefSerializer(serializers.ModelSerializer[Membership]):
    class Meta:
        model = Membership
        fields = ["id", "nome_completo"]


class MentoradoSerializer(serializers.ModelSerializer[Mentorado]):
    """A mentee. faturamento_atual, crescimento_percentual and engagement_score are computed
    (mentorados.figures) and read-only; lead_id is set by the lead's conversion."""

    mentor_id = OrgPrimaryKeyRelatedField(
        label=gettext_lazy("Mentor"),
        source="mentor",
        queryset=Membership.objects.all(),
        scope=_eligible_mentors,
        required=False,
        allow_null=True,
        help_text="Membro ativo com papel mentor, admin ou gestor desta organização.",
    )
    mentor = MentorRefSerializer(read_only=True, allow_null=True)
    lead_id = serializers.UUIDField(read_only=True, allow_null=True)
    email = serializers.EmailField(
        max_length=254, required=False, allow_null=True, allow_blank=True
    )
    telefone = serializers.CharField(
        max_length=40, required=False, allow_null=True, allow_blank=True
    )
    data_inicio = serializers.DateField(
        label=gettext_lazy("Data de início"),
        required=False,
        help_text="Padrão: hoje, no fuso da organização.",
    )

    class Meta:
        model = Mentorado
        fields = [
            "id",
            "lead_id",
            "mentor_id",
            "mentor",
            *MENTORADO_FIELDS,
            "faturamento_atual",
            "crescimento_percentual",
            "engagement_score",
            "created_at",
            "updated_at",
        ]
        read_only_fields = [
            "id",
            "faturamento_atual",
            "crescimento_percentual",
            "engagement_score",
            "created_at",
            "updated_at",
        ]

    def validate_nome_completo(self, value: str) -> str:
        value = " ".join(value.split())
        if not value:
            raise serializers.ValidationError(_("Informe o nome do mentorado."))
        return value

    # One rule for contacts (leads.validation), as in the admin and for leads.
    def validate_email(self, value: str | None) -> str | None:
        return validation.clean_email(value)

    def validate_telefone(self, value: str | None) -> str | None:
        return validation.clean_telefone(value)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        instance = self.instance
        inicio = attrs.get("data_inicio", instance.data_inicio if instance else None)
        fim = attrs.get("data_fim", instance.data_fim if instance else None)
        if inicio is None:
            inicio = _today(self.context)
        if inicio.year < FIRST_YEAR:
            raise serializers.ValidationError(
                {"data_inicio": [_("Data de início anterior a %(ano)d.") % {"ano": FIRST_YEAR}]}
            )
        if fim is not None and fim < inicio:
            raise serializers.ValidationError(
                {"data_fim": [_("A data de término não pode ser anterior à data de início.")]}
            )
        return attrs


class EvolucaoSerializer(serializers.ModelSerializer[EvolucaoFinanceira]):
    """One month. POST of a month already reported updates the fields sent (200)."""

    mentorado_id = serializers.UUIDField(read_only=True)
    crescimento_mensal = serializers.SerializerMethodField(
        help_text="(faturamento - mês anterior) / mês anterior x 100, 2 casas; null quando o "
        "mês anterior não foi informado ou é zero."
    )

    class Meta:
        model = EvolucaoFinanceira
        fields = [
            "id",
            "mentorado_id",
            *EVOLUCAO_FIELDS,
            "crescimento_mensal",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["id", "created_at", "updated_at"]
        # The unique (mentorado, ano, mes) is an upsert key here, not a validation error.
        validators: list[Any] = []

    def validate_ano(self, value: int) -> int:
        if value > _today(self.context).year:
            raise serializers.ValidationError(_("O ano não pode estar no futuro."))
        return value

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        today = _today(self.context)
        if (attrs["ano"], attrs["mes"]) > (today.year, today.month):
            raise serializers.ValidationError(
                {"mes": [_("Não é possível informar um mês que ainda não começou.")]}
            )
        return attrs

    @extend_schema_field(OpenApiTypes.DECIMAL)
    def get_crescimento_mensal(self, row: EvolucaoFinanceira) -> str | None:
        if hasattr(row, "crescimento_mensal_value"):
            value: Decimal | None = row.crescimento_mensal_value
        else:
            value = selectors.growth_of(row)
        return None if value is None else str(value)


class FeedbackSerializer(serializers.ModelSerializer[MentoradoFeedback]):
    mentorado_id = serializers.UUIDField(read_only=True)
    created_by_id = serializers.UUIDField(read_only=True)
    nota_nps = serializers.IntegerField(label=gettext_lazy("Nota NPS"), min_value=0, max_value=10)
    nota_geral = serializers.IntegerField(
        label=gettext_lazy("Nota geral"), min_value=0, max_value=10
    )
    data_feedback = serializers.DateField(
        label=gettext_lazy("Data do feedback"),
        required=False,
        help_text="Padrão: hoje, no fuso da organização; nunca no futuro.",
    )

    class Meta:
        model = MentoradoFeedback
        fields = [
            "id",
            "mentorado_id",
            *FEEDBACK_FIELDS,
            "created_by_id",
            "created_at",
        ]
        read_only_fields = ["id", "created_at"]

    def validate_data_feedback(self, value: date) -> date:
        if value > _today(self.context):
            raise serializers.ValidationError(_("A data do feedback não pode estar no futuro."))
        if value.year < FIRST_YEAR:
            raise serializers.ValidationError(_("Data anterior a %(ano)d.") % {"ano": FIRST_YEAR})
        return value


class DashboardQuerySerializer(serializers.Serializer[Any]):
    period = serializers.IntegerField(
        min_value=1,
        max_value=selectors.MAX_PERIOD,
        default=selectors.DEFAULT_PERIOD,
        help_text="Número de meses (1-36) terminando no mês corrente, no fuso da organização.",
    )


# --- dashboard response (for the OpenAPI schema) ----------------------------------------------


class _Overview(serializers.Serializer[Any]):
    total = serializers.IntegerField()
    ativos = serializers.IntegerField()
    pausados = serializers.IntegerField()
    concluidos = serializers.IntegerField()
    cancelados = serializers.IntegerField()
    novos_no_periodo = serializers.IntegerField(help_text="data_inicio dentro do período.")
    taxa_churn = serializers.FloatField(
        help_text="Cancelados no período (data_fim no período) / mentorados no programa em algum "
        "momento do período x 100, uma casa; 0 sem base."
    )


class _Month(serializers.Serializer[Any]):
    ano = serializers.IntegerField()
    mes = serializers.IntegerField()
    faturamento_total = serializers.DecimalField(max_digits=20, decimal_places=2)
    faturamento_medio = serializers.DecimalField(max_digits=20, decimal_places=2, allow_null=True)
    mentorados_reportando = serializers.IntegerField()


class _Growth(serializers.Serializer[Any]):
    crescimento_medio_12m = serializers.FloatField(
        allow_null=True, help_text="Média de crescimento_percentual dos ativos, uma casa."
    )
    faturamento_total_atual = serializers.DecimalField(
        max_digits=20, decimal_places=2, help_text="Soma de faturamento_atual dos ativos."
    )
    meses = _Month(many=True, help_text="Todos os meses do período, do mais antigo ao atual.")


class _Band(serializers.Serializer[Any]):
    faixa = serializers.CharField()
    count = serializers.IntegerField()


class _Engagement(serializers.Serializer[Any]):
    media = serializers.FloatField(allow_null=True, help_text="Média dos ativos, uma casa.")
    faixas = _Band(many=True)


class _Satisfaction(serializers.Serializer[Any]):
    nps = serializers.IntegerField(allow_null=True)
    promotores = serializers.IntegerField()
    neutros = serializers.IntegerField()
    detratores = serializers.IntegerField()
    total_respostas = serializers.IntegerField()
    nota_geral_media = serializers.FloatField(allow_null=True)


class _PeriodInfo(serializers.Serializer[Any]):
    months = serializers.IntegerField()
    start = serializers.DateField()
    end = serializers.DateField()


class DashboardSerializer(serializers.Serializer[Any]):
    period = _PeriodInfo()
    atualizado_em = serializers.DateTimeField(
        help_text="Momento em que os números são exatos: o da leitura (os agregados são mantidos "
        "na mesma transação de cada escrita)."
    )
    overview = _Overview()
    growth = _Growth()
    engagement = _Engagement()
    satisfaction = _Satisfaction()
