"""A change list's rows without rebuilding, for every row, what is the same on every row.

django-unfold (0.91) builds two things per row that do not change from row to row:

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

The page is the same HTML (tests/test_admin_results.py compares it with unfold's own);
bench/README.md ("Where a list request's time goes") has the figures.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from functools import lru_cache
from typing import Any

from django.contrib.admin import helpers
from django.utils.functional import Promise
from django.utils.html import escape
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
