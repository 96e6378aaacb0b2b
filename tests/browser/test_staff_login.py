"""A new clerk's first login in Chromium: the initial password is replaced, an authenticator
is enrolled with a code computed by pyotp from the secret the page shows, and the clerk
reaches the workstation."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.browser.staff_login import new_colleague, walk_first_login

pytestmark = pytest.mark.browser


def test_a_new_clerk_changes_the_password_enrols_and_reaches_the_workstation(page, live):
    base, live_app = live
    username = new_colleague(live_app)
    walk_first_login(page, base, live_app, username)
    page.click("nav.site-nav >> text=综合窗口工作台")
    expect(page).to_have_url(re.compile(r"/counter/$"))
    expect(page.locator("h1")).to_be_visible()
    expect(page.locator("header")).to_contain_text("窗口新同事")
