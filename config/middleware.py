"""One structured log line and one histogram sample per request, under a request id.

The request id comes from `X-Request-ID` only when `TRUST_REQUEST_ID_HEADER` says the proxy in
front sets it (and the value looks like an id); otherwise it is generated. It is returned in
the `X-Request-ID` response header and bound in `config.context` while the request runs, so
jobs enqueued by the request carry it (config.jobs.job_meta) and log it.
"""

from __future__ import annotations

import ipaddress
import logging
import re
import time
import uuid
from collections.abc import Callable
from typing import Any, cast

from django.conf import settings
from django.http import HttpRequest, HttpResponseBase
from django.middleware.gzip import GZipMiddleware
from django.urls import Resolver404, resolve
from django.utils.functional import SimpleLazyObject, empty
from django_prometheus.middleware import (
    PrometheusAfterMiddleware as _PrometheusAfterMiddleware,
)

from config.context import bind_request_id, bind_via, via_for_path
from config.metrics import HTTP_REQUEST_DURATION
from config.sentry import request_scope

logger = logging.getLogger("request")

REQUEST_ID_HEADER = "X-Request-ID"
_SANE_REQUEST_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:=+/-]{0,127}$")
# Routes polled by load balancers and Prometheus: logged at DEBUG while they succeed.
QUIET_ROUTES = frozenset({"health/", "health/live/", "metrics"})
KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def new_request_id() -> str:
    return uuid.uuid4().hex


def request_id_for(request: HttpRequest) -> str:
    """The proxy's id when trusted and sane, else a new one."""
    if getattr(settings, "TRUST_REQUEST_ID_HEADER", False):
        incoming = request.headers.get(REQUEST_ID_HEADER, "").strip()
        if incoming and _SANE_REQUEST_ID.match(incoming):
            return incoming
    return new_request_id()


def client_ip(request: HttpRequest) -> str | None:
    """The client's address: REMOTE_ADDR, or X-Forwarded-For as written by our NUM_PROXIES
    trusted proxies (the same rule DRF's throttles use, so both agree)."""
    num_proxies = int(getattr(settings, "NUM_PROXIES", 0) or 0)
    remote = request.META.get("REMOTE_ADDR") or None
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    if num_proxies > 0 and forwarded:
        hops = [hop.strip() for hop in forwarded.split(",") if hop.strip()]
        if hops:
            candidate = hops[-min(num_proxies, len(hops))]
            try:
                return str(ipaddress.ip_address(candidate))
            except ValueError:
                return remote
    return remote


_REGEX_GROUP = re.compile(r"\(\?P<(\w+)>[^)]*\)")


def normalize_route(route: str) -> str:
    """`api/v1/^leads/(?P<pk>[^/.]+)/$` (DRF router regexes) -> `api/v1/leads/<pk>/`."""
    route = _REGEX_GROUP.sub(r"<\1>", route)
    return route.replace("^", "").replace("$", "").replace("\\", "")


def route_of(request: HttpRequest) -> str:
    """The URL pattern that served the request (low cardinality: never the raw path)."""
    explicit = getattr(request, "log_route", None)
    if explicit:
        return str(explicit)
    match = getattr(request, "resolver_match", None)
    if match is not None and match.route:
        return normalize_route(match.route)
    static_url = "/" + str(getattr(settings, "STATIC_URL", "static/")).lstrip("/")
    if request.path.startswith(static_url):
        return "<static>"
    # Answered before URL resolution (HTTPS redirect, a middleware's 4xx): resolve it now.
    try:
        match = resolve(request.path_info, getattr(request, "urlconf", None))
    except Resolver404:
        return "<unmatched>"
    return normalize_route(match.route) if match.route else "<unmatched>"


def user_id_of(request: HttpRequest) -> Any:
    """The authenticated user's id, without triggering a session lookup just for the log."""
    user = request.__dict__.get("user")
    if isinstance(user, SimpleLazyObject):
        wrapped = user._wrapped
        if wrapped is empty:
            return None
        user = wrapped
    if user is not None and getattr(user, "is_authenticated", False):
        return user.pk
    return None


# Enough to tell browsers, apps and bots apart; a client cannot make log lines arbitrarily long.
USER_AGENT_MAX_CHARS = 200


def user_agent_of(request: HttpRequest) -> str:
    """The User-Agent header, cut to USER_AGENT_MAX_CHARS ("" when absent)."""
    return cast("str", request.META.get("HTTP_USER_AGENT", "")[:USER_AGENT_MAX_CHARS])


def organization_id_of(request: HttpRequest) -> str | None:
    organization = getattr(request, "organization", None)
    return str(organization.pk) if organization is not None else None


class RequestLogMiddleware:
    """Request id, structured request line, latency histogram by route/method/status."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        request_id = request_id_for(request)
        request.request_id = request_id  # type: ignore[attr-defined]
        started = time.monotonic()
        with (
            bind_request_id(request_id),
            bind_via(via_for_path(request.path_info)),
            request_scope(request, request_id),
        ):
            response = self.get_response(request)
            duration = time.monotonic() - started
            response[REQUEST_ID_HEADER] = request_id
            self._record(request, response, request_id, duration)
        return response

    def _record(
        self,
        request: HttpRequest,
        response: HttpResponseBase,
        request_id: str,
        duration: float,
    ) -> None:
        route = route_of(request)
        method = request.method or ""
        status = response.status_code
        # Clients choose the method: unknown ones share one label value (bounded series).
        method_label = method if method in KNOWN_METHODS else "other"
        try:
            HTTP_REQUEST_DURATION.labels(
                method=method_label, route=route, status=str(status)
            ).observe(duration)
        except Exception:  # metrics must never break a response
            logger.exception("request metrics failed")
        if status >= 500:
            level = logging.ERROR
        elif route in QUIET_ROUTES and status < 400:
            level = logging.DEBUG
        else:
            level = logging.INFO
        logger.log(
            level,
            "%s %s %s",
            method,
            route,
            status,
            extra={
                "event": "request",
                "request_id": request_id,
                "method": method,
                "route": route,
                "status": status,
                "duration_ms": round(duration * 1000, 1),
                "user_id": user_id_of(request),
                "organization_id": organization_id_of(request),
                "ip": client_ip(request),
                "user_agent": user_agent_of(request),
            },
        )


class PrometheusAfterMiddleware(_PrometheusAfterMiddleware):
    """django-prometheus's, with the method label bounded everywhere.

    Its latency histogram labels by the raw `request.method`, so a client sending made-up
    methods would create new series at will.
    """

    def label_metric(self, metric: Any, request: Any, response: Any = None, **labels: Any) -> Any:
        if "method" in labels:
            labels["method"] = self._method(request)
        return super().label_metric(metric, request, response, **labels)


class CompressionMiddleware(GZipMiddleware):
    """Django's gzip of responses, except Server-Sent Events.

    The back office's pages are large and compress ~20 times (a list page of 50 leads: 386 KB of
    unfold's utility classes, 19 KB gzipped, ~4 ms of CPU on the 2-core machine), and the
    mobile app's lists ~7 times; the web process answers clients directly in the Procfile's
    deployment, so the application compresses rather than a proxy. It sits inside WhiteNoise,
    which serves static files pre-compressed, and outside ConditionalGetMiddleware, so the
    ETag is the uncompressed body's (made weak once compressed: `If-None-Match` and our
    `If-Match` compare weakly, config/api/sync.py). BREACH: Django adds up to 100 random bytes
    to each compressed body, and its CSRF tokens are masked per response.

    An event stream is left alone: each event must reach the client as it is written, and a
    compressing proxy or client may hold it back.
    """

    def process_response(self, request: HttpRequest, response: HttpResponseBase) -> Any:
        if response.get("Content-Type", "").startswith("text/event-stream"):
            return response
        return super().process_response(request, response)
