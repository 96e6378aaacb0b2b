"""A live portal on a free loopback port, and headless Chromium.

Each test module gets its own live portal: a fresh copy of the demo database and upload
directory (from the session's template, so it costs well under a second) and a server bound to
it, so that what one module changes (长辈模式 turned on, a clerk left at a window, uploads) is
never seen by another, and every module passes alone and in any order.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from axe_playwright_python.sync_playwright import Axe
from flask import Flask
from playwright.sync_api import Browser, Page, sync_playwright
from werkzeug.serving import make_server

from tests.conftest import DEMO_PASSWORD, dispose_app

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]


@contextmanager
def serving(app: Flask) -> Iterator[str]:
    """Serve ``app`` on a free loopback port (threaded, like a small production server)."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(10)
        server.server_close()


@pytest.fixture(scope="module")
def live_app(database_factory) -> Iterator[Flask]:
    """The module's live app, for fixtures that prepare data through the services."""
    app = database_factory("live", seed=True)
    yield app
    dispose_app(app)


@pytest.fixture(scope="module")
def live(live_app) -> Iterator[tuple[str, Flask]]:
    """The module's live portal: its base URL and its app (to prepare data in its database)."""
    with serving(live_app) as base:
        yield base, live_app


@pytest.fixture(scope="module")
def live_server(live) -> str:
    return live[0]


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(locale="zh-CN", viewport={"width": 1280, "height": 900})
    pg = context.new_page()
    pg.set_default_timeout(15000)
    yield pg
    context.close()


_axe = Axe()


def assert_accessible(page: Page, label: str = "") -> None:
    """axe-core with the WCAG 2.2 A/AA tags: zero violations allowed.

    Waits for the page to finish loading first, so that axe never measures a page whose
    stylesheet has not been applied yet (unstyled buttons are small)."""
    page.wait_for_load_state("load")
    results = _axe.run(page, options={"runOnly": {"type": "tag", "values": WCAG_TAGS}})
    violations = results.response["violations"]
    details = [
        f"{v['id']} ({v['impact']}): {v['help']} → "
        + "; ".join(
            n["target"][0] if isinstance(n["target"][0], str) else str(n["target"])
            for n in v["nodes"][:5]
        )
        for v in violations
    ]
    assert not violations, f"axe violations on {label or page.url}:\n" + "\n".join(details)


def browser_login(page: Page, base: str, login: str, password: str = DEMO_PASSWORD) -> None:
    page.goto(f"{base}/auth/login")
    page.fill("#login", login)
    page.fill("#password", password)
    page.click("main button[type=submit]")
    page.wait_for_load_state("networkidle")
    assert "/auth/login" not in page.url, page.content()[:2000]


def toggle_elder(page: Page, to: bool | None = None) -> None:
    """Press the header's 长辈模式 switch (only if the mode is not already ``to``): a form POST,
    so wait for the page it leads to and for the mode to have changed (waiting for
    "networkidle" alone can return before the navigation starts)."""
    before = page.evaluate("document.documentElement.classList.contains('elder')")
    if to is not None and before == to:
        return  # e.g. the account kept the mode from an earlier test in the module
    with page.expect_navigation():
        page.click("button.elder-switch")
    page.wait_for_function(
        "wanted => document.documentElement.classList.contains('elder') === wanted", arg=not before
    )
