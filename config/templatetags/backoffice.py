"""Template filters of the back office: Brazilian number and money formatting.

The active language's formats (pt-BR: "147.000,00") come from Django's own localization, so an
English page shows "147,000.00"; config/formatting.py holds the one definition.
"""

from __future__ import annotations

from typing import Any

from django import template

from config import formatting

register = template.Library()


@register.filter
def brl(value: Any) -> str:
    """Money: `R$ 147.000,00` (an empty value shows as `—`)."""
    return formatting.money(value)


@register.filter
def num(value: Any, places: int = 0) -> str:
    """A count or a figure with `places` decimals, grouped: `5.000`, `12,5`."""
    return formatting.number(value, places)


@register.filter
def pct(value: Any) -> str:
    """A percentage with one decimal: `12,5%`."""
    return formatting.percent(value)
