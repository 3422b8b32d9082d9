"""Django-level 404/500 handlers: JSON with the API error shape under /api/ and /webhooks/."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext as _
from django.views import defaults

from config.responses import error_response

JSON_PREFIXES = ("/api/", "/webhooks/")


def _wants_json(request: HttpRequest) -> bool:
    return request.path.startswith(JSON_PREFIXES)


def not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if _wants_json(request):
        return error_response(404, _("Recurso não encontrado."))
    return defaults.page_not_found(request, exception)


def server_error(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
    if _wants_json(request):
        return error_response(500, _("Erro interno. Tente novamente."))
    return defaults.server_error(request)


def bad_request(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if _wants_json(request):
        return error_response(400, _("Requisição inválida."))
    return defaults.bad_request(request, exception)  # type: ignore[arg-type]
