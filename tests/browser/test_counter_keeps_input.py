"""The counter's intake page keeps what the clerk typed (issue 11 §7).

counter01 serves a walk-in for 居住证申领, picks the 情形, types the 来本市居住的日期 and the
工作单位, then scans the photo receipt: every typed value is still on the page afterwards, and
no "此项必填" appears anywhere before the clerk submits."""

from __future__ import annotations

import random
from datetime import date

import pytest

from seeds.factories import make_id_number
from services import clock
from tests.browser.conftest import assert_accessible, browser_login
from tests.files import png
from tests.workflow_cases import RESIDENCE_PERMIT

pytestmark = pytest.mark.browser

WALK_IN = {
    "name": "柳思远",
    "id_number": make_id_number(date(1990, 6, 3), random.Random(777), area="330106"),
    "phone": "13912349077",
    "address": "文三路九十号",
}
MOVE_IN = "2025-03-18"
EMPLOYER = "杭州东站物流有限公司"


def _serve_walk_in(page, base: str) -> None:
    page.goto(f"{base}/counter/")
    if page.locator("button:has-text('办理下一位')").count():
        page.click("button:has-text('办理下一位')")
    page.fill("#lookup-query", WALK_IN["id_number"])
    page.press("#lookup-query", "Enter")
    page.wait_for_load_state("networkidle")
    page.fill("#register-name", WALK_IN["name"])
    page.fill("#register-phone", WALK_IN["phone"])
    page.fill("#register-address", WALK_IN["address"])
    page.click("#register button[type=submit]")
    page.wait_for_load_state("networkidle")
    page.fill("#q", "居住证")
    page.press("#q", "Enter")
    page.wait_for_load_state("networkidle")
    page.click(f"button.counter-item:has-text('{RESIDENCE_PERMIT}')")
    page.wait_for_load_state("networkidle")
    assert "/counter/intake/" in page.url


def _assert_typed_values_kept(page, employer: str = EMPLOYER) -> None:
    assert page.is_checked("#c_basis-1"), "the 情形 (在本市工作) was lost"
    assert page.is_checked("#c_agent-2"), "the 情形 (本人办理) was lost"
    assert page.input_value("#q_move_in_date") == MOVE_IN, "the typed date was lost"
    assert page.input_value("#q_employer") == employer, "the typed employer was lost"
    assert page.input_value("#q_name") == WALK_IN["name"]


def test_scan_keeps_every_typed_value_and_no_error_before_submit(page, live_server, tmp_path):
    browser_login(page, live_server, "counter01")
    _serve_walk_in(page, live_server)
    intake_url = page.url
    assert "此项必填" not in page.inner_text("main"), "an error before anything was submitted"

    page.check("#c_basis-1")  # 在本市工作（有社保）
    page.check("#c_agent-2")  # 否，本人办理
    page.fill("#q_move_in_date", MOVE_IN)
    page.fill("#q_employer", EMPLOYER)

    scan = tmp_path / "photo.png"
    scan.write_bytes(png())
    photo = page.locator("section.material-row:has-text('证件照数码回执')")
    photo.locator("input[type=file]").set_input_files(str(scan))
    photo.locator("input[type=date]").fill(clock.local_today().isoformat())
    photo.locator("button:has-text('扫描入库并使用')").click()
    page.wait_for_load_state("networkidle")

    main = page.inner_text("main")
    assert "已上传，并用于本次申请" in main, main[:1500]
    _assert_typed_values_kept(page)
    assert "此项必填" not in main and "请选择" not in page.inner_text("#submit"), main[:3000]
    assert_accessible(page, "intake after a scan")

    # a second scan that fails (no file chosen) shows only its own error, and still keeps
    # everything typed
    page.fill("#q_employer", EMPLOYER + "二部")
    other = page.locator("section.material-row:has-text('居民身份证')")
    other.locator("button:has-text('扫描入库并使用')").click()
    page.wait_for_load_state("networkidle")
    _assert_typed_values_kept(page, EMPLOYER + "二部")
    assert "此项必填" not in page.inner_text("main")

    # the page opened again shows what was saved with the scans
    page.goto(intake_url)
    _assert_typed_values_kept(page, EMPLOYER + "二部")
    assert "此项必填" not in page.inner_text("main")

    # only the clerk's submit brings errors: clear a required field and submit
    page.fill("#q_move_in_date", "")
    page.click("button:has-text('提交并进入受理')")
    page.wait_for_load_state("networkidle")
    assert "此项必填" in page.inner_text("main")
    assert page.is_checked("#c_basis-1") and page.input_value("#q_employer") == EMPLOYER + "二部"
    assert "/counter/intake/" in page.url
