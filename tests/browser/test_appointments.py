"""预约 in Chromium: a citizen books a visit from their case page, sees what the visit needs
(最多跑一次), and the pages pass axe."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from portal.extensions import db
from portal.models import Appointment, AppointmentSlot
from services import workflow
from tests.browser.conftest import assert_accessible, browser_login
from tests.workflow_cases import RESIDENCE_PERMIT, submit_case, user

pytestmark = pytest.mark.browser


def test_a_citizen_books_from_their_case_and_sees_it_is_ready(page, live):
    base, app = live
    with app.app_context():
        case = submit_case("13800000002", RESIDENCE_PERMIT, {"basis": "work", "agent": "no"})
        workflow.perform(user("reviewer01"), case.id, "accept", case.version)
        db.session.commit()
        case_id = case.id
        db.session.remove()

    browser_login(page, base, "13800000002")
    page.goto(f"{base}/cases/{case_id}")
    page.get_by_role("link", name="预约到场").click()
    page.wait_for_load_state("load")
    assert page.locator("h1").inner_text() == "预约到现场办理"
    assert "材料已预审，到场一次办结" in page.locator(".prep").inner_text()
    assert_accessible(page, "booking page")

    # another hall: 街道便民服务中心 has one 综合受理 category
    page.select_option("#hall", "BSZX")
    page.get_by_role("button", name="查看可预约时段").click()
    page.wait_for_load_state("load")
    assert "办理类别：综合受理" in page.content()
    first = page.locator("input[name=slot]:not([disabled])").first
    slot_id = int(first.get_attribute("value"))
    first.check()
    page.get_by_role("button", name="确认预约").click()
    page.wait_for_load_state("load")

    assert page.locator("h1").inner_text() == "预约详情"
    assert "预约成功" in page.locator(".flashes").inner_text()
    code = page.locator(".appointment-code strong").inner_text()
    assert "材料已预审，到场一次办结" in page.locator(".prep").inner_text()
    assert_accessible(page, "appointment page")
    with app.app_context():
        booked = db.session.scalar(select(Appointment).where(Appointment.code == code))
        assert booked.application_id == case_id and booked.slot_id == slot_id
        assert db.session.get(AppointmentSlot, slot_id).booked >= 1
        db.session.remove()

    page.get_by_role("link", name="我的预约", exact=True).click()
    page.wait_for_load_state("load")
    assert code in page.locator("table").inner_text()
    assert_accessible(page, "my appointments")
