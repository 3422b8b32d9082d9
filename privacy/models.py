"""Audit trail (django-simple-history, historical tables in this app) and the access log.

The audited models are registered here, not in their apps, so the historical tables and their
migrations live in `privacy/` and the audited apps do not know about auditing. Secrets
(encrypted fields, token hashes) are excluded: they never reach a historical row. Bulk
`QuerySet.update()` / `bulk_create` writes (score decay, figures) are not recorded: they are
computed values, not someone's change.
"""

from __future__ import annotations

import uuid

import simple_history
from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _

from followup.models import FollowupSequence
from integrations.models import CRMConnection, WhatsAppAccount, WhatsAppGateway
from leads.models import Lead
from mentorados.models import Mentorado
from organizations.models import Membership, Organization, OrgManager, member_reference


class AuditFields(models.Model):
    """Extra columns of every historical row: the request and the way the change came in."""

    request_id = models.CharField(_("id da requisição"), max_length=128, blank=True)
    # api | admin | job | import (config.context.current_via)
    via = models.CharField(_("via"), max_length=10, blank=True)

    class Meta:
        abstract = True


# model -> fields never copied into its history (secrets, and columns rewritten by every
# background sync that would bury people's changes).
AUDITED: dict[type[models.Model], list[str]] = {
    Lead: ["search_fold"],  # derived by a trigger (leads 0019), not anyone's change
    Mentorado: [],
    Membership: [],
    FollowupSequence: [],
    WhatsAppAccount: ["access_token", "app_secret", "verify_token_hash"],
    CRMConnection: [
        "token",
        "webhook_secret",
        "last_error",
        "last_error_at",
        "last_success_at",
        "field_keys",
        "fields_ready_for",
    ],
    WhatsAppGateway: ["token_hash", "twilio_auth_token"],
}

HISTORY_LABELS = {
    "history_date": _("alterado em"),
    "history_type": _("tipo de alteração"),
    "history_user": _("alterado por"),
    "history_change_reason": _("motivo da alteração"),
}

for _model, _excluded in AUDITED.items():
    simple_history.register(
        _model,
        app="privacy",
        bases=[AuditFields],
        excluded_fields=_excluded,
        # Historical rows are written by us only; no reverse manager name clash on Membership.
        user_related_name="+",
        # simple-history's default names ("historical leads") are English.
        verbose_name=format_lazy(_("versão de {}"), _model._meta.verbose_name),
        verbose_name_plural=format_lazy(_("histórico de {}"), _model._meta.verbose_name_plural),
    )
    # simple-history's own columns have no Portuguese labels; the admin lists show them.
    _history = _model.history.model  # type: ignore[attr-defined]
    for _name, _label in HISTORY_LABELS.items():
        _history._meta.get_field(_name).verbose_name = _label


class AccessTipo(models.TextChoices):
    CSV_EXPORT = "csv_export", _("Exportação CSV de leads")
    AUDIT_READ = "audit_read", _("Leitura do histórico de alterações")
    PRIVACY_DOWNLOAD = "privacy_download", _("Download de exportação LGPD")


class DataAccessLog(models.Model):
    """Someone read personal data in bulk: who, when, what, with which filter."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="+", verbose_name=_("organização")
    )
    actor = member_reference(_("autor"))
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("usuário"),
    )
    tipo = models.CharField(_("tipo"), max_length=20, choices=AccessTipo.choices)
    filtro = models.JSONField(_("filtro"), default=dict, blank=True)
    linhas = models.PositiveIntegerField(_("linhas"), null=True, blank=True)
    via = models.CharField(_("via"), max_length=10, blank=True)
    request_id = models.CharField(_("id da requisição"), max_length=128, blank=True)
    at = models.DateTimeField(_("em"), default=timezone.now)

    objects = OrgManager()

    class Meta:
        db_table = "privacy_access_log"
        verbose_name = _("acesso a dados pessoais")
        verbose_name_plural = _("acessos a dados pessoais")
        ordering = ["-at"]
        indexes = [models.Index(fields=["organization", "-at"], name="access_log_org_at")]

    def __str__(self) -> str:
        return f"{self.get_tipo_display()} {self.at:%Y-%m-%d %H:%M}"


# --- data subject requests (LGPD art. 18) --------------------------------------------------


class RequestTipo(models.TextChoices):
    EXPORTACAO = "exportacao", _("Exportação dos dados")
    ANONIMIZACAO = "anonimizacao", _("Anonimização")


class RequestStatus(models.TextChoices):
    PENDENTE = "pendente", _("Pendente")
    EXECUTANDO = "executando", _("Em execução")
    CONCLUIDA = "concluida", _("Concluída")
    FALHOU = "falhou", _("Falhou")


RUNNING_STATUSES = (RequestStatus.PENDENTE, RequestStatus.EXECUTANDO)


class IdentificadorTipo(models.TextChoices):
    EMAIL = "email", _("Email")
    TELEFONE = "telefone", _("Telefone")
    LEAD = "lead", _("Lead")
    MENTORADO = "mentorado", _("Mentorado")


class DataSubjectRequest(models.Model):
    """A person's request (export or anonymisation) made through an organization admin.

    Holds no personal value: the identifier is kept as a keyed hash (HMAC, key derived from
    SECRET_KEY) and the person's rows by id only, so anonymising a person leaves nothing of
    them here. `etapas` lists the steps already done: a rerun after a failure resumes there.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="+", verbose_name=_("organização")
    )
    tipo = models.CharField(_("tipo"), max_length=20, choices=RequestTipo.choices)
    status = models.CharField(
        _("status"), max_length=12, choices=RequestStatus.choices, default=RequestStatus.PENDENTE
    )
    progresso = models.PositiveSmallIntegerField(_("progresso (%)"), default=0)
    etapas = models.JSONField(_("etapas concluídas"), default=list, blank=True)
    identificador_tipo = models.CharField(
        _("tipo de identificador"), max_length=10, choices=IdentificadorTipo.choices
    )
    identificador_hash = models.CharField(_("hash do identificador"), max_length=64)
    lead_ids = models.JSONField(_("leads"), default=list, blank=True)
    mentorado_ids = models.JSONField(_("mentorados"), default=list, blank=True)
    # Counts of what was done (rows exported / anonymised, CRM answers); never values.
    resultado = models.JSONField(_("resultado"), default=dict, blank=True)
    erro = models.CharField(_("erro"), max_length=300, blank=True)
    solicitado_por = models.ForeignKey(
        Membership, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    criado_em = models.DateTimeField(_("criada em"), default=timezone.now)
    iniciado_em = models.DateTimeField(_("iniciada em"), null=True, blank=True)
    concluido_em = models.DateTimeField(_("concluída em"), null=True, blank=True)
    # Until when the export can be downloaded (exports only).
    expira_em = models.DateTimeField(_("download disponível até"), null=True, blank=True)

    objects = OrgManager()

    class Meta:
        db_table = "privacy_requests"
        verbose_name = _("solicitação de titular")
        verbose_name_plural = _("solicitações de titulares")
        ordering = ["-criado_em"]
        indexes = [
            models.Index(fields=["organization", "-criado_em"], name="dsr_org_created"),
            models.Index(fields=["organization", "status"], name="dsr_org_status"),
        ]

    def __str__(self) -> str:
        return f"{self.get_tipo_display()} ({self.get_status_display()})"


# What the API and the admin show of a request (all of it: it holds no personal value).
REQUEST_FIELDS = [
    "tipo",
    "status",
    "progresso",
    "etapas",
    "identificador_tipo",
    "lead_ids",
    "mentorado_ids",
    "resultado",
    "erro",
    "solicitado_por",
    "criado_em",
    "iniciado_em",
    "concluido_em",
    "expira_em",
]


class DataSubjectExport(models.Model):
    """The JSON document of an export request: the file the admin downloads for 7 days.

    Kept in the database (not on a worker's disk) so the web host serving the download sees
    what a worker wrote; deleted when it expires and when the person is anonymised.
    """

    request = models.OneToOneField(
        DataSubjectRequest, on_delete=models.CASCADE, primary_key=True, related_name="arquivo"
    )
    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="+", verbose_name=_("organização")
    )
    conteudo = models.JSONField(_("conteúdo"))
    tamanho = models.PositiveIntegerField(_("tamanho (bytes)"), default=0)
    criado_em = models.DateTimeField(_("gerado em"), default=timezone.now)

    objects = OrgManager()

    class Meta:
        db_table = "privacy_request_exports"
        verbose_name = _("arquivo de exportação")
        verbose_name_plural = _("arquivos de exportação")

    def __str__(self) -> str:
        return str(self.request_id)


# --- retention ------------------------------------------------------------------------------


class RetentionSettings(models.Model):
    """How long an organization keeps lost leads, raw webhook bodies and send logs (days).

    Null means "keep": nothing is removed for that kind until the organization sets a period.
    """

    organization = models.OneToOneField(
        Organization,
        on_delete=models.CASCADE,
        primary_key=True,
        related_name="retencao",
        verbose_name=_("organização"),
    )
    leads_perdidos_dias = models.PositiveIntegerField(
        _("anonimizar leads perdidos após (dias)"), null=True, blank=True
    )
    webhooks_dias = models.PositiveIntegerField(
        _("apagar payloads brutos de webhooks após (dias)"), default=30
    )
    envios_dias = models.PositiveIntegerField(
        _("apagar registros de envio após (dias)"), null=True, blank=True
    )
    ultima_execucao = models.DateTimeField(_("última execução"), null=True, blank=True)
    ultimo_resultado = models.JSONField(_("último resultado"), default=dict, blank=True)
    atualizado_em = models.DateTimeField(_("atualizado em"), auto_now=True)

    objects = OrgManager()

    class Meta:
        db_table = "privacy_retention_settings"
        verbose_name = _("retenção de dados")
        verbose_name_plural = _("retenção de dados")

    def __str__(self) -> str:
        return str(_("Retenção de dados"))
