"""The foundation pages in a real Chromium, each checked by axe-core."""

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import assert_accessible, browser_login, toggle_elder
from tests.sms import confirm_registration

pytestmark = pytest.mark.browser


def test_home_register_and_login_pages_are_accessible(page, live_server):
    for path in ("/", "/auth/register", "/auth/login", "/no-such-page"):
        page.goto(live_server + path)
        assert page.locator("h1").count() == 1
        assert_accessible(page, path)


def test_register_with_errors_then_success(page, live):
    live_server, live_app = live
    page.goto(live_server + "/auth/register")
    page.fill("#name", "周八")
    page.fill("#id_number", "110105194912310021")
    page.fill("#phone", "13800000001")
    page.fill("#password", "Qingshan2026!")
    page.fill("#confirm", "Qingshan2026!")
    page.click("main button[type=submit]")
    summary = page.locator("#error-summary")
    assert summary.is_visible()
    assert "身份证号不正确" in page.locator("#id_number-error").inner_text()
    # portal.js (deferred) moves the focus to the summary once it has run: wait for it, as a
    # loaded machine may run the assertion first
    expect(page.locator("#error-summary")).to_be_focused()
    assert_accessible(page, "register with errors")
    page.fill("#id_number", "11010519491231002X")
    page.fill("#phone", "13922223333")
    page.fill("#password", "Qingshan2026!")
    page.fill("#confirm", "Qingshan2026!")
    page.click("main button[type=submit]")
    confirm_registration(page, live_app, "13922223333")
    page.wait_for_url("**/profile")
    assert "110105********002X" in page.content()
    assert_accessible(page, "profile after register")


@pytest.mark.parametrize(
    "account",
    ["13800000001", "13800000002", "13800000003", "counter01", "reviewer01", "reviewer02", "admin"],
)
def test_each_demo_account_logs_in(page, live_server, account):
    browser_login(page, live_server, account)
    page.goto(live_server + "/profile")
    assert page.locator("h1").inner_text() == "个人中心"
    assert_accessible(page, f"profile of {account}")
    page.goto(live_server + "/")
    assert_accessible(page, f"home as {account}")


def test_elder_mode_switch_in_the_header(page, live_server):
    page.goto(live_server + "/")
    size = page.evaluate("parseFloat(getComputedStyle(document.body).fontSize)")
    assert size < 24
    toggle_elder(page)
    assert page.evaluate("document.documentElement.classList.contains('elder')")
    assert page.evaluate("parseFloat(getComputedStyle(document.body).fontSize)") >= 24
    assert page.locator("button.elder-switch").get_attribute("aria-pressed") == "true"
    assert_accessible(page, "home in elder mode")


def test_english_switch(page, live_server):
    page.goto(live_server + "/")
    page.click("button[lang=en]")
    page.wait_for_load_state("networkidle")
    assert page.evaluate("document.documentElement.lang") == "en"
    assert_accessible(page, "home in English")
