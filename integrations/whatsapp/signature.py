"""Verification of Meta's ``X-Hub-Signature-256`` webhook header.

Meta signs every event notification with HMAC-SHA256 keyed by the app secret and sends
``X-Hub-Signature-256: sha256=<hex digest>``. The digest is computed over the payload exactly
as sent, which Meta serialises as *escaped unicode with lowercase hex digits* (``"Ol\\u00e1"``),
so verification must use the raw request bytes, never a re-serialised body.
https://developers.facebook.com/docs/graph-api/webhooks/getting-started
"""

from __future__ import annotations

import hashlib
import hmac

__all__ = ["SIGNATURE_HEADER", "sign", "verify_signature"]

SIGNATURE_HEADER = "X-Hub-Signature-256"
_PREFIX = "sha256="


def sign(raw_body: bytes, app_secret: str) -> str:
    """Return the header value Meta would send for ``raw_body``: ``"sha256=<lowercase hex>"``."""
    digest = hmac.new(app_secret.encode("utf-8"), raw_body, hashlib.sha256).hexdigest()
    return _PREFIX + digest


def verify_signature(raw_body: bytes, header: str | None, app_secret: str) -> bool:
    """True only if ``header`` is a valid signature of ``raw_body``; never raises.

    A missing, empty or malformed header, a non-bytes body or an empty app secret all give
    False: the caller should answer 403 and must not parse the body.
    """
    if not isinstance(header, str) or not isinstance(app_secret, str) or not app_secret:
        return False
    if not isinstance(raw_body, bytes | bytearray | memoryview):
        return False
    candidate = header.strip()
    # hmac.compare_digest rejects non-ASCII str with TypeError, so filter before comparing.
    if not candidate.isascii() or candidate[: len(_PREFIX)].lower() != _PREFIX:
        return False
    try:
        expected = sign(bytes(raw_body), app_secret)
    except UnicodeEncodeError:  # a secret with lone surrogates cannot match anything Meta sends
        return False
    received = _PREFIX + candidate[len(_PREFIX) :].lower()
    return hmac.compare_digest(expected.encode("ascii"), received.encode("ascii"))
