"""The admin's login in a real browser."""

from __future__ import annotations

from collections.abc import Callable

from playwright.sync_api import Page, expect

from tests.factories import UserFactory


def test_superuser_logs_into_the_admin(page: Page, login: Callable[..., None]) -> None:
    user = UserFactory(is_staff=True, is_superuser=True)

    login(page, user)

    assert page.url.endswith("/admin/")
    # The index lists the apps' models; the logout control is there for a logged-in user.
    expect(page.locator("a[href='/admin/leads/lead/']").first).to_be_visible()


def test_wrong_password_stays_on_the_login_page(page: Page) -> None:
    user = UserFactory(is_staff=True, is_superuser=True)

    page.goto("/admin/login/?next=/admin/")
    page.locator("input[name=username]").fill(user.email)
    page.locator("input[name=password]").fill("not-the-password")
    page.locator("form [type=submit]").first.click()

    expect(page.locator("input[name=password]")).to_be_visible()
    assert "/admin/login/" in page.url
