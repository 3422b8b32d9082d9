"""Where the server may connect on an organization's behalf (SSRF guard).

An organization admin chooses the URLs of its CRM, WhatsApp and outbound webhooks, so a URL is
checked where the connection is made: its host is resolved and every address must be public
(no loopback, private, link-local, multicast, reserved or unspecified range, IPv4 or IPv6,
IPv4-mapped forms included). Checking the resolved addresses, not the host's text, is what
stops names such as `127.0.0.1.nip.io` that point inward. `INTEGRATIONS_ALLOW_PRIVATE_URLS`
turns the guard off (local stub servers in tests and development); it is off only when set.
"""

from __future__ import annotations

import functools
import ipaddress
import socket
import ssl
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

import httpcore
import httpx
from django.conf import settings
from django.utils.translation import gettext as _


class OutboundURLError(ValueError):
    """The URL may not be called from the server (scheme, host or a resolved address)."""


def _is_public(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return bool(
        address.is_global
        and not address.is_multicast
        and not address.is_reserved
        and not address.is_unspecified
    )


def resolve(host: str, port: int) -> list[str]:
    """Every address the host resolves to (module-level so tests can stub the resolver)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


def check_outbound_url(url: str) -> None:
    """Raise OutboundURLError unless `url` is https and every address of its host is public."""
    target = outbound_target(url)
    if target is not None:
        check_address(*target)


def outbound_target(url: str) -> tuple[str, int] | None:
    """The (host, port) of an https URL, without resolving it (OutboundURLError for another
    scheme or a malformed host or port); None when the guard is off. A caller that connects
    through `guarded_client` checks the addresses there, once."""
    if getattr(settings, "INTEGRATIONS_ALLOW_PRIVATE_URLS", False):
        return None
    parts = urlsplit(url)
    if parts.scheme != "https":
        raise OutboundURLError(_("Use um endereço https."))
    host = (parts.hostname or "").rstrip(".").lower()
    if not host:
        raise OutboundURLError(_("Endereço inválido."))
    try:
        port = parts.port or 443
    except ValueError as exc:
        raise OutboundURLError(_("Endereço inválido.")) from exc
    return host, port


def check_address(host: str, port: int) -> list[str]:
    """The host's addresses, all checked public (OutboundURLError otherwise)."""
    try:
        addresses = resolve(host, port)
    except (OSError, UnicodeError) as exc:
        raise OutboundURLError(_("Não foi possível resolver o endereço.")) from exc
    if not addresses:
        raise OutboundURLError(_("Não foi possível resolver o endereço."))
    for text in addresses:
        if not _is_public(ipaddress.ip_address(text.split("%", 1)[0])):
            raise OutboundURLError(_("Endereço interno não permitido."))
    return addresses


class RefusedAddress(httpcore.ConnectError):
    """PublicOnlyBackend refusing a host's addresses as it connects; `reason` is the guard's
    readable OutboundURLError. httpx hands it on as the `__cause__` of its ConnectError."""

    def __init__(self, host: str, reason: OutboundURLError) -> None:
        super().__init__(f"refused outbound address for {host}: {reason}")
        self.reason = reason


class PublicOnlyBackend(httpcore.SyncBackend):
    """httpcore's network backend, resolving and checking the host at connect time.

    The URL was checked when it was saved, but a name can resolve elsewhere later (DNS
    rebinding, a record changed since). Here the host is resolved once more, every address
    checked, and the socket opened to a checked address, so the connection goes exactly where
    the check looked (TLS still verifies the certificate against the host name).
    """

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        if getattr(settings, "INTEGRATIONS_ALLOW_PRIVATE_URLS", False):
            return super().connect_tcp(host, port, timeout, local_address, socket_options)
        try:
            addresses = check_address(host, port)
        except OutboundURLError as exc:
            raise RefusedAddress(host, exc) from exc
        return super().connect_tcp(addresses[0], port, timeout, local_address, socket_options)


@functools.cache
def tls_context() -> ssl.SSLContext:
    """The process's one TLS context for outbound calls: httpx's default (certifi's CA bundle,
    certificates and host names verified). httpx builds a new one for each client, and loading
    the bundle costs ~20-50 ms of CPU, paid on every CRM sync, webhook delivery or push job; an
    SSLContext is safe to share between connections and threads. RQ runs each job in a fresh
    fork of its worker, so the worker builds it first (settings.RQ_WORKER_WARM_UP)."""
    return httpx.create_ssl_context()


def refusal(exc: BaseException) -> OutboundURLError | None:
    """The guard's reason when `exc` (an httpx error of a `guarded_client` call) is the guard
    refusing the host's addresses as it connected; None for any other error."""
    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, RefusedAddress):
            return cause.reason
        cause = cause.__cause__
    return None


def guarded_client(*, timeout: float) -> httpx.Client:
    """An httpx client for calls chosen by an organization (CRM, WhatsApp, webhooks): every
    connection goes through PublicOnlyBackend, and redirects are not followed."""
    transport = httpx.HTTPTransport(verify=tls_context())
    # httpx does not take a network backend; its connection pool does (httpcore 1.x).
    transport._pool._network_backend = PublicOnlyBackend()
    return httpx.Client(transport=transport, timeout=timeout, follow_redirects=False)
