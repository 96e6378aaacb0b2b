"""我的材料, the data-use log and the e-licence check in a real Chromium, each page checked by axe.

Like every browser module, these tests have their own demo database and server (the uploads
made here stay out of other modules' libraries).
"""

from __future__ import annotations

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from portal.extensions import db
from portal.models import Application, ApplicationMaterial, Document, ELicence, ItemVersion, User
from seeds.factories import make_png
from tests.browser.conftest import assert_accessible, browser_login

pytestmark = pytest.mark.browser


def test_a_citizen_uploads_a_png_and_sees_it_listed(page, live_server, tmp_path):
    browser_login(page, live_server, "13800000002")
    page.click("nav.site-nav >> text=我的材料")
    assert page.locator("h1").inner_text() == "我的材料"
    assert page.locator("#empty-title").is_visible()
    assert_accessible(page, "empty library")

    page.click("main >> text=上传材料")
    assert_accessible(page, "upload form")
    page.click("main button[type=submit]")
    assert page.locator("#error-summary").is_visible()
    assert "请选择材料类型" in page.locator("#material_type-error").inner_text()
    assert "请选择要上传的文件" in page.locator("#file-error").inner_text()
    # portal.js (deferred) moves the focus to the summary once it has run
    expect(page.locator("#error-summary")).to_be_focused()
    assert_accessible(page, "upload form with errors")

    scan = tmp_path / "身份证正面.png"
    scan.write_bytes(make_png())
    page.select_option("#material_type", label="居民身份证")
    page.fill("#valid_until", "2036-05-01")
    page.set_input_files("#file", str(scan))
    page.click("main button[type=submit]")
    page.wait_for_url("**/documents/")
    assert "已上传" in page.locator(".flashes").inner_text()
    card = page.locator(".doc-card", has_text="身份证正面.png")
    assert card.count() == 1
    assert "未核验上传" in card.inner_text() and "2036-05-01" in card.inner_text()
    assert_accessible(page, "library with an upload")

    with page.expect_download() as download:
        card.locator("a", has_text="下载").click()
    assert download.value.suggested_filename == "身份证正面.png"


def test_the_holder_sees_two_elicences_and_verifies_one(page, live_server, live_app):
    with live_app.app_context():
        holder_code = db.session.scalar(
            select(User).where(User.phone == "13800000001")
        ).citizen.id_number
        db.session.remove()
    browser_login(page, live_server, "13800000001")
    page.goto(live_server + "/documents/")
    licences = page.locator("section[aria-labelledby=licences-title] .doc-card")
    assert licences.count() == 2
    number = licences.first.locator(".licence-number").inner_text()
    assert_accessible(page, "library with e-licences")

    licences.first.locator("a", has_text="去核验页面").click()
    page.wait_for_url("**/verify?number=*")
    assert page.input_value("#number") == number
    assert_accessible(page, "verify form")
    page.click("main button[type=submit]")
    assert "请填写持证主体代码" in page.locator("#holder_code-error").inner_text()
    assert_accessible(page, "verify form with errors")
    page.fill("#holder_code", holder_code)
    page.click("main button[type=submit]")
    result = page.locator(".verify-result")
    assert result.locator(".verify-outcome").inner_text() == "有效"
    assert "张*明" in result.inner_text() and holder_code not in page.content()
    assert_accessible(page, "verify result")


def test_the_data_use_log_shows_a_reviewers_view(page, live_server, live_app):
    from services import accounts

    with live_app.app_context():  # a citizen with no documents and no history at all
        newcomer = accounts.register_citizen(
            phone="13966667777",
            password="Qingshan2026!",
            name="孙十",
            id_number="110101199001010015",
        )
        db.session.commit()
        assert (
            db.session.scalar(select(Document.id).where(Document.owner_id == newcomer.citizen_id))
            is None
        )
        db.session.remove()
    browser_login(page, live_server, "13966667777", "Qingshan2026!")
    page.goto(live_server + "/documents/data-use")
    assert "暂无记录" in page.locator("main").inner_text()
    assert_accessible(page, "empty data-use log")

    # 13800000001's 居民身份证 is used by a case of the police department; reviewer01 opens it
    with live_app.app_context():
        owner = db.session.scalar(select(User).where(User.phone == "13800000001"))
        doc = db.session.scalar(
            select(Document)
            .where(Document.owner_id == owner.citizen_id, Document.source == "counter")
            .order_by(Document.id)
        )
        reviewer = db.session.scalar(select(User).where(User.username == "reviewer01"))
        version = db.session.scalar(
            select(ItemVersion)
            .where(
                ItemVersion.department_id == reviewer.department_id,
                ItemVersion.requirements.any(),
                ItemVersion.status == "published",
            )
            .order_by(ItemVersion.id)
        )
        case = Application(
            number="BROWSER0001",
            item_version=version,
            department_id=version.department_id,
            applicant_id=owner.citizen_id,
            status="submitted",
        )
        case.materials = [
            ApplicationMaterial(
                requirement=version.requirements[0], document_id=doc.id, satisfied_by="library"
            )
        ]
        db.session.add(case)
        db.session.commit()
        doc_id = doc.id
        db.session.remove()
    reviewer_page = page.context.browser.new_context().new_page()
    try:
        browser_login(reviewer_page, live_server, "reviewer01")
        response = reviewer_page.request.get(f"{live_server}/documents/{doc_id}/view")
        assert response.status == 200 and response.headers["content-type"] == "image/png"
    finally:
        reviewer_page.context.close()

    page.click("header >> text=退出")
    browser_login(page, live_server, "13800000001")
    page.goto(live_server + "/documents/data-use")
    row = page.locator("table.data-use tbody tr").first
    text = row.inner_text()
    assert (
        "市公安局" in text and "re******01" in text and "查看材料" in text and "BROWSER0001" in text
    )
    assert_accessible(page, "data-use log")


def test_no_licence_leaks_on_a_wrong_code(page, live_server, live_app):
    with live_app.app_context():
        number = db.session.scalar(select(ELicence.number).order_by(ELicence.id))
        db.session.remove()
    page.goto(f"{live_server}/verify?number={number}")
    page.fill("#holder_code", "11010519491231002X")
    page.click("main button[type=submit]")
    assert page.locator(".verify-outcome").inner_text() == "查无此证"
    assert page.locator(".verify-result dl").count() == 0
    assert_accessible(page, "verify: no such licence")
