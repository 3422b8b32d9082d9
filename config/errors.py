"""The application's own errors, raised by services, selectors and jobs.

The business layer knows nothing about HTTP or forms: it raises one of these with a sentence for
people (`message`) and machine-readable `details`. Exactly one place turns them into an HTTP
response (`config.api.exceptions.exception_handler`); the admin turns them into form errors or
messages with `form_error_message`.
"""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy as _


class ApplicationError(Exception):
    """Base class: a refusal the caller can explain to the user."""

    default_message: Any = _("Operação não permitida.")

    def __init__(self, message: Any = None, *, details: dict[str, Any] | None = None) -> None:
        self.message = message if message is not None else self.default_message
        self.details: dict[str, Any] = details or {}
        super().__init__(str(self.message))


class ValidationError(ApplicationError):
    """Bad input; `details` maps a field name to its list of messages."""

    default_message = _("Dados inválidos.")


class ConflictError(ApplicationError):
    """A duplicate or a state that forbids the operation; `details` names what conflicts."""

    default_message = _("Conflito com o estado atual do recurso.")


class PermissionDenied(ApplicationError):
    """The actor may not do this."""

    default_message = _("Você não tem permissão para executar essa ação.")


class NotFound(ApplicationError):
    """The object does not exist (or belongs to another organization)."""

    default_message = _("Recurso não encontrado.")


class ProviderError(Exception):
    """An external provider's call failed (`integrations.errors` derives its types from this).

    Not an `ApplicationError`: no request maps it to a response; the caller (a job, the
    follow-up engine) decides from `retryable` whether the same call may succeed later, and
    `retry_after` carries the provider's hint in seconds.
    """

    retryable: bool = True
    retry_after: float | None = None


def form_error_message(exc: ApplicationError) -> str:
    """One sentence for an admin form error or message: the message, then field messages."""
    parts = [str(exc.message)]
    if isinstance(exc, ValidationError):
        parts.extend(_flatten(exc.details))
    return " ".join(p for p in parts if p)


def _flatten(details: dict[str, Any]) -> list[str]:
    out: list[str] = []
    for key, value in details.items():
        if isinstance(value, dict):
            out.extend(f"[{key}] {line}" for line in _flatten(value))
        elif isinstance(value, list | tuple):
            out.append(f"{key}: {' '.join(map(str, value))}")
        else:
            out.append(f"{key}: {value}")
    return out
