"""Inbound WhatsApp: webhook verification, storage of signed notifications, their processing.

Request path (``webhook_receive``, called by the view with the raw body):

1. The ``X-Hub-Signature-256`` header must look like ``sha256=<64 hex>`` (else 401).
2. The body is decoded only to read ``metadata.phone_number_id`` (routing): the app secret that
   signs it belongs to the account, so the account must be known before verifying. A body that
   names no known active account is answered 200 and dropped (Meta must not retry it); a body
   that cannot be routed at all (not JSON, no ids) is checked against every active account's
   secret so that an unsigned one is still a 401.
3. ``hmac.compare_digest`` (``signature.verify_signature``) over the raw bytes, per candidate
   account. No match: 401, nothing stored. Nothing is stored or acted upon before this point.
4. Structure check (``parse_notification``). Malformed but signed: stored with the error for
   the record, 400.
5. One ``WebhookNotification`` per verifying account (the same body is stored once), a job on
   the ``high`` queue, 200.

The job (``notification_process``) works per message and per status, each in its own
transaction, so one bad entry cannot block the rest; it is idempotent (messages are keyed by
``wamid``, statuses never move backwards).
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from config.errors import ConflictError
from config.metrics import WEBHOOK_NOTIFICATIONS
from config.text import storable
from integrations.models import (
    MessageDirection,
    MessageStatus,
    WebhookNotification,
    WhatsAppAccount,
    WhatsAppGateway,
    WhatsAppMessage,
    hash_verify_token,
)
from integrations.whatsapp.binding import bind_by_signed_webhook
from integrations.whatsapp.gateway import (
    form_params,
    is_form,
    parse_gateway_body,
    twilio_signature_valid,
)
from integrations.whatsapp.payloads import (
    ChangeValue,
    InboundMessage,
    PayloadError,
    StatusUpdate,
    parse_notification,
    phone_number_ids,
)
from integrations.whatsapp.signature import verify_signature
from leads import signals
from leads.consent import consent_set, is_stop_word
from leads.models import ConsentCanal, ConsentEstado, Lead
from leads.phones import InvalidPhone, normalize_phone, phone_match_key

logger = logging.getLogger(__name__)

PROVIDER = "whatsapp"
GATEWAY_PROVIDER = "whatsapp_gateway"
_SIGNATURE_SHAPE = re.compile(r"sha256=[0-9a-fA-F]{64}")
# Unroutable bodies are checked against this many accounts at most (a bound on the work an
# unauthenticated request can cause).
MAX_UNROUTED_CANDIDATES = 200
# Message types that are not something the lead said (number changes and the like).
NOT_A_REPLY = frozenset({"system"})

# Status precedence: an update never moves a message to a lower rank. `failed` outranks `sent`
# (the send failed after Meta accepted it) but not `delivered`/`read`, which prove delivery.
STATUS_RANK = {
    MessageStatus.PENDING: 0,
    MessageStatus.SENT: 1,
    MessageStatus.FAILED: 2,
    MessageStatus.DELIVERED: 3,
    MessageStatus.READ: 4,
}
_STATUS_TIMESTAMP = {
    MessageStatus.SENT: "sent_at",
    MessageStatus.DELIVERED: "delivered_at",
    MessageStatus.READ: "read_at",
    MessageStatus.FAILED: "failed_at",
}


class NotificationProcessingError(Exception):
    """Some entries of a notification failed; the job is retried (done entries are no-ops)."""


@dataclass(frozen=True)
class ReceiveResult:
    """What the webhook view answers: HTTP status, metric outcome, a short message."""

    status: int
    outcome: str
    message: str
    notification_ids: list[Any] = field(default_factory=list)


# -- GET handshake ----------------------------------------------------------------------------


def verify_token_matches(token: str) -> bool:
    """True when an active account was configured with this verify token."""
    if not token:
        return False
    return WhatsAppAccount.objects.filter(
        verify_token_hash=hash_verify_token(token), ativo=True
    ).exists()


# -- POST: verify, store, enqueue -------------------------------------------------------------


def _result(status: int, outcome: str, message: str, ids: list[Any] | None = None) -> ReceiveResult:
    WEBHOOK_NOTIFICATIONS.labels(provider=PROVIDER, outcome=outcome).inc()
    return ReceiveResult(status, outcome, message, ids or [])


def _loads(raw_body: bytes) -> Any:
    try:
        return json.loads(raw_body)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return None


def _verified_accounts(
    raw_body: bytes, signature: str, candidates: Iterable[WhatsAppAccount]
) -> list[WhatsAppAccount]:
    """Candidates whose app secret produced the signature (one HMAC per distinct secret)."""
    by_secret: dict[str, bool] = {}
    verified = []
    for account in candidates:
        secret = account.app_secret
        if secret not in by_secret:
            by_secret[secret] = verify_signature(raw_body, signature, secret)
        if by_secret[secret]:
            verified.append(account)
    return verified


def _store(
    accounts: list[WhatsAppAccount],
    raw_body: bytes,
    signature: str,
    *,
    error: str = "",
) -> list[tuple[WebhookNotification, bool]]:
    digest = hashlib.sha256(raw_body).hexdigest()
    now = timezone.now()
    stored = []
    for account in accounts:
        notification, created = WebhookNotification.objects.get_or_create(
            account=account,
            body_sha256=digest,
            defaults={
                "organization_id": account.organization_id,
                "raw_body": raw_body,
                "signature": signature[:100],
                "error": error,
                "processed_at": now if error else None,
            },
        )
        stored.append((notification, created))
    return stored


def _bound_signers(
    raw_body: bytes, header: str, routed_ids: list[str]
) -> list[WhatsAppAccount] | ReceiveResult:
    """The active accounts the body's numbers route to whose app secret signed it and that are
    bound to the number (a signed webhook binds a registered, unconfirmed number unless another
    account confirmed it first); or the answer when there is none."""
    accounts = WhatsAppAccount.objects.filter(ativo=True).select_related("organization")
    if routed_ids:
        candidates = list(accounts.filter(phone_number_id__in=routed_ids))
        if not candidates:
            logger.info(
                "whatsapp webhook ignored: no active account for phone_number_id %s",
                ", ".join(routed_ids),
            )
            return _result(200, "ignored", "número não cadastrado")
    else:
        candidates = list(accounts.order_by("created_at")[:MAX_UNROUTED_CANDIDATES])
    verified = _verified_accounts(raw_body, header, candidates)
    if not verified:
        logger.warning("whatsapp webhook rejected: signature does not match (ids %s)", routed_ids)
        return _result(401, "rejected", "assinatura inválida")
    if not routed_ids:
        return verified  # names no number: nothing to route or bind (stored for the record)
    bound = [account for account in verified if bind_by_signed_webhook(account)]
    if not bound:
        logger.info("whatsapp webhook ignored: number bound to another account (%s)", routed_ids)
        return _result(200, "ignored", "número confirmado por outra conta")
    return bound


@transaction.atomic
def webhook_receive(*, raw_body: bytes, signature: str | None) -> ReceiveResult:
    """Authenticate and store one webhook POST; enqueue its processing. Never raises."""
    header = (signature or "").strip()
    if not _SIGNATURE_SHAPE.fullmatch(header):
        logger.warning("whatsapp webhook rejected: missing or malformed signature header")
        return _result(401, "rejected", "assinatura ausente ou inválida")

    data = _loads(raw_body)
    routed_ids = phone_number_ids(data)
    verified = _bound_signers(raw_body, header, routed_ids)
    if isinstance(verified, ReceiveResult):
        return verified

    try:
        if not isinstance(data, dict):
            raise PayloadError("body is not a JSON object")
        changes = parse_notification(data)
    except PayloadError as exc:
        stored = _store(verified, raw_body, header, error=f"malformed: {exc}")
        logger.warning(
            "whatsapp webhook malformed but signed (account %s): %s",
            verified[0].phone_number_id,
            exc,
        )
        return _result(400, "malformed", str(exc), [n.pk for n, _ in stored])

    mine = {account.phone_number_id for account in verified}
    relevant = [a for a in verified if any(c.phone_number_id == a.phone_number_id for c in changes)]
    if not relevant:
        logger.info("whatsapp webhook without messages changes for %s; ignored", sorted(mine))
        return _result(200, "ignored", "nada a processar")

    ids = []
    any_new = False
    for notification, created in _store(relevant, raw_body, header):
        ids.append(notification.pk)
        any_new = any_new or created
        if notification.processed_at is None:
            _enqueue_processing(notification, notification.organization_id)
    return _result(200, "accepted" if any_new else "duplicate", "ok", ids)


# -- POST to a gateway webhook ----------------------------------------------------------------


def gateway_for_token(token: str) -> WhatsAppGateway | None:
    """The active gateway whose webhook URL carries this token."""
    if not token or len(token) > 200:
        return None
    return (
        WhatsAppGateway.objects.filter(token_hash=hash_verify_token(token), revoked_at__isnull=True)
        .select_related("organization")
        .first()
    )


@transaction.atomic
def gateway_receive(
    *,
    token: str,
    raw_body: bytes,
    content_type: str,
    url: str,
    twilio_signature: str | None,
) -> ReceiveResult:
    """Authenticate (token, and Twilio's signature when configured), check, store, enqueue.

    Nothing is stored unless the token names an active gateway, the signature (if required)
    matches and the body parses; then the body is stored once per gateway and its processing
    goes through the same job and message path as Meta's notifications.
    """
    gateway = gateway_for_token(token)
    if gateway is None:
        logger.warning("whatsapp gateway webhook: unknown or revoked token")
        return _gateway_result(404, "rejected", "gateway desconhecido")
    organization = gateway.organization
    try:
        params = form_params(raw_body) if is_form(content_type) else []
        if gateway.twilio_auth_token and not twilio_signature_valid(
            url=url, params=params, auth_token=gateway.twilio_auth_token, signature=twilio_signature
        ):
            logger.warning("whatsapp gateway %s: Twilio signature missing or wrong", gateway.pk)
            return _gateway_result(401, "rejected", "assinatura inválida")
        now = timezone.now()
        parse_gateway_body(
            raw_body,
            content_type=content_type,
            organization_id=organization.pk,
            timezone_name=organization.timezone,
            received_at=now,
        )
    except PayloadError as exc:
        logger.warning("whatsapp gateway %s: malformed body: %s", gateway.pk, exc)
        return _gateway_result(400, "malformed", str(exc))

    notification, created = WebhookNotification.objects.get_or_create(
        gateway=gateway,
        body_sha256=hashlib.sha256(raw_body).hexdigest(),
        defaults={
            "organization_id": organization.pk,
            "raw_body": raw_body,
            "content_type": content_type[:100],
            "signature": (twilio_signature or "")[:100],
            "received_at": now,
        },
    )
    if notification.processed_at is None:
        _enqueue_processing(notification, organization.pk)
    return _gateway_result(200, "accepted" if created else "duplicate", "ok", [notification.pk])


def _enqueue_processing(notification: WebhookNotification, organization_id: Any) -> None:
    """Queue the processing of one stored notification (Meta's webhook or a gateway's)."""
    from config.jobs import SAFE_RETRY, enqueue

    enqueue(
        "integrations.jobs.process_whatsapp_notification",
        notification_id=str(notification.pk),
        organization_id=str(organization_id),
        queue="high",
        job_id=f"whatsapp-notification-{notification.pk}",
        retry=SAFE_RETRY,
    )


def _gateway_result(
    status: int, outcome: str, message: str, ids: list[Any] | None = None
) -> ReceiveResult:
    WEBHOOK_NOTIFICATIONS.labels(provider=GATEWAY_PROVIDER, outcome=outcome).inc()
    return ReceiveResult(status, outcome, message, ids or [])


# -- Processing (the job) ---------------------------------------------------------------------


@dataclass
class ProcessSummary:
    messages: int = 0
    new_messages: int = 0
    leads_created: int = 0
    replies: int = 0
    statuses: int = 0
    statuses_applied: int = 0
    unknown_statuses: int = 0
    errors: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "messages": self.messages,
            "new_messages": self.new_messages,
            "leads_created": self.leads_created,
            "replies": self.replies,
            "statuses": self.statuses,
            "statuses_applied": self.statuses_applied,
            "unknown_statuses": self.unknown_statuses,
            "errors": len(self.errors),
        }


def notification_process(*, notification_id: Any) -> ProcessSummary | None:
    """Apply a stored notification: messages stored once, leads matched, statuses advanced.

    Raises NotificationProcessingError when some entry failed (after recording it), so the job
    is retried; entries already done are no-ops on the retry.
    """
    notification = (
        WebhookNotification.objects.select_related("account__organization", "gateway__organization")
        .filter(pk=notification_id)
        .first()
    )
    if notification is None or notification.processed_at is not None:
        return None
    WebhookNotification.objects.filter(pk=notification.pk).update(attempts=F("attempts") + 1)
    if notification.gateway_id is not None:
        return _process_gateway_notification(notification)
    account = notification.account
    summary = ProcessSummary()
    if account is None:
        _finish(notification, summary, error="account deleted before processing")
        return summary
    try:
        changes = parse_notification(json.loads(bytes(notification.raw_body)))
    except (PayloadError, ValueError, UnicodeDecodeError, RecursionError) as exc:
        _finish(notification, summary, error=f"malformed: {exc}")
        return summary

    for change in changes:
        # Only the account whose secret signed the body may act; another account named in the
        # same body is processed through its own stored notification (if it verified too).
        if change.phone_number_id != account.phone_number_id:
            continue
        if change.errors:
            logger.warning(
                "whatsapp notification %s carries errors: %s", notification.pk, change.errors
            )
        for message in change.messages:
            summary.messages += 1
            try:
                _process_message(account, change, message, summary)
            except Exception as exc:  # recorded and retried; the other entries go on
                logger.exception("whatsapp message %s failed", message.wamid)
                summary.errors.append(f"message {message.wamid}: {type(exc).__name__}: {exc}")
        for status in change.statuses:
            summary.statuses += 1
            try:
                _process_status(account, status, summary)
            except Exception as exc:
                logger.exception("whatsapp status %s failed", status.wamid)
                summary.errors.append(f"status {status.wamid}: {type(exc).__name__}: {exc}")

    if summary.errors:
        WebhookNotification.objects.filter(pk=notification.pk).update(
            error="\n".join(summary.errors)[:5000], summary=summary.as_dict()
        )
        raise NotificationProcessingError(f"{len(summary.errors)} entries failed")
    _finish(notification, summary)
    return summary


def _process_gateway_notification(notification: WebhookNotification) -> ProcessSummary:
    gateway = notification.gateway
    if gateway is None:
        raise RuntimeError("gateway is None")
    summary = ProcessSummary(messages=1)
    organization = gateway.organization
    try:
        message, name = parse_gateway_body(
            bytes(notification.raw_body),
            content_type=notification.content_type,
            organization_id=organization.pk,
            timezone_name=organization.timezone,
            received_at=notification.received_at,
        )
    except PayloadError as exc:
        _finish(notification, summary, error=f"malformed: {exc}")
        return summary
    # A revoked gateway's stored bodies are still processed: they were accepted before the
    # revocation, and nothing received is dropped.
    source = InboundSource(
        organization=organization,
        account=None,
        to_phone="",
        auto_criar_leads=gateway.auto_criar_leads,
        contacts={message.from_phone: name} if name else {},
    )
    try:
        inbound_message_process(source=source, message=message, summary=summary)
    except Exception as exc:
        logger.exception("whatsapp gateway message of notification %s failed", notification.pk)
        WebhookNotification.objects.filter(pk=notification.pk).update(
            error=f"{type(exc).__name__}: {exc}"[:5000], summary=summary.as_dict()
        )
        raise NotificationProcessingError("gateway message failed") from exc
    _finish(notification, summary)
    return summary


def _finish(notification: WebhookNotification, summary: ProcessSummary, *, error: str = "") -> None:
    if error:
        logger.warning("whatsapp notification %s not processable: %s", notification.pk, error)
    WebhookNotification.objects.filter(pk=notification.pk).update(
        processed_at=timezone.now(), error=error, summary=summary.as_dict()
    )


@dataclass(frozen=True)
class InboundSource:
    """Where an inbound message arrived: a Meta account or a gateway webhook of an organization."""

    organization: Any
    account: WhatsAppAccount | None
    to_phone: str
    auto_criar_leads: bool
    contacts: dict[str, str] = field(default_factory=dict)


def _process_message(
    account: WhatsAppAccount, change: ChangeValue, message: InboundMessage, summary: ProcessSummary
) -> None:
    source = InboundSource(
        organization=account.organization,
        account=account,
        to_phone=change.display_phone_number or "",
        auto_criar_leads=account.auto_criar_leads,
        contacts=change.contacts,
    )
    inbound_message_process(source=source, message=message, summary=summary)


@transaction.atomic
def inbound_message_process(
    *, source: InboundSource, message: InboundMessage, summary: ProcessSummary
) -> None:
    """Store one inbound message once, match or create its lead, handle it as a reply.

    The one path for every inbound WhatsApp message, whatever carried it (Meta's webhook or a
    gateway's): idempotent on ``message.wamid``.
    """
    organization = source.organization
    key = phone_match_key(message.from_phone) or ""
    row = _inbound_row(source, message, key)
    # INSERT ... ON CONFLICT DO NOTHING: a redelivered wamid inserts nothing. The primary key
    # is generated here, so "is our row there?" tells whether this call stored it.
    WhatsAppMessage.objects.bulk_create([row], ignore_conflicts=True)
    if not WhatsAppMessage.objects.filter(pk=row.pk).exists():
        return
    summary.new_messages += 1

    lead = _lead_for_phone(organization, key)
    created = False
    if lead is None and source.auto_criar_leads:
        name = source.contacts.get(message.from_phone) or ""
        lead, created = _create_lead(organization, message.from_phone, name)
        summary.leads_created += int(created)
    if lead is None:
        logger.info("whatsapp message %s from an unknown number kept without lead", row.pk)
        return
    WhatsAppMessage.objects.filter(pk=row.pk).update(lead=lead)
    if is_stop_word(message.text):
        # "PARAR" / "SAIR" / "STOP" alone: the person withdraws WhatsApp (consent ledger).
        consent_set(
            lead=lead,
            canal=ConsentCanal.WHATSAPP,
            estado=ConsentEstado.REVOGADO,
            origem="whatsapp",
            evidencia={"mensagem_id": str(row.pk), "texto": (message.text or "").strip()[:20]},
        )
    if created or message.type in NOT_A_REPLY:
        # A first message creates the lead; it is not a reply to anything we sent.
        return
    summary.replies += 1
    signals.lead_replied.send(
        sender=Lead,
        lead=lead,
        channel="whatsapp",
        message=message.text or f"[{message.type}]",
        received_at=message.timestamp,
    )


def _inbound_row(source: InboundSource, message: InboundMessage, key: str) -> WhatsAppMessage:
    """The (unsaved) row storing one inbound message; `key` is its sender's phone match key."""
    return WhatsAppMessage(
        organization=source.organization,
        account=source.account,
        direction=MessageDirection.IN,
        wamid=storable(message.wamid),
        from_phone=storable(message.from_phone)[:20],
        to_phone=source.to_phone[:20],
        phone_key=key[:20],
        message_type=storable(message.type)[:30],
        # Provider text: NUL / lone surrogates dropped so the message is always stored.
        body=storable(message.text or ""),
        status=MessageStatus.RECEIVED,
        received_at=message.timestamp,
        context_wamid=storable(message.context_wamid or "")[:255],
        payload=storable(message.raw),
    )


def _lead_for_phone(organization: Any, key: str) -> Lead | None:
    if not key:
        return None
    # The oldest lead wins if two share a key (same number typed with and without the nine).
    return (
        Lead.objects.for_org(organization)
        .filter(telefone_chave=key)
        .select_related("organization")
        .order_by("created_at", "id")
        .first()
    )


def whatsapp_e164(digits: str) -> str:
    """E.164 for a WhatsApp id (digits, no '+'); Brazilian mobiles regain their ninth digit.

    WhatsApp reports some Brazilian mobiles as 55 + DDD + 8 digits. Subscriber numbers starting
    with 6-9 are mobiles, which have had nine digits since 2016, so the nine is put back and the
    lead gets the number people dial today. Numbers phonenumbers rejects are kept as "+digits":
    WhatsApp knows the number exists.
    """
    if digits.startswith("55") and len(digits) == 12 and digits[4] in "6789":
        digits = digits[:4] + "9" + digits[4:]
    try:
        return normalize_phone("+" + digits)
    except InvalidPhone:
        return "+" + digits[:15]


def _create_lead(organization: Any, from_phone: str, name: str) -> tuple[Lead | None, bool]:
    from leads.services import lead_create

    telefone = whatsapp_e164(from_phone)
    nome = (name or "").strip()[:200] or f"WhatsApp {telefone}"
    try:
        lead = lead_create(
            organization=organization,
            actor=None,
            data={"nome_completo": nome, "telefone": telefone, "origem": "whatsapp"},
        )
    except ConflictError as exc:
        # The number is already a lead (created meanwhile by another message of the burst or
        # by hand, or stored before its match key existed): attach the message to it.
        existing = Lead.objects.for_org(organization).filter(pk=exc.details.get("existing_id"))
        return existing.select_related("organization").first(), False
    logger.info("lead %s created from whatsapp", lead.pk)
    return lead, True


@transaction.atomic
def _process_status(
    account: WhatsAppAccount, status: StatusUpdate, summary: ProcessSummary
) -> None:
    new = status.status
    if new not in STATUS_RANK or new == MessageStatus.PENDING:
        logger.info("whatsapp status %r for %s ignored", new, status.wamid)
        return
    message = (
        WhatsAppMessage.objects.select_for_update()
        .filter(
            organization_id=account.organization_id,
            wamid=status.wamid,
            direction=MessageDirection.OUT,
        )
        .first()
    )
    if message is None:
        # Sent from another tool (Meta's inbox, another integration): the raw notification is
        # kept; there is nothing of ours to update.
        summary.unknown_statuses += 1
        logger.info("whatsapp status %s for unknown wamid %s", new, status.wamid)
        return
    update: dict[str, Any] = {}
    stamp_field = _STATUS_TIMESTAMP[MessageStatus(new)]
    if getattr(message, stamp_field) is None:
        update[stamp_field] = status.timestamp
    if STATUS_RANK[MessageStatus(new)] > STATUS_RANK.get(MessageStatus(message.status), 0):
        update["status"] = new
        if new == MessageStatus.FAILED:
            update["error"] = {"errors": status.errors}
    if update:
        for name, value in update.items():
            setattr(message, name, value)
        message.save(update_fields=[*update, "updated_at"])
        summary.statuses_applied += 1
