"""The API's JSON parser: bounded nesting, and no text the database cannot store.

DRF's parser hands the body to `json.load`, whose recursion a body of 50,000 nested brackets
exhausts (RecursionError, a 500). Here the nesting depth is measured first, without recursion,
and a body deeper than `API_JSON_MAX_DEPTH` is a 400. After parsing, every string (keys too) is
checked for NUL characters and lone surrogates, which PostgreSQL cannot store (a DataError, a
500, in JSON fields such as a sequence's steps): a 400 naming the field.
"""

from __future__ import annotations

import re
from typing import Any

from django.conf import settings
from django.utils.translation import gettext as _
from rest_framework import exceptions, parsers
from rest_framework.utils import json

# A JSON string literal (escapes included), removed before counting brackets.
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.S)
_NOT_BRACKET = re.compile(r"[^\[\]{}]")
_SURROGATE = re.compile("[\ud800-\udfff]")


def nesting_depth(text: str) -> int:
    """The deepest bracket nesting of a JSON text (strings ignored), iteratively."""
    brackets = _NOT_BRACKET.sub("", _STRING.sub("", text))
    depth = deepest = 0
    for char in brackets:
        if char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        else:
            depth -= 1
    return deepest


def bad_text_path(data: Any) -> str | None:
    """The path (`steps[0].mensagem`) of the first string holding NUL or a lone surrogate."""
    stack: list[tuple[str, Any]] = [("", data)]
    while stack:
        path, value = stack.pop()
        if isinstance(value, str):
            if "\x00" in value or _SURROGATE.search(value):
                return path or "non_field_errors"
        elif isinstance(value, dict):
            for key, item in value.items():
                child = f"{path}.{key}" if path else str(key)
                if "\x00" in key or _SURROGATE.search(key):
                    return child
                stack.append((child, item))
        elif isinstance(value, list):
            stack.extend((f"{path}[{index}]", item) for index, item in enumerate(value))
    return None


class SafeJSONParser(parsers.JSONParser):
    """JSONParser with a depth limit (400) and NUL/lone-surrogate refusal (400 naming the field)."""

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        parser_context = parser_context or {}
        encoding = parser_context.get("encoding", settings.DEFAULT_CHARSET)
        raw = stream.read() if stream is not None else b""
        try:
            text = raw.decode(encoding)
        except (UnicodeDecodeError, LookupError) as exc:
            raise exceptions.ParseError(_("JSON inválido: codificação não suportada.")) from exc
        limit = getattr(settings, "API_JSON_MAX_DEPTH", 32)
        if nesting_depth(text) > limit:
            raise exceptions.ParseError(
                _("JSON aninhado demais (máximo de %(limit)s níveis).") % {"limit": limit}
            )
        try:
            data = json.loads(text)  # NaN and Infinity refused, as DRF's parser does
        except ValueError as exc:
            raise exceptions.ParseError(_("JSON inválido: %(erro)s") % {"erro": exc}) from exc
        path = bad_text_path(data)
        if path is not None:
            raise exceptions.ValidationError(
                {path: [_("Texto com caracteres não permitidos (NUL ou substituto isolado).")]}
            )
        return data
