"""Per-client rate limits on the costly routes (issue 13 #3, #8): each limit in portal/limits.py
is lowered to three requests a minute here; the fourth from the same client is a 429, another
client is not held up, and a forged X-Forwarded-For (no trusted proxy) changes nothing."""

from __future__ import annotations

import pytest

from portal.limits import DEFAULT_RATE_LIMITS, LIMITED, limiter_of
from tests.conftest import login

PATHS = {
    "auth.login": "/auth/login",
    "auth.second_factor": "/auth/second-factor",
    "auth.register": "/auth/register",
    "auth.register_code": "/auth/register/code",
    "auth.forgot": "/auth/forgot",
    "auth.forgot_code": "/auth/forgot/code",
    "auth.change_phone": "/auth/phone",
    "auth.change_phone_code": "/auth/phone/code",
    "auth.resend_code": "/auth/code/register/resend",
    "elicences.verify": "/verify",
    "elicences.verify_by_code": "/verify/c/not-a-real-code",
    "notices.verify": "/notices/verify?code=XX",
    "kiosk.case_status": "/kiosk/SMZX/case",
    "documents.upload": "/documents/upload",
    "apply.upload_material": "/apply/drafts/1/materials/1/upload",
    "apply.bundle_upload": "/apply/bundles/1/materials/1/upload",
    "apply.correction_upload": "/cases/1/correction/materials/1/upload",
    "catalogue.guide_pdf": "/items/no-such-item/guide.pdf",
    "catalogue.checklist_pdf": "/items/no-such-item/checklist.pdf",
}
LOGGED_IN = {"auth.change_phone", "auth.change_phone_code", "documents.upload"} | {
    e for e in LIMITED if e.startswith("apply.")
}


def test_every_limited_route_is_tested():
    assert set(PATHS) == set(LIMITED)


@pytest.fixture
def low_limits(app):
    saved = app.config["RATE_LIMITS"]
    app.config["RATE_LIMITS"] = dict.fromkeys(DEFAULT_RATE_LIMITS, "3 per minute")
    app.config["WTF_CSRF_ENABLED"] = False  # the limit, not the token, is under test here
    limiter_of(app).reset()
    yield
    limiter_of(app).reset()
    app.config["RATE_LIMITS"] = saved
    app.config["WTF_CSRF_ENABLED"] = True


@pytest.mark.parametrize("endpoint", sorted(LIMITED))
def test_the_fourth_request_from_one_client_is_refused(app, client, low_limits, endpoint):
    path = PATHS[endpoint]
    method = LIMITED[endpoint][1][0]
    if endpoint in LOGGED_IN:
        assert login(client, "13800000001").status_code == 302
        limiter_of(app).reset()  # the login itself counted
    attacker = {"REMOTE_ADDR": "198.51.100.9"}
    for n in range(3):
        forged = {"X-Forwarded-For": f"10.0.0.{n}"}  # no trusted proxy: ignored
        response = client.open(path, method=method, environ_base=attacker, headers=forged)
        assert response.status_code != 429, (endpoint, n)
    refused = client.open(path, method=method, environ_base=attacker)
    assert refused.status_code == 429, endpoint
    assert "操作太频繁" in refused.get_data(as_text=True)
    elsewhere = client.open(path, method=method, environ_base={"REMOTE_ADDR": "203.0.113.7"})
    assert elsewhere.status_code != 429, endpoint


def test_the_defaults_are_real_limits():
    """The shipped limits are what a person could need, not the suite's lifted ones."""
    for name, value in DEFAULT_RATE_LIMITS.items():
        first = value.split(";")[0].strip()
        count = int(first.split()[0])
        assert 1 <= count <= 60, (name, value)
