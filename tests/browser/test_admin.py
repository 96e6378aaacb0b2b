"""The admin publishes an item in a real Chromium; axe checks every admin page on the way."""

import re

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import assert_accessible, browser_login, toggle_elder

pytestmark = pytest.mark.browser

CODE = "BROWSER00001"


def go(page: Page, url: str, label: str) -> None:
    page.goto(url)
    assert page.locator("h1").count() == 1, label
    assert_accessible(page, label)


def switch_admin(page: Page, base: str, account: str, url: str) -> None:
    """Log out and in as another admin, back on ``url``."""
    with page.expect_navigation():
        page.get_by_role("button", name="退出").click()
    browser_login(page, base, account)
    page.goto(url)


def save(page: Page, name: str) -> None:
    page.get_by_role("button", name=name).first.click()
    page.wait_for_load_state("networkidle")


def test_every_admin_list_and_form_is_accessible(page, live_server):
    browser_login(page, live_server, "admin")
    base = live_server + "/admin"
    for path in (
        "/",
        "/departments",
        "/departments/new",
        "/departments/1/edit",
        "/materials",
        "/materials?page=2",
        "/materials/new",
        "/materials/1/edit",
        "/items",
        "/items?q=居住证",
        "/items/new",
        "/items/1",
        "/items/1/diff",
        "/versions/1",
        "/bundles",
        "/bundles/new",
        "/bundles/1/edit",
    ):
        go(page, base + path, path)
    # forms with their errors shown
    page.goto(base + "/departments/new")
    page.fill("#code", "GA")
    page.fill("#name", "长" * 120)
    save(page, "保存")
    expect(page.locator("#error-summary")).to_be_visible()
    assert "部门编码已存在" in page.locator("#code-error").inner_text()
    assert_accessible(page, "department form with errors")

    page.goto(base + "/materials/new")
    page.fill("#code", "BRW1")
    page.fill("#name", "浏览器测试材料")
    page.check("#source-1")  # 政府部门核发, without the e-licence code
    save(page, "保存")
    assert "电子证照类型代码" in page.locator("#licence_type_code-error").inner_text()
    assert_accessible(page, "material type form with errors")

    page.goto(base + "/bundles/new")
    page.fill("#code", "B990")
    page.fill("#name", "浏览器测试一件事")
    page.fill("#items", "330100GA0004")
    save(page, "保存")
    assert "至少包含两个" in page.locator("#items-error").inner_text()
    assert_accessible(page, "bundle form with errors")


def test_admin_publishes_an_item_then_edits_it_into_version_two(page, live_server):
    browser_login(page, live_server, "admin")
    page.goto(live_server + "/")
    page.get_by_role("link", name="管理后台").click()
    expect(page.locator("h1")).to_have_text("管理后台")

    # create the item: a bad code first
    page.goto(live_server + "/admin/items/new")
    page.fill("#code", "330100GA0004")
    page.fill("#name", "浏览器测试事项")
    page.select_option("#department_id", label="市公安局（GA）")
    save(page, "创建草稿")
    assert "事项编码已存在" in page.locator("#code-error").inner_text()
    assert_accessible(page, "new item with errors")
    page.fill("#code", CODE)
    save(page, "创建草稿")
    assert re.search(r"/admin/versions/\d+/edit$", page.url), page.url
    edit_url = page.url
    version_url = edit_url.removesuffix("/edit")
    assert_accessible(page, "guide editor")

    # the guide: a promise longer than the law is refused next to the field
    page.fill("#legal_limit", "10")
    page.fill("#promised_limit", "30")
    save(page, "保存草稿")
    assert "不能超过法定办结时限" in page.locator("#promised_limit-error").inner_text()
    assert_accessible(page, "guide editor with errors")
    page.fill("#promised_limit", "5")
    page.check("text=户籍办理")
    page.fill("#legal_basis", "《居民身份证法》第八条")
    page.fill("#conditions", "本市户籍居民")
    page.fill("#steps-0-name", "受理")
    page.fill("#steps-0-limit", "1")
    page.fill("#steps-1-name", "审核")
    page.select_option("#steps-1-role", "reviewer")
    page.fill("#steps-1-limit", "3")
    page.fill("#location", "市民中心 B 座 1 楼")
    page.fill("#hours", "工作日 9:00-17:00")
    page.fill("#phone", "0571-87280000")
    page.fill("#synonyms", "测一测")
    page.get_by_role("button", name="增加办理环节行").click()
    page.wait_for_load_state("networkidle")
    expect(page.locator("#steps-4-name")).to_be_visible()
    assert page.locator("#steps-1-name").input_value() == "审核"
    save(page, "保存草稿")
    assert page.url == version_url
    assert_accessible(page, "draft version page")

    # two materials
    page.get_by_role("link", name="编辑申请材料").click()
    assert_accessible(page, "materials editor")
    page.select_option("#material_type_id", label="居民身份证（M001）")
    save(page, "添加材料")
    page.select_option("#material_type_id", label="户口簿（M002）")
    page.check("#original-1")
    page.fill("#copies", "0")
    save(page, "添加材料")
    assert "1 至 99" in page.locator("#copies-error").inner_text()
    assert_accessible(page, "materials editor with errors")
    page.fill("#copies", "2")
    save(page, "添加材料")
    rows = page.locator("table tbody tr")
    expect(rows).to_have_count(2)
    page.get_by_role("button", name=re.compile(r"上移\s*：户口簿")).click()
    page.wait_for_load_state("networkidle")
    expect(rows.first).to_contain_text("户口簿")
    page.get_by_role("link", name=re.compile(r"编辑\s*：户口簿")).click()
    assert_accessible(page, "one material's editor")
    page.fill("#notes", "首页和本人页")
    save(page, "保存")

    # the application form: one question
    page.goto(version_url + "/form")
    assert_accessible(page, "application form editor")
    page.fill("#questions-0-key", "Bad Key")
    page.fill("#questions-0-label", "申请人姓名")
    save(page, "保存申请表")
    assert "小写字母" in page.locator("#questions-0-key-error").inner_text()
    assert_accessible(page, "application form editor with errors")
    page.fill("#questions-0-key", "name")
    page.select_option("#questions-0-prefill", "name")
    page.check("#questions-0-required")
    save(page, "保存申请表")
    assert page.url == version_url
    expect(page.locator("#form-title + .table-wrap")).to_contain_text("申请人姓名")

    # review and publish version 1: four eyes, so another admin publishes what admin submitted
    save(page, "提交审核")
    expect(page.locator(".badge")).to_have_text("待审核")
    assert_accessible(page, "version in review")
    expect(page.get_by_role("button", name="审核通过并发布")).to_have_count(0)
    switch_admin(page, live_server, "admin2", version_url)
    save(page, "审核通过并发布")
    expect(page.locator(".badge")).to_have_text("已发布")
    assert_accessible(page, "published version")

    # version 2: admin2 copies, renames and submits; admin publishes
    save(page, "以此为基础创建新版本")
    assert page.url.endswith("/edit") and page.url != edit_url
    page.fill("#name", "浏览器测试事项（第二版）")
    save(page, "保存草稿")
    save(page, "提交审核")
    switch_admin(page, live_server, "admin", page.url)
    save(page, "审核通过并发布")
    expect(page.locator("h1")).to_contain_text("第 2 版")
    expect(page.locator(".badge")).to_have_text("已发布")

    # the item page and the diff
    page.get_by_role("link", name="查看全部版本和版本对比").click()
    assert_accessible(page, "item with two versions")
    expect(page.locator("table")).to_contain_text("已归档")
    page.get_by_role("button", name="对比这两个版本").click()
    page.wait_for_load_state("networkidle")
    diff = page.locator("table.diff")
    expect(diff).to_contain_text("浏览器测试事项（第二版）")
    expect(diff).to_contain_text("事项名称")
    assert_accessible(page, "version diff")

    # a citizen finds the new item by its pinyin initials and reads version 2 of its guide
    visitor = page.context.browser.new_page()
    try:
        visitor.goto(live_server + "/")
        visitor.fill("main input[name=q]", "llqcssx")
        visitor.press("main input[name=q]", "Enter")
        visitor.wait_for_load_state("networkidle")
        visitor.get_by_role("link", name="浏览器测试事项（第二版）").first.click()
        visitor.wait_for_load_state("networkidle")
        assert visitor.locator("h1").inner_text() == "浏览器测试事项（第二版）"
        assert_accessible(visitor, "the new item's guide")
    finally:
        visitor.close()

    # an incomplete draft: the publishing errors are named and linked
    page.goto(live_server + "/admin/items/new")
    page.fill("#code", "BROWSER00002")
    page.fill("#name", "未填完的事项")
    save(page, "创建草稿")
    page.goto(page.url.removesuffix("/edit"))
    save(page, "提交审核")
    expect(page.locator("#error-summary")).to_contain_text("设定依据")
    assert_accessible(page, "version with publishing errors")


def test_admin_pages_keep_working_in_elder_mode(page, live_server):
    browser_login(page, live_server, "admin")
    page.goto(live_server + "/admin/items")
    toggle_elder(page, to=True)
    try:
        assert page.evaluate("document.documentElement.classList.contains('elder')")
        for path in ("/admin/items", "/admin/versions/1", "/admin/items/1/diff"):
            page.goto(live_server + path)
            width = page.evaluate("document.documentElement.scrollWidth")
            assert width <= 1280, (path, width)
            assert_accessible(page, f"{path} in elder mode")
    finally:
        toggle_elder(page, to=False)
    assert not page.evaluate("document.documentElement.classList.contains('elder')")
