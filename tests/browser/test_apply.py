"""Applying online in Chromium: a returning citizen reuses everything and uploads nothing."""

import re

import pytest

from services import clock
from tests.browser.conftest import assert_accessible, browser_login
from tests.sms import confirm_registration

pytestmark = pytest.mark.browser

ID_RENEWAL = "330100GA0004"  # 居民身份证换领（有效期满）: needs 居民身份证, 户口簿 shared


def test_returning_citizen_applies_with_everything_on_file(page, live_server):
    browser_login(page, live_server, "13800000001")
    page.goto(f"{live_server}/apply/{ID_RENEWAL}")
    assert_accessible(page, "apply start")
    page.click("main button[type=submit]")

    assert "第 1 步，共 4 步" in page.inner_text("main")
    page.click("main button[type=submit]")  # nothing chosen: errors
    assert page.locator("#error-summary").is_visible()
    assert_accessible(page, "conditions with errors")
    page.check("#c_hukou_local-1")  # 是，本市户籍
    page.check("#c_minor-2")  # 否
    page.click("main button[type=submit]")

    assert "第 2 步，共 4 步" in page.inner_text("main")
    # prefilled from the profile (WCAG 3.3.7): name and id number are already there
    assert page.input_value("#q_name") == "张伟明"
    assert re.fullmatch(r"\d{17}[\dX]", page.input_value("#q_id_number"))
    assert_accessible(page, "form step")
    page.fill("#q_phone", "12")
    page.click("main button[type=submit]")
    assert "11 位手机号码" in page.inner_text("#q_phone-error")
    assert_accessible(page, "form step with errors")
    page.fill("#q_phone", "13800000001")
    page.select_option("#q_delivery", "post")
    page.click("main button[type=submit]")

    assert "第 3 步，共 4 步" in page.inner_text("main")
    main = page.inner_text("main")
    assert "由部门共享获取，无需提交" in main
    assert "请上传" not in main
    checked = page.locator("main input[type=radio]:checked")
    assert checked.count() == 1 and checked.first.get_attribute("value").startswith("doc:")
    assert_accessible(page, "materials step")
    page.click("#choices button[type=submit]")

    assert "第 4 步，共 4 步" in page.inner_text("main")
    assert "本次复用 2 份材料，少交 2 份" in page.inner_text("main")
    assert page.locator("#error-summary").count() == 0
    assert_accessible(page, "confirm step")
    page.check("#consent")
    page.click("main form[action$='/submit'] button[type=submit]")
    page.wait_for_url(re.compile(r".*/cases/\d+$"))
    assert re.search(r"WB\d{8}\d{6}", page.inner_text("main"))
    assert "共需 2 份材料，其中 2 份无需上传" in page.inner_text("main")
    assert_accessible(page, "case page")
    page.goto(f"{live_server}/cases")
    assert_accessible(page, "my cases")
    # the back button and a resubmit return the same case, never a second one
    page.go_back()
    assert page.locator("h1").count() == 1


def test_new_citizen_uploads_files_and_submits(page, live_server, tmp_path):
    from seeds.factories import make_png

    scan = tmp_path / "身份证.png"
    scan.write_bytes(make_png())
    fake = tmp_path / "not-really.pdf"
    fake.write_bytes(b"<html><script>alert(1)</script></html>")
    browser_login(page, live_server, "13800000002")
    page.goto(f"{live_server}/apply/{ID_RENEWAL}")
    page.click("main button[type=submit]")
    page.check("#c_hukou_local-1")
    page.check("#c_minor-2")
    page.click("main button[type=submit]")
    page.select_option("#q_delivery", "counter")
    page.click("main button[type=submit]")
    assert "请上传" in page.inner_text("main")
    upload = page.locator("form.upload-form").first
    upload.locator("input[type=file]").set_input_files(str(fake))
    upload.locator("button[type=submit]").click()
    assert page.locator("#error-summary").is_visible()
    assert_accessible(page, "materials with an upload error")
    upload = page.locator("form.upload-form").first
    upload.locator("input[type=file]").set_input_files(str(scan))
    upload.locator("button[type=submit]").click()
    page.wait_for_load_state("networkidle")
    assert "已上传，并用于本次申请" in page.inner_text("main")
    assert page.locator("main input[type=radio]:checked").count() == 1
    page.click("#choices button[type=submit]")
    assert "第 4 步，共 4 步" in page.inner_text("main")
    assert page.locator("#error-summary").count() == 0
    page.check("#consent")
    page.click("main form[action$='/submit'] button[type=submit]")
    page.wait_for_url(re.compile(r".*/cases/\d+$"))
    assert "本次上传" in page.inner_text("main")


def test_a_citizen_without_cases_sees_an_empty_list(page, live):
    live_server, live_app = live
    page.goto(f"{live_server}/auth/register")
    page.fill("#name", "钱九")
    page.fill("#id_number", "110101199001010015")
    page.fill("#phone", "13955556666")
    page.fill("#password", "Qingshan2026!")
    page.fill("#confirm", "Qingshan2026!")
    page.click("main button[type=submit]")
    confirm_registration(page, live_app, "13955556666")
    page.wait_for_url("**/profile")
    page.goto(f"{live_server}/cases")
    assert "您还没有办件" in page.inner_text("main")
    assert_accessible(page, "empty case list")


def test_proxy_and_message_pages_are_accessible(page, live_server):
    browser_login(page, live_server, "13800000003")
    page.goto(f"{live_server}/proxies")
    assert_accessible(page, "proxies empty")
    page.fill("#agent_phone", "139")
    page.click("main form button[type=submit]")
    assert page.locator("#error-summary").is_visible()
    assert_accessible(page, "proxies with errors")
    page.goto(f"{live_server}/messages")
    assert_accessible(page, "messages")


def test_a_bundle_is_one_application_fanned_out_to_child_cases(page, live_server, tmp_path):
    """退休一件事: one set of questions, one upload per material type, one submission."""
    from seeds.factories import make_png

    scan = tmp_path / "scan.png"
    scan.write_bytes(make_png())
    browser_login(page, live_server, "13800000001")
    page.goto(f"{live_server}/apply/bundle/B002")
    assert_accessible(page, "bundle start")
    page.click("main button[type=submit]")
    for fieldset in page.locator("main fieldset").all():  # 情形: the last choice of each question
        fieldset.locator("input[type=radio]").last.check()
    assert_accessible(page, "bundle conditions")
    page.click("main button[type=submit]")

    assert "第 2 步，共 4 步" in page.inner_text("main")
    # the items' rules: work started at 16 or later, retirement after it at 45 or later
    # (张伟明 was born on 1985-03-12)
    page.fill("#q_work_start", "2005-07-01")
    page.fill("#q_retire_date", "2045-03-12")
    for field in page.locator(
        "main form input:not([type=hidden]):not([type=checkbox]), main form select"
    ).all():
        if field.input_value():
            continue
        if field.evaluate("e => e.tagName") == "SELECT":
            field.select_option(index=1)
        elif field.get_attribute("type") == "date":
            field.fill(clock.local_today().isoformat())
        elif field.get_attribute("inputmode") in ("numeric", "decimal"):
            field.fill("1")
        else:
            field.fill("测试")
    for box in page.locator("main form input[type=checkbox]").all():
        box.check()
    assert_accessible(page, "bundle form")
    page.click("main button[type=submit]")

    assert "第 3 步，共 4 步" in page.inner_text("main")
    assert_accessible(page, "bundle materials")
    while page.locator("section.material-row:has(.needs-upload) form.upload-form").count():
        upload = page.locator("section.material-row:has(.needs-upload) form.upload-form").first
        upload.locator("input[type=file]").set_input_files(str(scan))
        if upload.locator("input[name=issued_on]").count():
            upload.locator("input[name=issued_on]").fill(clock.local_today().isoformat())
        upload.locator("button[type=submit]").click()
        page.wait_for_load_state("networkidle")
        assert "已上传，并用于本次申请" in page.inner_text("main"), page.inner_text("main")[:1500]
    page.click("#choices button[type=submit]")
    page.wait_for_load_state("networkidle")
    if "第 4 步" not in page.inner_text("main"):  # some material still needs a document
        raise AssertionError(page.inner_text("main")[:2000])
    assert_accessible(page, "bundle confirm")
    if page.locator("#error-summary").count():
        raise AssertionError(page.inner_text("#error-summary"))
    page.check("#consent")
    page.click("main form[action$='/submit'] button[type=submit]")
    page.wait_for_url(re.compile(r".*/cases/\d+$"))
    main = page.inner_text("main")
    assert re.search(r"YJ\d{14}", main)
    children = page.locator("main table").first.locator("tbody tr")
    assert children.count() >= 2
    assert all(re.search(r"WB\d{14}", row.inner_text()) for row in children.all())
    assert_accessible(page, "bundle case page")
