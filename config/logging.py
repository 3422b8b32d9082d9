"""Log formatting and redaction (stdlib logging only).

Every record goes through two handler filters before it is formatted:

- `RequestContextFilter` stamps the current request id (config.context) on records that do
  not carry one, so any line logged while serving a request, or inside a job it enqueued, can
  be joined with the request's own line.
- `RedactingFilter` removes personal data and secrets: values of sensitive keys (password,
  token, email, telefone, message bodies...) anywhere in the extras, and emails, phone numbers,
  bearer/JWT tokens and `password=...` pairs anywhere in the message, the extras and the
  traceback text. It runs on the handler, so it also covers records propagated from any
  library logger.

`JsonFormatter` writes one JSON object per line (production); `ConsoleFormatter` writes a
readable line with the extras appended as key=value (developers, `LOG_FORMAT=console`).

This module must not import Django: gunicorn's master loads it through `logconfig_dict`.
"""

from __future__ import annotations

import json
import logging
import re
import traceback
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

REDACTED = "[redacted]"

# Keys whose values never reach a log line, compared after lower-casing and dropping "-"/"_".
_SENSITIVE_EXACT = frozenset(
    {
        "email",
        "emails",
        "telefone",
        "telefones",
        "phone",
        "phonenumber",
        "celular",
        "whatsapp",
        "waid",
        "to",
        "password",
        "senha",
        "passwd",
        "token",
        "access",
        "refresh",
        "authorization",
        "cookie",
        "cookies",
        "secret",
        "body",
        "rawbody",
        "messagebody",
        "mensagem",
        "mensagens",
        "messagetext",
        "conteudo",
        "content",
        "text",
        "texto",
        "detalhescompletos",
        "cpf",
    }
)
# Substrings that make any key sensitive (api_key, client_secret, verify_token, new_password...).
_SENSITIVE_PARTS = (
    "password",
    "senha",
    "secret",
    "token",
    "authorization",
    "apikey",
    "cookie",
    "email",
    "telefone",
    "phone",
    "signature",
)

# Order matters: emails first, then tokens (before `key: value` pairs, so `Authorization:
# Bearer x` loses the token, not just the word Bearer), then phones.
_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+"), "[email]"),
    (re.compile(r"(?i)\b(bearer|basic|token)\s+[A-Za-z0-9._~+/=-]{8,}"), r"\1 [token]"),
    (re.compile(r"\beyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*"), "[token]"),
    (
        re.compile(
            r"(?i)([\"']?\b(?:password|passwd|senha|secret|token|access|refresh|api[_-]?key|"
            r"client[_-]?secret|authorization)[\"']?\s*[:=]\s*[\"']?)([^\"'\s&,;}]+)"
        ),
        r"\1" + REDACTED,
    ),
    # E.164 (+5511987654321), also written with separators (+55 11 98765-4321).
    (re.compile(r"\+\d(?:[\s().-]?\d){7,14}(?![\w-])"), "[phone]"),
    # Brazilian numbers as people write them: (11) 98765-4321, 11 3456-7890, 98765-4321.
    (
        re.compile(r"(?<![\w-])(?:\(?\d{2}\)?[\s-]?)?9?\d{4}-\d{4}(?![\w-])"),
        "[phone]",
    ),
    # WhatsApp ids are E.164 without the plus (5511987654321); bare mobiles (11987654321).
    (re.compile(r"(?<![\w-])55\d{10,11}(?![\w-])"), "[phone]"),
    (re.compile(r"(?<![\w-])\d{2}9\d{8}(?![\w-])"), "[phone]"),
    (re.compile(r"(?<![\w-])\d{3}\.\d{3}\.\d{3}-\d{2}(?![\w-])"), "[cpf]"),
)


def is_sensitive_key(key: str) -> bool:
    normalized = key.lower().replace("-", "").replace("_", "")
    if normalized in _SENSITIVE_EXACT:
        return True
    return any(part in normalized for part in _SENSITIVE_PARTS)


def redact_text(text: str) -> str:
    """`text` with emails, phones, tokens and secret key=value pairs replaced."""
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


def redact_value(value: Any, key: str | None = None, _depth: int = 0) -> Any:
    """A JSON-friendly copy of `value` with sensitive keys and patterns redacted."""
    if (
        key is not None
        and is_sensitive_key(key)
        and value not in (None, "", [], {})
        and not isinstance(value, bool)
    ):
        return REDACTED
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, str):
        return redact_text(value)
    if _depth > 8:
        return "[...]"
    if isinstance(value, Mapping):
        return {str(k): redact_value(v, str(k), _depth + 1) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [redact_value(item, None, _depth + 1) for item in value]
    return redact_text(str(value))


# Attributes every LogRecord has; anything else on a record came from `extra=`.
_RECORD_ATTRS = frozenset(
    {*logging.LogRecord("", 0, "", 0, "", (), None).__dict__, "message", "asctime", "taskName"}
)


def record_extras(record: logging.LogRecord) -> dict[str, Any]:
    return {k: v for k, v in record.__dict__.items() if k not in _RECORD_ATTRS}


class RequestContextFilter(logging.Filter):
    """Adds `request_id` (from config.context) to records logged without one."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "request_id", None) is None:
            from config.context import current_request_id

            request_id = current_request_id()
            if request_id is not None:
                record.request_id = request_id
        return True


class RedactingFilter(logging.Filter):
    """Redacts the message, the extras and the traceback of every record (idempotent)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "_redacted", False):
            return True
        try:
            message = record.getMessage()
        except Exception:  # a bad format string must not lose the record
            message = f"{record.msg} {record.args!r}"
        record.msg = redact_text(message)
        record.args = None
        for key, value in record_extras(record).items():
            setattr(record, key, redact_value(value, key))
        if record.exc_info and not record.exc_text:
            record.exc_text = "".join(traceback.format_exception(*record.exc_info)).rstrip()
        if record.exc_text:
            record.exc_text = redact_text(record.exc_text)
        if record.stack_info:
            record.stack_info = redact_text(record.stack_info)
        record._redacted = True
        return True


def _extras_for_output(record: logging.LogRecord) -> dict[str, Any]:
    return {k: v for k, v in record_extras(record).items() if not k.startswith("_")}


class JsonFormatter(logging.Formatter):
    """One JSON object per line: timestamp, level, logger, message, extras, exception."""

    def format(self, record: logging.LogRecord) -> str:
        payload: dict[str, Any] = {
            "timestamp": datetime.fromtimestamp(record.created, UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in _extras_for_output(record).items():
            payload.setdefault(key, value)
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            payload["exc_info"] = record.exc_text
        if record.stack_info:
            payload["stack_info"] = record.stack_info
        return json.dumps(payload, default=str, ensure_ascii=False)


class ConsoleFormatter(logging.Formatter):
    """`time LEVEL logger [request id] message key=value ...` plus the traceback."""

    def __init__(self) -> None:
        super().__init__(datefmt="%H:%M:%S")

    def format(self, record: logging.LogRecord) -> str:
        extras = _extras_for_output(record)
        request_id = extras.pop("request_id", None)
        parts = [
            self.formatTime(record, self.datefmt),
            f"{record.levelname:<7}",
            record.name,
        ]
        if request_id:
            parts.append(f"[{str(request_id)[:12]}]")
        parts.append(record.getMessage())
        parts.extend(f"{key}={value}" for key, value in extras.items() if value is not None)
        line = " ".join(parts)
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            line = f"{line}\n{record.exc_text}"
        if record.stack_info:
            line = f"{line}\n{record.stack_info}"
        return line


def build_logging(
    *, level: str = "INFO", fmt: str = "json", rq_level: str = "INFO"
) -> dict[str, Any]:
    """The LOGGING dict for settings (and gunicorn's logconfig_dict)."""
    formatter = "console" if fmt == "console" else "json"
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {
            "request_context": {"()": "config.logging.RequestContextFilter"},
            "redact": {"()": "config.logging.RedactingFilter"},
        },
        "formatters": {
            "json": {"()": "config.logging.JsonFormatter"},
            "console": {"()": "config.logging.ConsoleFormatter"},
        },
        "handlers": {
            "default": {
                "class": "logging.StreamHandler",
                "stream": "ext://sys.stdout",
                "formatter": formatter,
                "filters": ["request_context", "redact"],
            }
        },
        "root": {"handlers": ["default"], "level": level.upper()},
        "loggers": {
            # Our request line (config.middleware) replaces Django's 4xx warnings; 5xx keep
            # their traceback here.
            # Django's defaults attach their own (unredacted) handlers to these two; replace
            # them with nothing so records propagate to ours.
            "django": {"handlers": [], "level": "INFO", "propagate": True},
            "django.request": {"level": "ERROR"},
            # runserver's access line duplicates ours; keep it for humans only.
            "django.server": {
                "handlers": [],
                "level": "INFO" if formatter == "console" else "WARNING",
                "propagate": True,
            },
            # SQL with parameters (personal data) never reaches the logs, whatever LOG_LEVEL.
            "django.db.backends": {"level": "INFO"},
            "rq.worker": {"level": rq_level.upper()},
        },
    }
