"""What the admin shows when a service refuses a write: (field or None, Portuguese message).

Services raise the application's errors (config.errors); older ones may still raise DRF's or
Django's. The admin forms catch `SERVICE_ERRORS` and turn each into form errors with
`service_error_messages`, so a refused write is a form message, never a 500.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework.exceptions import APIException

from config import errors

SERVICE_ERRORS = (errors.ApplicationError, APIException, DjangoValidationError)


def service_error_messages(exc: Exception) -> list[tuple[str | None, str]]:
    """Field-level messages where the error names fields, else one general message."""
    found: list[tuple[str | None, str]] = []
    if isinstance(exc, errors.ApplicationError):
        details = exc.details if isinstance(exc, errors.ValidationError) else {}
        for field, messages in details.items():
            found.append((str(field), _text(messages)))
        if not found:
            found.append((None, str(exc.message)))
    elif isinstance(exc, DjangoValidationError):
        if hasattr(exc, "error_dict"):
            for field, messages in exc.message_dict.items():
                found.append((None if field == "__all__" else field, " ".join(messages)))
        else:
            found.append((None, " ".join(exc.messages)))
    elif isinstance(exc, APIException):
        detail = exc.detail
        if isinstance(detail, dict):
            for field, messages in detail.items():
                found.append((None if field == "non_field_errors" else str(field), _text(messages)))
        else:
            found.append((None, _text(detail)))
    else:
        found.append((None, str(exc)))
    return found


def _text(messages: Any) -> str:
    if isinstance(messages, list | tuple):
        return " ".join(_text(message) for message in messages)
    if isinstance(messages, dict):
        return " ".join(f"{key}: {_text(value)}" for key, value in messages.items())
    return str(messages)
