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
from django.utils.translation import gettext_lazy as _

from followup.models import FollowupSequence
from integrations.models import CRMConnection, WhatsAppAccount, WhatsAppGateway
from leads.models import Lead
from mentorados.models import Mentorado
from organizations.models import Membership, Organization, OrgManager


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
    Lead: [],
    Mentorado: [],
    Membership: [],
    FollowupSequence: [],
    WhatsAppAccount: ["access_token", "app_secret", "verify_token_hash"],
    CRMConnection: ["token", "last_error", "last_error_at", "last_success_at"],
    WhatsAppGateway: ["token_hash", "twilio_auth_token"],
}

for _model, _excluded in AUDITED.items():
    simple_history.register(
        _model,
        app="privacy",
        bases=[AuditFields],
        excluded_fields=_excluded,
        # Historical rows are written by us only; no reverse manager name clash on Membership.
        user_related_name="+",
    )


class AccessTipo(models.TextChoices):
    CSV_EXPORT = "csv_export", _("Exportação CSV de leads")
    AUDIT_READ = "audit_read", _("Leitura do histórico de alterações")
    PRIVACY_DOWNLOAD = "privacy_download", _("Download de exportação LGPD")


class DataAccessLog(models.Model):
    """Someone read personal data in bulk: who, when, what, with which filter."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    actor = models.ForeignKey(
        Membership, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
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
