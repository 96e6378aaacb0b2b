"""A new colleague's first login in the browser, shared by test_staff_login (the flow) and
test_every_page (the checks on each step's page)."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable

import pyotp
from flask import Flask
from playwright.sync_api import Page, expect
from sqlalchemy import select

from portal.extensions import db
from portal.models import Role, ServiceHall, User
from services import staff

INITIAL = "Start2026go"
NEW = "Mine2026now"


def new_colleague(live_app: Flask, *, elder_mode: bool = False) -> str:
    """A clerk of 市民服务中心 just created by the admin: initial password, nothing enrolled
    (``elder_mode``: the account prefers 长辈模式, as the cookie does before the login)."""
    with live_app.app_context():
        admin = db.session.scalar(select(User).where(User.username == "admin"))
        counter01 = db.session.scalar(select(User).where(User.username == "counter01"))
        hall = db.session.scalar(select(ServiceHall).where(ServiceHall.code == "SMZX"))
        person = staff.create_staff_account(
            actor=admin,
            username=f"clerk{uuid.uuid4().hex[:8]}",
            display_name="窗口新同事",
            roles={Role.counter},
            acting_role=Role.counter,
            department=counter01.department,
            hall=hall,
            initial_password=INITIAL,
        )
        person.elder_mode = elder_mode
        db.session.commit()
        username = person.username
        db.session.remove()
        return username


def _secret(live_app: Flask, username: str) -> str:
    with live_app.app_context():
        secret = db.session.scalar(select(User.totp_secret).where(User.username == username))
        db.session.remove()
        return secret


def walk_first_login(
    page: Page,
    base: str,
    live_app: Flask,
    username: str,
    check: Callable[[str], None] = lambda name: None,
) -> list[str]:
    """Password → new password → enrolment (the code computed from the secret the page shows)
    → recovery codes; then a second login with a recovery code. ``check(name)`` runs on each
    step's page. Returns the recovery codes left."""
    page.goto(f"{base}/auth/login")
    page.fill("#login", username)
    page.fill("#password", INITIAL)
    page.click("main button[type=submit]")
    expect(page).to_have_url(re.compile(r"/auth/change-password$"))
    check("auth.change_initial_password")
    page.fill("#password", NEW)
    page.fill("#confirm", NEW)
    page.click("main button[type=submit]")
    expect(page).to_have_url(re.compile(r"/auth/enrol$"))
    check("auth.enrol")
    assert page.evaluate("document.querySelector('.enrol-qr img').naturalWidth") > 0  # the QR shows
    shown = page.locator("code.secret").inner_text().replace(" ", "")
    assert shown == _secret(live_app, username)  # the text matches the QR's secret
    page.fill("#code", pyotp.TOTP(shown).now())
    page.click("main button[type=submit]")
    expect(page.locator("h1")).to_have_text("验证器已设置，请保存恢复码")
    check("auth.enrol (recovery codes)")
    codes = page.locator("ul.recovery-codes code").all_inner_texts()
    assert len(codes) == 10
    page.click("text=我已保存，继续")
    page.click("header button:has-text('退出')")

    page.goto(f"{base}/auth/login")
    page.fill("#login", username)
    page.fill("#password", NEW)
    page.click("main button[type=submit]")
    expect(page).to_have_url(re.compile(r"/auth/second-factor$"))
    check("auth.second_factor")
    page.fill("#code", codes[0])
    page.click("main button[type=submit]")
    expect(page.locator(".flash").first).to_contain_text("还剩 9 个")
    return codes[1:]
