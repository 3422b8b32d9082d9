"""Outbound webhooks: URLs an organization subscribes to events, and the log of deliveries."""

from __future__ import annotations

import base64
import secrets
import uuid

from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from integrations.fields import EncryptedTextField
from organizations.models import Organization, OrgManager


def new_signing_secret() -> str:
    """A Standard Webhooks secret: `whsec_` + base64 of 24 random bytes."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode("ascii")


class WebhookEndpoint(models.Model):
    """A URL of the organization's own systems that receives the events it subscribed to."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    organization = models.ForeignKey(
        Organization,
        on_delete=models.CASCADE,
        related_name="webhook_endpoints",
        verbose_name=_("organização"),
    )
    url = models.URLField(_("URL"), max_length=500)
    descricao = models.CharField(_("descrição"), max_length=200, blank=True)
    eventos = models.JSONField(_("eventos"), default=list)
    ativo = models.BooleanField(_("ativo"), default=True)
    secret = EncryptedTextField(_("segredo de assinatura"))
    # A delivery that gives up with no success since it was created disables the endpoint.
    ultimo_sucesso_em = models.DateTimeField(_("última entrega com sucesso"), null=True, blank=True)
    desativado_em = models.DateTimeField(_("desativado automaticamente em"), null=True, blank=True)
    motivo_desativacao = models.CharField(_("motivo da desativação"), max_length=300, blank=True)
    created_at = models.DateTimeField(_("criado em"), default=timezone.now)
    updated_at = models.DateTimeField(_("atualizado em"), auto_now=True)

    objects = OrgManager()

    class Meta:
        db_table = "webhook_endpoints"
        verbose_name = _("webhook de saída")
        verbose_name_plural = _("webhooks de saída")
        ordering = ["created_at"]

    def __str__(self) -> str:
        return self.url


class DeliveryStatus(models.TextChoices):
    PENDENTE = "pendente", _("Pendente")
    ENTREGUE = "entregue", _("Entregue")
    FALHOU = "falhou", _("Falhou")


# A delivery's columns in the order the API and the admin show them.
DELIVERY_FIELDS = (
    "evento",
    "mensagem_id",
    "payload",
    "status",
    "tentativas",
    "proxima_tentativa",
    "ultimo_status_http",
    "ultimo_erro",
    "entregue_em",
    "replay_of",
    "created_at",
)


class WebhookDelivery(models.Model):
    """One event sent (or to be sent) to one endpoint, with its attempts; replays add rows."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="+", verbose_name=_("organização")
    )
    endpoint = models.ForeignKey(
        WebhookEndpoint,
        on_delete=models.CASCADE,
        related_name="deliveries",
        verbose_name=_("destino"),
    )
    evento = models.CharField(_("evento"), max_length=40)
    # Standard Webhooks `webhook-id`: the same for every attempt and replay of one event, so
    # receivers can deduplicate.
    mensagem_id = models.CharField(_("id da mensagem"), max_length=40, db_index=True)
    payload = models.JSONField(_("conteúdo"))
    status = models.CharField(
        _("status"), max_length=10, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDENTE
    )
    tentativas = models.PositiveSmallIntegerField(_("tentativas"), default=0)
    proxima_tentativa = models.DateTimeField(_("próxima tentativa"), null=True, blank=True)
    ultimo_status_http = models.PositiveSmallIntegerField(
        _("último status HTTP"), null=True, blank=True
    )
    ultimo_erro = models.CharField(_("último erro"), max_length=500, blank=True)
    entregue_em = models.DateTimeField(_("entregue em"), null=True, blank=True)
    replay_of = models.ForeignKey(
        "self",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="replays",
        verbose_name=_("reenvio de"),
    )
    created_at = models.DateTimeField(_("criada em"), default=timezone.now)

    objects = OrgManager()

    class Meta:
        db_table = "webhook_deliveries"
        verbose_name = _("entrega de webhook")
        verbose_name_plural = _("entregas de webhook")
        ordering = ["-created_at"]
        indexes = [
            models.Index(
                fields=["proxima_tentativa"],
                condition=Q(status="pendente"),
                name="webhook_delivery_due",
            ),
            models.Index(fields=["endpoint", "-created_at"], name="webhook_delivery_log"),
        ]

    def __str__(self) -> str:
        return f"{self.evento} → {self.endpoint_id}"
