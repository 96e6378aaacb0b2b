"""The call display updates without a reload and speaks each call (叫号 and 重呼) in zh-CN;
the ticket page and the clerk's desk work in Chromium."""

from __future__ import annotations

import re
import uuid

import pytest
from sqlalchemy import select

from portal.extensions import db
from portal.models import CounterWindow, Role, ServiceHall, User
from services import accounts, kiosk, queue
from tests.browser.conftest import assert_accessible, browser_login

pytestmark = pytest.mark.browser

RECORD_SPEECH = """
window.__spoken = [];
if (window.speechSynthesis) {
  const original = window.speechSynthesis.speak.bind(window.speechSynthesis);
  window.speechSynthesis.speak = (utterance) => {
    window.__spoken.push({text: utterance.text, lang: utterance.lang});
    try { original(utterance); } catch (e) { /* no voices in headless Chromium */ }
  };
}
"""


def _clerk_at_xjzx(live_app) -> tuple[int, int]:
    """A clerk of the township centre sitting at its window 2 (ids)."""
    with live_app.app_context():
        hall = db.session.scalar(select(ServiceHall).where(ServiceHall.code == "BSZX"))
        counter01 = db.session.scalar(select(User).where(User.username == "counter01"))
        clerk = accounts.create_staff(
            username=f"xj{uuid.uuid4().hex[:8]}",
            password="Demo@2026x",
            role=Role.counter,
            display_name="街道窗口",
            department=counter01.department,
        )
        clerk.hall_id = hall.id
        window = db.session.scalar(
            select(CounterWindow).where(CounterWindow.hall_id == hall.id, CounterWindow.number == 2)
        )
        queue.choose_window(clerk, window.id)
        db.session.commit()
        ids = clerk.id, hall.id
        db.session.remove()
        return ids


def _as(live_app, clerk_id: int, action: str, *args) -> tuple[int, str]:
    with live_app.app_context():
        clerk = db.session.get(User, clerk_id)
        ticket = getattr(queue, action)(clerk, *args)
        db.session.commit()
        result = (ticket.id, ticket.code)
        db.session.remove()
        return result


def test_call_display_updates_and_speaks(page, live):
    base, live_app = live
    clerk_id, hall_id = _clerk_at_xjzx(live_app)
    page.add_init_script(RECORD_SPEECH)
    page.goto(f"{base}/queue/BSZX/display")
    assert_accessible(page, "call display")
    page.evaluate("window.__sameDocument = 'yes'")

    with live_app.app_context():
        queue.take_ticket(db.session.get(ServiceHall, hall_id), "A")
        db.session.commit()
        db.session.remove()
    ticket_id, code = _as(live_app, clerk_id, "call_next")
    expected = f"请 {code} 号到 2 号窗口"
    now = page.locator("[data-now]")
    page.wait_for_function(
        "t => document.querySelector('[data-now]').textContent.includes(t)", arg=expected
    )
    assert now.inner_text().strip() == expected
    assert page.locator("[data-list] tr").first.inner_text().startswith(code)
    page.wait_for_function("t => window.__spoken.some(s => s.text === t)", arg=expected)
    spoken = page.evaluate("window.__spoken")
    assert spoken[-1] == {"text": expected, "lang": "zh-CN"}
    assert page.evaluate("window.__sameDocument") == "yes"  # no navigation happened

    _as(live_app, clerk_id, "recall", ticket_id)  # 重呼 announces again
    page.wait_for_function(
        "t => window.__spoken.filter(s => s.text === t).length === 2", arg=expected
    )
    assert page.evaluate("window.__sameDocument") == "yes"
    _as(live_app, clerk_id, "finish", ticket_id)


def test_take_a_ticket_and_print_it(page, live_server):
    page.goto(f"{live_server}/queue/SMZX/")
    assert_accessible(page, "ticket page")
    page.click("button[name=category][value=D]")
    page.wait_for_url(re.compile(r".*/queue/SMZX/tickets/\d+$"))
    number = page.inner_text(".queue-ticket-number")
    assert re.fullmatch(r"D\d{3}", number)
    assert_accessible(page, "ticket")
    page.emulate_media(media="print")
    assert page.locator(".queue-ticket-actions").is_hidden()
    size = page.evaluate(
        "parseFloat(getComputedStyle(document.querySelector('.queue-ticket-number')).fontSize)"
    )
    assert size >= 60


def test_clerk_desk_choose_window_and_call(page, live):
    base, live_app = live
    with live_app.app_context():
        queue.take_ticket(
            db.session.scalar(select(ServiceHall).where(ServiceHall.code == "SMZX")), "E"
        )
        db.session.commit()
        db.session.remove()
    browser_login(page, base, "counter01")
    page.goto(f"{base}/queue/desk")
    assert_accessible(page, "desk, choose window")
    page.click("button[name=window]:has-text('6 号窗口')")
    page.click("main button:has-text('叫号')")
    assert re.search(r"E\d{3}", page.inner_text(".queue-current-code"))
    assert_accessible(page, "desk with a called ticket")
    page.click("main button:has-text('完成')")
    page.click("main button:has-text('离开窗口')")
    assert "选择您所在的窗口" in page.inner_text("main")


def test_desk_refreshes_counts_and_help_without_navigation(page, live):
    base, live_app = live
    browser_login(page, base, "counter01")
    page.goto(f"{base}/queue/desk")
    usual, live_app.config["QUEUE_DESK_POLL_MS"] = (
        live_app.config["QUEUE_DESK_POLL_MS"],
        300,
    )  # a short poll
    try:
        page.click("button[name=window]:has-text('5 号窗口')")  # categories D and E
    finally:
        live_app.config["QUEUE_DESK_POLL_MS"] = usual
    assert page.get_attribute("[data-desk-status]", "data-poll-ms") == "300"
    page.evaluate("window.__sameDocument = 'yes'")
    waiting = page.locator("[data-desk-waiting] li:has-text('D 不动产与住房')")
    before = int(re.search(r"：(\d+) 人", waiting.inner_text()).group(1))
    assert page.locator("[data-desk-waiting]").get_attribute("aria-live") == "polite"
    focused = page.evaluate("document.activeElement.tagName")

    with live_app.app_context():
        hall = db.session.scalar(select(ServiceHall).where(ServiceHall.code == "SMZX"))
        queue.take_ticket(hall, "D")
        kiosk.request_help(hall, where="kiosk.start")
        db.session.commit()
        db.session.remove()
    page.wait_for_function(
        "n => document.querySelector('[data-desk-waiting]').textContent.includes(n)",
        arg=f"D 不动产与住房：{before + 1} 人",
    )
    page.wait_for_function(
        "() => document.querySelector('[data-desk-help]').textContent.includes('自助终端求助')"
    )
    assert page.evaluate("window.__sameDocument") == "yes"  # no navigation happened
    assert page.evaluate("document.activeElement.tagName") == focused  # nobody took the focus
    assert page.locator("[data-desk-help]").get_attribute("aria-live") == "polite"
    assert_accessible(page, "desk with a refreshed help request")
    page.click("[data-desk-help] button:has-text('我去处理')")  # the refreshed form posts as usual
    assert "已处理自助终端求助" in page.inner_text("main")
    page.click("main button:has-text('离开窗口')")
