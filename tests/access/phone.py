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
