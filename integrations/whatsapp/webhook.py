"""``/webhooks/whatsapp/``: Meta's verification handshake (GET) and notifications (POST).

A plain Django view, not DRF: no JWT, no content negotiation, and the raw request bytes are
what the signature covers (DRF would parse them first). Every answer is small and fast; the
work happens in a job (see ``integrations.whatsapp.inbound``).
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_POST

from config.metrics import WEBHOOK_NOTIFICATIONS
from config.responses import error_response
from integrations.whatsapp import inbound

logger = logging.getLogger(__name__)

# Meta's notifications are a few KB; batches stay far below this.
DEFAULT_MAX_BODY_BYTES = 1024 * 1024
MAX_CHALLENGE_LENGTH = 256


def max_body_bytes() -> int:
    return int(getattr(settings, "WHATSAPP_WEBHOOK_MAX_BYTES", DEFAULT_MAX_BODY_BYTES))


@csrf_exempt
@require_http_methods(["GET", "POST"])
def whatsapp_webhook(request: HttpRequest) -> HttpResponse:
    if request.method == "GET":
        return _verify(request)
    return _receive(request)


def _verify(request: HttpRequest) -> HttpResponse:
    mode = request.GET.get("hub.mode", "")
    token = request.GET.get("hub.verify_token", "")
    challenge = request.GET.get("hub.challenge")
    if (
        mode == "subscribe"
        and challenge is not None
        and len(challenge) <= MAX_CHALLENGE_LENGTH
        and inbound.verify_token_matches(token)
    ):
        return HttpResponse(challenge, content_type="text/plain; charset=utf-8")
    logger.warning("whatsapp webhook verification refused (mode %r)", mode[:20])
    return error_response(403, _("Token de verificação inválido."))


def _too_large() -> JsonResponse:
    WEBHOOK_NOTIFICATIONS.labels(provider=inbound.PROVIDER, outcome="too_large").inc()
    return error_response(413, _("O corpo da requisição é grande demais."))


def _read_body(request: HttpRequest) -> bytes | None:
    """The raw body, or None when it is larger than the limit."""
    limit = max_body_bytes()
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    if declared > limit:
        return None
    try:
        raw_body = request.body
    except RequestDataTooBig:
        return None
    return raw_body if len(raw_body) <= limit else None


@csrf_exempt
@require_POST
def whatsapp_gateway_webhook(request: HttpRequest, token: str) -> HttpResponse:
    """A gateway's (or Twilio's) POST of one inbound message; see inbound.gateway_receive."""
    raw_body = _read_body(request)
    if raw_body is None:
        return _too_large()
    result = inbound.gateway_receive(
        token=token,
        raw_body=raw_body,
        content_type=request.content_type or "",
        # Twilio signs the URL it called: scheme and host as the proxy received them (with
        # SECURE_PROXY_SSL_HEADER / USE_X_FORWARDED_HOST set as docs/deploy.md says).
        url=request.build_absolute_uri(),
        twilio_signature=request.headers.get("X-Twilio-Signature"),
    )
    if result.status == 200:
        return JsonResponse({"status": result.outcome})
    messages = {
        404: _("Gateway não encontrado."),
        401: _("Assinatura do Twilio ausente ou inválida."),
        400: _("Corpo inválido: envie JSON {from, body, timestamp} ou os campos do Twilio."),
    }
    details = {"body": [result.message]} if result.status == 400 else {}
    response = JsonResponse(
        {"error": messages.get(result.status, result.message), "details": details},
        status=result.status,
    )
    # Django's request logger would write the path, token included, for every 4xx; the
    # outcome is already logged (without the token) by gateway_receive.
    response._has_been_logged = True  # type: ignore[attr-defined]
    return response


def _receive(request: HttpRequest) -> HttpResponse:
    raw_body = _read_body(request)
    if raw_body is None:
        return _too_large()
    result = inbound.webhook_receive(
        raw_body=raw_body, signature=request.headers.get("X-Hub-Signature-256")
    )
    if result.status == 200:
        return JsonResponse({"status": result.outcome})
    messages = {
        401: _("Assinatura do webhook ausente ou inválida."),
        400: _("Notificação malformada."),
    }
    return error_response(result.status, messages.get(result.status, result.message))
