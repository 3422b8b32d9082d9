"""Accent- and case-blind text search, one rule for the API's `search` filters and the admin's
search box ("sergio" finds "Sérgio", "joao" finds "João").

A column matches when `f_unaccent(lower(column))` contains the folded search text. On
PostgreSQL `f_unaccent` is an IMMUTABLE SQL wrapper around the `unaccent` extension (created by
the migrations, `config.migrations_ops.CreateUnaccentFunction`), so each app can index exactly
that expression in an organization-first trigram GIN index and `LIKE '%text%'` uses it. On
SQLite the same name is a Python function registered on every new connection (`register_sqlite`)
that folds the text the way `fold` does. Phone numbers match on their digits.

A model may store that folded text in a column written with the row (leads' `search_fold`,
kept by a database trigger built from `folded_sql`): the search then compares the column, so
rechecking a common term's thousands of candidate rows calls no function (bench/README.md).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from typing import Any

from django.db.models import F, Func, Q, QuerySet, TextField
from django.db.models.functions import Lower
from django.db.models.lookups import Contains

MIN_PHONE_DIGITS = 3
# The pending list of every GIN index (search, names, tags), in kB; PostgreSQL's default is
# 4096. An update that is not HOT (most lead writes change an indexed column) appends its
# entries to the pending list, which every search of every organization scans and which the
# writer that fills it merges into the index: with 4 MB, +2.7 ms on a rare search at 100,000
# leads and one write in a few thousand waiting ~300 ms; with 256 kB, +0.1 ms and ~70 ms
# (bench/README.md, "GIN pending lists").
GIN_PENDING_LIST_KB = 256


def strip_accents(text: str) -> str:
    """`Sérgio` -> `Sergio`: the text without combining marks (NFKD)."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def fold(text: str) -> str:
    """The accent- and case-blind form of a text, as `f_unaccent(lower(...))` computes it."""
    return strip_accents(text.lower())


class FUnaccent(Func):
    """`f_unaccent(expression)`: the indexable unaccent (see the module docstring)."""

    function = "f_unaccent"
    arity = 1
    output_field = TextField()


class SearchText(Func):
    """The searched columns as one text, NULLs as '', joined by the unit separator (chr 31,
    which a search text never contains), so one index column and one function call per row
    cover them all: a common term rechecks thousands of rows, each call counts."""

    output_field = TextField()

    def as_sql(self, compiler: Any, connection: Any, **extra: Any) -> Any:  # type: ignore[override]
        parts: list[str] = []
        params: list[Any] = []
        for expression in self.get_source_expressions():
            sql, part_params = compiler.compile(expression)
            parts.append(f"COALESCE(({sql}), '')")
            params.extend(part_params)
        separator = " || chr(31) || " if connection.vendor == "postgresql" else " || char(31) || "
        return "(" + separator.join(parts) + ")", params


def folded(*fields: str) -> FUnaccent:
    """What the search compares and the indexes hold: f_unaccent(lower(the fields' text))."""
    return FUnaccent(Lower(SearchText(*(F(field) for field in fields))))


def folded_sql(columns: Sequence[str], *, vendor: str) -> str:
    """`folded(...)` as raw SQL over these column references (`NEW.nome_completo`,
    `a.empresa`), for triggers and hand-written queries: the same text as the ORM's."""
    separator = " || chr(31) || " if vendor == "postgresql" else " || char(31) || "
    joined = separator.join(f"COALESCE({column}, '')" for column in columns)
    return f"f_unaccent(lower({joined}))"


def search_condition(
    value: str,
    *,
    text_fields: Sequence[str],
    digits_field: str | None = None,
    folded_field: str | None = None,
) -> Q | None:
    """The match of `value` in any of `text_fields` (accents and case ignored) or, with 3 or
    more digits, in `digits_field`; None for a blank value (no filtering). `folded_field`
    names a stored column holding `folded(*text_fields)`, compared instead of the expression."""
    printable = "".join(ch for ch in value if ch.isprintable())
    text = fold(" ".join(printable.split()))
    if not text:
        return None
    target = F(folded_field) if folded_field else folded(*text_fields)
    condition = Q(Contains(target, text))
    digits = "".join(ch for ch in value if ch.isdigit())
    if digits_field and len(digits) >= MIN_PHONE_DIGITS:
        condition |= Q(**{f"{digits_field}__contains": digits})
    return condition


def search(
    queryset: QuerySet[Any],
    value: str,
    *,
    text_fields: Sequence[str],
    digits_field: str | None = None,
    folded_field: str | None = None,
) -> QuerySet[Any]:
    condition = search_condition(
        value, text_fields=text_fields, digits_field=digits_field, folded_field=folded_field
    )
    return queryset if condition is None else queryset.filter(condition)


class AccentBlindSearchAdminMixin:
    """The admin's search box with the API's rule: the whole text, accents and case ignored.

    The model admin names its `search_text_fields` and `search_digits_field`; `search_fields`
    is still set so that Django shows the search box.
    """

    search_text_fields: Sequence[str] = ()
    search_digits_field: str | None = None
    search_folded_field: str | None = None

    def get_search_results(
        self, request: Any, queryset: QuerySet[Any], search_term: str
    ) -> tuple[QuerySet[Any], bool]:
        result = search(
            queryset,
            search_term,
            text_fields=self.search_text_fields,
            digits_field=self.search_digits_field,
            folded_field=self.search_folded_field,
        )
        return result, False


def register_sqlite(sender: Any, connection: Any, **kwargs: Any) -> None:
    """`connection_created` receiver: SQLite gets `f_unaccent` as a Python function."""
    if connection.vendor != "sqlite":
        return
    # SQLite's lower() folds ASCII only, so the function lowercases too: f_unaccent(lower(x))
    # then equals fold(x), as on PostgreSQL.
    connection.connection.create_function(
        "f_unaccent", 1, lambda text: None if text is None else fold(text), deterministic=True
    )
