"""The API's error shape for views outside DRF: webhooks, the notification stream, /metrics and
Django's own 404/400/500 handlers (config/api/handlers.py). DRF views raise instead and the
exception handler (config/api/exceptions.py) writes the same shape."""

from __future__ import annotations

from typing import Any

from django.http import JsonResponse


def error_response(
    status: int, message: str, details: dict[str, Any] | None = None
) -> JsonResponse:
    """`{"error": <sentence>, "details": {...}}` with the given status."""
    return JsonResponse({"error": message, "details": details or {}}, status=status)
