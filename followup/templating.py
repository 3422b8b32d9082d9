"""Strict message templates for follow-up steps.

A template is plain text with placeholders ``{{ primeiro_nome }}``, ``{{ nome_completo }}``,
``{{ empresa }}`` and ``{{ closer_nome }}`` (spaces inside the braces optional). Everything else
that looks like template syntax is rejected when the sequence is saved, so a typo never reaches
a lead: other variable names, attribute access (``{{ lead.email }}``), filters
(``{{ nome_completo|upper }}``), tags (``{% ... %}``), comments (``{# ... #}``) and unbalanced or
stray ``{{``, ``}}``, ``{%``, ``%}``, ``{#``, ``#}``. Single braces are ordinary text.

Django's and Jinja's engines are deliberately not used: this small parser only ever substitutes
plain strings from a fixed set of names, so a template cannot reach model attributes, settings
or callables. Output is plain text (no HTML escaping); callers escape for HTML themselves.
Substituted values are never parsed again, so a lead named ``{{ x }}`` renders literally.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import lru_cache

__all__ = [
    "ALLOWED_VARIABLES",
    "TemplateSyntaxProblem",
    "render_template",
    "template_context",
    "validate_template",
]

ALLOWED_VARIABLES: frozenset[str] = frozenset(
    {"primeiro_nome", "nome_completo", "empresa", "closer_nome"}
)

# Fixed order for the hint shown to API users.
_HINT = "Use {{ primeiro_nome }}, {{ nome_completo }}, {{ empresa }} ou {{ closer_nome }}."
# Every two-character opener or closer of Django/Jinja syntax; any of them outside a
# well-formed ``{{ name }}`` is an error.
_MARKER = re.compile(r"\{\{|\}\}|\{%|%\}|\{#|#\}")
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# Long enough to recognise the spot in a message, short enough for an error response.
_MAX_EXCERPT = 40

# A compiled template: (literal text, variable name or None) pairs, rendered in order.
_Compiled = tuple[tuple[str, str | None], ...]


class TemplateSyntaxProblem(ValueError):
    """A template uses something other than the allowed placeholders.

    ``placeholder`` is the offending text (e.g. ``"{{ lead.email }}"``), ``reason`` a Portuguese
    sentence for the API user, ``position`` the index in the template where it starts.
    """

    def __init__(self, placeholder: str, reason: str, position: int) -> None:
        super().__init__(reason)
        self.placeholder = placeholder
        self.reason = reason
        self.position = position


def validate_template(text: str) -> None:
    """Raise :class:`TemplateSyntaxProblem` for the first problem in ``text``, if any."""
    _compile(text)


def render_template(text: str, context: Mapping[str, str | None]) -> str:
    """Validate ``text`` and substitute the placeholders; missing or ``None`` values give ``""``."""
    pieces: list[str] = []
    for literal, name in _compile(text):
        pieces.append(literal)
        if name is not None:
            value = context.get(name)
            if value:
                pieces.append(value)
    return "".join(pieces)


def template_context(
    *, nome_completo: str | None, empresa: str | None, closer_nome: str | None
) -> dict[str, str]:
    """The render context for a lead; ``primeiro_nome`` is the first word of ``nome_completo``."""
    full_name = (nome_completo or "").strip()
    words = full_name.split()
    return {
        "primeiro_nome": words[0] if words else "",
        "nome_completo": full_name,
        "empresa": (empresa or "").strip(),
        "closer_nome": (closer_nome or "").strip(),
    }


def _excerpt(text: str) -> str:
    return text if len(text) <= _MAX_EXCERPT else text[:_MAX_EXCERPT] + "…"


def _variable_problem(content: str) -> str | None:
    """Why the inside of ``{{ ... }}`` is not acceptable, or None if it is an allowed name."""
    name = content.strip()
    if name in ALLOWED_VARIABLES:
        return None
    if not name:
        return f"Placeholder vazio. {_HINT}"
    if "|" in name:
        return f"Filtros não são permitidos: {name}. {_HINT}"
    if "." in name or "[" in name:
        return f"Acesso a atributos não é permitido: {name}. {_HINT}"
    if _IDENTIFIER.fullmatch(name):
        return f"Variável desconhecida: {name}. {_HINT}"
    return f"Placeholder inválido: {name}. {_HINT}"


# Cached because every dispatched step renders its message; invalid templates raise and are
# therefore not cached, which is fine since they are rejected at save time.
@lru_cache(maxsize=1024)
def _compile(text: str) -> _Compiled:
    parts: list[tuple[str, str | None]] = []
    position = 0  # end of the last consumed token
    while True:
        match = _MARKER.search(text, position)
        if match is None:
            parts.append((text[position:], None))
            return tuple(parts)
        marker, start = match.group(), match.start()
        if marker == "{{":
            closing = _MARKER.search(text, match.end())
            if closing is None or closing.group() != "}}":
                stop = len(text) if closing is None else closing.start()
                raise TemplateSyntaxProblem(
                    _excerpt(text[start:stop].rstrip()),
                    f"Placeholder aberto com {{{{ e não fechado com }}}}. {_HINT}",
                    start,
                )
            placeholder = text[start : closing.end()]
            problem = _variable_problem(text[match.end() : closing.start()])
            if problem is not None:
                raise TemplateSyntaxProblem(_excerpt(placeholder), problem, start)
            parts.append((text[position:start], text[match.end() : closing.start()].strip()))
            position = closing.end()
        elif marker in ("{%", "{#"):
            closer = "%}" if marker == "{%" else "#}"
            end = text.find(closer, match.end())
            placeholder = text[start:] if end == -1 else text[start : end + len(closer)]
            reason = (
                "Tags de template ({% ... %}) não são permitidas."
                if marker == "{%"
                else "Comentários ({# ... #}) não são permitidos."
            )
            raise TemplateSyntaxProblem(_excerpt(placeholder), f"{reason} {_HINT}", start)
        else:
            # A closer with no opener: show the text leading up to it so the user can find it.
            before = text[position:start]
            context = (before[before.rfind("\n") + 1 :] + marker).lstrip()
            if len(context) > _MAX_EXCERPT:
                context = "…" + context[-_MAX_EXCERPT:]
            raise TemplateSyntaxProblem(
                context, f"{marker} sem a abertura correspondente. {_HINT}", start
            )
