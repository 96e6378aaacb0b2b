"""A live portal on a free loopback port with its own demo database, and headless Chromium."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from axe_playwright_python.sync_playwright import Axe
from flask import Flask
from playwright.sync_api import Browser, Page, sync_playwright
from werkzeug.serving import make_server

from tests.conftest import DEMO_PASSWORD

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


@pytest.fixture(scope="session")
def live_app(database_factory) -> Flask:
    """The live server's app, for fixtures that prepare data through the services."""
    return database_factory("live", seed=True)


@pytest.fixture(scope="session")
def live(live_app) -> Iterator[tuple[str, Flask]]:
    """The live portal's base URL and its app (to prepare data in its database)."""
    server = make_server("127.0.0.1", 0, live_app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}", live_app
    server.shutdown()
    thread.join(10)


@pytest.fixture(scope="session")
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
        return  # e.g. the account kept the mode from an earlier test on the shared live database
    with page.expect_navigation():
        page.click("button.elder-switch")
    page.wait_for_function(
        "wanted => document.documentElement.classList.contains('elder') === wanted", arg=not before
    )
