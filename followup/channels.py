"""How a step reaches a lead: one channel per `tipo_acao`, behind one small protocol.

`Channel.send(step, execution, lead, rendered)` performs the step and returns a
:class:`ChannelResult` (sent, or skipped with a reason), or raises :class:`ChannelError` with
``retryable`` telling the engine whether trying again later can help.

``idempotent`` tells the engine what to do when it finds a step whose send may or may not have
happened (a worker died between calling the channel and recording the outcome): an idempotent
channel is simply called again with the same idempotency key (the provider or the database
drops the duplicate); a non-idempotent one (SMTP) is not called again, the step is recorded as
"uncertain" instead. See `followup.engine`.

The engine looks channels up in :data:`CHANNELS` (kind -> factory), so tests can register a
fake channel without settings. A factory is called once per dispatch pass; a channel may keep a
connection open for the pass and release it in ``close()``.
"""

from __future__ import annotations

import contextlib
import functools
import html
import smtplib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Protocol, cast

from django.conf import settings
from django.core import signing
from django.core.mail import EmailMultiAlternatives, get_connection
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from config.errors import ProviderError
from followup.models import FollowupExecution, SkipReason, TipoAcao, step_idempotency_key
from leads.messaging import whatsapp_sender
from leads.models import Lead, Task, TaskOrigem, TaskTipo

__all__ = [
    "CHANNELS",
    "Channel",
    "ChannelError",
    "ChannelResult",
    "EmailChannel",
    "TaskChannel",
    "WhatsAppChannel",
    "channel_for",
    "make_unsubscribe_token",
    "read_unsubscribe_token",
    "unsubscribe_url",
]

UNSUBSCRIBE_SALT = "followup.unsubscribe"
# A task created by a follow-up step is due this long after it is created.
TASK_DUE_AFTER = timedelta(days=1)


@dataclass(frozen=True)
class Rendered:
    """The step's texts with the lead's placeholders substituted (plain text)."""

    assunto: str = ""
    mensagem: str = ""
    titulo: str = ""
    descricao: str = ""


@dataclass(frozen=True)
class ChannelResult:
    """What the channel did: ``sent`` False means the step was skipped (``detail`` says why)."""

    sent: bool = True
    detail: str = ""
    external_id: str = ""
    # A SkipReason code when skipped (counted per reason in the sequence stats).
    reason: str = ""

    @classmethod
    def skipped(cls, detail: str, reason: str = SkipReason.OUTRO) -> ChannelResult:
        return cls(sent=False, detail=detail, reason=reason)


class ChannelError(Exception):
    """The step could not be performed; ``retryable`` says whether a later try may succeed."""

    def __init__(self, message: str, *, retryable: bool, retry_after: float | None = None):
        super().__init__(message)
        self.message = message
        self.retryable = retryable
        self.retry_after = retry_after


class Channel(Protocol):
    idempotent: bool

    def send(
        self,
        step: Mapping[str, Any],
        execution: FollowupExecution,
        lead: Lead,
        rendered: Rendered,
    ) -> ChannelResult: ...

    def close(self) -> None: ...


# --- unsubscribe links --------------------------------------------------------------------------


def make_unsubscribe_token(lead: Lead) -> str:
    """A signed, URL-safe token naming the lead; no expiry (old emails must keep working)."""
    return signing.dumps({"l": str(lead.pk)}, salt=UNSUBSCRIBE_SALT, compress=False)


def read_unsubscribe_token(token: str) -> str:
    """The lead id in a token; raises ``signing.BadSignature`` when tampered or malformed."""
    data = signing.loads(token, salt=UNSUBSCRIBE_SALT)
    if not isinstance(data, dict) or not isinstance(data.get("l"), str):
        raise signing.BadSignature("unexpected token payload")
    return cast("str", data["l"])


@functools.cache
def _unsubscribe_path() -> str:
    # reverse() on every email cost more than signing; the path only varies by the token.
    return reverse("followup-unsubscribe", kwargs={"token": "TOKEN"})


def unsubscribe_url(lead: Lead) -> str:
    path = _unsubscribe_path().replace("TOKEN", make_unsubscribe_token(lead))
    return cast("str", settings.PUBLIC_BASE_URL.rstrip("/") + path)


# --- email --------------------------------------------------------------------------------------

_FOOTER_TEXT = "\n\n--\nNão quer mais receber estes emails? Descadastre-se: {url}\n"
_FOOTER_HTML = (
    '<hr><p style="font-size:12px;color:#666">Não quer mais receber estes emails? '
    '<a href="{url}">Descadastre-se</a>.</p>'
)


def _smtp_error(exc: Exception) -> ChannelError:
    """Map SMTP failures: 5xx answers about the message or recipient are permanent."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _msg in exc.recipients.values()]
        permanent = bool(codes) and all(500 <= code < 600 for code in codes)
        return ChannelError(f"Destinatário recusado: {codes}", retryable=not permanent)
    if isinstance(exc, smtplib.SMTPAuthenticationError):
        # A configuration problem: operators can fix it within the retry window.
        return ChannelError(f"Falha de autenticação SMTP ({exc.smtp_code})", retryable=True)
    if isinstance(exc, smtplib.SMTPResponseException):
        permanent = 500 <= exc.smtp_code < 600
        text = exc.smtp_error.decode(errors="replace") if isinstance(exc.smtp_error, bytes) else ""
        return ChannelError(f"SMTP {exc.smtp_code}: {text}".strip(), retryable=not permanent)
    return ChannelError(f"{type(exc).__name__}: {exc}", retryable=True)


class EmailChannel:
    """Email through Django's configured backend, one connection per dispatch pass."""

    idempotent = False

    def __init__(self) -> None:
        self._connection: Any = None

    def _open(self) -> Any:
        if self._connection is None:
            self._connection = get_connection(fail_silently=False)
            self._connection.open()
        return self._connection

    def close(self) -> None:
        if self._connection is not None:
            # A broken connection is being discarded anyway.
            with contextlib.suppress(Exception):
                self._connection.close()
            self._connection = None

    def build_message(
        self, execution: FollowupExecution, lead: Lead, rendered: Rendered
    ) -> EmailMultiAlternatives:
        url = unsubscribe_url(lead)
        body = rendered.mensagem + _FOOTER_TEXT.format(url=url)
        html_body = (
            "<div>"
            + html.escape(rendered.mensagem).replace("\n", "<br>\n")
            + "</div>"
            + _FOOTER_HTML.format(url=html.escape(url, quote=True))
        )
        domain = settings.DEFAULT_FROM_EMAIL.rsplit("@", 1)[-1].strip(" >") or "localhost"
        message = EmailMultiAlternatives(
            subject=rendered.assunto.replace("\n", " ").strip(),
            body=body,
            from_email=settings.DEFAULT_FROM_EMAIL,
            to=[lead.email or ""],
            headers={
                "List-Unsubscribe": f"<{url}>",
                "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
                # Stable per step: a receiving system that sees the same step twice can tell.
                "Message-ID": (f"<followup.{execution.pk}.{execution.step_atual}@{domain}>"),
            },
        )
        message.attach_alternative(html_body, "text/html")
        return message

    def send(
        self,
        step: Mapping[str, Any],
        execution: FollowupExecution,
        lead: Lead,
        rendered: Rendered,
    ) -> ChannelResult:
        if not lead.email:
            return ChannelResult.skipped("Lead sem email.", SkipReason.SEM_EMAIL)
        message = self.build_message(execution, lead, rendered)
        try:
            sent = self._open().send_messages([message])
        except (TimeoutError, smtplib.SMTPException, OSError) as exc:
            # The connection may be unusable now; the next step opens a fresh one.
            self.close()
            raise _smtp_error(exc) from exc
        if not sent:
            raise ChannelError("O servidor de email não aceitou a mensagem.", retryable=True)
        return ChannelResult(detail=f"Email enviado para {lead.email}")


# --- WhatsApp -----------------------------------------------------------------------------------


class WhatsAppChannel:
    """WhatsApp through the registered sender (`leads.messaging`, provided by the integrations
    app): text in the 24 h window, else the step's template."""

    idempotent = True  # whatsapp_send_to_lead never sends the same idempotency_key twice

    def close(self) -> None:
        return None

    def send(
        self,
        step: Mapping[str, Any],
        execution: FollowupExecution,
        lead: Lead,
        rendered: Rendered,
    ) -> ChannelResult:
        if not lead.telefone:
            return ChannelResult.skipped("Lead sem telefone.", SkipReason.SEM_TELEFONE)
        whatsapp = whatsapp_sender()
        if whatsapp is None:
            raise ChannelError("Integração com WhatsApp indisponível.", retryable=False)
        template_name = str(step.get("template_name") or "") or None
        try:
            window_open = whatsapp.whatsapp_window_open(lead=lead)
            if not window_open and template_name is None:
                return ChannelResult.skipped(
                    "Fora da janela de 24 horas do WhatsApp e o passo não tem template.",
                    SkipReason.FORA_DA_JANELA,
                )
            result = whatsapp.whatsapp_send_to_lead(
                lead=lead,
                text=rendered.mensagem,
                template_name=template_name,
                idempotency_key=step_idempotency_key(execution.pk, execution.step_atual),
            )
        except ProviderError as exc:
            # Anything else is unexpected: the engine retries it and logs the traceback.
            raise ChannelError(
                str(exc), retryable=exc.retryable, retry_after=exc.retry_after
            ) from exc
        wamid = result.wamid or ""
        how = "texto" if window_open else f"template {template_name}"
        return ChannelResult(detail=f"WhatsApp enviado ({how})", external_id=str(wamid))


# --- tasks (ligacao, tarefa) --------------------------------------------------------------------


class TaskChannel:
    """A Task for the lead's closer (else its SDR); `origem_ref` makes a repeat a no-op."""

    idempotent = True

    def __init__(self, tipo: str) -> None:
        self.tipo = TaskTipo.LIGACAO if tipo == TipoAcao.LIGACAO else TaskTipo.TAREFA

    def close(self) -> None:
        return None

    def send(
        self,
        step: Mapping[str, Any],
        execution: FollowupExecution,
        lead: Lead,
        rendered: Rendered,
    ) -> ChannelResult:
        from leads.services import task_create

        responsavel = next((m for m in (lead.closer, lead.sdr) if m is not None and m.ativo), None)
        if responsavel is None:
            return ChannelResult.skipped(
                "Lead sem closer nem SDR ativo para receber a tarefa.", SkipReason.SEM_RESPONSAVEL
            )
        ref = step_idempotency_key(execution.pk, execution.step_atual)
        existing = Task.objects.filter(origem_ref=ref).only("id").first()
        if existing is not None:
            return ChannelResult(detail="Tarefa já criada", external_id=str(existing.pk))
        try:
            with transaction.atomic():
                task = task_create(
                    organization=lead.organization,
                    actor=None,
                    data={
                        "lead": lead,
                        "responsavel": responsavel,
                        "tipo": self.tipo,
                        "titulo": rendered.titulo[:200],
                        "descricao": rendered.descricao,
                        "vencimento": timezone.now() + TASK_DUE_AFTER,
                        "origem": TaskOrigem.FOLLOWUP,
                        "origem_ref": ref,
                    },
                )
        except IntegrityError:
            # A concurrent retry created it between our check and insert.
            existing = Task.objects.filter(origem_ref=ref).only("id").first()
            if existing is None:
                raise
            return ChannelResult(detail="Tarefa já criada", external_id=str(existing.pk))
        return ChannelResult(
            detail=f"Tarefa criada para {responsavel.nome_completo}", external_id=str(task.pk)
        )


#: kind -> factory; tests replace entries (e.g. a fake WhatsApp channel) with monkeypatch.
CHANNELS: dict[str, Callable[[], Channel]] = {
    TipoAcao.EMAIL: EmailChannel,
    TipoAcao.WHATSAPP: WhatsAppChannel,
    TipoAcao.LIGACAO: lambda: TaskChannel(TipoAcao.LIGACAO),
    TipoAcao.TAREFA: lambda: TaskChannel(TipoAcao.TAREFA),
}

# Which opt-out flag of the lead blocks a kind of step (calls and tasks are internal work).
OPT_OUT_FIELD: dict[str, str] = {
    TipoAcao.EMAIL: "opt_out_email",
    TipoAcao.WHATSAPP: "opt_out_whatsapp",
}


def channel_for(tipo: str, cache: dict[str, Channel]) -> Channel:
    """The channel for a kind of step, created once per dispatch pass (kept in ``cache``)."""
    channel = cache.get(tipo)
    if channel is None:
        channel = CHANNELS[tipo]()
        cache[tipo] = channel
    return channel
