"""Rows read with hand-written SQL, converted as the ORM converts them.

A few hot reads (the requester's membership, a page of the leads list) run statements written
once instead of compiling an ORM query per request. Their values must still be what the ORM
would give: the backend's and the fields' `from_db_value` converters (a JSON field's text, a
SQLite date or UUID) are applied here, the same ones the SQL compiler applies.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

from django.db.models import Field

Converter = Callable[[Any, Any, Any], Any]
# (position in the row, its converters, the column expression they are called with)
Converters = tuple[tuple[int, tuple[Converter, ...], Any], ...]


def column_converters(
    columns: Iterable[tuple[str, Field[Any, Any]]], connection: Any, *, start: int = 0
) -> Converters:
    """The converters of the columns (table, field) at positions `start`, `start + 1`, ...;
    only the columns that have any."""
    found = []
    for position, (table, field) in enumerate(columns, start):
        column = field.get_col(table)
        converters = connection.ops.get_db_converters(column) + column.get_db_converters(connection)
        if converters:
            found.append((position, tuple(converters), column))
    return tuple(found)


def converted(row: Sequence[Any], converters: Converters, connection: Any) -> list[Any]:
    """The row's values with the converters applied."""
    values = list(row)
    for position, functions, column in converters:
        for convert in functions:
            values[position] = convert(values[position], column, connection)
    return values
