"""The organization's first admin, created by `manage.py createorg`, uses the back office."""

from __future__ import annotations

from collections.abc import Callable
from io import StringIO

from django.core.management import call_command
from playwright.sync_api import Page, expect

from organizations.models import User


def test_createorg_admin_logs_into_the_admin(page: Page, login: Callable[..., None]) -> None:
    out = StringIO()
    call_command(
        "createorg",
        nome="Mentoria Navegador",
        admin_email="dona@navegador.com.br",
        admin_password="Senha-Forte-2026!",
        stdout=out,
    )
    admin = User.objects.get(email="dona@navegador.com.br")

    login(page, admin, password="Senha-Forte-2026!")

    assert page.url.endswith("/admin/")
    expect(page.locator("a[href='/admin/leads/lead/']").first).to_be_visible()
