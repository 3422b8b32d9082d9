"""A change list's headers and row checkboxes built once per page (config.admin_results): the
page's table is the HTML unfold's own code gives, in Portuguese and in English, and the
headers are built once per page instead of once per row."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.utils import translation
from django.utils.safestring import mark_safe
from unfold import admin as unfold_admin
from unfold.exceptions import UnfoldException
from unfold.templatetags import unfold_list

from config.admin_results import _header_cell, kept_headers
from tests.admin_support import login
from tests.factories import InteractionFactory, LeadFactory, TaskFactory

pytestmark = pytest.mark.django_db

# Organization-scoped lists, and the users' (an admin that is not organization-scoped).
PAGES = [
    "/admin/leads/lead/",
    "/admin/leads/leadinteraction/",
    "/admin/leads/task/",
    "/admin/organizations/user/",
]


def _table(client: Any, path: str, language: str) -> str:
    response = client.get(path, headers={"accept-language": language})
    assert response.status_code == 200
    found = re.search(r"<table.*?</table>", response.content.decode(), re.DOTALL)
    assert found, path
    return found.group(0)


def _unfolds_own(monkeypatch: pytest.MonkeyPatch) -> None:
    """Unfold's headers (rebuilt for every row) and its row checkbox (rendered every row)."""
    monkeypatch.setattr(unfold_list, "result_headers", unfold_list.result_headers.__wrapped__)
    monkeypatch.setattr(
        unfold_admin.ModelAdmin,
        "action_checkbox",
        unfold_admin.ModelAdmin.action_checkbox.__wrapped__,
    )
    monkeypatch.setattr(
        unfold_list, "display_for_header", unfold_list.display_for_header.__wrapped__
    )


def test_the_tables_are_the_html_unfold_gives(org_a: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    leads = LeadFactory.create_batch(3, organization=org_a.org, closer=org_a.closer)
    # Two-line cells of every shape: escaped text, no subtitle (no email, phone or company).
    LeadFactory(organization=org_a.org, nome_completo="Ana <b>\"&' Lima", email="a&b@x.com")
    LeadFactory(organization=org_a.org, nome_completo="Sem Contato", email="", telefone="")
    InteractionFactory(lead=leads[0], closer=org_a.closer)
    TaskFactory(lead=leads[1], organization=org_a.org, responsavel=org_a.closer)
    client = login(org_a.admin)
    # Both languages in turn: a checkbox kept from one must not show in the other.
    languages = ["pt-br", "en", "pt-br"]

    kept = [{path: _table(client, path, lang) for path in PAGES} for lang in languages]
    _unfolds_own(monkeypatch)
    own = [{path: _table(client, path, lang) for path in PAGES} for lang in languages]

    assert kept == own
    assert kept[0][PAGES[0]] != kept[1][PAGES[0]]  # the labels follow the language
    for lead in leads:  # each row's checkbox carries its own key
        assert f'name="_selected_action" value="{lead.pk}"' in kept[0][PAGES[0]]


def test_the_headers_are_built_once_a_page(org_a: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    LeadFactory.create_batch(4, organization=org_a.org)
    client = login(org_a.admin)
    builds: list[Any] = []
    build = unfold_list.result_headers.__wrapped__

    def counted(cl: Any) -> Any:
        builds.append(cl)
        return build(cl)

    monkeypatch.setattr(unfold_list, "result_headers", kept_headers(counted))
    assert client.get(PAGES[0]).status_code == 200
    assert len(builds) == 1

    # unfold's own code: once for the header row and once for each of the 4 rows
    builds.clear()
    monkeypatch.setattr(unfold_list, "result_headers", counted)
    assert client.get(PAGES[0]).status_code == 200
    assert len(builds) == 5


CELLS = [
    ["Ana", "ana@x.com"],
    ["Ana", "ana@x.com", "", None],
    ["<b>\"Ana\" & 'Bia'</b>", "<i>x</i>"],
    [mark_safe("<em>Ana</em>"), "ana@x.com"],
    ["Ana", ""],
    ["", "ana@x.com"],
    [None, None],
    ("Ana", None),
    # Not text, or with initials or a picture: unfold's own rendering.
    ["Ana", "ana@x.com", "AN"],
    ["Ana", "ana@x.com", "", {"path": "/static/a.png"}],
    [7, 8],
]


@pytest.mark.parametrize("language", ["pt-br", "en"])
def test_a_two_line_cell_is_the_html_unfold_gives(language: str) -> None:
    kept = unfold_list.display_for_header
    own = kept.__wrapped__
    _header_cell.cache_clear()
    with translation.override(language):
        for value in CELLS:
            for _ in range(2):  # rendered, then kept
                assert str(kept(value, "-")) == str(own(value, "-")), value
    # The text cells came from the kept renderings: one per shape, then reused.
    assert _header_cell.cache_info().currsize == 4
    assert _header_cell.cache_info().hits >= 8
    with pytest.raises(UnfoldException):
        kept("Ana", "-")
