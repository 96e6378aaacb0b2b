"""Production behaviour (issue 13): an unhandled exception shows the generic page (no
traceback, no exception text) and is logged with a reference the page also shows; the session
cookie carries Secure, HttpOnly and SameSite=Lax, a login sets no long-lived remember cookie,
and the kiosk's device cookie is Secure as well."""

from __future__ import annotations

import logging
import re

from portal import create_app
from tests.conftest import login
from tests.kiosk_device import set_up_kiosk

PRODUCTION = {
    "PORTAL_ENV": "production",
    "SECRET_KEY": "x" * 64,
    "PUBLIC_BASE_URL": "https://zwfw.example.gov.cn",
}
COOKIE_KEYS = [
    f"{kind}_COOKIE_{flag}"
    for kind in ("SESSION", "REMEMBER")
    for flag in ("SECURE", "HTTPONLY", "SAMESITE")
]


def test_an_unhandled_error_is_generic_and_logged_with_a_reference(tmp_path, caplog):
    app = create_app(
        {
            **PRODUCTION,
            "DATABASE_URL": f"sqlite:///{tmp_path / 'boom.db'}",
            "UPLOAD_DIR": str(tmp_path),
        }
    )

    @app.route("/boom")
    def boom():
        raise RuntimeError("secret internals 13800000001")

    @app.route("/api/boom")
    def api_boom():
        raise KeyError("secret key name")

    with caplog.at_level(logging.ERROR, logger="portal.errors"):
        response = app.test_client().get("/boom")
        api = app.test_client().get("/api/boom")
    html = response.get_data(as_text=True)
    assert response.status_code == 500 and "系统出错了" in html
    for leak in ("secret internals", "13800000001", "Traceback", "RuntimeError", "boom.db"):
        assert leak not in html, leak
    reference = re.search(r'class="ref">([0-9a-f]{12})<', html).group(1)
    assert api.status_code == 500 and "secret key name" not in api.get_data(as_text=True)
    records = [r for r in caplog.records if "unhandled error" in r.getMessage()]
    assert len(records) == 2
    assert reference in records[0].getMessage() and records[0].exc_info  # traceback kept in the log
    assert api.get_json()["error"]["reference"] in records[1].getMessage()


def test_production_cookie_flags(app, client):
    production = create_app({**PRODUCTION, "DATABASE_URL": "sqlite://"})
    kept = {key: app.config[key] for key in COOKIE_KEYS}
    app.config.update({key: production.config[key] for key in COOKIE_KEYS})
    try:
        response = login(client, "13800000002")
        cookies = response.headers.getlist("Set-Cookie")
        session = [c for c in cookies if c.startswith("session=")]
        assert session, cookies
        for flag in ("Secure", "HttpOnly", "SameSite=Lax"):
            assert flag in session[0], (flag, session[0])
        assert not [c for c in cookies if c.startswith("remember_token=")]
        kiosk = app.test_client()
        done = set_up_kiosk(kiosk)
        device = [c for c in done.headers.getlist("Set-Cookie") if c.startswith("kiosk_device=")]
        for flag in ("Secure", "HttpOnly", "SameSite=Lax"):
            assert flag in device[0], (flag, device[0])
    finally:
        app.config.update(kept)
    for key in COOKIE_KEYS:  # and these are production's settings
        expected = "Lax" if key.endswith("SAMESITE") else True
        assert production.config[key] == expected, key
