"""Registration with an SMS code, then 忘记密码 and a reset, in a real Chromium.

The codes are read from the outbox of the live portal's database (the way every SMS goes)."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import assert_accessible, browser_login
from tests.sms import code_in_outbox as code_for

pytestmark = pytest.mark.browser

PHONE = "13933334444"


def test_register_log_out_forget_reset_and_log_in_with_the_new_password(page, live):
    base, live_app = live
    page.goto(f"{base}/auth/register")
    page.fill("#name", "吴十")
    page.fill("#id_number", "110101199003070011")
    page.fill("#phone", PHONE)
    page.fill("#password", "Qingshan2026!")
    page.fill("#confirm", "Qingshan2026!")
    page.click("main form button[type=submit]")
    page.wait_for_url("**/auth/register/code")
    assert "139****4444" in page.inner_text("main")
    # the resend button waits out its 60 s (the server refuses an earlier resend anyway)
    resend = page.locator("button[data-resend-wait]")
    expect(resend).to_be_disabled()
    assert "秒后可重新获取" in resend.inner_text()
    assert_accessible(page, "register code step")
    code = code_for(live_app, PHONE)
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    page.fill("#code", wrong)
    page.click("main form[action$='/register/code'] button[type=submit]")
    expect(page.locator("#error-summary")).to_be_focused()
    assert "还可以再试 4 次" in page.locator("#code-error").inner_text()
    assert_accessible(page, "register code step with an error")
    page.fill("#code", code)
    page.click("main form[action$='/register/code'] button[type=submit]")
    page.wait_for_url("**/profile")
    assert "139****4444" in page.inner_text("main")

    with page.expect_navigation():
        page.click("header form[action$='/auth/logout'] button")
    page.goto(f"{base}/auth/login")
    page.click("text=忘记密码")
    page.wait_for_url("**/auth/forgot")
    assert_accessible(page, "forgot password")
    page.fill("#phone", PHONE)
    page.click("main form button[type=submit]")
    page.wait_for_url("**/auth/forgot/code")
    assert "如果手机号 139****4444 已注册" in page.inner_text("main")
    page.fill("#code", code_for(live_app, PHONE))
    page.fill("#password", "Renewed#Hill56")
    page.fill("#confirm", "Renewed#Hill56")
    page.click("main form[action$='/forgot/code'] button[type=submit]")
    page.wait_for_url("**/auth/login")
    assert "密码已重置" in page.inner_text("main")
    browser_login(page, base, PHONE, "Renewed#Hill56")
    page.goto(f"{base}/profile")
    assert page.locator("h1").inner_text() == "个人中心"
