"""Defects found walking the back office as its users would (issue 12's acceptance walk)."""

from __future__ import annotations

from collections.abc import Callable

from playwright.sync_api import Page, expect

from tests.factories import PASSWORD
from tests.followup.factories import make_sequence


def test_a_login_at_the_bare_login_page_lands_in_the_back_office(page: Page, org_a) -> None:
    # Unfold's login form has no hidden "next": this used to end on the API's browsable root.
    page.goto("/admin/login/")
    page.locator("input[name=username]").fill(org_a.closer.user.email)
    page.locator("input[name=password]").fill(PASSWORD)
    with page.expect_navigation():
        page.locator("form [type=submit]").first.click()
    page.wait_for_load_state("networkidle")
    assert page.url.endswith("/admin/meu-dia/"), page.url


def test_the_sequence_editor_fits_a_phone(page: Page, login: Callable[..., None], org_a) -> None:
    sequence = make_sequence(org_a.org)
    login(page, org_a.admin)
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"/admin/followup/followupsequence/{sequence.pk}/change/")
    page.wait_for_load_state("networkidle")
    # The results table scrolls inside its box; the page itself does not (it was 834 px wide).
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    # The step's type by its label.
    expect(page.locator(".backoffice-results-table tbody td").nth(1)).to_have_text("Email")


def test_list_cards_on_a_phone_show_labels_as_written(
    page: Page, login: Callable[..., None], org_a
) -> None:
    login(page, org_a.admin)
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto("/admin/organizations/membership/")
    cell = page.locator("#result_list tbody [data-label='Nome de exibição']").first
    expect(cell).to_be_visible()
    # unfold title-cased them ("Nome De Exibição") with text-transform: capitalize.
    transform = cell.evaluate("e => getComputedStyle(e, '::before').textTransform")
    assert transform == "none"
    label = cell.evaluate("e => getComputedStyle(e, '::before').content")
    assert label == '"Nome de exibição"'
