"""The review workflow in Chromium: reviewer01 works through the queue, asks for an itemised
correction, the citizen fixes only those items, the reviewer approves, the citizen downloads
the notice and the licence and rates; axe finds nothing on any staff page."""

import random
import re
from datetime import date

import pytest
from sqlalchemy import select

from portal.extensions import db
from portal.models import Application, MaterialType
from seeds.factories import make_id_number
from services import accounts, counter
from tests.browser.conftest import assert_accessible, browser_login, toggle_elder
from tests.conftest import DEMO_PASSWORD
from tests.workflow_cases import RESIDENCE_PERMIT, submit_case, upload, user

pytestmark = pytest.mark.browser

CITIZEN = "13800000009"


def hand_over_at_a_counter(live_app, case_id: int) -> None:
    """出件: counter01 serves the holder and hands the result over (through the services, as
    tests/browser/test_counter.py does it in the browser)."""
    with live_app.test_request_context():
        case = db.session.get(Application, case_id)
        clerk = user("counter01")
        counter.begin_context(clerk, case.applicant)
        counter.decide(clerk, case_id, "pickup", case.version, visit_reason="申请人选择窗口领取")
        counter.end_context(clerk)
        db.session.commit()


@pytest.fixture(scope="module")
def police_case(live_app):
    """A 居住证申领 submitted to 市公安局 by a new citizen, with a better photo already in their
    library for the correction (made through the services in the live server's database)."""
    with live_app.app_context():
        holder = accounts.register_citizen(
            phone=CITIZEN,
            password=DEMO_PASSWORD,
            name="赵小梅",
            address="人民路 9 号",
            id_number=make_id_number(
                date(1990, 4, 2), random.Random(9), female=True, area="310104"
            ),
        )
        case = submit_case(CITIZEN, RESIDENCE_PERMIT, {"basis": "work", "agent": "no"})
        photo_type = db.session.scalar(
            select(MaterialType).where(MaterialType.name == "证件照数码回执")
        )
        upload(holder.citizen, photo_type, colour=(255, 255, 255))
        photo = next(m for m in case.materials if m.requirement.material_type_id == photo_type.id)
        db.session.commit()
        facts = {
            "id": case.id,
            "number": case.number,
            "photo": photo.id,
            "id_card": next(m.id for m in case.materials if m.id != photo.id and m.document_id),
        }
        db.session.remove()
    return facts


def status_of(live_app, case_id):
    with live_app.app_context():
        status = db.session.get(Application, case_id).status
        db.session.remove()
    return status


def test_itemised_correction_then_approval_licence_and_rating(
    page, browser, live_server, live_app, police_case
):
    case_id, number = police_case["id"], police_case["number"]
    case_url = f"{live_server}/review/cases/{case_id}"

    # the reviewer finds the case in the department's queue
    browser_login(page, live_server, "reviewer01")
    page.click("nav >> text=审批工作台")
    assert_accessible(page, "review queue")
    row = page.locator("tr", has_text=number)
    assert re.search(r"剩余 \d+ 个工作日|今日到期|已超期 \d+ 天", row.inner_text())
    page.select_option("#status", "submitted")
    page.click("form.filters button[type=submit]")
    assert_accessible(page, "review queue filtered")
    page.click(f"text={number}")
    assert page.url == case_url
    assert "赵*梅" in page.inner_text("main") and "赵小梅" not in page.inner_text("main")
    assert_accessible(page, "review case, masked")
    page.click("main button:has-text('显示完整信息')")
    assert "赵小梅" in page.inner_text("main")

    # verdicts: the photo needs correcting, the 身份证 copy is checked against the original
    photo, id_card = police_case["photo"], police_case["id_card"]
    page.check(f"#v{photo}-verdict-1")  # 需补正
    page.click(f"#material-{photo} button[type=submit]")  # no reason: an error next to the field
    assert page.locator(f"#v{photo}-reason-error").is_visible()
    assert_accessible(page, "verdict with an error")
    page.check(f"#v{photo}-verdict-1")
    page.fill(f"#v{photo}-reason", "照片背景不是白色")
    page.click(f"#material-{photo} button[type=submit]")
    page.check(f"#v{id_card}-verdict-2")  # 原件已核验
    page.click(f"#material-{id_card} button[type=submit]")
    assert "审核意见已保存" in page.inner_text("main")

    # one correction notice listing every item
    page.check("#f_address")
    page.fill("#r_address", "请写到门牌号")
    page.click("text=发出补正材料通知书")
    assert "补正材料通知书已发出" in page.inner_text("main")
    assert "补正材料通知书" in page.inner_text("main .notice-list")
    assert status_of(live_app, case_id) == "correction_required"
    assert_accessible(page, "review case after correction request")

    # the citizen changes only those items
    citizen = browser.new_context(
        locale="zh-CN", viewport={"width": 1280, "height": 900}
    ).new_page()
    browser_login(citizen, live_server, CITIZEN)
    citizen.goto(f"{live_server}/cases/{case_id}")
    assert "照片背景不是白色" in citizen.inner_text("main")
    assert_accessible(citizen, "citizen case needing correction")
    citizen.click("text=去补正")
    assert citizen.locator("#q_address").count() == 1
    assert citizen.locator("#q_phone").count() == 0 and citizen.locator("#q_name").count() == 0
    assert_accessible(citizen, "correction page")
    citizen.fill("#q_address", "人民路 9 号 3 单元 502 室")
    citizen.locator("input[name^='m_'][type=radio]").first.check()
    citizen.click("text=提交补正")
    assert "补正已提交" in citizen.inner_text("main")
    assert status_of(live_app, case_id) == "submitted"

    # the reviewer accepts, reviews and approves
    page.goto(case_url)
    page.click("form[action$='/actions/accept'] button")
    assert "已完成：受理" in page.inner_text("main")
    page.click("form[action$='/actions/start_review'] button")
    page.click("form[action$='/actions/suspend'] button")  # empty: errors next to the fields
    assert page.locator("#suspend-reason-error").is_visible()
    assert_accessible(page, "review case in review, with errors")
    page.goto(case_url)
    page.fill("#approve-opinion", "符合居住证申领条件")
    page.click("form[action$='/actions/approve'] button")
    # 准予 leads to the guide's 制证 step, then to 窗口领取 (the item's one method), then 出件
    assert status_of(live_app, case_id) == "certifying"
    assert "制证中" in page.inner_text("main")
    page.click("form[action$='/actions/certify'] button")
    assert status_of(live_app, case_id) == "awaiting_pickup"
    assert "待领取" in page.inner_text("main")
    assert_accessible(page, "review case waiting for pickup")
    hand_over_at_a_counter(live_app, case_id)
    page.goto(case_url)
    assert "已办结" in page.inner_text("main")
    assert_accessible(page, "review case completed")
    page.goto(f"{live_server}/review/post-checks")
    assert_accessible(page, "post-checks")

    # the citizen downloads the notice and the licence, then rates
    citizen.goto(f"{live_server}/cases/{case_id}")
    assert_accessible(citizen, "citizen case completed")
    notice_href = citizen.locator("a:has-text('准予决定书')").get_attribute("href")
    pdf = citizen.request.get(live_server + notice_href)
    assert (
        pdf.ok and pdf.headers["content-type"] == "application/pdf" and pdf.body()[:5] == b"%PDF-"
    )
    with citizen.expect_download() as download:
        citizen.click("a:has-text('下载电子证照')")
    assert download.value.suggested_filename.endswith(".pdf")
    citizen.click("text=评价本次办理")
    assert_accessible(citizen, "rating form")
    citizen.click("main button[type=submit]")
    assert citizen.locator("#error-summary").is_visible()
    assert_accessible(citizen, "rating form with errors")
    citizen.check("#score-0")
    for key in ("overall", "efficiency", "guide", "convenience", "usability"):
        citizen.check(f"#i_{key}-0")
    citizen.fill("#comment", "全程网上办，没有跑腿")
    citizen.click("main button[type=submit]")
    assert "感谢您的评价" in citizen.inner_text("main")
    assert citizen.locator("text=评价本次办理").count() == 0
    citizen.context.close()


def test_admin_and_public_pages_are_accessible(page, live_server):
    page.goto(f"{live_server}/notices/verify")
    assert_accessible(page, "verify form")
    page.fill("#code", "GASL202601010001-00000000")
    page.click("main button[type=submit]")
    assert "查无此文书" in page.inner_text("main")
    assert_accessible(page, "verify result")
    browser_login(page, live_server, "admin")
    page.goto(f"{live_server}/review/admin/")
    assert_accessible(page, "admin follow-ups")
    page.click("main button:has-text('登记例外')")
    assert page.locator("#error-summary").is_visible()
    assert_accessible(page, "admin follow-ups with errors")


def test_the_queue_in_elder_mode_is_accessible(page, live_server):
    browser_login(page, live_server, "reviewer02")
    toggle_elder(page, to=True)
    page.goto(f"{live_server}/review/")
    assert page.locator("html.elder").count() == 1
    assert_accessible(page, "queue in elder mode")
