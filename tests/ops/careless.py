"""A deliberately careless middleware for the redaction tests: it logs what must never reach
a log line (raw bodies, headers, response content), as buggy application code might."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

logger = logging.getLogger("tests.ops.careless")


class CarelessLoggingMiddleware:
    def __init__(self, get_response: Callable[[Any], Any]) -> None:
        self.get_response = get_response

    def __call__(self, request: Any) -> Any:
        body = request.body.decode()
        logger.info(
            "incoming %s %s",
            request.path,
            body,
            extra={"body": body, "headers": dict(request.headers), "query": request.GET.dict()},
        )
        response = self.get_response(request)
        content = response.content.decode() if hasattr(response, "content") else ""
        logger.info("outgoing %s", content, extra={"response_preview": content[:2000]})
        return response
