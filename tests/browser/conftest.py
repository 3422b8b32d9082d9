"""Browser tests: Playwright (sync API) driving Debian's chromium against pytest-django's
live server (a real PostgreSQL database, transactional: the server thread sees the test's rows).

One browser per pytest process (xdist worker), a fresh context (cookies, storage) per test.
A missing chromium is a failure, never a skip: `make browser` installs it.

Fixtures for every browser test:
- `browser`: the session's chromium.
- `page`: a new page in a new context, pt-BR, pointed at the live server (relative URLs work:
  `page.goto("/admin/")`). On failure a screenshot and the page's HTML are written to
  `$BROWSER_ARTIFACTS_DIR` (default: a pytest tmp dir), and the path is printed in the report.
- `login(page, membership_or_user)`: logs in through /admin/login/ with the factory password.
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, Playwright, sync_playwright
from pytest_django.live_server_helper import LiveServer

from organizations.models import Membership, User
from tests.factories import PASSWORD

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",  # the tests may run as root (containers, CI)
    "--disable-dev-shm-usage",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# Playwright's default is 30 s. Ours takes a page in well under a second, but a CI machine with
# 2 cores running every xdist worker and chromium at once was seen to take over 10 s to make a
# login button clickable (load average ~9): 20 s fails a broken page without failing a slow one.
DEFAULT_TIMEOUT_MS = 20_000


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    """Keeps each phase's report on the item so `page` knows, at teardown, if the test failed."""
    report = yield
    setattr(item, f"_report_{report.when}", report)
    return report


@pytest.fixture(scope="session")
def playwright_session() -> Iterator[Playwright]:
    if not (os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
        pytest.fail(
            f"chromium not found at {CHROMIUM}: run `make browser` (apt-get install chromium).",
            pytrace=False,
        )
    # Playwright's sync API keeps an asyncio loop running in this thread for as long as it is
    # started, so Django's ORM would refuse every query of this process (tests' setup included)
    # with SynchronousOnlyOperation. Nothing here is actually concurrent: the ORM is only called
    # between Playwright calls, in this thread.
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    manager = sync_playwright()
    playwright = manager.start()
    try:
        yield playwright
    finally:
        playwright.stop()
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture(scope="session")
def browser(playwright_session: Playwright) -> Iterator[Browser]:
    browser = playwright_session.chromium.launch(
        executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
    )
    try:
        yield browser
    finally:
        browser.close()


@pytest.fixture(scope="session")
def artifacts_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    configured = os.environ.get("BROWSER_ARTIFACTS_DIR")
    if configured:
        path = Path(configured)
        path.mkdir(parents=True, exist_ok=True)
        return path
    return tmp_path_factory.mktemp("browser-artifacts")


@pytest.fixture
def page(
    request: pytest.FixtureRequest,
    browser: Browser,
    live_server: LiveServer,
    artifacts_dir: Path,
) -> Iterator[Page]:
    context = browser.new_context(
        base_url=live_server.url,
        locale="pt-BR",
        timezone_id="America/Sao_Paulo",
        viewport={"width": 1440, "height": 900},
        extra_http_headers={"Accept-Language": "pt-BR,pt;q=0.9"},
    )
    context.set_default_timeout(DEFAULT_TIMEOUT_MS)
    # Every admin page opens the notifications Server-Sent Events stream. Under the live
    # server (WSGI) a stream holds a request thread and django-eventstream's listener, which
    # kept the pytest process from exiting after the tests: the stream is refused here (the
    # page falls back to showing no live badge); tests/sync covers the stream itself.
    context.route(re.compile(r"/api/v1/notifications/stream/"), lambda route: route.abort())
    page = context.new_page()
    try:
        yield page
    finally:
        report = getattr(request.node, "_report_call", None)
        if report is not None and report.failed:
            stem = request.node.nodeid.replace("/", "_").replace("::", "__")
            stem = "".join(c if c.isalnum() or c in "._-" else "_" for c in stem)[-150:]
            screenshot = artifacts_dir / f"{stem}.png"
            try:
                page.screenshot(path=str(screenshot), full_page=True)
                (artifacts_dir / f"{stem}.html").write_text(page.content(), encoding="utf-8")
                report.sections.append(("browser artifacts", f"{screenshot} (+ .html)"))
            except Exception as exc:  # a crashed page must not hide the test's own failure
                report.sections.append(("browser artifacts", f"screenshot failed: {exc}"))
        # Let the page's last requests finish before the database is flushed: a request still
        # running in the live server's thread during the flush made the flush fail (seen once).
        with contextlib.suppress(Exception):
            page.wait_for_load_state("networkidle", timeout=5000)
        context.close()


def _user_of(who: Membership | User) -> User:
    return who.user if isinstance(who, Membership) else who


def login_as(page: Page, who: Membership | User, *, password: str = PASSWORD) -> None:
    """Logs in through the admin's login form and waits for the admin's index."""
    user = _user_of(who)
    page.goto("/admin/login/?next=/admin/")
    page.locator("input[name=username]").fill(user.email)
    page.locator("input[name=password]").fill(password)
    with page.expect_navigation():
        page.locator("form [type=submit]").first.click()
    if "/admin/login/" in page.url:
        errors = page.locator(".errornote, .errorlist").all_inner_texts()
        raise AssertionError(f"{user.email} could not log in: {errors or page.url}")


@pytest.fixture
def login() -> Callable[..., None]:
    """`login(page, membership)` (or a User; `password=` when not the factory's)."""
    return login_as
