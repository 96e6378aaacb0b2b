"""An admin sets up a hall in Chromium: the hall, two windows, two queue categories and a
weekly template; the roll forward runs; a citizen books a slot four weeks out."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from portal.extensions import db
from portal.models import AppointmentSlot, CounterWindow, QueueCategory, ServiceHall
from services import clock, jobs
from tests.browser.conftest import assert_accessible, browser_login
from tests.workflow_cases import RESIDENCE_PERMIT, item_named

pytestmark = pytest.mark.browser


def submit(page, name: str) -> None:
    page.get_by_role("button", name=name, exact=True).click()
    page.wait_for_load_state("load")


def test_an_admin_sets_up_a_hall_and_a_citizen_books_four_weeks_out(browser, live):
    base, app = live
    context = browser.new_context(locale="zh-CN", viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(15000)
    try:
        browser_login(page, base, "admin")
        page.goto(base + "/admin/")
        page.locator("nav.admin-nav").get_by_role("link", name="服务大厅").click()
        page.get_by_role("link", name="新增服务大厅").click()
        page.fill("#code", "BRTEST")
        page.fill("#name", "浏览器测试大厅")
        page.fill("#address", "测试路 88 号")
        page.fill("#hours", "周一至周五 9:00-12:00")
        submit(page, "保存")
        assert page.locator("h1").inner_text() == "浏览器测试大厅"

        for letter, name, department in (("A", "综合受理", False), ("B", "户籍", True)):
            page.get_by_role("link", name="新增服务类别").click()
            page.fill("#code", letter)
            page.fill("#name", name)
            if department:
                page.check("#department_ids-0")
            submit(page, "保存")
            assert f"已新增服务类别：{letter} {name}" in page.locator(".flashes").inner_text()

        for number, letters in (("1", ["A"]), ("2", ["A", "B"])):
            page.get_by_role("link", name="新增窗口").click()
            page.fill("#number", number)
            for i, _letter in enumerate(letters):
                page.check(f"#category_codes-{i}")
            submit(page, "保存")
            assert f"已新增窗口：{number} 号窗口" in page.locator(".flashes").inner_text()
        assert_accessible(page, "hall page")

        page.get_by_role("link", name="预约模板 A 综合受理").click()
        for weekday in range(5):
            page.check(f"#week-weekdays-{weekday}")
        page.fill("#week-starts_at", "09:00")
        page.fill("#week-ends_at", "12:00")
        page.select_option("#week-slot_minutes", "60")
        page.fill("#week-capacity", "6")
        submit(page, "加入模板")
        assert "已加入预约模板" in page.locator(".flashes").inner_text()
        assert "09:00-12:00" in page.locator("table").inner_text()
        assert_accessible(page, "template page")

        with app.app_context():
            hall = db.session.scalar(select(ServiceHall).where(ServiceHall.code == "BRTEST"))
            assert [w.number for w in hall.windows] == [1, 2]
            assert db.session.scalar(
                select(CounterWindow.category_codes).where(
                    CounterWindow.hall_id == hall.id, CounterWindow.number == 2
                )
            ) == ["A", "B"]
            assert {c.code for c in hall.categories} == {"A", "B"}
            jobs.roll_appointment_slots(clock.local_today())  # what cron runs every minute
            category_id = db.session.scalar(
                select(QueueCategory.id).where(
                    QueueCategory.hall_id == hall.id, QueueCategory.code == "A"
                )
            )
            last = db.session.scalar(
                select(func.max(AppointmentSlot.day)).where(
                    AppointmentSlot.category_id == category_id
                )
            )
            code = item_named(RESIDENCE_PERMIT).code
            db.session.remove()
        today = clock.local_today()
        assert today + timedelta(days=22) <= last <= today + timedelta(days=28)
    finally:
        context.close()

    context = browser.new_context(locale="zh-CN", viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(15000)
    try:
        browser_login(page, base, "13800000002")
        page.goto(f"{base}/appointments/items/{code}/book?hall=BRTEST&day={last.isoformat()}")
        assert page.locator("#day").input_value() == last.isoformat()
        first = page.locator("input[name=slot]:not([disabled])").first
        slot_id = int(first.get_attribute("value"))
        first.check()
        submit(page, "确认预约")
        assert "预约成功" in page.locator(".flashes").inner_text()
        with app.app_context():
            slot = db.session.get(AppointmentSlot, slot_id)
            assert slot.day == last and slot.booked == 1 and slot.capacity == 6
            db.session.remove()
    finally:
        context.close()
