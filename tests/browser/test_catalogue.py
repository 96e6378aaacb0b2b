"""The public catalogue in a real Chromium: finding a guide by pinyin initials, and axe-core
on every catalogue page in normal and elder mode."""

import pytest

from tests.browser.conftest import assert_accessible, browser_login, toggle_elder

pytestmark = pytest.mark.browser

PAGES = {
    "home": "/",
    "catalogue": "/catalogue",
    "catalogue filtered": "/catalogue?visits=0&full_online=y&page=2",
    "catalogue with a bad filter": "/catalogue?theme=abc",
    "search results": "/search?q=生孩子",
    "search page": "/search",
    "no results": "/search?q=根本不存在的事项",
    "guide": "/items/330100GA0001",
    "guide with fees": "/items/330100JJ0001",
    "bundle": "/bundles/B001",
}


def test_a_visitor_finds_the_residence_permit_guide_by_initials(page, live_server):
    page.goto(live_server + "/")
    page.get_by_label("搜索办事事项").fill("jzz")
    page.get_by_role("button", name="搜索", exact=True).click()
    page.wait_for_url("**/search?q=jzz")
    assert page.locator("h1").inner_text() == "“jzz”的搜索结果"
    first = page.locator(".item-list .item-title a").first
    assert first.inner_text() == "居住证申领"
    first.click()
    page.wait_for_url("**/items/330100GA0001")
    assert page.locator("h1").inner_text() == "居住证申领"
    assert page.locator(".trips-number").inner_text() == "最多跑一次"
    assert page.get_by_role("link", name="在线办理").get_attribute("href") == "/apply/330100GA0001"
    assert_accessible(page, "guide reached by search")


def test_filters_by_keyboard(page, live_server):
    page.goto(live_server + "/catalogue")
    page.select_option("#visits", "0")
    page.check("#instant")
    page.locator("#instant").press("Enter")
    page.wait_for_url("**/catalogue?*")
    assert "visits=0" in page.url and "instant=y" in page.url
    tags = page.locator(".item-list .tag-visits").all_inner_texts()
    assert tags and set(tags) == {"跑零次"}


@pytest.mark.parametrize("elder", [False, True], ids=["normal", "elder"])
def test_every_catalogue_page_is_accessible(page, live_server, elder):
    page.goto(live_server + "/")
    if elder:
        toggle_elder(page, to=True)
        assert page.evaluate("document.documentElement.classList.contains('elder')")
    for label, path in PAGES.items():
        page.goto(live_server + path)
        assert page.locator("h1").count() == 1, label
        assert_accessible(page, f"{label}{' (elder mode)' if elder else ''}")
        if elder:
            # one column: no item card sits beside another
            lefts = page.evaluate(
                "Array.from(document.querySelectorAll('.item-card, .bundle-card, .material'))"
                ".map(e => Math.round(e.getBoundingClientRect().left))"
            )
            assert len(set(lefts)) <= 1, (label, lefts)


def test_a_citizen_sees_the_on_file_marks(page, live_server):
    browser_login(page, live_server, "13800000001")
    page.goto(live_server + "/items/330100GA0001")
    assert page.locator(".on-file-mark").count() == 1
    assert "居民身份证" in page.locator(".material", has=page.locator(".on-file-mark")).inner_text()
    assert_accessible(page, "guide with materials on file")
