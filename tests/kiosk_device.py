"""Set a test browser up as a hall's kiosk the way staff do (把本机设为自助终端, a POST as
counter01, who is then logged out): kiosk mode is a device setting, never a GET."""

from __future__ import annotations

from tests.conftest import csrf_token, login

DEFAULT_TERMINAL = "1号机（大厅入口）"


def set_up_kiosk(client, hall: str = "SMZX", terminal: str = DEFAULT_TERMINAL, staff="counter01"):
    """The test client becomes ``hall``'s kiosk named ``terminal``; returns the POST's answer."""
    assert login(client, staff).status_code == 302
    token = csrf_token(client, "/kiosk/setup")
    response = client.post(
        "/kiosk/setup", data={"csrf_token": token, "hall": hall, "terminal": terminal}
    )
    assert response.status_code == 302, response.get_data(as_text=True)[:800]
    return response


def set_up_kiosk_in_browser(page, base: str, terminal: str = DEFAULT_TERMINAL) -> None:
    """The same in Chromium: counter01 logs in, fills the setup form and is logged out."""
    from tests.browser.conftest import browser_login

    browser_login(page, base, "counter01")
    page.goto(f"{base}/kiosk/setup")
    page.fill("#terminal", terminal)
    with page.expect_navigation():
        page.click("main form:has(#terminal) button[type=submit]")
    assert "/kiosk/SMZX/" in page.url, page.url
