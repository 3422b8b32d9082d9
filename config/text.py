"""Text from outside that PostgreSQL cannot store: NUL characters and lone surrogates."""

from __future__ import annotations

import re
from typing import Any

_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def storable(value: Any) -> Any:
    """`value` with NUL and lone surrogates removed from every string (keys included).

    For text a provider sends us (an inbound WhatsApp message): it is kept, minus what the
    database would refuse, instead of failing its job on every retry. Input from our own API
    is refused instead (config/api/parsers.py).
    """
    if isinstance(value, str):
        return _UNSTORABLE.sub("", value)
    if isinstance(value, dict):
        return {storable(key): storable(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [storable(item) for item in value]
    return value


def first_unstorable(text: str) -> int | None:
    """The index of the first NUL or lone surrogate in `text`, None when there is none."""
    match = _UNSTORABLE.search(text)
    return match.start() if match else None
