"""Keyboard only: an elderly citizen logs in, turns on elder mode, finds an item, applies and
submits with Tab, Shift+Tab, Enter, Space, arrow keys and typing — never the mouse. And the
README's screenshots, taken here so they stay current: a guide page in both modes, and 我的办件,
a guide and the open 菜单 on a 390 px phone in 长辈模式."""

import re
from pathlib import Path

import pytest

from tests.browser.conftest import assert_accessible, browser_login, toggle_elder

pytestmark = pytest.mark.browser

SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
FOCUS_VISIBLE = """() => {
  const el = document.activeElement;
  const s = getComputedStyle(el);
  const r = el.getBoundingClientRect();
  return {outline: s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) >= 2,
          shadow: s.boxShadow !== 'none', inView: r.bottom > 0 && r.top < innerHeight};
}"""


def tab_to(page, selector: str, *, backwards: bool = False, limit: int = 80) -> None:
    """Press Tab (or Shift+Tab) until the focus is on ``selector``; the focus must show."""
    for _ in range(limit):
        page.keyboard.press("Shift+Tab" if backwards else "Tab")
        if page.evaluate(
            "(sel) => document.activeElement && document.activeElement.matches(sel)", selector
        ):
            focus = page.evaluate(FOCUS_VISIBLE)
            assert focus["outline"] or focus["shadow"], f"focus on {selector} is not visible"
            assert focus["inView"], f"focus on {selector} is hidden off screen"
            return
    raise AssertionError(f"{selector} cannot be reached with the keyboard")


def test_elderly_citizen_applies_with_the_keyboard_only(page, live_server):
    page.goto(live_server + "/auth/login")
    tab_to(page, "#login")
    page.keyboard.type("13800000003")
    page.keyboard.press("Tab")
    page.keyboard.type("Demo@2026")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r".*/profile$"))

    page.goto(live_server + "/")
    if not page.evaluate("document.documentElement.classList.contains('elder')"):
        tab_to(page, "button.elder-switch")
        page.keyboard.press("Enter")
        page.wait_for_load_state("networkidle")
    assert page.evaluate("document.documentElement.classList.contains('elder')")

    tab_to(page, "main input[name=q]")
    page.keyboard.type("老年人优待证")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r".*/search\?.*"))
    tab_to(page, "main a[href$='/items/330100MZ0003']")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r".*/items/330100MZ0003$"))
    tab_to(page, "main a[href$='/apply/330100MZ0003']")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r".*/apply/330100MZ0003$"))
    tab_to(page, "main form button[type=submit]")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r".*/conditions$"))

    tab_to(page, "#c_residence-1")
    page.keyboard.press("Space")  # 本市户籍
    tab_to(page, "#c_agent-1")
    page.keyboard.press("ArrowDown")  # 否，本人办理 (arrow keys move within a radio group)
    assert page.is_checked("#c_agent-2")
    tab_to(page, "main form button[type=submit]")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r".*/form$"))

    assert page.input_value("#q_name") == "王秀兰"
    tab_to(page, "#q_address")
    page.keyboard.press("Control+A")
    page.keyboard.type("杭州市西湖区保俶路 12 号")
    tab_to(page, "main form button[type=submit]")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r".*/materials$"))

    tab_to(page, "input[value=none]")
    page.keyboard.press("Space")  # the optional photo: not provided
    tab_to(page, "#choices button[type=submit]")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r".*/confirm$"))
    assert page.locator("#error-summary").count() == 0

    tab_to(page, "#consent")
    page.keyboard.press("Space")
    tab_to(page, "main form[action$='/submit'] button[type=submit]")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r".*/cases/\d+$"))
    assert re.search(r"WB\d{14}", page.inner_text("main"))
    assert_accessible(page, "case page in elder mode after a keyboard-only journey")

    # and back to standard mode with the keyboard too
    page.goto(live_server + "/")
    tab_to(page, "button.elder-switch")
    page.keyboard.press("Enter")
    page.wait_for_load_state("networkidle")


def test_screenshots_of_a_guide_in_both_modes(browser, live_server):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for mode in ("normal", "elder"):
        context = browser.new_context(locale="zh-CN", viewport={"width": 1100, "height": 1400})
        if mode == "elder":
            context.add_cookies([{"name": "elder_mode", "value": "1", "url": live_server}])
        page = context.new_page()
        page.goto(live_server + "/items/330100MZ0003")
        assert page.evaluate("document.documentElement.classList.contains('elder')") == (
            mode == "elder"
        )
        page.screenshot(path=str(SCREENSHOTS / f"guide-{mode}.png"))
        context.close()
    assert (SCREENSHOTS / "guide-elder.png").stat().st_size > 10_000


def test_screenshots_on_a_phone_in_elder_mode(browser, live_server):
    """The first screen of 我的办件 and of a guide at 390 × 844 in 长辈模式, and the header's 菜单
    opened from the keyboard: what an elderly citizen sees on a phone."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    context = browser.new_context(locale="zh-CN", viewport={"width": 390, "height": 844})
    page = context.new_page()
    try:
        browser_login(page, live_server, "13800000003")
        page.goto(live_server + "/")
        was_elder = page.evaluate("document.documentElement.classList.contains('elder')")
        toggle_elder(page, to=True)
        page.goto(live_server + "/cases")
        assert page.locator("table.cards tbody tr").count() >= 1
        page.screenshot(path=str(SCREENSHOTS / "cases-elder-390.png"))
        assert_accessible(page, "我的办件 as cards at 390 px in elder mode")
        page.goto(live_server + "/items/330100MZ0003")
        page.screenshot(path=str(SCREENSHOTS / "guide-elder-390.png"))
        tab_to(page, "button.menu-toggle")
        page.keyboard.press("Enter")
        assert page.get_attribute("button.menu-toggle", "aria-expanded") == "true"
        assert page.locator("nav.site-nav").is_visible()
        page.screenshot(path=str(SCREENSHOTS / "menu-elder-390.png"))
        assert_accessible(page, "the header's 菜单 open at 390 px in elder mode")
        page.keyboard.press("Escape")
        assert not page.locator("nav.site-nav").is_visible()
        toggle_elder(page, to=was_elder)
    finally:
        context.close()
    assert (SCREENSHOTS / "cases-elder-390.png").stat().st_size > 10_000
