"""Template filters of the back office: Brazilian number and money formatting.

The active language's formats (pt-BR: "147.000,00") come from Django's own localization, so an
English page shows "147,000.00"; grouping is forced because Django only groups numbers when
USE_THOUSAND_SEPARATOR is on, which would also change every number the API renders.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from django import template
from django.utils.formats import number_format

register = template.Library()


def _decimal(value: Any) -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        return Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None


@register.filter
def brl(value: Any) -> str:
    """Money: `R$ 147.000,00` (an empty value shows as `—`)."""
    number = _decimal(value)
    if number is None:
        return "—"
    return "R$ " + number_format(number, 2, use_l10n=True, force_grouping=True)


@register.filter
def num(value: Any, places: int = 0) -> str:
    """A count or a figure with `places` decimals, grouped: `5.000`, `12,5`."""
    number = _decimal(value)
    if number is None:
        return "—"
    return number_format(number, int(places), use_l10n=True, force_grouping=True)


@register.filter
def pct(value: Any) -> str:
    """A percentage with one decimal: `12,5%`."""
    number = _decimal(value)
    if number is None:
        return "—"
    return number_format(number, 1, use_l10n=True, force_grouping=True) + "%"
