"""Numbers and money as the active language writes them: pt-BR "R$ 147.000,00", en "147,000.00".

One definition for the back office's template filters (config/templatetags/backoffice.py) and its
list columns (`money_column`). Grouping is forced rather than left to USE_THOUSAND_SEPARATOR so a
figure stays grouped even where a template switches localization off.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import Any

from django.contrib import admin
from django.utils.formats import number_format
from django.utils.html import format_html

EMPTY = "—"


def as_decimal(value: Any) -> Decimal | None:
    if value is None or value == "" or isinstance(value, bool):
        return None
    try:
        return Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None


def money(value: Any) -> str:
    """`R$ 147.000,00` (pt-BR) or `R$ 147,000.00` (en); an empty value is `—`."""
    number = as_decimal(value)
    if number is None:
        return EMPTY
    return "R$ " + number_format(number, 2, use_l10n=True, force_grouping=True)


def number(value: Any, places: int = 0) -> str:
    """A count or a figure with `places` decimals, grouped: `5.000`, `12,5`."""
    figure = as_decimal(value)
    if figure is None:
        return EMPTY
    return number_format(figure, int(places), use_l10n=True, force_grouping=True)


def percent(value: Any) -> str:
    """A percentage with one decimal: `12,5%`."""
    figure = as_decimal(value)
    if figure is None:
        return EMPTY
    return number_format(figure, 1, use_l10n=True, force_grouping=True) + "%"


def money_column(field: str, label: Any) -> Callable[[Any], str]:
    """A list_display column showing a money field as `R$ 147.000,00`, sortable by the field."""

    @admin.display(description=label, ordering=field)
    def column(obj: Any) -> str:
        # One line: "R$" never left alone above the figure in a narrow column.
        return format_html('<span class="whitespace-nowrap">{}</span>', money(getattr(obj, field)))

    column.__name__ = f"{field}_brl"
    return column


def plain_column(field: str, label: Any) -> Callable[[Any], str]:
    """A list_display column for a number that is a code, not a quantity (a year: 2026, never
    "2.026" as USE_THOUSAND_SEPARATOR would group it)."""

    @admin.display(description=label, ordering=field)
    def column(obj: Any) -> str:
        value = getattr(obj, field)
        return EMPTY if value is None else str(value)

    column.__name__ = f"{field}_plain"
    return column


def percent_column(field: str, label: Any) -> Callable[[Any], str]:
    """A list_display column showing a percentage field as `12,5%`, sortable by the field."""

    @admin.display(description=label, ordering=field)
    def column(obj: Any) -> str:
        return percent(getattr(obj, field))

    column.__name__ = f"{field}_pct"
    return column
