"""Follow-up sequences, their frozen step versions, executions per lead, logs and step records.

Table names follow the old schema (DOMAIN.md): `lead_followup_sequences`,
`lead_followup_executions`, `followup_execution_logs`. Two tables are new:

- `followup_sequence_versions`: the steps of a sequence as they were when a lead was enrolled.
  Editing the steps of a sequence creates a new version; running executions keep the version
  they were enrolled with, so a lead never receives a mix of old and new steps.
- `followup_step_runs`: one row per (execution, step index), written before the channel is
  called. Its unique constraint is what makes a step execute at most once whatever the number
  of dispatchers (see `followup.engine`).
"""

from __future__ import annotations

import datetime
import uuid
from typing import Any

from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from leads.models import Lead
from organizations.models import Organization, OrgManager, member_reference


class TipoAcao(models.TextChoices):
    EMAIL = "email", _("Email")
    WHATSAPP = "whatsapp", _("WhatsApp")
    LIGACAO = "ligacao", _("Ligação")
    TAREFA = "tarefa", _("Tarefa")


class FollowupSequence(models.Model):
    """An automated sequence of steps (email, WhatsApp, call, task) for matching leads."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    organization = models.ForeignKey(
        Organization,
        on_delete=models.CASCADE,
        related_name="followup_sequences",
        verbose_name=_("organização"),
    )
    nome = models.CharField(_("nome"), max_length=200)
    descricao = models.TextField(_("descrição"), blank=True)
    ativo = models.BooleanField(_("ativa"), default=True)
    criterios_ativacao = models.JSONField(_("critérios de ativação"), default=dict, blank=True)
    steps = models.JSONField(_("passos"), default=list)
    # Number of the current version of `steps` (FollowupSequenceVersion.numero).
    versao = models.PositiveIntegerField(_("versão"), default=1, editable=False)
    horario_envio_inicio = models.TimeField(_("início do envio"), default=datetime.time(9, 0))
    horario_envio_fim = models.TimeField(_("fim do envio"), default=datetime.time(18, 0))
    pausar_fim_semana = models.BooleanField(_("pausar no fim de semana"), default=True)
    pausar_feriados = models.BooleanField(_("pausar em feriados"), default=True)
    created_by = member_reference(_("criado por"))
    created_at = models.DateTimeField(_("criada em"), default=timezone.now)
    updated_at = models.DateTimeField(_("atualizada em"), auto_now=True)

    objects = OrgManager()

    class Meta:
        db_table = "lead_followup_sequences"
        verbose_name = _("sequência de follow-up")
        verbose_name_plural = _("sequências de follow-up")
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["organization", "ativo"], name="fseq_org_ativo")]

    def __str__(self) -> str:
        return self.nome


class FollowupSequenceVersion(models.Model):
    """The steps of a sequence frozen at one point; executions follow the version they got."""

    sequence = models.ForeignKey(
        FollowupSequence, on_delete=models.CASCADE, related_name="versions"
    )
    numero = models.PositiveIntegerField(_("número"))
    steps = models.JSONField(_("passos"))
    created_at = models.DateTimeField(_("criada em"), default=timezone.now)

    class Meta:
        db_table = "followup_sequence_versions"
        verbose_name = _("versão da sequência")
        verbose_name_plural = _("versões da sequência")
        ordering = ["sequence", "numero"]
        constraints = [
            models.UniqueConstraint(fields=["sequence", "numero"], name="fseqver_unique_numero")
        ]

    def __str__(self) -> str:
        return f"{self.sequence_id} v{self.numero}"


class ExecutionStatus(models.TextChoices):
    ACTIVE = "active", _("Ativa")
    PAUSED = "paused", _("Pausada")
    COMPLETED = "completed", _("Concluída")
    RESPONDED = "responded", _("Respondida")
    CANCELLED = "cancelled", _("Cancelada")
    FAILED = "failed", _("Falhou")
    # Every step was skipped (no phone, no email, no one to call, outside the WhatsApp window
    # without a template, opted out...): over, but the lead received nothing.
    NOTHING_SENT = "nothing_sent", _("Concluída sem envio")


UNFINISHED_STATUSES = (ExecutionStatus.ACTIVE, ExecutionStatus.PAUSED)
FINISHED_STATUSES = frozenset(
    {
        ExecutionStatus.COMPLETED,
        ExecutionStatus.RESPONDED,
        ExecutionStatus.CANCELLED,
        ExecutionStatus.FAILED,
        ExecutionStatus.NOTHING_SENT,
    }
)


class SkipReason(models.TextChoices):
    """Why a step was skipped (the code kept on its step record and counted in the stats)."""

    SEM_TELEFONE = "sem_telefone", _("Lead sem telefone")
    SEM_EMAIL = "sem_email", _("Lead sem email")
    SEM_RESPONSAVEL = "sem_responsavel", _("Lead sem closer nem SDR ativo")
    FORA_DA_JANELA = "fora_da_janela", _("Fora da janela do WhatsApp, sem template")
    SEM_CONSENTIMENTO = "sem_consentimento", _("Lead sem consentimento (opt-out)")
    OUTRO = "outro", _("Outro motivo")


class PauseReason(models.TextChoices):
    MANUAL = "manual", _("Pausada manualmente")
    SEQUENCE = "sequence", _("Sequência desativada")


# Where an execution stands, and what one log entry says: the columns the admin, the API and
# the engine read and write, in one order.
EXECUTION_STATE_FIELDS = (
    "status",
    "pause_reason",
    "step_atual",
    "proxima_execucao",
    "steps_executados",
    "tentativas",
)
LOG_ENTRY_FIELDS = ("step", "tipo_acao", "evento", "level", "message", "error")


class FollowupExecution(models.Model):
    """One lead going through one sequence (version), step by step."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="+", verbose_name=_("organização")
    )
    sequence = models.ForeignKey(
        FollowupSequence,
        on_delete=models.CASCADE,
        related_name="executions",
        verbose_name=_("sequência"),
    )
    versao = models.ForeignKey(
        FollowupSequenceVersion, on_delete=models.CASCADE, related_name="executions"
    )
    # Deleting a lead deletes its executions (and their logs and step records) with it.
    lead = models.ForeignKey(Lead, on_delete=models.CASCADE, related_name="followup_executions")
    status = models.CharField(
        _("status"), max_length=20, choices=ExecutionStatus.choices, default=ExecutionStatus.ACTIVE
    )
    pause_reason = models.CharField(
        _("motivo da pausa"), max_length=20, choices=PauseReason.choices, blank=True
    )
    step_atual = models.PositiveSmallIntegerField(_("passo atual"), default=0)
    proxima_execucao = models.DateTimeField(_("próxima execução"), null=True, blank=True)
    steps_executados = models.JSONField(_("passos executados"), default=list, blank=True)
    tentativas = models.PositiveSmallIntegerField(_("tentativas"), default=0)
    data_resposta = models.DateTimeField(_("data da resposta"), null=True, blank=True)
    # Set when the execution ends as `nothing_sent`: the distinct SkipReason codes of its steps.
    motivos_sem_envio = models.JSONField(
        _("motivos sem envio"), default=list, blank=True, editable=False
    )
    # Set while a dispatcher works on the current step outside the row lock; another
    # dispatcher may take the execution over only after this instant (a crashed worker).
    claimed_until = models.DateTimeField(
        null=True, blank=True, editable=False, verbose_name=_("reservada até")
    )
    enrolled_by = member_reference(_("inscrito por"))
    created_at = models.DateTimeField(_("criada em"), default=timezone.now)
    updated_at = models.DateTimeField(_("atualizada em"), default=timezone.now)
    finished_at = models.DateTimeField(_("finalizada em"), null=True, blank=True)

    objects = OrgManager()

    class Meta:
        db_table = "lead_followup_executions"
        verbose_name = _("execução de follow-up")
        verbose_name_plural = _("execuções de follow-up")
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["sequence", "lead"],
                condition=Q(status__in=["active", "paused"]),
                name="fexec_one_unfinished_per_lead",
            )
        ]
        indexes = [
            # The dispatcher's claim: due active executions in order.
            models.Index(
                fields=["proxima_execucao"],
                condition=Q(status="active"),
                name="fexec_due",
            ),
            # Per-lead lookups (replies, cancellations) and the "ever enrolled in this
            # sequence?" anti-join of bulk enrollment, which must not depend on fresh stats.
            models.Index(fields=["lead", "sequence"], name="fexec_lead_seq"),
            models.Index(fields=["sequence", "status"], name="fexec_seq_status"),
            models.Index(fields=["organization", "-created_at"], name="fexec_org_created"),
        ]

    def __str__(self) -> str:
        return f"{self.sequence_id} / {self.lead_id} ({self.get_status_display()})"

    @property
    def is_finished(self) -> bool:
        return self.status in FINISHED_STATUSES


class LogLevel(models.TextChoices):
    INFO = "info", _("Informação")
    WARNING = "warning", _("Aviso")
    ERROR = "error", _("Erro")


class LogEvent(models.TextChoices):
    ENROLLED = "enrolled", _("Inscrito")
    EXECUTED = "executed", _("Passo executado")
    SKIPPED = "skipped", _("Passo pulado")
    RETRIED = "retried", _("Nova tentativa agendada")
    FAILED = "failed", _("Falhou")
    UNCERTAIN = "uncertain", _("Envio incerto")
    COMPLETED = "completed", _("Concluída")
    CANCELLED = "cancelled", _("Cancelada")
    RESPONDED = "responded", _("Lead respondeu")
    PAUSED = "paused", _("Pausada")
    RESUMED = "resumed", _("Retomada")


class FollowupExecutionLog(models.Model):
    """What happened to an execution: each step executed, skipped, retried or failed."""

    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="+", verbose_name=_("organização")
    )
    execution = models.ForeignKey(
        FollowupExecution, on_delete=models.CASCADE, related_name="logs", verbose_name=_("execução")
    )
    step = models.PositiveSmallIntegerField(_("passo"), null=True, blank=True)
    tipo_acao = models.CharField(_("tipo de ação"), max_length=20, blank=True)
    evento = models.CharField(_("evento"), max_length=20, choices=LogEvent.choices)
    level = models.CharField(
        _("nível"), max_length=10, choices=LogLevel.choices, default=LogLevel.INFO
    )
    message = models.TextField(_("mensagem"), blank=True)
    error = models.TextField(_("erro"), blank=True)
    # The A/B variant of the step's message that was sent (empty: the step has no variants).
    variante = models.CharField(_("variante"), max_length=20, blank=True, default="")
    created_at = models.DateTimeField(_("criado em"), default=timezone.now)

    objects = OrgManager()

    class Meta:
        db_table = "followup_execution_logs"
        verbose_name = _("registro de execução")
        verbose_name_plural = _("registros de execução")
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["execution", "created_at"], name="flog_exec_created")]

    def __str__(self) -> str:
        if self.step is None:
            return str(self.get_evento_display())
        return f"{self.get_evento_display()} ({_('passo')} {self.step})"


class StepRunState(models.TextChoices):
    CLAIMED = "claimed", _("Reservado")
    SENDING = "sending", _("Enviando")
    RETRY = "retry", _("Aguardando nova tentativa")
    DONE = "done", _("Concluído")
    FAILED = "failed", _("Falhou")


class FollowupStepRun(models.Model):
    """The record of one step of one execution, written before its channel is called."""

    execution = models.ForeignKey(
        FollowupExecution, on_delete=models.CASCADE, related_name="step_runs"
    )
    step = models.PositiveSmallIntegerField()
    tipo_acao = models.CharField(max_length=20)
    state = models.CharField(max_length=10, choices=StepRunState.choices)
    # sent | skipped | uncertain | failed (set when the state is final)
    outcome = models.CharField(max_length=10, blank=True)
    # SkipReason code when the outcome is "skipped".
    reason = models.CharField(max_length=20, blank=True, default="")
    # The A/B variant chosen for this step of this execution (empty: no variants).
    variant = models.CharField(max_length=20, blank=True, default="")
    # Fencing token: only the dispatcher holding the current token may finish the step.
    token = models.UUIDField(default=uuid.uuid4)
    attempts = models.PositiveSmallIntegerField(default=0)
    detail = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        db_table = "followup_step_runs"
        constraints = [
            models.UniqueConstraint(fields=["execution", "step"], name="fsteprun_unique_step")
        ]

    def __str__(self) -> str:
        return f"{self.execution_id}#{self.step} {self.state}"

    @property
    def idempotency_key(self) -> str:
        return step_idempotency_key(self.execution_id, self.step)


def step_idempotency_key(execution_id: Any, step: int) -> str:
    """The key a channel uses to make a repeated send of the same step a no-op."""
    return f"followup:{execution_id}:{step}"
