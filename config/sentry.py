"""Sentry error reporting for the web process and the RQ workers (enabled by SENTRY_DSN).

Personal data stays out: `send_default_pii=False`, no request bodies, no local variables, and
`before_send` runs every event through the same redaction as the logs (emails, phones, tokens,
sensitive keys). Events carry the request id and the organization as tags so an error can be
joined with its log lines.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import sentry_sdk

from config.logging import REDACTED, is_sensitive_key, redact_text

if TYPE_CHECKING:
    from django.http import HttpRequest
    from rq.job import Job

# Loggers whose error lines duplicate an event Sentry already captures from the exception.
_DUPLICATE_LOGGERS = ("request", "jobs", "rq.worker", "django.request")


def init_sentry(
    *,
    dsn: str,
    environment: str | None = None,
    release: str | None = None,
    traces_sample_rate: float = 0.0,
) -> None:
    from sentry_sdk.integrations.django import DjangoIntegration
    from sentry_sdk.integrations.logging import LoggingIntegration, ignore_logger
    from sentry_sdk.integrations.rq import RqIntegration

    sentry_sdk.init(
        dsn=dsn,
        environment=environment,
        release=release,
        integrations=[
            DjangoIntegration(),
            RqIntegration(),
            LoggingIntegration(level=logging.INFO, event_level=logging.ERROR),
        ],
        send_default_pii=False,
        # Bodies and locals hold names, emails, phones and messages: never send them.
        max_request_body_size="never",
        include_local_variables=False,
        traces_sample_rate=traces_sample_rate,
        before_send=scrub_event,
        before_send_transaction=scrub_event,
    )
    for name in _DUPLICATE_LOGGERS:
        ignore_logger(name)


def scrub(value: Any, key: str | None = None, _depth: int = 0) -> Any:
    """A copy of an event fragment with sensitive keys and personal-data patterns removed."""
    if key is not None and is_sensitive_key(key) and value not in (None, "", [], {}):
        return REDACTED
    if isinstance(value, str):
        return redact_text(value)
    if _depth > 30:
        return value
    if isinstance(value, dict):
        return {k: scrub(v, str(k), _depth + 1) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [scrub(item, None, _depth + 1) for item in value]
    return value


def scrub_event(event: Any, hint: Any) -> Any:
    """before_send: the whole event (exception values, breadcrumbs, request, extra) scrubbed."""
    return scrub(event)


def _active() -> bool:
    return sentry_sdk.get_client().is_active()


@contextlib.contextmanager
def request_scope(request: HttpRequest, request_id: str) -> Iterator[None]:
    """Tags events raised while serving `request` with its id and organization.

    The organization is only known once the view resolved the membership, so it is read when
    an event is built, not now.
    """
    if not _active():
        yield
        return

    def add_organization(event: Any, hint: Any) -> Any:
        organization = getattr(request, "organization", None)
        if organization is not None:
            event.setdefault("tags", {})["organization_id"] = str(organization.pk)
        return event

    with sentry_sdk.isolation_scope() as scope:
        scope.set_tag("request_id", request_id)
        scope.add_event_processor(add_organization)
        yield


@contextlib.contextmanager
def job_scope(job: Job) -> Iterator[None]:
    """Tags events raised by `job` with the enqueuing request's id and its organization."""
    if not _active():
        yield
        return
    with sentry_sdk.isolation_scope() as scope:
        request_id = (job.meta or {}).get("request_id")
        if request_id:
            scope.set_tag("request_id", str(request_id))
        organization_id = (job.kwargs or {}).get("organization_id")
        if organization_id:
            scope.set_tag("organization_id", str(organization_id))
        scope.set_tag("job", job.func_name)
        yield
