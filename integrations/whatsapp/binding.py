"""Binding a WhatsApp number to the organization that proves it holds it.

Registering an account (`phone_number_id` + secrets) proves nothing: anyone can type a number.
A number is bound to an account, and its inbound messages routed there, only once it is
confirmed (`WhatsAppAccount.confirmed_at`), by either:

- a webhook for that number signed with the account's app secret (Meta signs with the app's
  secret, which only the app's owner has): `bind_by_signed_webhook`, called by
  `inbound.webhook_receive` after the signature check;
- the account's access token reading the number from Meta's Graph API
  (`GET /{phone_number_id}` answers 200 with the same id only to a token with access to it):
  `bind_by_token`, behind `POST /api/v1/integrations/whatsapp-accounts/{id}/confirm/` and the
  admin's "Confirmar número" action.

A database constraint keeps one confirmed account per number; the first proof wins. Until
then registering a number says nothing about other organizations (`integrations.services`
answers the same whether or not another organization registered or confirmed it).
"""

from __future__ import annotations

import logging

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from config.errors import ConflictError, ValidationError
from integrations.errors import IntegrationError
from integrations.models import WhatsAppAccount

logger = logging.getLogger(__name__)


def _bind(account: WhatsAppAccount, how: str) -> bool:
    """Confirm the account's number; False when another account holds it already."""
    if account.confirmed_at is not None:
        return True
    taken = (
        WhatsAppAccount.objects.filter(
            phone_number_id=account.phone_number_id, confirmed_at__isnull=False
        )
        .exclude(pk=account.pk)
        .exists()
    )
    if taken:
        return False
    now = timezone.now()
    try:
        with transaction.atomic():
            updated = WhatsAppAccount.objects.filter(
                pk=account.pk, phone_number_id=account.phone_number_id, confirmed_at__isnull=True
            ).update(confirmed_at=now)
    except IntegrityError:  # another account confirmed the number concurrently
        return False
    if updated:
        account.confirmed_at = now
        logger.info(
            "whatsapp number bound",
            extra={
                "event": "whatsapp.number_bound",
                "account_id": str(account.pk),
                "organization_id": str(account.organization_id),
                "how": how,
            },
        )
    return bool(updated)


def bind_by_signed_webhook(account: WhatsAppAccount) -> bool:
    """A webhook for the account's number verified with its app secret: bind it (if free)."""
    return _bind(account, "signed_webhook")


def bind_by_token(account: WhatsAppAccount) -> WhatsAppAccount:
    """Ask Meta's Graph API for the number with the account's token; bind it when Meta answers
    with the same id. Refusals are a ValidationError (the token cannot read the number) or a
    ConflictError (another organization confirmed the number first)."""
    from integrations.whatsapp.client import WhatsAppClient

    if account.confirmed_at is not None:
        return account
    try:
        with WhatsAppClient(
            base_url=account.api_base_url,
            phone_number_id=account.phone_number_id,
            access_token=account.access_token,
        ) as client:
            number = client.phone_number()
    except (IntegrationError, ValueError) as exc:
        logger.info(
            "whatsapp number not confirmed by the Graph API",
            extra={"account_id": str(account.pk), "error": type(exc).__name__},
        )
        raise ValidationError(
            _("A Meta não confirmou o número com este token."),
            details={"phone_number_id": [_("O token não tem acesso a este número.")]},
        ) from None
    if str(number.get("id", "")) != account.phone_number_id:
        raise ValidationError(
            _("A Meta não confirmou o número com este token."),
            details={"phone_number_id": [_("A resposta da Meta é de outro número.")]},
        )
    if not _bind(account, "graph_api"):
        raise ConflictError(_("Este número já foi confirmado por outra conta."))
    return account
