"""The counter workstation in Chromium: counter01 registers a walk-in on the spot, takes a
即办件 (失业登记) on their behalf, decides and completes it while they wait, and prints the
notice; the test reads the PDF's Chinese text. axe finds nothing on any workstation page."""

from __future__ import annotations

import random
from datetime import date

import pytest

from seeds.factories import make_id_number
from tests.browser.conftest import assert_accessible, browser_login
from tests.helpers import pdf_text
from tests.workflow_cases import UNEMPLOYMENT

pytestmark = pytest.mark.browser

WALK_IN = {
    "name": "冯晓春",
    "id_number": make_id_number(date(1983, 2, 14), random.Random(501), area="310106"),
    "phone": "13912349001",
    "address": "延安中路五百号",
}


def test_walk_in_instant_intake_completed_and_notice_printed(page, live_server):
    browser_login(page, live_server, "counter01")
    page.goto(f"{live_server}/counter/")
    # the module's own fresh database: no citizen is left at counter01's window
    assert page.locator("button:has-text('办理下一位')").count() == 0
    assert_accessible(page, "workstation, nobody served")

    # unknown 身份证号 → the registration form, with the number already in it
    page.fill("#lookup-query", WALK_IN["id_number"])
    page.press("#lookup-query", "Enter")
    page.wait_for_load_state("networkidle")
    assert page.input_value("#register-id_number") == WALK_IN["id_number"]
    assert page.get_attribute("#register-name", "autocomplete") == "off"
    assert_accessible(page, "registration form")
    page.fill("#register-name", WALK_IN["name"])
    page.fill("#register-phone", "13800000001")  # someone else's phone
    page.fill("#register-address", WALK_IN["address"])
    page.click("#register button[type=submit]")
    assert "已登记在他人名下" in page.inner_text("#register-phone-error")
    assert_accessible(page, "registration refused")
    page.fill("#register-phone", WALK_IN["phone"])
    page.click("#register button[type=submit]")
    page.wait_for_load_state("networkidle")
    assert page.url == f"{live_server}/counter/"
    main = page.inner_text("main")
    assert "冯*春" in main and WALK_IN["name"] not in main and WALK_IN["id_number"] not in main
    assert_accessible(page, "serving a citizen")

    # the item, by keyboard
    page.fill("#q", "失业")
    page.press("#q", "Enter")
    page.wait_for_load_state("networkidle")
    page.click(f"button.counter-item:has-text('{UNEMPLOYMENT}')")
    page.wait_for_load_state("networkidle")
    assert "/counter/intake/" in page.url
    assert page.input_value("#q_name") == WALK_IN["name"]  # prefilled from what the portal knows
    assert page.get_attribute("#q_name", "autocomplete") == "off"
    assert_accessible(page, "intake page")
    page.check("#c_reason-4")  # 其他
    page.fill("#q_job_wish", "仓库管理")
    page.click("button:has-text('保存情形、信息和材料')")
    page.wait_for_load_state("networkidle")
    assert "预审通过" in page.inner_text("#submit")
    page.click("button:has-text('提交并进入受理')")
    page.wait_for_load_state("networkidle")
    assert "/counter/cases/" in page.url
    assert_accessible(page, "counter case, submitted")

    # 即办: accepted and approved on the spot, then handed over if the result is paper
    page.click("button:has-text('即办：受理并准予')")
    page.wait_for_load_state("networkidle")
    if page.locator("button:has-text('出件')").count():
        page.click("button:has-text('出件')")
        page.wait_for_load_state("networkidle")
    assert page.inner_text("#case-status") == "已办结"
    assert_accessible(page, "counter case, completed")

    # print the decision: the PDF the workflow issued
    link = page.locator("a:has-text('准予决定书')")
    href = link.get_attribute("href")
    with page.context.expect_page() as opened:
        link.click()
    printed = opened.value
    printed.close()
    response = page.request.get(live_server + href)
    assert response.status == 200 and response.headers["content-type"] == "application/pdf"
    text = pdf_text(response.body())
    assert "准予决定书" in text and UNEMPLOYMENT in text and WALK_IN["name"] in text, text[:500]

    # 办理下一位: the desk is empty again
    page.click("text=返回综合窗口工作台")
    assert "已办结" in page.inner_text("#cases")
    page.click("button:has-text('办理下一位')")
    page.wait_for_load_state("networkidle")
    assert WALK_IN["name"] not in page.content() and "冯*春" not in page.content()
    assert page.input_value("#lookup-query") == ""
