"""Secrets encrypted at rest: integration access tokens, app secrets, CRM tokens.

Keys come from ``settings.FIELD_ENCRYPTION_KEY``: one key, or a comma-separated list of keys.
The first key encrypts; every key in the list decrypts (``MultiFernet``). Each key is any
high-entropy string (``python -c "import secrets; print(secrets.token_urlsafe(32))"``); HKDF-SHA256
stretches it to the 32 bytes Fernet needs, so the setting never has to be a Fernet key itself.

Rotation, without downtime:
1. set ``FIELD_ENCRYPTION_KEY=new,old`` and deploy (new writes use ``new``, old rows still read);
2. run ``python manage.py rotate_field_encryption`` (re-encrypts every encrypted column with
   ``new``);
3. set ``FIELD_ENCRYPTION_KEY=new`` and deploy.

Ciphertext is a Fernet token (AES-128-CBC + HMAC-SHA256, random IV), stored as text. Because
the IV is random, encrypted columns cannot be searched: ``EncryptedTextField`` refuses every
lookup but ``isnull``. Errors never include the plaintext or the ciphertext.
"""

from __future__ import annotations

import base64
import functools
from typing import Any, cast

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings
from django.core.exceptions import FieldError, ImproperlyConfigured
from django.db import models
from django.db.models import Lookup

__all__ = ["DecryptionError", "EncryptedTextField", "decrypt", "encrypt", "mask"]

# Fixed, public context for HKDF: it separates these keys from any other use of the same secret.
_HKDF_SALT = b"lead-tracking/integrations/field-encryption"
_HKDF_INFO = b"fernet-v1"


class DecryptionError(ImproperlyConfigured):
    """A stored secret cannot be decrypted with any configured key (key removed or wrong)."""


def _derive(key: str) -> Fernet:
    raw = HKDF(algorithm=hashes.SHA256(), length=32, salt=_HKDF_SALT, info=_HKDF_INFO).derive(
        key.encode("utf-8")
    )
    return Fernet(base64.urlsafe_b64encode(raw))


@functools.lru_cache(maxsize=8)
def _fernet_for(setting: str) -> MultiFernet:
    keys = [part.strip() for part in setting.split(",") if part.strip()]
    if not keys:
        raise ImproperlyConfigured("FIELD_ENCRYPTION_KEY is empty.")
    return MultiFernet([_derive(key) for key in keys])


def _fernet() -> MultiFernet:
    # Looked up on every call (cached per value) so override_settings and key changes apply.
    return _fernet_for(str(getattr(settings, "FIELD_ENCRYPTION_KEY", "") or ""))


def encrypt(plaintext: str) -> str:
    """Fernet token of ``plaintext`` under the first configured key."""
    return _fernet().encrypt(plaintext.encode("utf-8")).decode("ascii")


def decrypt(token: str) -> str:
    """Plaintext of a token made by ``encrypt`` under any configured key."""
    try:
        return _fernet().decrypt(token.encode("ascii")).decode("utf-8")
    except (InvalidToken, UnicodeError, ValueError):
        # `from None`: the chained exception would carry nothing useful, and no secret either.
        raise DecryptionError(
            "A stored secret could not be decrypted with FIELD_ENCRYPTION_KEY "
            "(was a key removed before rotate_field_encryption ran?)."
        ) from None


def rotate(token: str) -> str:
    """The same secret re-encrypted under the first configured key."""
    try:
        return _fernet().rotate(token.encode("ascii")).decode("ascii")
    except (InvalidToken, UnicodeError, ValueError):
        raise DecryptionError("A stored secret could not be decrypted for rotation.") from None


def mask(value: str | None) -> str:
    """What admin pages show instead of a secret: whether it is set, never any of it."""
    return "••••••••" if value else ""


class EncryptedTextField(models.TextField[str, str]):
    """Text encrypted with ``FIELD_ENCRYPTION_KEY`` in the database, plaintext in Python.

    Empty strings and NULL are stored as they are (there is no secret to hide). Keep these
    fields out of serializers' readable fields, admin forms and ``__str__``.
    """

    description = "Text encrypted at rest (Fernet)"

    def from_db_value(self, value: Any, expression: Any, connection: Any) -> str | None:
        if value is None or value == "":
            return cast("str | None", value)
        return decrypt(str(value))

    def get_prep_value(self, value: Any) -> Any:
        value = super().get_prep_value(value)
        if value is None or value == "":
            return value
        return encrypt(str(value))

    def get_lookup(self, lookup_name: str) -> type[Lookup[Any]] | None:
        # Ciphertexts are randomized: an equality filter would silently never match.
        if lookup_name != "isnull":
            raise FieldError(f"Encrypted field '{self.name}' does not support '{lookup_name}'.")
        return super().get_lookup(lookup_name)
