"""The session timeout never loses work: warned ahead, extended with one key, draft kept.

The page's timers run on Playwright's clock, so the test jumps through a 30-minute session
instead of racing a few real seconds."""

import re

import pytest

from tests.browser.conftest import assert_accessible, browser_login

pytestmark = pytest.mark.browser


def is_autosave(response) -> bool:
    return response.request.method == "POST" and (
        response.request.headers.get("x-requested-with") == "autosave"
    )


def test_warning_extend_with_enter_and_expiry_keeps_the_draft(page, live_server, live_app):
    base = live_server
    lifetime_ms = int(live_app.permanent_session_lifetime.total_seconds()) * 1000
    warn_ahead_ms = min(120_000, lifetime_ms // 2)  # as static/js/portal.js computes it
    page.clock.install()
    browser_login(page, base, "13800000001")
    page.goto(f"{base}/apply/330100GA0004")
    page.click("main button[type=submit]")
    page.check("#c_hukou_local-1")
    page.check("#c_minor-2")
    page.click("main button[type=submit]")
    page.wait_for_url(re.compile(r".*/form$"))
    form_url = page.url

    dialog = page.locator("#timeout-dialog")
    page.clock.fast_forward(lifetime_ms - warn_ahead_ms - 1000)
    assert dialog.is_hidden()
    page.clock.fast_forward(2000)
    dialog.wait_for(state="visible")
    assert page.evaluate("document.activeElement.getAttribute('data-action')") == "extend"
    assert_accessible(page, "timeout dialog open")
    page.keyboard.press("Enter")
    dialog.wait_for(state="hidden")

    # type without submitting, then let the session run out: warned again (and saved) …
    page.fill("#q_address", "杭州市西湖区保俶路 99 号")
    with page.expect_response(is_autosave):
        page.clock.fast_forward(lifetime_ms - warn_ahead_ms + 1000)
    dialog.wait_for(state="visible")
    # … saved once more two seconds before the end, while the session still holds …
    with page.expect_response(is_autosave):
        page.clock.fast_forward(warn_ahead_ms - 2000)
    # … and at the end the browser drops the session cookie (its expiry runs on real time, which
    # the page's clock does not move), then the page goes to the login page
    page.context.clear_cookies()
    with page.expect_navigation(url=re.compile(r".*/auth/login\?next=.*expired=1")):
        page.clock.fast_forward(3000)
    assert "您填写的内容已保存" in page.inner_text("main")
    page.fill("#login", "13800000001")
    page.fill("#password", "Demo@2026")
    page.click("main button[type=submit]")
    page.wait_for_url(form_url)
    assert page.input_value("#q_address") == "杭州市西湖区保俶路 99 号"
