import pytest
from sqlalchemy import func, select

from portal import create_app
from portal.extensions import db
from portal.models import User
from tests.conftest import csrf_token, login


def test_home_is_chinese_with_landmarks_and_help(client):
    html = client.get("/").get_data(as_text=True)
    assert '<html lang="zh-CN"' in html
    assert 'href="#main"' in html and '<main id="main"' in html
    assert "长辈模式" in html and "咨询电话" in html and "12345" in html


def test_healthz_ok(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok"}


def test_readyz_503_when_the_database_is_gone(tmp_path):
    from portal import create_app

    broken = create_app(
        {
            "DATABASE_URL": "postgresql+psycopg://nobody@127.0.0.1:1/none",
            "SECRET_KEY": "x" * 40,
            "UPLOAD_DIR": str(tmp_path),
        }
    )
    assert broken.test_client().get("/healthz").status_code == 200  # liveness: no database
    response = broken.test_client().get("/readyz")
    assert response.status_code == 503
    assert response.get_json()["checks"]["database"] == "unavailable"


def test_404_page_in_the_portals_look_and_json_under_api(client):
    response = client.get("/no-such-page")
    assert response.status_code == 404
    assert "页面不存在" in response.get_data(as_text=True)
    api = client.get("/api/no-such-thing")
    assert api.status_code == 404
    assert api.get_json()["error"]["status"] == 404


def test_500_page_hides_the_stack_trace(tmp_path):
    from portal import create_app

    app = create_app(
        {
            "DATABASE_URL": f"sqlite:///{tmp_path / 'boom.db'}",
            "SECRET_KEY": "x" * 40,
            "UPLOAD_DIR": str(tmp_path),
            "PORTAL_ENV": "production",
            "PUBLIC_BASE_URL": "https://zwfw.example.gov.cn",
        }
    )

    @app.route("/boom")
    def boom():
        raise RuntimeError("secret internals")

    response = app.test_client().get("/boom")
    html = response.get_data(as_text=True)
    assert response.status_code == 500
    assert "系统出错了" in html and "secret internals" not in html and "Traceback" not in html


def test_production_refuses_a_missing_or_short_secret(monkeypatch, tmp_path):
    from portal import create_app
    from portal.config import ConfigError

    monkeypatch.delenv("SECRET_KEY", raising=False)
    with pytest.raises(ConfigError):
        create_app({"PORTAL_ENV": "production", "UPLOAD_DIR": str(tmp_path)})
    with pytest.raises(ConfigError):
        create_app({"PORTAL_ENV": "production", "SECRET_KEY": "short", "UPLOAD_DIR": str(tmp_path)})


def test_elder_mode_switch_for_visitors_uses_a_cookie(client):
    token = csrf_token(client, "/")
    response = client.post(
        "/preferences/elder-mode", data={"csrf_token": token, "enable": "1", "next": "/"}
    )
    assert response.status_code == 302
    html = client.get("/").get_data(as_text=True)
    assert 'class="elder"' in html
    assert 'aria-pressed="true"' in html


def test_elder_mode_is_remembered_in_the_account(client, query):
    login(client, "13800000002")
    token = csrf_token(client, "/profile")
    client.post(
        "/preferences/elder-mode", data={"csrf_token": token, "enable": "1", "next": "/profile"}
    )
    assert (
        query(lambda: db.session.scalar(select(User.elder_mode).where(User.phone == "13800000002")))
        is True
    )


def test_elderly_demo_citizen_gets_elder_mode_at_login(client):
    login(client, "13800000003")
    assert 'class="elder"' in client.get("/").get_data(as_text=True)


def test_language_switch_to_english_and_back(client):
    token = csrf_token(client, "/")
    client.post("/preferences/language", data={"csrf_token": token, "locale": "en", "next": "/"})
    html = client.get("/").get_data(as_text=True)
    assert '<html lang="en"' in html
    assert "Elder mode" in html
    client.post(
        "/preferences/language", data={"csrf_token": csrf_token(client, "/"), "locale": "zh_CN"}
    )
    assert '<html lang="zh-CN"' in client.get("/").get_data(as_text=True)


@pytest.mark.parametrize("locale", ["fr", "../../etc", ""])
def test_unknown_language_is_ignored(client, locale):
    token = csrf_token(client, "/")
    client.post("/preferences/language", data={"csrf_token": token, "locale": locale})
    assert '<html lang="zh-CN"' in client.get("/").get_data(as_text=True)


SECURITY_HEADERS = (
    "X-Frame-Options",
    "X-Content-Type-Options",
    "Content-Security-Policy",
    "Referrer-Policy",
    "Permissions-Policy",
)


@pytest.mark.parametrize(
    "path",
    [
        "/",  # a page
        "/healthz",  # JSON
        "/no/such/page",  # an error page
        "/profile",  # a redirect to the login
        "/static/css/portal.css",  # a static file
        "/items/no-such-item/guide.pdf",  # a PDF route's refusal
        "/queue/SMZX/calls.json",  # polled JSON
    ],
)
def test_security_headers_on_every_response_type(client, path):
    response = client.get(path)
    response.close()  # a static file's handle
    missing = [h for h in SECURITY_HEADERS if h not in response.headers]
    assert not missing, (path, response.status_code, missing)
    assert response.headers["X-Frame-Options"] == "DENY"
    assert "default-src 'self'" in response.headers["Content-Security-Policy"]
    assert "microphone=()" in response.headers["Permissions-Policy"]
    assert "Strict-Transport-Security" not in response.headers  # development: plain HTTP


def test_production_adds_hsts_and_secure_cookies():
    app = create_app(
        {
            "PORTAL_ENV": "production",
            "SECRET_KEY": "x" * 64,
            "PUBLIC_BASE_URL": "https://zwfw.example.gov.cn",
            "DATABASE_URL": "sqlite://",
        }
    )
    response = app.test_client().get("/healthz")
    assert response.headers["Strict-Transport-Security"].startswith("max-age=31536000")
    assert app.config["SESSION_COOKIE_SECURE"] and app.config["REMEMBER_COOKIE_SECURE"]


def test_profile_update_and_overlong_address(client, query):
    login(client, "13800000002")
    token = csrf_token(client, "/profile")
    response = client.post(
        "/profile", data={"csrf_token": token, "address": "长" * 201, "locale": "zh_CN"}
    )
    assert response.status_code == 422
    assert "地址最多 200 个字" in response.get_data(as_text=True)

    def user_count():
        return db.session.scalar(select(func.count()).select_from(User))

    before = query(user_count)
    response = client.post(
        "/profile", data={"csrf_token": token, "address": "人民路 8 号", "locale": "zh_CN"}
    )
    assert response.status_code == 302
    assert "人民路 8 号" in client.get("/profile").get_data(as_text=True)
    assert query(user_count) == before


@pytest.mark.parametrize(
    "path, expected",
    [
        ("/kiosk/SMZX/guides?department=GA%00", 200),  # a 500 on PostgreSQL before
        ("/search?q=%E5%B1%85%E4%BD%8F%00%E8%AF%81", 200),
        ("/items/330100GA0001%00", 400),  # in the path: not a page
    ],
)
def test_nul_bytes_never_reach_a_view(client, path, expected):
    """PostgreSQL refuses NUL in text columns: removed from query strings and forms before
    any view reads them, a 400 in the path (found by the fuzz test on PostgreSQL)."""
    response = client.get(path)
    assert response.status_code == expected
    if expected == 200 and "search" in path:
        assert "居住证" in response.get_data(as_text=True)  # searched for what was left


def test_nul_bytes_are_removed_from_forms(client, query):
    token = csrf_token(client)
    response = client.post(
        "/auth/login",
        data={"login": "1380000\x000001", "password": "Demo@2026\x00", "csrf_token": token},
    )
    assert response.status_code == 302  # the same login and password once the NULs are gone
