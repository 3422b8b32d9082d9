"""One exception handler: every API error becomes `{"error": <sentence>, "details": {...}}`.

This is the one place where the application's errors (`config.errors`, raised by services and
jobs) become HTTP responses. Django errors (Http404, PermissionDenied, ValidationError, oversized
bodies) and the application's are mapped to their DRF equivalents first, so views may raise any
of them.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig, SuspiciousOperation
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.serializers import as_serializer_error
from rest_framework.views import exception_handler as drf_exception_handler
from rest_framework.views import set_rollback

from config import errors


class _WithDetails(exceptions.APIException):
    """An API error whose body carries the application error's `details`."""

    def __init__(self, detail: Any = None, *, details: dict[str, Any] | None = None):
        super().__init__(detail)
        self.details = details or {}


class _Conflict(_WithDetails):
    status_code = status.HTTP_409_CONFLICT
    default_detail = gettext_lazy("Conflito com o estado atual do recurso.")
    default_code = "conflict"


class _Refused(_WithDetails):
    status_code = status.HTTP_400_BAD_REQUEST
    default_code = "invalid"


class PayloadTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = gettext_lazy("O corpo da requisição é grande demais.")
    default_code = "payload_too_large"


def _first_message(value: Any) -> str:
    while isinstance(value, dict | list) and value:
        value = next(iter(value.values())) if isinstance(value, dict) else value[0]
    return str(value) if value not in (None, {}, []) else ""


def _validation_sentence(details: dict[str, Any]) -> str:
    fields = [f for f in details if f not in ("non_field_errors", "detail")]
    if len(details) == 1:
        field, value = next(iter(details.items()))
        message = _first_message(value)
        if field in ("non_field_errors", "detail"):
            return message or _("Dados inválidos.")
        return _("Dados inválidos em '%(field)s': %(message)s") % {
            "field": field,
            "message": message,
        }
    if fields:
        return _("Dados inválidos nos campos: %(fields)s.") % {"fields": ", ".join(fields)}
    return _("Dados inválidos.")


def _field_messages(details: dict[str, Any]) -> dict[str, Any]:
    return {k: v if isinstance(v, list | dict) else [v] for k, v in details.items()}


def _from_application_error(exc: errors.ApplicationError) -> exceptions.APIException:
    explicit = exc.message is not exc.default_message
    if isinstance(exc, errors.ValidationError):
        details = exc.details or {"non_field_errors": [exc.message]}
        return exceptions.ValidationError(_field_messages(details))
    if isinstance(exc, errors.ConflictError):
        return _Conflict(exc.message, details=exc.details)
    if isinstance(exc, errors.PermissionDenied):
        return exceptions.PermissionDenied(exc.message if explicit else None)
    if isinstance(exc, errors.NotFound):
        return exceptions.NotFound(exc.message if explicit else _("Recurso não encontrado."))
    return _Refused(exc.message, details=exc.details)


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, errors.ApplicationError):
        exc = _from_application_error(exc)
    elif isinstance(exc, Http404):
        exc = exceptions.NotFound(_("Recurso não encontrado."))
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    elif isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(as_serializer_error(exc))
    elif isinstance(exc, RequestDataTooBig):
        exc = PayloadTooLarge()
    elif isinstance(exc, SuspiciousOperation):  # e.g. TooManyFieldsSent: refuse, don't crash
        exc = exceptions.ParseError(_("Requisição inválida."))

    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    # DRF's handler already marks the atomic request for rollback; keep that explicit because
    # a handled error must never leave a partial write behind.
    set_rollback()

    data = response.data
    if isinstance(exc, exceptions.ValidationError):
        details = data if isinstance(data, dict) else {"non_field_errors": data}
        body = {"error": _validation_sentence(details), "details": details}
    else:
        details = {}
        if isinstance(data, dict):
            message = data.get("detail", "")
            details = {k: v for k, v in data.items() if k != "detail"}
        else:
            message = _first_message(data)
        if isinstance(exc, _WithDetails):
            details.update(exc.details)
        wait = getattr(exc, "wait", None)
        if isinstance(exc, exceptions.Throttled) and wait is not None:
            details["retry_after"] = int(wait)
        body = {"error": str(message), "details": details}
    response.data = body
    return response
