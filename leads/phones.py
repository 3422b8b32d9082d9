"""Phone numbers: E.164 normalization (default region BR) and the WhatsApp match key."""

from __future__ import annotations

import phonenumbers


class InvalidPhone(ValueError):
    """The text is not a valid phone number."""


def normalize_phone(raw: str, region: str = "BR") -> str:
    """E.164 form of a number typed in any common way; raises InvalidPhone."""
    text = (raw or "").strip()
    if not text or len(text) > 40:
        raise InvalidPhone(raw)
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException as exc:
        raise InvalidPhone(raw) from exc
    if not phonenumbers.is_valid_number(number):
        raise InvalidPhone(raw)
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def phone_match_key(phone: str | None) -> str | None:
    """Digits of a number with Brazil's mobile ninth digit removed.

    WhatsApp reports some Brazilian mobiles without the ninth digit (accounts created before
    2016: `55 11 8765 4321` for `+55 11 98765 4321`). Dropping it on both sides gives one key
    that matches either form; landlines (first digit 2-5) and mobiles without the nine never
    collide because their first subscriber digits differ.
    """
    if not phone:
        return None
    digits = "".join(ch for ch in phone if ch.isdigit())
    if not digits:
        return None
    if digits.startswith("55") and len(digits) == 13 and digits[4] == "9":
        return digits[:4] + digits[5:]
    return digits
