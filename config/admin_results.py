"""A change list's rows without rebuilding, for every row, what is the same on every row.

django-unfold (0.91) builds three things per row that do not change from row to row:

- **The column headers.** Its rows (`unfold.templatetags.unfold_list.items_for_result`) call
  `result_headers(cl)` for every row, only to read each column's label for the cells'
  `data-label`. Each call builds every header again: three ordering links per sortable column
  and the select-all checkbox rendered through a template. A page of 50 leads with 9 columns
  built 459 headers to show 9. `install()` makes `result_headers` keep a change list's headers
  on that change list (one request's object), their labels already translated text, and hand
  the same ones to every later caller on that page.
- **The row checkbox.** `ModelAdmin.action_checkbox` renders the same widget template for
  every row, with only the row's key differing. `install()` makes it render once per language
  and put each row's key in its place.
- **The two-line cells** (`@display(header=True)`, the lead list's name and email). Unfold
  renders `unfold/helpers/display_header.html` for every row. `install()` makes a cell of
  text without initials or picture render that template once per language and shape (which
  of the two lines are there) and put each row's escaped text in its place; any other value
  goes through unfold's own.

The page is the same HTML (tests/test_admin_results.py compares it with unfold's own);
bench/README.md ("Where a list request's time goes") has the figures.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from functools import lru_cache
from typing import Any, cast

from django.contrib.admin import helpers
from django.utils.functional import Promise
from django.utils.html import conditional_escape, escape
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import get_language
from unfold import admin as unfold_admin
from unfold.templatetags import unfold_list

_KEPT = "_kept_result_headers"


def kept_headers(build: Callable[[Any], Any]) -> Callable[[Any], Iterator[dict[str, Any]]]:
    """`build(cl)`'s headers, built on a change list's first call and kept on it."""

    def result_headers(cl: Any) -> Iterator[dict[str, Any]]:
        headers = cl.__dict__.get(_KEPT)
        if headers is None:
            headers = [_translated(header) for header in build(cl)]
            cl.__dict__[_KEPT] = headers
        return iter(headers)

    result_headers.__wrapped__ = build  # type: ignore[attr-defined]
    return result_headers


def _translated(header: dict[str, Any]) -> dict[str, Any]:
    # A lazy label would be translated again in each of the page's cells; str() keeps a safe
    # label safe (SafeString.__str__ returns itself).
    text = header.get("text")
    if isinstance(text, Promise):
        header = {**header, "text": str(text)}
    return header


def install() -> None:
    """Once, at start-up (config.apps.BackOfficeAdminConfig.ready): every unfold admin's list."""
    if not hasattr(unfold_list.result_headers, "__wrapped__"):
        unfold_list.result_headers = kept_headers(unfold_list.result_headers)
    if not hasattr(unfold_admin.ModelAdmin.action_checkbox, "__wrapped__"):
        unfold_admin.ModelAdmin.action_checkbox = kept_checkbox(
            unfold_admin.ModelAdmin.action_checkbox
        )
    if not hasattr(unfold_list.display_for_header, "__wrapped__"):
        unfold_list.display_for_header = kept_header_cell(unfold_list.display_for_header)


# A value no key contains: where each row's key goes in the rendered checkbox.
_KEY_MARK = "kept-row-checkbox-key"


@lru_cache(maxsize=32)
def _row_checkbox(language: str | None) -> tuple[str, str]:
    """Unfold's row checkbox rendered in `language`, split where the row's key goes."""
    html = str(unfold_admin.checkbox.render(helpers.ACTION_CHECKBOX_NAME, _KEY_MARK))
    before, mark, after = html.partition(_KEY_MARK)
    if not mark or _KEY_MARK in after:  # pragma: no cover - unfold's template changed
        raise RuntimeError("unfold's row checkbox does not hold its value exactly once")
    return before, after


def kept_checkbox(render: Callable[[Any, Any], Any]) -> Callable[[Any, Any], SafeString]:
    """A model admin's row checkbox as `render` (unfold's) gives it, its template rendered
    once per language; the column's header and display attributes are `render`'s."""

    def action_checkbox(model_admin: Any, obj: Any) -> SafeString:
        before, after = _row_checkbox(get_language())
        return mark_safe(before + escape(str(obj.pk)) + after)  # noqa: S308 (escaped key)

    action_checkbox.__dict__.update(vars(render))
    action_checkbox.__wrapped__ = render  # type: ignore[attr-defined]
    return action_checkbox


# Where each line's text goes in a rendered two-line cell.
_LINE_MARKS = ("kept-header-cell-title", "kept-header-cell-subtitle")


@lru_cache(maxsize=64)
def _header_cell(language: str | None, shape: tuple[bool, bool]) -> tuple[str, ...]:
    """Unfold's two-line cell for a title and subtitle present as `shape` says, rendered in
    `language` and split around the marks of the lines present: (html, mark, html, ...)."""
    marks = [mark if present else "" for mark, present in zip(_LINE_MARKS, shape, strict=True)]
    html = str(unfold_list.display_for_header.__wrapped__([*marks, "", None], ""))
    parts: list[str] = []
    for mark in marks:
        if not mark:
            continue
        before, found, html = html.partition(mark)
        if not found or mark in html:  # pragma: no cover - unfold's template changed
            raise RuntimeError("unfold's two-line cell does not hold each line exactly once")
        parts += [before, mark]
    return (*parts, html)


def _plain_text(value: Any) -> bool:
    return value is None or isinstance(value, str)


def kept_header_cell(render: Callable[[Any, str], Any]) -> Callable[[Any, str], SafeString]:
    """`render` (unfold's `display_for_header`) for a title and subtitle of text with neither
    initials nor picture, its template rendered once per language and shape."""

    def display_for_header(value: Any, empty_value_display: str) -> SafeString:
        if (
            not isinstance(value, list | tuple)
            or not 2 <= len(value) <= 4
            or any(value[2:])
            or not all(_plain_text(line) for line in value[:2])
        ):
            return cast(SafeString, render(value, empty_value_display))
        lines = dict(zip(_LINE_MARKS, value[:2], strict=True))
        parts = _header_cell(get_language(), (bool(value[0]), bool(value[1])))
        return mark_safe(  # noqa: S308 (each line escaped as the template escapes it)
            "".join(conditional_escape(lines[part]) if part in lines else part for part in parts)
        )

    display_for_header.__wrapped__ = render  # type: ignore[attr-defined]
    return display_for_header
