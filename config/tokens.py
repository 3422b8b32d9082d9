"""Random secret tokens we hand out and later look up (webhook verify tokens, gateway tokens,
invitation links)."""

from __future__ import annotations

import hashlib


def token_digest(token: str) -> str:
    """The stored form of a token (SHA-256 hex). The tokens are random and high-entropy, so a
    plain digest cannot be reversed, and unlike a randomized ciphertext it can be searched."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()
