import re

import pytest
from sqlalchemy import func, select
from werkzeug.middleware.proxy_fix import ProxyFix

from portal import create_app, trust_proxies
from portal.extensions import db
from portal.models import Citizen, LoginFailure, User
from tests.conftest import csrf_token, login
from tests.sms import last_sms_code

GOOD = {
    "name": "孙七",
    "id_number": "11010519491231002X",
    "phone": "13911112222",
    "password": "Qingshan2026!",
    "confirm": "Qingshan2026!",
    "address": "",
}


def _counts():
    return (
        db.session.scalar(select(func.count()).select_from(User)),
        db.session.scalar(select(func.count()).select_from(Citizen)),
    )


def error_for(html: str, field: str) -> str:
    match = re.search(rf'<p class="error" id="{field}-error">(.*?)</p>', html, re.S)
    return match.group(1) if match else ""


def confirm_code(client, query, phone: str):
    """The second step of registration, with the code the SMS in the outbox carries."""
    code = query(lambda: last_sms_code(phone))
    token = csrf_token(client, "/auth/register/code")
    return client.post("/auth/register/code", data={"code": code, "csrf_token": token})


def test_register_logs_in_and_shows_masked_profile(client, query):
    data = {**GOOD, "csrf_token": csrf_token(client, "/auth/register")}
    response = client.post("/auth/register", data=data)
    assert response.status_code == 302
    assert response.headers["Location"] == "/auth/register/code"
    assert confirm_code(client, query, GOOD["phone"]).status_code == 302
    page = client.get("/profile").get_data(as_text=True)
    assert "110105********002X" in page
    assert "11010519491231002X" not in page


def test_a_holder_older_than_their_county_code_can_register(client, query):
    """330102 (杭州上城区) was assigned long after 1955; the number is still valid."""
    before = query(_counts)
    data = {
        **GOOD,
        "id_number": "330102195508152249",
        "csrf_token": csrf_token(client, "/auth/register"),
    }
    response = client.post("/auth/register", data=data)
    assert response.status_code == 302, response.get_data(as_text=True)[:300]
    assert query(_counts) == before  # nothing is made before the phone's code comes back
    assert confirm_code(client, query, GOOD["phone"]).status_code == 302
    assert query(_counts) == (before[0] + 1, before[1] + 1)
    assert "330102********2249" in client.get("/profile").get_data(as_text=True)


@pytest.mark.parametrize(
    "field,value,message",
    [
        ("id_number", "110105194912310021", "身份证号不正确"),
        ("phone", "13800000001", "该手机号已注册"),
        ("password", "weakpass", "字母和数字"),
        ("name", "X", "姓名"),
    ],
)
def test_register_bad_input_shows_the_error_next_to_the_field_and_writes_nothing(
    client, query, field, value, message
):
    before = query(_counts)
    data = {**GOOD, field: value, "csrf_token": csrf_token(client, "/auth/register")}
    if field == "password":
        data["confirm"] = value
    response = client.post("/auth/register", data=data)
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert message in error_for(html, field)
    assert f'aria-describedby="{field}-error"' in html or f'{field}-error"' in html
    assert 'id="error-summary"' in html
    assert query(_counts) == before


def test_register_oversized_body_gets_the_413_page(client, query, app):
    data = {
        **GOOD,
        "csrf_token": csrf_token(client, "/auth/register"),
        "address": "x" * (app.config["MAX_CONTENT_LENGTH"] + 10),
    }
    before = query(_counts)
    response = client.post("/auth/register", data=data)
    assert response.status_code == 413
    assert "文件太大" in response.get_data(as_text=True)
    assert query(_counts) == before


def test_register_without_csrf_is_refused(client, query):
    before = query(_counts)
    response = client.post("/auth/register", data=GOOD)
    assert response.status_code == 400
    assert query(_counts) == before


def test_login_wrong_password(client):
    response = login(client, "13800000002", "wrong-password1")
    assert response.status_code == 422
    assert "账号或密码不正确" in response.get_data(as_text=True)


def test_login_throttled_with_429(client):
    for _ in range(5):
        login(client, "13800000003", "wrong-password1")
    response = login(client, "13800000003", "Demo@2026")
    assert response.status_code == 429
    assert "登录失败次数过多" in response.get_data(as_text=True)


def test_session_is_renewed_at_login_and_cleared_at_logout(client):
    with client.session_transaction() as sess:
        sess["planted"] = "attacker"
    assert login(client, "13800000002").status_code == 302
    with client.session_transaction() as sess:
        assert "planted" not in sess
        assert "_user_id" in sess
        old_user_id = sess["_user_id"]
    token = csrf_token(client, "/profile")
    assert client.post("/auth/logout", data={"csrf_token": token}).status_code == 302
    with client.session_transaction() as sess:
        assert "_user_id" not in sess
    # a copy of the old session cookie no longer logs in: logout bumped the session epoch
    with client.session_transaction() as sess:
        sess["_user_id"] = old_user_id
        sess["_fresh"] = True
    assert client.get("/profile").status_code == 302


@pytest.mark.parametrize(
    "target,expected",
    [
        ("/profile", "/profile"),
        ("https://evil.example/x", "/profile"),
        ("//evil.example/x", "/profile"),
        ("/\\evil.example", "/profile"),
    ],
)
def test_next_redirects_only_within_the_site(client, target, expected):
    token = csrf_token(client)
    response = client.post(
        f"/auth/login?next={target}",
        data={"login": "13800000001", "password": "Demo@2026", "csrf_token": token},
    )
    assert response.status_code == 302
    assert response.headers["Location"] == expected


def test_cookies_are_httponly_and_lax(client):
    response = login(client, "13800000002")
    cookie = response.headers.get("Set-Cookie", "")
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


@pytest.mark.parametrize("hops, counted", [(0, "127.0.0.1"), (1, "198.51.100.23")])
def test_failures_count_on_the_client_the_trusted_proxies_saw(app, client, query, hops, counted):
    """Issue 13 #3: behind nginx (PROXY_HOPS=1) each citizen has their own address; without a
    trusted proxy a forged X-Forwarded-For is ignored."""
    plain = app.wsgi_app
    trust_proxies(app, hops)
    try:
        token = csrf_token(client)
        client.post(
            "/auth/login",
            data={"login": "13800000001", "password": "wrong-pass1", "csrf_token": token},
            headers={"X-Forwarded-For": "198.51.100.23"},
        )
    finally:
        app.wsgi_app = plain
    addrs = query(lambda: db.session.scalars(select(LoginFailure.remote_addr)).all())
    assert addrs == [counted]


def test_proxy_hops_from_the_configuration():
    assert isinstance(create_app({"PROXY_HOPS": 1}).wsgi_app, ProxyFix)
    assert not isinstance(create_app({"PROXY_HOPS": 0}).wsgi_app, ProxyFix)
