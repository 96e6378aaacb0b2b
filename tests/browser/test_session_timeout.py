"""The session timeout never loses work: warned ahead, extended with one key, draft kept."""

import re
import threading

import pytest
from werkzeug.serving import make_server

from tests.browser.conftest import assert_accessible, browser_login

pytestmark = pytest.mark.browser


@pytest.fixture
def short_session_server(database_factory):
    """A portal whose sessions last 8 seconds (the warning comes 4 seconds ahead)."""
    app = database_factory("timeout", seed=True, PERMANENT_SESSION_MINUTES=8 / 60)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(10)


def test_warning_extend_with_enter_and_expiry_keeps_the_draft(page, short_session_server):
    base = short_session_server
    browser_login(page, base, "13800000001")
    page.goto(f"{base}/apply/330100GA0004")
    page.click("main button[type=submit]")
    page.check("#c_hukou_local-1")
    page.check("#c_minor-2")
    page.click("main button[type=submit]")
    page.wait_for_url(re.compile(r".*/form$"))
    form_url = page.url

    dialog = page.locator("#timeout-dialog")
    dialog.wait_for(state="visible", timeout=10000)
    assert page.evaluate("document.activeElement.getAttribute('data-action')") == "extend"
    assert_accessible(page, "timeout dialog open")
    page.keyboard.press("Enter")
    dialog.wait_for(state="hidden", timeout=5000)

    # type without submitting, then let the session run out
    page.fill("#q_address", "上海市徐汇区天平路 99 号")
    page.wait_for_url(re.compile(r".*/auth/login\?next=.*expired=1"), timeout=20000)
    assert "您填写的内容已保存" in page.inner_text("main")
    page.fill("#login", "13800000001")
    page.fill("#password", "Demo@2026")
    page.click("main button[type=submit]")
    page.wait_for_url(form_url)
    assert page.input_value("#q_address") == "上海市徐汇区天平路 99 号"
