"""Sending WhatsApp messages to leads (the follow-up engine's WhatsApp channel calls these).

Contract:

* ``whatsapp_window_open(lead=)``: an inbound message from the lead's number in the last 24
  hours (Meta's customer-service window, which belongs to the phone number: it is matched by
  the number's match key, so a message received before the lead existed counts too).
* ``whatsapp_send_to_lead(lead=, text=, template_name=, idempotency_key=)``: free text inside
  the window, else the template (language ``pt_BR``), else ``PermanentError``. Returns the
  outbound ``WhatsAppMessage`` (status ``sent``, Meta's ``wamid``). ``RetryableError`` for 429,
  5xx and timeouts; ``PermanentError`` for everything retrying cannot fix (no active account,
  no phone, opted out, Meta 4xx such as 131047), recorded on the message (status ``failed``).

Idempotency (at most once per key). The outbound row, holding the key under a unique
constraint, is committed *before* the HTTP request (``pending`` + ``send_started_at``), and the
send outcome is written after it:

* a key whose message has a wamid (or a recorded permanent failure) is answered from the row,
  without any request;
* a failure Meta reported (HTTP 429/5xx, throttling codes) or a connection that never opened
  means nothing was sent: the claim is released and a later call with the same key sends;
* an outcome we cannot know (read timeout, connection dropped mid-request, or a worker that
  died between claim and result, seen as a claim older than ``IN_FLIGHT_GRACE``) is recorded as
  ``failed`` with code ``uncertain_outcome``: the message may have been delivered, so it is
  never sent again automatically. The call that saw the timeout still raises ``RetryableError``
  (the client's contract); the retry then gets ``PermanentError`` without sending.

Call these outside a database transaction (the engine's dispatcher does): inside one, the claim
is only durable once the caller commits.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

import httpx
from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from integrations.errors import IntegrationError, PermanentError, RetryableError
from integrations.models import MessageDirection, MessageStatus, WhatsAppAccount, WhatsAppMessage
from integrations.whatsapp.client import SendResult, WhatsAppClient
from leads.models import Lead
from leads.phones import phone_match_key

__all__ = ["whatsapp_send_to_lead", "whatsapp_window_open"]

logger = logging.getLogger(__name__)

PROVIDER = "whatsapp"
WINDOW = timedelta(hours=24)
TEMPLATE_LANGUAGE = "pt_BR"
# A claim younger than this may still be in flight in another worker (client timeout is 10 s).
IN_FLIGHT_GRACE = timedelta(seconds=60)
# Transport failures after which the request certainly did not reach Meta.
_NOT_SENT_CAUSES = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)


def _lead_phone_key(lead: Lead) -> str | None:
    return lead.telefone_chave or phone_match_key(lead.telefone)


def _inbound_from(lead: Lead) -> Any:
    key = _lead_phone_key(lead)
    if not key:
        return WhatsAppMessage.objects.none()
    return WhatsAppMessage.objects.filter(
        organization_id=lead.organization_id, phone_key=key, direction=MessageDirection.IN
    )


def whatsapp_window_open(*, lead: Lead) -> bool:
    """True when the lead's number sent us a message in the last 24 hours."""
    return bool(_inbound_from(lead).filter(received_at__gte=timezone.now() - WINDOW).exists())


def _recipient(lead: Lead) -> str:
    # Reply to the exact WhatsApp id Meta gave us (it may lack Brazil's ninth digit); else the
    # lead's registered number.
    last = _inbound_from(lead).order_by("-received_at").values_list("from_phone", flat=True)
    return next(iter(last[:1]), "") or "".join(ch for ch in (lead.telefone or "") if ch.isdigit())


def _permanent(message: str, code: str) -> PermanentError:
    return PermanentError(message, provider=PROVIDER, code=code)


def _error_json(exc: IntegrationError) -> dict[str, Any]:
    return {
        "provider": exc.provider,
        "status_code": exc.status_code,
        "code": exc.code,
        "message": exc.message,
        "details": exc.details,
    }


def _error_from_row(message: WhatsAppMessage) -> PermanentError:
    error = message.error or {}
    return PermanentError(
        str(error.get("message") or _("Envio anterior com esta chave falhou.")),
        provider=PROVIDER,
        status_code=error.get("status_code"),
        code=error.get("code") or "previous_failure",
        details=error.get("details") or {},
    )


def _content(
    lead: Lead, text: str | None, template_name: str | None
) -> tuple[str, str, str] | PermanentError:
    """(message_type, body, template_name) for this send, or why nothing can be sent."""
    if text and whatsapp_window_open(lead=lead):
        return "text", text, ""
    if template_name:
        return "template", "", template_name
    if text:
        return _permanent(
            _("Fora da janela de 24 horas do WhatsApp e sem template para enviar."),
            "window_closed",
        )
    return _permanent(_("Nada para enviar: sem texto nem template."), "empty_message")


def _claim_target(
    lead: Lead, text: str | None, template_name: str | None
) -> tuple[WhatsAppAccount, str, tuple[str, str, str]] | PermanentError:
    """(account, recipient, content) for a new outbound message, or why it cannot be sent."""
    fresh = Lead.objects.filter(pk=lead.pk).values_list("opt_out_whatsapp", flat=True)
    if next(iter(fresh), True):
        return _permanent(_("Lead não quer receber WhatsApp (ou foi removido)."), "opted_out")
    account = (
        WhatsAppAccount.objects.for_org(lead.organization_id)
        .filter(ativo=True)
        .order_by("created_at")
        .first()
    )
    if account is None:
        return _permanent(_("A organização não tem conta de WhatsApp ativa."), "no_account")
    to = _recipient(lead)
    if not to:
        return _permanent(_("Lead sem telefone."), "no_phone")
    content = _content(lead, text, template_name)
    if isinstance(content, PermanentError):
        return content
    return account, to, content


@transaction.atomic
def _claim(
    *, lead: Lead, text: str | None, template_name: str | None, key: str
) -> tuple[WhatsAppMessage, str, PermanentError | RetryableError | None]:
    """Record (or find) the outbound message for `key`; returns (message, action, error).

    action: "send" (the claim is ours, committed with send_started_at), "done" (already sent:
    return it) or "raise" (error says why). Errors are returned, not raised, so the rows
    written here commit.
    """
    now = timezone.now()
    existing = WhatsAppMessage.objects.select_for_update().filter(idempotency_key=key).first()
    if existing is None:
        target = _claim_target(lead, text, template_name)
        if isinstance(target, PermanentError):
            return WhatsAppMessage(), "raise", target
        account, to, (message_type, body, template) = target
        message = WhatsAppMessage(
            organization_id=lead.organization_id,
            account=account,
            lead=lead,
            direction=MessageDirection.OUT,
            idempotency_key=key,
            to_phone=to[:20],
            phone_key=(phone_match_key(to) or "")[:20],
            message_type=message_type,
            body=body,
            template_name=template,
            status=MessageStatus.PENDING,
            send_started_at=now,
        )
        try:
            with transaction.atomic():
                message.save(force_insert=True)
        except IntegrityError:
            # Another worker claimed the same key between our read and insert.
            existing = WhatsAppMessage.objects.select_for_update().get(idempotency_key=key)
        else:
            return message, "send", None
    return _resume(existing, lead=lead, text=text, template_name=template_name, now=now)


def _resume(
    message: WhatsAppMessage,
    *,
    lead: Lead,
    text: str | None,
    template_name: str | None,
    now: Any,
) -> tuple[WhatsAppMessage, str, PermanentError | RetryableError | None]:
    if message.wamid:
        return message, "done", None
    if message.status == MessageStatus.FAILED:
        return message, "raise", _error_from_row(message)
    if message.send_started_at is not None:
        if now - message.send_started_at < IN_FLIGHT_GRACE:
            return (
                message,
                "raise",
                RetryableError(
                    _("Envio com esta chave em andamento."),
                    provider=PROVIDER,
                    code="in_flight",
                    retry_after=IN_FLIGHT_GRACE.total_seconds(),
                ),
            )
        # The worker that claimed it never recorded an outcome: it may have sent.
        error = _permanent(
            _("Resultado do envio anterior desconhecido; não reenviado para evitar duplicidade."),
            "uncertain_outcome",
        )
        _mark_failed(message, error, now=now)
        return message, "raise", error
    # Released after a failure that certainly sent nothing: send again, with fresh content
    # (the 24-hour window may have closed meanwhile).
    content = _content(lead, text, template_name)
    if isinstance(content, PermanentError):
        _mark_failed(message, content, now=now)
        return message, "raise", content
    message.message_type, message.body, message.template_name = content
    message.send_started_at = now
    message.save(
        update_fields=["message_type", "body", "template_name", "send_started_at", "updated_at"]
    )
    return message, "send", None


def _mark_failed(message: WhatsAppMessage, error: IntegrationError, *, now: Any) -> None:
    message.status = MessageStatus.FAILED
    message.failed_at = now
    message.error = _error_json(error)
    message.save(update_fields=["status", "failed_at", "error", "updated_at"])


def _surely_not_sent(exc: RetryableError) -> bool:
    # An HTTP answer (429, 5xx, throttling code) means Meta refused it; a connection that never
    # opened means it never left. Anything else (read timeout, dropped connection) is unknown.
    return exc.status_code is not None or isinstance(exc.__cause__, _NOT_SENT_CAUSES)


def _send(message: WhatsAppMessage) -> SendResult:
    account = message.account
    if account is None:
        raise RuntimeError("account is None (set by _claim)")
    client = WhatsAppClient(
        base_url=account.api_base_url,
        phone_number_id=account.phone_number_id,
        access_token=account.access_token,
        timeout=float(getattr(settings, "WHATSAPP_SEND_TIMEOUT", 10.0)),
    )
    with client:
        if message.message_type == "template":
            return client.send_template(
                message.to_phone, message.template_name, language=TEMPLATE_LANGUAGE
            )
        return client.send_text(message.to_phone, message.body)


def whatsapp_send_to_lead(
    *,
    lead: Lead,
    text: str | None,
    template_name: str | None,
    idempotency_key: str,
) -> WhatsAppMessage:
    """Send text (inside the 24-hour window) or a template to the lead, at most once per key."""
    if not idempotency_key:
        raise ValueError("idempotency_key is required")
    message, action, error = _claim(
        lead=lead, text=text, template_name=template_name, key=idempotency_key[:200]
    )
    if action == "done":
        return message
    if action == "raise":
        if error is None:
            raise RuntimeError("error is None")
        raise error

    try:
        result = _send(message)
    except RetryableError as exc:
        now = timezone.now()
        if _surely_not_sent(exc):
            WhatsAppMessage.objects.filter(pk=message.pk, status=MessageStatus.PENDING).update(
                send_started_at=None, error=_error_json(exc), updated_at=now
            )
        else:
            uncertain = _permanent(
                _("Tempo esgotado sem resposta da Meta; a mensagem pode ter sido entregue."),
                "uncertain_outcome",
            )
            _mark_failed(message, uncertain, now=now)
        logger.warning("whatsapp send %s retryable: %s", message.pk, exc)
        raise
    except PermanentError as exc:
        _mark_failed(message, exc, now=timezone.now())
        logger.info("whatsapp send %s failed permanently: %s", message.pk, exc)
        raise
    except ValueError as exc:  # the client refused the input (e.g. no digits in the number)
        error = _permanent(str(exc), "invalid_request")
        _mark_failed(message, error, now=timezone.now())
        raise error from exc

    now = timezone.now()
    message.wamid = result.wamid
    message.status = MessageStatus.SENT
    message.sent_at = now
    message.error = {}
    message.payload = result.raw
    message.save(update_fields=["wamid", "status", "sent_at", "error", "payload", "updated_at"])
    return message
