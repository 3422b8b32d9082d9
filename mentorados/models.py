from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

from django.contrib.postgres.indexes import GinIndex, OpClass
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from config.search import GIN_PENDING_LIST_KB, folded
from leads.models import Lead
from organizations.models import (
    Membership,
    Organization,
    OrgManager,
    member_reference,
    organization_reference,
)

MONEY: dict[str, Any] = {"max_digits": 14, "decimal_places": 2}
NON_NEGATIVE = [MinValueValidator(Decimal("0"))]
# Growth over 12 months can be enormous when the base month is tiny (0.01 -> 10^12 is 10^16 %):
# 20 digits hold any ratio of two MONEY values.
PERCENT: dict[str, Any] = {"max_digits": 20, "decimal_places": 2}
NOTA = [MinValueValidator(0), MaxValueValidator(10)]
# Reports before this year are typing mistakes, not history.
FIRST_YEAR = 2000


class MentoradoStatus(models.TextChoices):
    ATIVO = "ativo", _("Ativo")
    PAUSADO = "pausado", _("Pausado")
    CONCLUIDO = "concluido", _("Concluído")
    CANCELADO = "cancelado", _("Cancelado")


FINISHED_STATUSES = frozenset({MentoradoStatus.CONCLUIDO, MentoradoStatus.CANCELADO})

# A mentee's, a month's and a feedback's own fields, in the one order the API, the admin and the
# feedback event use.
MENTORADO_FIELDS = (
    "nome_completo",
    "email",
    "telefone",
    "programa",
    "data_inicio",
    "data_fim",
    "status",
    "faturamento_inicial",
)
EVOLUCAO_FIELDS = (
    "ano",
    "mes",
    "faturamento",
    "lucro",
    "numero_clientes",
    "ticket_medio",
    "observacoes",
)
FEEDBACK_RATING_FIELDS = ("data_feedback", "nota_nps", "nota_geral", "categoria", "comentario")
FEEDBACK_FIELDS = (*FEEDBACK_RATING_FIELDS, "pontos_positivos", "pontos_melhoria")


class Mentorado(models.Model):
    """A client of the mentoring programme whose business results are tracked (`mentorados`)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    # db_index off where a composite index starting with the same column already exists.
    organization = models.ForeignKey(
        Organization,
        on_delete=models.CASCADE,
        related_name="mentorados",
        db_index=False,
        verbose_name=_("organização"),
    )
    # One mentee per converted lead: the unique constraint is what makes a repeated or
    # concurrent conversion create a single row (see mentorados.services.mentorado_from_lead).
    lead = models.OneToOneField(
        Lead,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="mentorado",
        verbose_name=_("lead de origem"),
    )
    mentor = models.ForeignKey(
        Membership,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="mentorados",
        verbose_name=_("mentor"),
    )
    nome_completo = models.CharField(_("nome completo"), max_length=200)
    email = models.EmailField(_("email"), max_length=254, null=True, blank=True)
    telefone = models.CharField(_("telefone"), max_length=20, null=True, blank=True)
    programa = models.CharField(_("programa"), max_length=120, blank=True)
    data_inicio = models.DateField(_("data de início"))
    data_fim = models.DateField(_("data de término"), null=True, blank=True)
    status = models.CharField(
        _("status"),
        max_length=20,
        choices=MentoradoStatus.choices,
        default=MentoradoStatus.ATIVO,
    )
    faturamento_inicial = models.DecimalField(
        _("faturamento mensal inicial"), null=True, blank=True, validators=NON_NEGATIVE, **MONEY
    )
    # The three figures below are derived (mentorados.figures) and kept up to date by the
    # services after every evolution/feedback write, and by the daily engagement job.
    faturamento_atual = models.DecimalField(
        _("faturamento atual"), null=True, blank=True, editable=False, **MONEY
    )
    crescimento_percentual = models.DecimalField(
        _("crescimento em 12 meses (%)"), null=True, blank=True, editable=False, **PERCENT
    )
    engagement_score = models.PositiveSmallIntegerField(
        _("engajamento"), default=0, editable=False, validators=[MaxValueValidator(100)]
    )
    created_at = models.DateTimeField(_("criado em"), default=timezone.now)
    updated_at = models.DateTimeField(_("atualizado em"), auto_now=True)

    objects = OrgManager()

    class Meta:
        db_table = "mentorados"
        verbose_name = _("mentorado")
        verbose_name_plural = _("mentorados")
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(engagement_score__lte=100), name="mentorado_engagement_max_100"
            ),
            models.CheckConstraint(
                condition=Q(data_fim__isnull=True) | Q(data_fim__gte=models.F("data_inicio")),
                name="mentorado_fim_after_inicio",
            ),
        ]
        indexes = [
            models.Index(fields=["organization", "-created_at"], name="mentorado_org_created"),
            models.Index(fields=["organization", "status"], name="mentorado_org_status"),
            models.Index(fields=["organization", "mentor"], name="mentorado_org_mentor"),
            models.Index(fields=["organization", "data_inicio"], name="mentorado_org_inicio"),
            # Delta sync (`updated_since`) of mobile clients.
            models.Index(fields=["organization", "updated_at"], name="mentorado_org_updated"),
            # `search` (config.search), as leads' lead_org_search_fold. PostgreSQL only.
            GinIndex(
                F("organization"),
                OpClass(folded("nome_completo", "email", "programa"), name="gin_trgm_ops"),
                OpClass(F("telefone"), name="gin_trgm_ops"),
                name="mentorado_org_search_fold",
                gin_pending_list_limit=GIN_PENDING_LIST_KB,
            ),
        ]

    def __str__(self) -> str:
        return self.nome_completo


class EvolucaoFinanceira(models.Model):
    """One month of a mentee's business results (`mentorado_evolucao_financeira`)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    organization = organization_reference(db_index=False)
    mentorado = models.ForeignKey(
        Mentorado, on_delete=models.CASCADE, related_name="evolucoes", db_index=False
    )
    ano = models.PositiveSmallIntegerField(_("ano"), validators=[MinValueValidator(FIRST_YEAR)])
    mes = models.PositiveSmallIntegerField(
        _("mês"), validators=[MinValueValidator(1), MaxValueValidator(12)]
    )
    faturamento = models.DecimalField(_("faturamento"), validators=NON_NEGATIVE, **MONEY)
    # A loss is a negative profit: no lower bound here.
    lucro = models.DecimalField(_("lucro"), null=True, blank=True, **MONEY)
    numero_clientes = models.PositiveIntegerField(_("número de clientes"), null=True, blank=True)
    ticket_medio = models.DecimalField(
        _("ticket médio"), null=True, blank=True, validators=NON_NEGATIVE, **MONEY
    )
    observacoes = models.TextField(_("observações"), blank=True)
    created_at = models.DateTimeField(_("criado em"), default=timezone.now)
    updated_at = models.DateTimeField(_("atualizado em"), auto_now=True)

    objects = OrgManager()

    class Meta:
        db_table = "mentorado_evolucao_financeira"
        verbose_name = _("evolução financeira")
        verbose_name_plural = _("evoluções financeiras")
        ordering = ["mentorado", "ano", "mes"]
        constraints = [
            models.UniqueConstraint(
                fields=["mentorado", "ano", "mes"], name="evolucao_unique_month"
            ),
            models.CheckConstraint(condition=Q(mes__gte=1, mes__lte=12), name="evolucao_mes_1_12"),
            models.CheckConstraint(
                condition=Q(faturamento__gte=0), name="evolucao_faturamento_non_negative"
            ),
        ]
        indexes = [
            models.Index(fields=["organization", "ano", "mes"], name="evolucao_org_month"),
        ]

    def __str__(self) -> str:
        return f"{self.mes:02d}/{self.ano}"


class MentoradoFeedback(models.Model):
    """A mentee's satisfaction answer: NPS and overall grade (`mentorado_feedbacks`)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    organization = organization_reference(db_index=False)
    mentorado = models.ForeignKey(
        Mentorado, on_delete=models.CASCADE, related_name="feedbacks", db_index=False
    )
    data_feedback = models.DateField(_("data do feedback"))
    nota_nps = models.PositiveSmallIntegerField(_("nota NPS"), validators=NOTA)
    nota_geral = models.PositiveSmallIntegerField(_("nota geral"), validators=NOTA)
    categoria = models.CharField(_("categoria"), max_length=60, blank=True)
    comentario = models.TextField(_("comentário"), blank=True)
    pontos_positivos = models.TextField(_("pontos positivos"), blank=True)
    pontos_melhoria = models.TextField(_("pontos de melhoria"), blank=True)
    created_by = member_reference(_("criado por"))
    created_at = models.DateTimeField(_("criado em"), default=timezone.now)

    objects = OrgManager()

    class Meta:
        db_table = "mentorado_feedbacks"
        verbose_name = _("feedback")
        verbose_name_plural = _("feedbacks")
        ordering = ["-data_feedback", "-created_at"]
        constraints = [
            models.CheckConstraint(condition=Q(nota_nps__lte=10), name="feedback_nps_0_10"),
            models.CheckConstraint(condition=Q(nota_geral__lte=10), name="feedback_geral_0_10"),
        ]
        indexes = [
            models.Index(fields=["organization", "data_feedback"], name="feedback_org_date"),
            models.Index(fields=["mentorado", "-data_feedback"], name="feedback_mentorado_date"),
        ]

    def __str__(self) -> str:
        return f"{self.data_feedback:%d/%m/%Y} NPS {self.nota_nps}"


# --- dashboard rollups (mentorados/rollups.py) -------------------------------------------------
# Kept by PostgreSQL statement-level triggers in the writing transaction
# (mentorados/migrations/0005_dashboard_rollups.py): old rows of a statement subtract, new rows
# add. Each organization has up to `SHARDS` rows per key, one per writing backend modulo SHARDS,
# so concurrent writers do not queue on one row; a figure is the sum over its shards. Not foreign
# keys: an organization's rows are removed by a trigger after the organization itself.
ROLLUP_SUM: dict[str, Any] = {"max_digits": 34, "decimal_places": 2, "default": 0}


class MentoradoRollupState(models.Model):
    """Current state of an organization's mentees: counts, and the active mentees' sums."""

    SHARDS = 8

    organization_id = models.UUIDField()
    shard = models.SmallIntegerField(default=0)
    total = models.BigIntegerField(default=0)
    ativos = models.BigIntegerField(default=0)
    pausados = models.BigIntegerField(default=0)
    concluidos = models.BigIntegerField(default=0)
    cancelados = models.BigIntegerField(default=0)
    # Mentees with a data_fim (any status): `expostos` subtracts those that ended before a date.
    com_fim = models.BigIntegerField(default=0)
    # Active mentees only, nulls left out (as SUM/AVG do).
    faturamento_atual_soma = models.DecimalField(**ROLLUP_SUM)
    crescimento_soma = models.DecimalField(**ROLLUP_SUM)
    crescimento_contagem = models.BigIntegerField(default=0)
    engagement_soma = models.BigIntegerField(default=0)
    # Active mentees per figures.ENGAGEMENT_BANDS, named by the band's lower bound.
    faixa_0 = models.BigIntegerField(default=0)
    faixa_25 = models.BigIntegerField(default=0)
    faixa_50 = models.BigIntegerField(default=0)
    faixa_75 = models.BigIntegerField(default=0)

    class Meta:
        db_table = "mentorado_rollup_state"
        constraints = [
            models.UniqueConstraint(
                fields=["organization_id", "shard"], name="mentorado_rollup_state_shard"
            )
        ]

    def __str__(self) -> str:
        return f"{self.organization_id}/{self.shard}"


class MentoradoRollupDay(models.Model):
    """Per day: mentees starting (data_inicio), ending (data_fim) and cancelled ending that day."""

    SHARDS = 4

    organization_id = models.UUIDField()
    dia = models.DateField()
    shard = models.SmallIntegerField(default=0)
    inicios = models.BigIntegerField(default=0)
    fins = models.BigIntegerField(default=0)
    cancelados_fim = models.BigIntegerField(default=0)

    class Meta:
        db_table = "mentorado_rollup_days"
        constraints = [
            models.UniqueConstraint(
                fields=["organization_id", "dia", "shard"], name="mentorado_rollup_day_shard"
            )
        ]

    def __str__(self) -> str:
        return f"{self.organization_id}/{self.dia}/{self.shard}"


class MentoradoRollupMonth(models.Model):
    """Per reported month (ano, mes): the sum of faturamento and the number of reports."""

    SHARDS = 4

    organization_id = models.UUIDField()
    ano = models.SmallIntegerField()
    mes = models.SmallIntegerField()
    shard = models.SmallIntegerField(default=0)
    faturamento_soma = models.DecimalField(**ROLLUP_SUM)
    relatorios = models.BigIntegerField(default=0)

    class Meta:
        db_table = "mentorado_rollup_months"
        constraints = [
            models.UniqueConstraint(
                fields=["organization_id", "ano", "mes", "shard"],
                name="mentorado_rollup_month_shard",
            )
        ]

    def __str__(self) -> str:
        return f"{self.organization_id}/{self.mes:02d}/{self.ano}/{self.shard}"


class MentoradoRollupFeedbackDay(models.Model):
    """Per data_feedback: answers, promoters, detractors and the sum of nota_geral."""

    SHARDS = 4

    organization_id = models.UUIDField()
    dia = models.DateField()
    shard = models.SmallIntegerField(default=0)
    respostas = models.BigIntegerField(default=0)
    promotores = models.BigIntegerField(default=0)
    detratores = models.BigIntegerField(default=0)
    nota_geral_soma = models.BigIntegerField(default=0)

    class Meta:
        db_table = "mentorado_rollup_feedback_days"
        constraints = [
            models.UniqueConstraint(
                fields=["organization_id", "dia", "shard"], name="mentorado_rollup_feedback_shard"
            )
        ]

    def __str__(self) -> str:
        return f"{self.organization_id}/{self.dia}/{self.shard}"
