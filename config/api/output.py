"""Answers written by output-only serializers kept per thread: `represent(cls, instance)`.

`cls(instance).data` builds a new serializer, and DRF deep-copies every declared field of each
new serializer (`Serializer.fields` -> `get_fields` -> `copy.deepcopy(_declared_fields)`),
nested serializers and each `many=True` child included. The sales dashboard's answer (five
serializers, 39 fields) spent about two thirds of its serialization copying fields: 2.2 ms
against 0.68 ms for the same answer from a kept serializer, measured in process on the 2-core
machine under load (bench/README.md, "Long statements kept; the dashboard's serializer kept").

`represent` keeps one instance of the class per thread, its fields bound once, and calls its
`to_representation`: the same dictionary as `.data` (a plain `dict` rather than DRF's
`ReturnDict`, which only adds a link back to the serializer for the browsable API's forms).
The fields look up what depends on the request when they write a value (DRF's
`DateTimeField` asks for the current time zone each time), not when they are bound.

Only for a serializer that keeps no state of a request: no `context`, no field or method that
stores anything on the serializer while it writes.
"""

from __future__ import annotations

import threading
from typing import Any

from rest_framework import serializers

_kept = threading.local()


def kept_serializer(cls: type[serializers.Serializer[Any]]) -> serializers.Serializer[Any]:
    """This thread's instance of `cls`, made on first use."""
    instances: dict[type, serializers.Serializer[Any]] = _kept.__dict__.setdefault("by_class", {})
    try:
        return instances[cls]
    except KeyError:
        instance = instances[cls] = cls()
        return instance


def represent(cls: type[serializers.Serializer[Any]], instance: Any) -> dict[str, Any]:
    """`cls(instance).data`, written by this thread's kept instance of `cls`."""
    written: dict[str, Any] = kept_serializer(cls).to_representation(instance)
    return written
