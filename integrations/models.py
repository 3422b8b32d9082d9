from __future__ import annotations

import uuid

from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from config.tokens import token_digest
from integrations.fields import EncryptedTextField
from organizations.models import Organization, OrgManager, organization_reference

# --- WhatsApp ------------------------------------------------------------------------------

WHATSAPP_DEFAULT_BASE_URL = "https://graph.facebook.com/v25.0"


def hash_verify_token(token: str) -> str:
    """The stored form of a webhook verify token (SHA-256 hex).

    Meta's GET handshake must be matched against every account, so the token is looked up by
    this digest instead of being encrypted (a randomized ciphertext cannot be searched). It only
    proves to Meta that the endpoint is ours; the app secret guards every notification.
    """
    return token_digest(token)


MESSAGE_TYPES = [
    ("text", _("texto")),
    ("template", _("modelo")),
    ("image", _("imagem")),
    ("audio", _("áudio")),
    ("video", _("vídeo")),
    ("document", _("documento")),
    ("sticker", _("figurinha")),
    ("location", _("localização")),
    ("contacts", _("contatos")),
    ("interactive", _("interativa")),
    ("button", _("botão")),
    ("reaction", _("reação")),
    ("unsupported", _("não suportada")),
]


class WhatsAppAccount(models.Model):
    """A WhatsApp Business phone number of an organization, reached through Meta's Cloud API."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    organization = models.ForeignKey(
        Organization,
        on_delete=models.CASCADE,
        related_name="whatsapp_accounts",
        verbose_name=_("organização"),
    )
    # Not unique by itself: an organization may register a number before proving it holds it.
    # It is bound (receives the number's inbound messages) once confirmed: by a webhook for
    # the number signed with this account's app secret, or by Meta's Graph API answering
    # `GET /{phone_number_id}` with this account's token (integrations.whatsapp.binding).
    phone_number_id = models.CharField(_("ID do número (Meta)"), max_length=64, db_index=True)
    access_token = EncryptedTextField(_("token de acesso"))
    app_secret = EncryptedTextField(_("app secret"))
    verify_token_hash = models.CharField(
        max_length=64, db_index=True, editable=False, verbose_name=_("hash do token de verificação")
    )
    api_base_url = models.URLField(
        _("URL base da API"), max_length=300, default=WHATSAPP_DEFAULT_BASE_URL
    )
    ativo = models.BooleanField(_("ativo"), default=True)
    auto_criar_leads = models.BooleanField(_("criar leads de números desconhecidos"), default=True)
    confirmed_at = models.DateTimeField(
        _("número confirmado em"), null=True, blank=True, editable=False
    )
    created_at = models.DateTimeField(_("criada em"), default=timezone.now)
    updated_at = models.DateTimeField(_("atualizada em"), auto_now=True)

    objects = OrgManager()

    class Meta:
        db_table = "whatsapp_accounts"
        verbose_name = _("conta de WhatsApp")
        verbose_name_plural = _("contas de WhatsApp")
        ordering = ["created_at"]
        constraints = [
            # Sending picks "the organization's active account": there must be one at most.
            models.UniqueConstraint(
                fields=["organization"],
                condition=Q(ativo=True),
                name="whatsapp_one_active_account_per_org",
            ),
            # A number is bound to one organization: the first to confirm it.
            models.UniqueConstraint(
                fields=["phone_number_id"],
                condition=Q(confirmed_at__isnull=False),
                name="whatsapp_confirmed_number_unique",
            ),
            models.UniqueConstraint(
                fields=["organization", "phone_number_id"], name="whatsapp_number_once_per_org"
            ),
        ]

    def __str__(self) -> str:
        return f"WhatsApp {self.phone_number_id}"

    def set_verify_token(self, token: str) -> None:
        self.verify_token_hash = hash_verify_token(token)


class WhatsAppGateway(models.Model):
    """A secret webhook URL through which a WhatsApp gateway (or Twilio) posts inbound messages.

    For businesses not on Meta's Cloud API: gateways popular in Brazil post `{from, body,
    timestamp}`, Twilio posts form fields. The URL's token is the credential; only its SHA-256
    is stored (looked up per request, like a verify token), so it is shown once, on creation
    or rotation.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    organization = models.ForeignKey(
        Organization,
        on_delete=models.CASCADE,
        related_name="whatsapp_gateways",
        verbose_name=_("organização"),
    )
    nome = models.CharField(_("nome"), max_length=100, blank=True)
    token_hash = models.CharField(
        max_length=64, unique=True, editable=False, verbose_name=_("hash do token")
    )
    # The token's first characters, to tell URLs apart in lists (not enough to guess it).
    token_inicio = models.CharField(_("início do token"), max_length=8, editable=False)
    # When set, every POST must carry Twilio's X-Twilio-Signature made with it.
    twilio_auth_token = EncryptedTextField(_("auth token do Twilio"), blank=True)
    auto_criar_leads = models.BooleanField(_("criar leads de números desconhecidos"), default=True)
    created_at = models.DateTimeField(_("criado em"), default=timezone.now)
    rotated_at = models.DateTimeField(_("token trocado em"), null=True, blank=True)
    revoked_at = models.DateTimeField(_("revogado em"), null=True, blank=True)

    objects = OrgManager()

    class Meta:
        db_table = "whatsapp_gateways"
        verbose_name = _("gateway de WhatsApp")
        verbose_name_plural = _("gateways de WhatsApp")
        ordering = ["created_at"]

    def __str__(self) -> str:
        return self.nome or f"Gateway {self.token_inicio}…"

    @property
    def ativo(self) -> bool:
        return self.revoked_at is None


class MessageDirection(models.TextChoices):
    IN = "in", _("Recebida")
    OUT = "out", _("Enviada")


class MessageStatus(models.TextChoices):
    # `pending`: an outbound message recorded before the send request (see services).
    PENDING = "pending", _("Enviando")
    RECEIVED = "received", _("Recebida")
    SENT = "sent", _("Enviada")
    DELIVERED = "delivered", _("Entregue")
    READ = "read", _("Lida")
    FAILED = "failed", _("Falhou")


class WhatsAppMessage(models.Model):
    """One WhatsApp message received from or sent to a phone number, kept whatever happens."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="+", verbose_name=_("organização")
    )
    account = models.ForeignKey(
        WhatsAppAccount,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="messages",
        verbose_name=_("conta"),
    )
    lead = models.ForeignKey(
        "leads.Lead",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="whatsapp_messages",
    )
    direction = models.CharField(_("direção"), max_length=3, choices=MessageDirection.choices)
    # Meta's message id; null only while an outbound message has not been accepted yet.
    wamid = models.CharField(
        max_length=255,
        unique=True,
        null=True,
        blank=True,
        verbose_name=_("ID da mensagem no WhatsApp"),
    )
    # Set by the sender (follow-up step): one outbound message per key, whatever the retries.
    idempotency_key = models.CharField(
        max_length=200,
        unique=True,
        null=True,
        blank=True,
        editable=False,
        verbose_name=_("chave de idempotência"),
    )
    from_phone = models.CharField(_("de"), max_length=20, blank=True)
    to_phone = models.CharField(_("para"), max_length=20, blank=True)
    # leads.phones.phone_match_key of the lead's side (sender of inbound, recipient of outbound).
    phone_key = models.CharField(
        max_length=20, blank=True, editable=False, verbose_name=_("chave do telefone")
    )
    # WhatsApp's own type codes (stored as received; an unknown one shows as its code).
    message_type = models.CharField(_("tipo"), max_length=30, default="text", choices=MESSAGE_TYPES)
    template_name = models.CharField(_("template"), max_length=200, blank=True)
    body = models.TextField(_("texto"), blank=True)
    status = models.CharField(_("status"), max_length=10, choices=MessageStatus.choices)
    error = models.JSONField(_("erro"), default=dict, blank=True)
    payload = models.JSONField(_("dados"), default=dict, blank=True)
    context_wamid = models.CharField(
        max_length=255, blank=True, verbose_name=_("ID da mensagem respondida")
    )
    received_at = models.DateTimeField(_("recebida em"), null=True, blank=True)
    send_started_at = models.DateTimeField(
        null=True, blank=True, editable=False, verbose_name=_("envio iniciado em")
    )
    sent_at = models.DateTimeField(_("enviada em"), null=True, blank=True)
    delivered_at = models.DateTimeField(_("entregue em"), null=True, blank=True)
    read_at = models.DateTimeField(_("lida em"), null=True, blank=True)
    failed_at = models.DateTimeField(_("falhou em"), null=True, blank=True)
    created_at = models.DateTimeField(_("criada em"), default=timezone.now)
    updated_at = models.DateTimeField(_("atualizada em"), auto_now=True)

    objects = OrgManager()

    class Meta:
        db_table = "whatsapp_messages"
        verbose_name = _("mensagem de WhatsApp")
        verbose_name_plural = _("mensagens de WhatsApp")
        ordering = ["-created_at"]
        indexes = [
            # The 24-hour window: latest inbound message from a phone, per organization.
            models.Index(
                fields=["organization", "phone_key", "direction", "-received_at"],
                name="wamsg_org_phone_dir_recv",
            ),
            models.Index(fields=["lead", "-created_at"], name="wamsg_lead_created"),
            models.Index(fields=["organization", "-created_at"], name="wamsg_org_created"),
        ]

    def __str__(self) -> str:
        return f"{self.get_direction_display()} {self.wamid or self.pk}"


class WebhookNotification(models.Model):
    """A raw WhatsApp webhook body, stored once its signature is verified, before processing."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="+", verbose_name=_("organização")
    )
    # The account whose app secret verified the signature; the job only acts on its changes.
    account = models.ForeignKey(
        WhatsAppAccount,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="notifications",
        verbose_name=_("conta"),
    )
    # Set instead of `account` for a body posted to a gateway webhook (then content_type says
    # how to read raw_body: JSON or Twilio's form encoding).
    gateway = models.ForeignKey(
        WhatsAppGateway,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="notifications",
        verbose_name=_("gateway"),
    )
    content_type = models.CharField(max_length=100, blank=True, verbose_name=_("tipo de conteúdo"))
    raw_body = models.BinaryField(_("corpo bruto"))
    body_sha256 = models.CharField(
        max_length=64, editable=False, verbose_name=_("SHA-256 do corpo")
    )
    signature = models.CharField(_("assinatura"), max_length=100, blank=True)
    received_at = models.DateTimeField(_("recebida em"), default=timezone.now)
    processed_at = models.DateTimeField(_("processada em"), null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(_("tentativas"), default=0)
    error = models.TextField(_("erro"), blank=True)
    summary = models.JSONField(_("resumo"), default=dict, blank=True)

    objects = OrgManager()

    class Meta:
        db_table = "whatsapp_webhook_notifications"
        verbose_name = _("notificação de webhook")
        verbose_name_plural = _("notificações de webhook")
        ordering = ["-received_at"]
        constraints = [
            # Meta redelivers the same body until it gets a 200: store it once per account.
            models.UniqueConstraint(
                fields=["account", "body_sha256"], name="webhook_notification_once_per_account"
            ),
            # A gateway's retries of the same body are stored once too.
            models.UniqueConstraint(
                fields=["gateway", "body_sha256"],
                condition=Q(gateway__isnull=False),
                name="webhook_notification_once_per_gateway",
            ),
        ]
        indexes = [
            models.Index(fields=["processed_at", "received_at"], name="webhook_notif_pending"),
        ]

    def __str__(self) -> str:
        return f"{self.received_at:%Y-%m-%d %H:%M:%S} {self.body_sha256[:12]}"

    @property
    def body_text(self) -> str:
        return bytes(self.raw_body).decode("utf-8", errors="replace")


# --- CRM -----------------------------------------------------------------------------------


class CrmProvider(models.TextChoices):
    HUBSPOT = "hubspot", "HubSpot"
    PIPEDRIVE = "pipedrive", "Pipedrive"


CRM_DEFAULT_BASE_URLS = {
    CrmProvider.HUBSPOT: "https://api.hubapi.com",
    CrmProvider.PIPEDRIVE: "https://api.pipedrive.com",
}


class CRMConnection(models.Model):
    """The organization's CRM (HubSpot or Pipedrive) that leads are pushed to."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    organization = models.ForeignKey(
        Organization,
        on_delete=models.CASCADE,
        related_name="crm_connections",
        verbose_name=_("organização"),
    )
    provider = models.CharField(_("CRM"), max_length=20, choices=CrmProvider.choices)
    token = EncryptedTextField(_("token"))
    api_base_url = models.URLField(_("URL base da API"), max_length=300)
    ativo = models.BooleanField(_("ativo"), default=True)
    last_error = models.TextField(_("último erro"), blank=True)
    last_error_at = models.DateTimeField(_("último erro em"), null=True, blank=True)
    last_success_at = models.DateTimeField(_("último sucesso em"), null=True, blank=True)
    # Our field -> CRM property (HubSpot internal name) or field (Pipedrive name); overrides the
    # provider's defaults (integrations.crm.mapping), "" stops syncing that field.
    field_mapping = models.JSONField(_("mapeamento de campos"), default=dict, blank=True)
    # Our field -> the CRM's key for it (Pipedrive's field hash), as found or created for the
    # mapping whose digest is `fields_ready_for`; recomputed when the mapping changes.
    field_keys = models.JSONField(default=dict, blank=True, editable=False)
    fields_ready_for = models.CharField(max_length=64, blank=True, editable=False)
    # Inbound change webhooks: HubSpot's app client secret (signature v3) or the password of
    # Pipedrive's HTTP basic auth (user `webhook_user`). Empty: the webhook answers 404.
    webhook_secret = EncryptedTextField(_("segredo do webhook"), blank=True)
    webhook_user = models.CharField(_("usuário do webhook"), max_length=100, blank=True)
    created_at = models.DateTimeField(_("criada em"), default=timezone.now)
    updated_at = models.DateTimeField(_("atualizada em"), auto_now=True)

    objects = OrgManager()

    class Meta:
        db_table = "crm_connections"
        verbose_name = _("conexão de CRM")
        verbose_name_plural = _("conexões de CRM")
        ordering = ["created_at"]
        constraints = [
            # A lead has one crm_provider/crm_id pair: one CRM per organization keeps it true.
            models.UniqueConstraint(fields=["organization"], name="crm_connection_one_per_org")
        ]

    def __str__(self) -> str:
        return f"{self.get_provider_display()} ({self.organization_id})"


class CrmFieldSource(models.TextChoices):
    LOCAL = "local", _("Lead Tracker")
    CRM = "crm", _("CRM")


class CrmFieldClock(models.Model):
    """When a synced field of a lead last changed, and where (the conflict rule's clock).

    An inbound change older than the field's clock is stale and ignored: the latest change wins,
    local changes timed by our clock, CRM changes by the provider's timestamp.
    """

    organization = organization_reference()
    lead = models.ForeignKey(
        "leads.Lead", on_delete=models.CASCADE, related_name="+", verbose_name=_("lead")
    )
    campo = models.CharField(_("campo"), max_length=40)
    changed_at = models.DateTimeField(_("alterado em"))
    source = models.CharField(_("origem da mudança"), max_length=10, choices=CrmFieldSource.choices)

    objects = OrgManager()

    class Meta:
        db_table = "crm_field_clocks"
        verbose_name = _("relógio de campo do CRM")
        verbose_name_plural = _("relógios de campo do CRM")
        constraints = [
            models.UniqueConstraint(fields=["lead", "campo"], name="crm_field_clock_lead_campo")
        ]

    def __str__(self) -> str:
        return f"{self.campo} @ {self.changed_at.isoformat()}"


class CrmWebhookEvent(models.Model):
    """An inbound CRM change event, stored once (a redelivery is recognised and skipped) and
    applied by a job (``integrations.crm.inbound``)."""

    organization = organization_reference()
    connection = models.ForeignKey(
        CRMConnection, on_delete=models.CASCADE, related_name="+", verbose_name=_("conexão")
    )
    event_id = models.CharField(_("id do evento"), max_length=200)
    crm_id = models.CharField(_("id no CRM"), max_length=64, blank=True)
    # [{"campo", "value", "at"}]: the changes to apply, kept until a job applies them.
    changes = models.JSONField(_("mudanças"), default=list, blank=True)
    outcome = models.CharField(_("resultado"), max_length=40, blank=True)
    received_at = models.DateTimeField(_("recebido em"), default=timezone.now)
    processed_at = models.DateTimeField(_("aplicado em"), null=True, blank=True)

    objects = OrgManager()

    class Meta:
        db_table = "crm_webhook_events"
        verbose_name = _("evento recebido do CRM")
        verbose_name_plural = _("eventos recebidos do CRM")
        ordering = ["-received_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["connection", "event_id"], name="crm_webhook_event_once"
            )
        ]
        indexes = [models.Index(fields=["received_at"], name="crm_webhook_event_received")]

    def __str__(self) -> str:
        return self.event_id


# Outbound webhooks live in their own module; imported here so Django registers the models.
from integrations.outbound.models import WebhookDelivery, WebhookEndpoint  # noqa: E402, F401
