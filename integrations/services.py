"""Writes for integration settings: WhatsApp accounts and CRM connections (API and admin).

Secrets arrive in plaintext here and leave only encrypted (``EncryptedTextField``) or hashed
(the verify token); errors name fields and ids, never values.
"""

from __future__ import annotations

import secrets
from typing import Any, cast

from django.conf import settings
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from config.errors import ConflictError
from integrations.crm import mapping as crm_mapping
from integrations.models import (
    CRM_DEFAULT_BASE_URLS,
    CRMConnection,
    CrmProvider,
    WhatsAppAccount,
    WhatsAppGateway,
    hash_verify_token,
)
from organizations.models import Organization

WHATSAPP_SECRET_FIELDS = ("access_token", "app_secret")


def _check_whatsapp_conflicts(
    *, organization: Organization, phone_number_id: str, ativo: bool, exclude: Any = None
) -> None:
    others = WhatsAppAccount.objects.exclude(pk=exclude) if exclude else WhatsAppAccount.objects
    # Only this organization's rows are looked at: whether another organization registered or
    # confirmed the number is never told (the number is bound on confirmation, see
    # integrations.whatsapp.binding).
    taken = (
        others.filter(organization=organization, phone_number_id=phone_number_id).only("id").first()
    )
    if taken is not None:
        raise ConflictError(
            _("Este phone_number_id já está cadastrado."), details={"existing_id": str(taken.pk)}
        )
    if ativo:
        active = others.filter(organization=organization, ativo=True).only("id").first()
        if active is not None:
            raise ConflictError(
                _("A organização já tem uma conta de WhatsApp ativa; desative-a primeiro."),
                details={"existing_id": str(active.pk)},
            )


def _save(instance: Any, *, conflict_message: str) -> None:
    try:
        with transaction.atomic():
            instance.save()
    except IntegrityError:
        # A concurrent request won the unique constraint between our check and this write.
        raise ConflictError(conflict_message) from None


def _apply_whatsapp(account: WhatsAppAccount, data: dict[str, Any]) -> None:
    if data.get("phone_number_id", account.phone_number_id) != account.phone_number_id:
        account.confirmed_at = None  # another number: to be confirmed again
    for name in ("phone_number_id", "api_base_url", "ativo", "auto_criar_leads"):
        if name in data:
            setattr(account, name, data[name])
    for name in WHATSAPP_SECRET_FIELDS:
        if data.get(name):
            setattr(account, name, data[name])
    if data.get("verify_token"):
        account.set_verify_token(data["verify_token"])


@transaction.atomic
def whatsapp_account_create(*, organization: Organization, data: dict[str, Any]) -> WhatsAppAccount:
    account = WhatsAppAccount(organization=organization)
    _apply_whatsapp(account, data)
    _check_whatsapp_conflicts(
        organization=organization, phone_number_id=account.phone_number_id, ativo=account.ativo
    )
    _save(account, conflict_message=_("Conta de WhatsApp em conflito com outra já cadastrada."))
    return account


@transaction.atomic
def whatsapp_account_update(*, account: WhatsAppAccount, data: dict[str, Any]) -> WhatsAppAccount:
    account = WhatsAppAccount.objects.select_for_update().get(pk=account.pk)
    _apply_whatsapp(account, data)
    _check_whatsapp_conflicts(
        organization=account.organization,
        phone_number_id=account.phone_number_id,
        ativo=account.ativo,
        exclude=account.pk,
    )
    _save(account, conflict_message=_("Conta de WhatsApp em conflito com outra já cadastrada."))
    return account


def whatsapp_account_confirm(*, account: WhatsAppAccount) -> WhatsAppAccount:
    """Bind the account's number by asking Meta's Graph API with the account's token (no row
    lock held during the call: the binding is one conditional UPDATE)."""
    from integrations.whatsapp.binding import bind_by_token

    return bind_by_token(WhatsAppAccount.objects.get(pk=account.pk))


@transaction.atomic
def whatsapp_account_delete(*, account: WhatsAppAccount) -> None:
    # Messages and stored notifications stay (their account becomes null): nothing received
    # is dropped.
    account.delete()


# -- WhatsApp gateways ------------------------------------------------------------------------


def _new_gateway_token(gateway: WhatsAppGateway) -> str:
    token = secrets.token_urlsafe(32)
    gateway.token_hash = hash_verify_token(token)
    gateway.token_inicio = token[:6]
    return token


def whatsapp_gateway_url(token: str) -> str:
    """The full webhook URL of a gateway token (PUBLIC_BASE_URL + the route)."""
    path = reverse("whatsapp-gateway-webhook", kwargs={"token": token})
    return cast("str", settings.PUBLIC_BASE_URL.rstrip("/") + path)


def _apply_gateway(gateway: WhatsAppGateway, data: dict[str, Any]) -> None:
    for name in ("nome", "auto_criar_leads"):
        if name in data:
            setattr(gateway, name, data[name])
    # An empty string clears the Twilio auth token (signature no longer required).
    if "twilio_auth_token" in data and data["twilio_auth_token"] is not None:
        gateway.twilio_auth_token = data["twilio_auth_token"].strip()


@transaction.atomic
def whatsapp_gateway_create(
    *, organization: Organization, data: dict[str, Any]
) -> tuple[WhatsAppGateway, str]:
    """A new gateway webhook; returns it with its full URL (the only time the token is known)."""
    gateway = WhatsAppGateway(organization=organization)
    _apply_gateway(gateway, data)
    token = _new_gateway_token(gateway)
    gateway.save(force_insert=True)
    return gateway, whatsapp_gateway_url(token)


@transaction.atomic
def whatsapp_gateway_update(*, gateway: WhatsAppGateway, data: dict[str, Any]) -> WhatsAppGateway:
    gateway = WhatsAppGateway.objects.select_for_update().get(pk=gateway.pk)
    _apply_gateway(gateway, data)
    gateway.save()
    return gateway


@transaction.atomic
def whatsapp_gateway_rotate(*, gateway: WhatsAppGateway) -> tuple[WhatsAppGateway, str]:
    """A new token for the gateway; the old URL answers 404 from now on."""
    gateway = WhatsAppGateway.objects.select_for_update().get(pk=gateway.pk)
    if gateway.revoked_at is not None:
        raise ConflictError(_("Este gateway foi revogado; crie um novo."), details={})
    token = _new_gateway_token(gateway)
    gateway.rotated_at = timezone.now()
    gateway.save()
    return gateway, whatsapp_gateway_url(token)


@transaction.atomic
def whatsapp_gateway_revoke(*, gateway: WhatsAppGateway) -> WhatsAppGateway:
    """Its URL answers 404 from now on; the row stays (messages received through it are kept)."""
    gateway = WhatsAppGateway.objects.select_for_update().get(pk=gateway.pk)
    if gateway.revoked_at is None:
        gateway.revoked_at = timezone.now()
        gateway.save(update_fields=["revoked_at"])
    return gateway


# -- CRM --------------------------------------------------------------------------------------


def _check_crm_conflict(*, organization: Organization, exclude: Any = None) -> None:
    others = CRMConnection.objects.for_org(organization)
    if exclude is not None:
        others = others.exclude(pk=exclude)
    existing = others.only("id").first()
    if existing is not None:
        raise ConflictError(
            _("A organização já tem uma conexão de CRM; altere ou remova a existente."),
            details={"existing_id": str(existing.pk)},
        )


@transaction.atomic
def crm_connection_create(*, organization: Organization, data: dict[str, Any]) -> CRMConnection:
    _check_crm_conflict(organization=organization)
    provider = CrmProvider(data["provider"])
    connection = CRMConnection(
        organization=organization,
        provider=provider,
        token=data["token"],
        api_base_url=data.get("api_base_url") or CRM_DEFAULT_BASE_URLS[provider],
        ativo=data.get("ativo", True),
        field_mapping=crm_mapping.validate_mapping(provider, data.get("field_mapping") or {}),
        webhook_secret=data.get("webhook_secret") or "",
        webhook_user=data.get("webhook_user") or "",
    )
    _save(connection, conflict_message=_("A organização já tem uma conexão de CRM."))
    return connection


@transaction.atomic
def crm_connection_update(*, connection: CRMConnection, data: dict[str, Any]) -> CRMConnection:
    connection = CRMConnection.objects.select_for_update().get(pk=connection.pk)
    old_provider = CrmProvider(connection.provider)
    if "provider" in data and data["provider"] != old_provider:
        new_provider = CrmProvider(data["provider"])
        connection.provider = new_provider
        if "api_base_url" not in data and connection.api_base_url in (
            "",
            CRM_DEFAULT_BASE_URLS[old_provider],
        ):
            connection.api_base_url = CRM_DEFAULT_BASE_URLS[new_provider]
    if "api_base_url" in data:
        connection.api_base_url = (
            data["api_base_url"] or CRM_DEFAULT_BASE_URLS[CrmProvider(connection.provider)]
        )
    if "ativo" in data:
        connection.ativo = data["ativo"]
    if data.get("token"):
        connection.token = data["token"]
    _apply_crm_inbound_settings(connection, data, old_provider)
    if data.get("token") or connection.provider != old_provider:
        # New credentials or another CRM: the last error described the old ones.
        connection.last_error = ""
        connection.last_error_at = None
    connection.save()
    return connection


@transaction.atomic
def _apply_crm_inbound_settings(
    connection: CRMConnection, data: dict[str, Any], old_provider: str
) -> None:
    """Field mapping (validated for the connection's provider) and the webhook credentials;
    another CRM starts from its defaults and an empty webhook secret."""
    if connection.provider != old_provider:
        connection.field_mapping = {}
        connection.webhook_secret = ""
        connection.webhook_user = ""
    if "field_mapping" in data:
        connection.field_mapping = crm_mapping.validate_mapping(
            connection.provider, data["field_mapping"] or {}
        )
    if "webhook_secret" in data:
        connection.webhook_secret = data["webhook_secret"] or ""
    if "webhook_user" in data:
        connection.webhook_user = data["webhook_user"] or ""


def crm_webhook_url(connection: CRMConnection) -> str:
    """Where the CRM posts its change events (PUBLIC_BASE_URL + the provider's route)."""
    path = reverse(f"crm-webhook-{connection.provider}", args=[connection.pk])
    return cast("str", settings.PUBLIC_BASE_URL.rstrip("/") + path)


def crm_connection_delete(*, connection: CRMConnection) -> None:
    connection.delete()
