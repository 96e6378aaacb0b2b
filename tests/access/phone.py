"""SMS-code pages: 实名注册's second step, 忘记密码, 修改密码 and 更换手机号.

A code page opened without its flow in the browser's session says the step has expired (200)
and links to where the flow starts; test_every_page opens the real code pages after going
through their first step (tests/browser/test_every_page.py: PREPARE)."""

from tests.access import ANONYMOUS_ONLY, CITIZEN_ONLY, LOGGED_IN_ONLY

GET = {
    "auth.register_code": ("/auth/register/code", ANONYMOUS_ONLY),
    "auth.forgot": ("/auth/forgot", ANONYMOUS_ONLY),
    "auth.forgot_code": ("/auth/forgot/code", ANONYMOUS_ONLY),
    "auth.change_password": ("/auth/password", LOGGED_IN_ONLY),
    "auth.change_phone": ("/auth/phone", CITIZEN_ONLY),
    "auth.change_phone_code": ("/auth/phone/code", CITIZEN_ONLY),
}
POST_ONLY = {
    "auth.resend_code": "/auth/code/register/resend",
}


# test_every_page: a code page shows its form only after its first step in the same browser
def _register_first(page, base: str) -> None:
    page.goto(f"{base}/auth/register")
    page.fill("#name", "周八")
    page.fill("#id_number", "11010519491231002X")
    page.fill("#phone", "13922220001")
    page.fill("#password", "Qingshan2026!")
    page.fill("#confirm", "Qingshan2026!")
    with page.expect_navigation():
        page.click("main form button[type=submit]")
    assert page.url.endswith("/code"), page.url


def _forgot_first(page, base: str) -> None:
    page.goto(f"{base}/auth/forgot")
    page.fill("#phone", "13800000002")
    with page.expect_navigation():
        page.click("main form button[type=submit]")
    assert page.url.endswith("/code"), page.url


def _phone_first(page, base: str) -> None:
    page.goto(f"{base}/auth/phone")
    page.fill("#phone", "13922220002")
    page.fill("#current_password", "Demo@2026")
    with page.expect_navigation():
        page.click("main form button[type=submit]")
    assert page.url.endswith("/code"), page.url


PREPARE = {
    "auth.register_code": _register_first,
    "auth.forgot_code": _forgot_first,
    "auth.change_phone_code": _phone_first,
}
