"""Issue 12's "Done when": a fresh instance set up by its operator, then used by a citizen.

No demo data: an empty migrated database and its own live portal. The first admin is made with
the real `flask users create-admin` (as the README's deployment steps say); everything after
that goes through the pages, in Chromium: the admin enrols an authenticator, creates a
department, a hall with two windows and two categories, a weekly appointment template and an
item to book, the roll forward (`flask jobs run`, what cron runs) opens the slots, the admin
creates a counter clerk and a reviewer, who each replace their initial password and enrol, and
imports next year's holiday schedule; a citizen registers with an SMS code, books four weeks
out, forgets the password and resets it.

The instance runs with ``PUBLISH_FOUR_EYES=false`` (the README's setting for a county with a
single editor): a fresh instance has one admin, who must publish the item alone. SMS codes are
read from the outbox, the table every SMS goes through; TOTP codes are computed with pyotp from
the key the enrolment page shows.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import pyotp
import pytest
from flask import Flask
from playwright.sync_api import Browser, Page, expect

from services import clock
from tests.browser.conftest import assert_accessible, serving
from tests.conftest import TEST_SECRET, dispose_app
from tests.sms import code_in_outbox

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
SHOTS = Path("/tmp/shots-journey")

ADMIN, ADMIN_PASSWORD = "zhangmin", "Ops2026first"
CLERK, REVIEWER = "liwei", "zhaoqing"
INITIAL, CLERK_NEW, REVIEWER_NEW = "Start2026go", "Window2026mine", "Review2026mine"
PHONE = "13912345678"
CITIZEN_PASSWORD, CITIZEN_RESET = "Qingshan2026!", "Renewed#Hill56"
ITEM_CODE, ITEM_NAME = "330106MZ0001", "婚姻登记预约"
# 2027's schedule in the State Council notice's wording (one holiday a line)
SCHEDULE_2027 = (
    "元旦：1月1日（周五）至3日（周日）放假，共3天。\n"
    "春节：2月6日至12日放假调休，共7天。2月20日（周六）上班。"
)
FOUR_EYES_OFF = {"PUBLISH_FOUR_EYES": False}
WEEKDAYS = ("周一", "周二", "周三", "周四", "周五", "周六", "周日")


@pytest.fixture(scope="module")
def fresh(database_factory) -> Iterator[tuple[str, Flask]]:
    """An empty migrated database (no `seed demo`) and a live portal over it."""
    app = database_factory("journey", seed=False, **FOUR_EYES_OFF)
    with serving(app) as base:
        yield base, app
    dispose_app(app)


def flask_cli(app: Flask, *args: str) -> str:
    """Run the real `flask --app portal …` against the live portal's database."""
    env = {
        **os.environ,
        "DATABASE_URL": app.config["DATABASE_URL"],
        "SECRET_KEY": TEST_SECRET,
        "UPLOAD_DIR": app.config["UPLOAD_DIR"],
        "PORTAL_ENV": "development",
        "PUBLISH_FOUR_EYES": "false",
    }
    done = subprocess.run(
        [sys.executable, "-m", "flask", "--app", "portal", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


class Shots:
    """Numbered 1280 px screenshots of each step, in order."""

    def __init__(self) -> None:
        SHOTS.mkdir(parents=True, exist_ok=True)
        self.n = 0

    def __call__(self, page: Page, name: str) -> None:
        self.n += 1
        page.screenshot(path=str(SHOTS / f"{self.n:02d}-{name}.png"), full_page=True)


def new_page(browser: Browser) -> Page:
    context = browser.new_context(locale="zh-CN", viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(15000)
    return page


def press(page: Page, name: str) -> None:
    """Press the main form's button called ``name`` and wait for the page it leads to."""
    with page.expect_navigation():
        page.locator("main").get_by_role("button", name=name, exact=True).first.click()


def follow(page: Page, name: str, scope: str = "main") -> None:
    with page.expect_navigation():
        page.locator(scope).get_by_role("link", name=name, exact=True).first.click()


def flash(page: Page) -> str:
    return page.locator(".flashes").inner_text()


def password_step(page: Page, base: str, login: str, password: str) -> None:
    page.goto(f"{base}/auth/login")
    page.fill("#login", login)
    page.fill("#password", password)
    press(page, "登录")


def enrol(page: Page, shots: Shots, who: str) -> None:
    """The enrolment page: the key shown as text, a code from it, the ten recovery codes."""
    expect(page).to_have_url(re.compile(r"/auth/enrol$"))
    assert page.evaluate("document.querySelector('.enrol-qr img').naturalWidth") > 0
    shots(page, f"{who}-enrol")
    secret = page.locator("code.secret").inner_text().replace(" ", "")
    page.fill("#code", pyotp.TOTP(secret).now())
    press(page, "完成设置并登录")
    expect(page.locator("h1")).to_have_text("验证器已设置，请保存恢复码")
    assert page.locator("ul.recovery-codes code").count() == 10
    shots(page, f"{who}-recovery-codes")
    with page.expect_navigation():
        page.click("text=我已保存，继续")


def first_login(
    page: Page, base: str, shots: Shots, who: str, login: str, new_password: str
) -> None:
    """A colleague's first login: the initial password, a password of their own, enrolment."""
    password_step(page, base, login, INITIAL)
    expect(page).to_have_url(re.compile(r"/auth/change-password$"))
    shots(page, f"{who}-change-password")
    page.fill("#password", new_password)
    page.fill("#confirm", new_password)
    press(page, "保存新密码")
    enrol(page, shots, who)


def log_out(page: Page) -> None:
    with page.expect_navigation():
        page.click("header form[action$='/auth/logout'] button")


def working_day_on_or_before(day: date) -> date:
    while day.weekday() >= 5:
        day -= timedelta(days=1)
    return day


def test_a_fresh_instance_is_set_up_through_its_pages_and_a_citizen_books(browser, fresh):
    base, app = fresh
    shots = Shots()
    today = clock.local_today()

    # -- README, deployment step 2: the first administrator, by the real CLI -----------------
    out = flask_cli(
        app,
        "users",
        "create-admin",
        "--username",
        ADMIN,
        "--display-name",
        "张敏",
        "--password",
        ADMIN_PASSWORD,
    )
    assert f"admin {ADMIN} created" in out

    page = new_page(browser)
    try:
        # -- step 3: the admin logs in and must set up an authenticator first ----------------
        password_step(page, base, ADMIN, ADMIN_PASSWORD)
        assert_accessible(page, "admin's enrolment")
        enrol(page, shots, "admin")
        expect(page.locator("header")).to_contain_text("张敏")

        # -- a department -------------------------------------------------------------------
        page.goto(f"{base}/admin/")
        expect(page.locator("h1")).to_have_text("管理后台")
        shots(page, "admin-home")
        follow(page, "部门", "nav.admin-nav")
        follow(page, "新增部门")
        page.fill("#code", "MZ")
        page.fill("#name", "西湖区民政局")
        page.fill("#phone", "0571-87000001")
        page.fill("#address", "西湖区文三路 1 号")
        page.fill("#hours", "周一至周五 9:00-17:00")
        press(page, "保存")
        assert "已新增部门：西湖区民政局" in flash(page)
        shots(page, "departments")

        # -- a hall with two categories and two windows --------------------------------------
        follow(page, "服务大厅", "nav.admin-nav")
        follow(page, "新增服务大厅")
        page.fill("#code", "XHDT")
        page.fill("#name", "西湖区行政服务中心")
        page.fill("#address", "西湖区文三路 100 号")
        page.fill("#hours", "周一至周五 9:00-17:00")
        press(page, "保存")
        expect(page.locator("h1")).to_have_text("西湖区行政服务中心")
        for letter, name, department in (("A", "综合受理", False), ("B", "婚姻登记", True)):
            follow(page, "新增服务类别")
            page.fill("#code", letter)
            page.fill("#name", name)
            if department:
                page.get_by_label("西湖区民政局").check()
            press(page, "保存")
            assert f"已新增服务类别：{letter} {name}" in flash(page)
        for number, letters in (("1", ["A"]), ("2", ["A", "B"])):
            follow(page, "新增窗口")
            page.fill("#number", number)
            for i, _letter in enumerate(letters):
                page.check(f"#category_codes-{i}")
            press(page, "保存")
            assert f"已新增窗口：{number} 号窗口" in flash(page)
        shots(page, "hall")
        assert_accessible(page, "the new hall")

        # -- the weekly template of 婚姻登记: mornings, Monday to Friday ---------------------
        follow(page, "预约模板 B 婚姻登记")
        for weekday in range(5):
            page.check(f"#week-weekdays-{weekday}")
        page.fill("#week-starts_at", "09:00")
        page.fill("#week-ends_at", "12:00")
        page.select_option("#week-slot_minutes", "60")
        page.fill("#week-capacity", "4")
        press(page, "加入模板")
        assert "已加入预约模板" in flash(page)
        assert "09:00-12:00" in page.locator("table").inner_text()
        shots(page, "template")

        # -- an item the citizen can book: its guide, published by the admin -----------------
        follow(page, "事项与办事指南", "nav.admin-nav")
        follow(page, "新建事项")
        page.fill("#code", ITEM_CODE)
        page.fill("#name", ITEM_NAME)
        page.select_option("#department_id", label="西湖区民政局（MZ）")
        press(page, "创建草稿")
        expect(page).to_have_url(re.compile(r"/admin/versions/\d+/edit$"))
        page.fill("#legal_basis", "《婚姻登记条例》第四条")
        page.fill("#conditions", "内地居民双方共同到场")
        page.fill("#legal_limit", "1")
        page.fill("#promised_limit", "0")
        page.fill("#steps-0-name", "受理")
        page.fill("#steps-0-limit", "0")
        page.fill("#visits", "1")
        page.fill("#visits_reason", "双方须本人到场签字")
        page.fill("#location", "西湖区行政服务中心 婚姻登记窗口")
        page.fill("#hours", "周一至周五 9:00-12:00")
        page.fill("#phone", "0571-87000001")
        press(page, "保存草稿")
        press(page, "提交审核")
        expect(page.locator(".badge")).to_have_text("待审核")
        press(page, "审核通过并发布")
        expect(page.locator(".badge")).to_have_text("已发布")
        shots(page, "item-published")

        # -- the roll forward: what cron runs every minute (README, deployment step 4) --------
        assert "jobs done" in flask_cli(app, "jobs", "run")

        # -- a counter clerk and a reviewer --------------------------------------------------
        for username, name, role, role_value in (
            (CLERK, "李伟", "综合窗口人员", "counter"),
            (REVIEWER, "赵青", "审批人员", "reviewer"),
        ):
            page.goto(f"{base}/admin/")
            follow(page, "工作人员", "nav.admin-nav")
            follow(page, "新增工作人员")
            page.fill("#username", username)
            page.fill("#display_name", name)
            page.locator("main").get_by_label(role, exact=True).check()
            page.select_option("#acting_role", role_value)
            page.select_option("#department_id", label="西湖区民政局")
            if role_value == "counter":
                page.select_option("#hall_id", label="西湖区行政服务中心")
            page.fill("#initial_password", INITIAL)
            press(page, "保存")
            assert f"已创建工作人员账号 {username}" in flash(page)
        shots(page, "staff")
        assert_accessible(page, "staff list")

        # -- each logs in on their own computer: own password, an authenticator, home --------
        colleague = new_page(browser)
        try:
            first_login(colleague, base, shots, "clerk", CLERK, CLERK_NEW)
            expect(colleague.locator("header")).to_contain_text("李伟")
            follow(colleague, "综合窗口工作台", "nav.site-nav")
            expect(colleague).to_have_url(re.compile(r"/counter/$"))
            expect(colleague.locator("h1")).to_be_visible()
            shots(colleague, "clerk-home")
        finally:
            colleague.context.close()
        colleague = new_page(browser)
        try:
            first_login(colleague, base, shots, "reviewer", REVIEWER, REVIEWER_NEW)
            expect(colleague.locator("header")).to_contain_text("赵青")
            follow(colleague, "审批工作台", "nav.site-nav")
            expect(colleague).to_have_url(re.compile(r"/review/"))
            expect(colleague.locator("h1")).to_be_visible()
            shots(colleague, "reviewer-home")
        finally:
            colleague.context.close()

        # -- the admin (still logged in) imports next year's holiday schedule --------------
        page.goto(f"{base}/admin/")
        follow(page, "工作日历", "nav.admin-nav")
        with page.expect_navigation():
            page.locator("main").get_by_role("link", name=re.compile(r"^下一年")).click()
        expect(page.locator("h1")).to_contain_text("2027")
        follow(page, "导入 2027 年的放假安排")
        page.fill("#source", SCHEDULE_2027)
        press(page, "预览变化")
        expect(page.locator("#preview")).to_contain_text("2027-02-20")
        shots(page, "calendar-preview")
        assert_accessible(page, "calendar import preview")
        press(page, "确认导入")
        assert "已导入 2027 年的放假安排" in flash(page)
        shots(page, "calendar-imported")
        log_out(page)
    finally:
        page.context.close()

    # -- a citizen: registers with an SMS code, books four weeks out ------------------------
    page = new_page(browser)
    try:
        page.goto(base + "/")
        follow(page, "注册", "header")
        page.fill("#name", "吴十")
        page.fill("#id_number", "110101199003070011")
        page.fill("#phone", PHONE)
        page.fill("#password", CITIZEN_PASSWORD)
        page.fill("#confirm", CITIZEN_PASSWORD)
        press(page, "获取短信验证码")
        page.wait_for_url("**/auth/register/code")
        shots(page, "citizen-code")
        page.fill("#code", code_in_outbox(app, PHONE))
        with page.expect_navigation():
            page.click("main form[action$='/register/code'] button[type=submit]")
        page.wait_for_url("**/profile")
        assert "139****5678" in page.inner_text("main")

        page.goto(base + "/")
        page.fill("main input[name=q]", ITEM_NAME)
        with page.expect_navigation():
            page.press("main input[name=q]", "Enter")
        follow(page, ITEM_NAME)
        expect(page.locator("h1")).to_have_text(ITEM_NAME)
        follow(page, "预约到现场办理")
        expect(page.locator("h1")).to_have_text("预约到现场办理")
        # the last day offered is four weeks out (the last working day up to today + 28)
        far = working_day_on_or_before(today + timedelta(days=28))
        assert page.locator("#day option").last.get_attribute("value") == far.isoformat()
        page.select_option("#day", far.isoformat())
        press(page, "查看可预约时段")
        page.locator("input[name=slot]:not([disabled])").first.check()
        shots(page, "citizen-book")
        assert_accessible(page, "booking page")
        press(page, "确认预约")
        assert "预约成功" in flash(page)
        expect(page.locator("h1")).to_have_text("预约详情")
        when = page.locator("dt:has-text('时间') + dd")
        expect(when).to_contain_text(f"{far.isoformat()} {WEEKDAYS[far.weekday()]} 09:00-10:00")
        expect(page.locator("dt:has-text('地点') + dd")).to_contain_text("西湖区行政服务中心")
        shots(page, "citizen-booked")
        log_out(page)

        # -- 忘记密码, a reset by SMS code, and a login with the new password ----------------
        page.goto(f"{base}/auth/login")
        follow(page, "忘记密码")
        page.fill("#phone", PHONE)
        press(page, "获取验证码")
        page.wait_for_url("**/auth/forgot/code")
        page.fill("#code", code_in_outbox(app, PHONE))
        page.fill("#password", CITIZEN_RESET)
        page.fill("#confirm", CITIZEN_RESET)
        shots(page, "citizen-reset")
        with page.expect_navigation():
            page.click("main form[action$='/forgot/code'] button[type=submit]")
        page.wait_for_url("**/auth/login")
        assert "密码已重置" in page.inner_text("main")
        password_step(page, base, PHONE, CITIZEN_RESET)
        page.goto(f"{base}/appointments/")
        expect(page.locator("main")).to_contain_text(far.isoformat())
        shots(page, "citizen-my-appointments")
    finally:
        page.context.close()
