"""Where the server may connect on an organization's behalf (SSRF guard).

An organization admin chooses the URLs of its CRM, WhatsApp and outbound webhooks, so a URL is
checked where the connection is made: its host is resolved and every address must be public
(no loopback, private, link-local, multicast, reserved or unspecified range, IPv4 or IPv6,
IPv4-mapped forms included). Checking the resolved addresses, not the host's text, is what
stops names such as `127.0.0.1.nip.io` that point inward. `INTEGRATIONS_ALLOW_PRIVATE_URLS`
turns the guard off (local stub servers in tests and development); it is off only when set.
"""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

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
    if getattr(settings, "INTEGRATIONS_ALLOW_PRIVATE_URLS", False):
        return
    parts = urlsplit(url)
    if parts.scheme != "https":
        raise OutboundURLError(_("Use um endereço https."))
    host = (parts.hostname or "").rstrip(".").lower()
    if not host:
        raise OutboundURLError(_("Endereço inválido."))
    try:
        addresses = resolve(host, parts.port or 443)
    except (OSError, UnicodeError) as exc:
        raise OutboundURLError(_("Não foi possível resolver o endereço.")) from exc
    if not addresses:
        raise OutboundURLError(_("Não foi possível resolver o endereço."))
    for text in addresses:
        address = ipaddress.ip_address(text.split("%", 1)[0])
        if not _is_public(address):
            raise OutboundURLError(_("Endereço interno não permitido."))
