"""The kiosk in Chromium, on a browser counter01 set up as SMZX's kiosk first (a device
setting, tests/kiosk_device.py): the idle countdown (on Playwright's clock) returns to the start and
forgets a typed value and a login; the kiosk pages are axe clean in their default 长辈模式."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from portal.extensions import db
from portal.models import ServiceItem
from tests.browser.conftest import assert_accessible
from tests.kiosk_device import set_up_kiosk_in_browser

pytestmark = pytest.mark.browser


@pytest.fixture
def kiosk_code(live_app) -> str:
    """An item the kiosk offers for self-service application."""
    with live_app.app_context():
        code = db.session.scalar(
            select(ServiceItem.code)
            .where(ServiceItem.kiosk_enabled.is_(True))
            .order_by(ServiceItem.code)
            .limit(1)
        )
        db.session.remove()
    return code


def test_idle_countdown_continue_then_reset_clears_everything(
    page, live_server, live_app, kiosk_code
):
    """The idle and countdown timers run on Playwright's clock: no real seconds are waited."""
    base, code = live_server, kiosk_code
    idle_ms = int(live_app.config["KIOSK_IDLE_SECONDS"]) * 1000
    countdown_ms = int(live_app.config["KIOSK_COUNTDOWN_SECONDS"]) * 1000
    set_up_kiosk_in_browser(page, base)
    page.clock.install()
    page.goto(f"{base}/kiosk/SMZX/case")
    page.fill("#number", "WB20261124000001")
    dialog = page.locator("#kiosk-idle")
    page.clock.fast_forward(idle_ms - 1000)
    assert dialog.is_hidden()  # typing restarted the idle time
    page.clock.fast_forward(2000)
    dialog.wait_for(state="visible")
    assert page.evaluate("document.activeElement.getAttribute('data-action')") == "continue"
    assert_accessible(page, "kiosk idle dialog")
    page.click("#kiosk-idle [data-action=continue]")
    dialog.wait_for(state="hidden")
    assert page.input_value("#number") == "WB20261124000001"  # 继续使用 keeps what was typed
    # then nobody touches it: the countdown ticks down, back to the start, the typed value gone
    page.clock.fast_forward(idle_ms + 1000)
    dialog.wait_for(state="visible")
    with page.expect_navigation(url=re.compile(r".*/kiosk/SMZX/$")):
        page.clock.run_for(countdown_ms)
    assert "WB20261124000001" not in page.content()
    page.goto(f"{base}/kiosk/SMZX/case")
    assert page.input_value("#number") == ""

    # a citizen who logged in on the kiosk is logged out
    page.goto(f"{base}/kiosk/SMZX/apply/{code}")
    page.wait_for_url(re.compile(r".*/auth/login\?next=.*"))
    page.fill("#login", "13800000002")
    page.fill("#password", "Demo@2026")
    page.click("main button[type=submit]")
    page.wait_for_url(re.compile(rf".*/kiosk/SMZX/apply/{code}$"))
    page.click("main button:has-text('开始办理')")
    page.wait_for_url(re.compile(r".*/apply/drafts/\d+/conditions$"))
    assert page.locator("#kiosk-idle").count() == 1  # the apply pages have the idle timer too
    page.clock.fast_forward(idle_ms + 1000)
    page.locator("#kiosk-idle").wait_for(state="visible")
    with page.expect_navigation(url=re.compile(r".*/kiosk/SMZX/$")):
        page.clock.run_for(countdown_ms)
    assert page.locator("header").get_by_text("登录", exact=True).count() == 1
    page.goto(f"{base}/cases")
    assert "/auth/login" in page.url


def test_kiosk_pages_are_accessible_in_elder_mode(page, live_server):
    page.goto(f"{live_server}/kiosk/SMZX/")
    assert not page.evaluate("document.documentElement.classList.contains('elder')")
    assert page.locator("#kiosk-idle").count() == 0  # a link makes no kiosk
    page.goto(f"{live_server}/kiosk/setup")
    assert "/auth/login" in page.url  # staff only
    set_up_kiosk_in_browser(page, live_server)
    assert "本机已设为" in page.inner_text("main")
    assert_accessible(page, "kiosk set up")
    assert page.evaluate("document.documentElement.classList.contains('elder')")
    assert_accessible(page, "kiosk start")
    for label, link in (
        ("guides", "办事指南"),
        ("case", "办件查询"),
        ("items", "自助申请"),
        ("ticket", "取号"),
    ):
        page.goto(f"{live_server}/kiosk/SMZX/")
        page.click(f".kiosk-tiles a:has-text('{link}')")
        page.wait_for_load_state("load")
        assert page.evaluate("document.documentElement.classList.contains('elder')"), label
        assert "呼叫工作人员" in page.inner_text("main"), label
        assert_accessible(page, f"kiosk {label}")
    page.goto(f"{live_server}/kiosk/SMZX/guides")
    page.click(".kiosk-choices a >> nth=0")
    page.wait_for_load_state("load")
    assert page.locator(".kiosk-list a[href$='checklist.pdf']").count() >= 1
    assert_accessible(page, "kiosk guides of a theme")
    page.click("main button:has-text('呼叫工作人员')")
    assert "已通知工作人员" in page.inner_text("main")
    assert_accessible(page, "kiosk help requested")
