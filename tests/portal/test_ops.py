"""The ops kit (portal/ops.py, portal/logging_setup.py): liveness, readiness, metrics behind a
token, request ids in responses, logs and audit events."""

from __future__ import annotations

import io
import json
import logging

from sqlalchemy import select, text

from portal.extensions import db
from portal.logging_setup import make_handler
from portal.models import Event
from tests.conftest import csrf_token, login
from tests.helpers import submit_committed_case


def test_ops_endpoints_set_no_session_cookie(client):
    login(client, "13800000001")
    for path in ("/healthz", "/readyz", "/metrics"):
        response = client.get(path)
        assert "Set-Cookie" not in response.headers, path
        assert "no-store" in response.headers["Cache-Control"], path
    # a page does set it (the session is renewed on each request)
    assert "Set-Cookie" in client.get("/profile").headers


def test_readyz_names_each_check(client):
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.get_json() == {
        "status": "ok",
        "checks": {"database": "ok", "migrations": "ok", "storage": "ok"},
    }


def test_readyz_503_when_the_schema_is_behind_the_migrations(client, query):
    query(
        lambda: (
            db.session.execute(
                text("UPDATE alembic_version SET version_num = '0019_object_storage'")
            ),
            db.session.commit(),
        )
    )
    response = client.get("/readyz")
    assert response.status_code == 503
    body = response.get_json()
    assert body["checks"]["migrations"] == "not at head" and body["failed"] == ["migrations"]


def test_readyz_503_when_redis_or_storage_is_gone(database_factory, tmp_path):
    app = database_factory("ops-ready", REDIS_URL="redis://127.0.0.1:1/0")
    (tmp_path / "a-file").write_text("not a folder")
    app.config["UPLOAD_DIR"] = str(tmp_path / "a-file" / "uploads")  # cannot be made
    response = app.test_client().get("/readyz")
    assert response.status_code == 503
    body = response.get_json()
    assert body["failed"] == ["redis", "storage"]
    assert body["checks"]["database"] == "ok"


def test_metrics_need_the_bearer_token(client, app, monkeypatch):
    assert client.get("/metrics").status_code == 403  # no token configured: refused
    monkeypatch.setitem(app.config, "METRICS_TOKEN", "s3cret-token-for-the-scraper")
    assert client.get("/metrics").status_code == 401
    wrong = client.get("/metrics", headers={"Authorization": "Bearer not-the-token"})
    assert wrong.status_code == 401 and wrong.headers["WWW-Authenticate"].startswith("Bearer")
    client.get("/catalogue")
    good = client.get("/metrics", headers={"Authorization": "Bearer s3cret-token-for-the-scraper"})
    assert good.status_code == 200
    assert good.mimetype == "text/plain"
    body = good.get_data(as_text=True)
    assert 'portal_request_seconds_bucket{endpoint="catalogue.index"' in body
    assert "portal_cases_submitted_total" in body
    assert "portal_tasks_failed_total" in body
    assert 'portal_cache_misses{cache="pages"}' in body  # the catalogue page was cached


def _metric(client, name: str) -> float:
    body = client.get("/metrics", headers={"Authorization": "Bearer t0ken-t0ken"}).get_data(
        as_text=True
    )
    for line in body.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    return 0.0


def test_a_committed_submission_is_counted_once(client, app, query, monkeypatch):
    monkeypatch.setitem(app.config, "METRICS_TOKEN", "t0ken-t0ken")
    before = _metric(client, "portal_cases_submitted_total")
    submit_committed_case(query)
    assert _metric(client, "portal_cases_submitted_total") == before + 1


def test_a_request_id_is_made_unless_a_trusted_proxy_gives_one(client, app, monkeypatch):
    made = client.get("/healthz").headers["X-Request-ID"]
    assert len(made) == 32 and made != client.get("/healthz").headers["X-Request-ID"]
    offered = {"X-Request-ID": "0123456789abcdef0123456789abcdef"}
    # no trusted proxy (PROXY_HOPS=0): a client cannot choose the id it is logged under
    assert (
        client.get("/healthz", headers=offered).headers["X-Request-ID"] != offered["X-Request-ID"]
    )
    monkeypatch.setitem(app.config, "PROXY_HOPS", 1)
    assert (
        client.get("/healthz", headers=offered).headers["X-Request-ID"] == offered["X-Request-ID"]
    )
    forged = client.get("/healthz", headers={"X-Request-ID": 'x" injected'})
    assert forged.headers["X-Request-ID"] != 'x" injected'


def test_the_request_id_is_on_the_audit_event(client, query):
    token = csrf_token(client)
    response = client.post(
        "/auth/login",
        data={"login": "13800000001", "password": "wrong-password", "csrf_token": token},
    )
    request_id = response.headers["X-Request-ID"]
    event = query(
        lambda: db.session.scalar(
            select(Event).where(Event.action == "login_failed").order_by(Event.id.desc()).limit(1)
        )
    )
    assert event.request_id == request_id


def test_a_log_line_in_a_request_carries_its_id(app):
    stream = io.StringIO()
    logger = logging.getLogger("portal.test_ops.request")
    logger.addHandler(make_handler("json", stream))
    logger.setLevel(logging.INFO)
    try:
        with app.test_request_context("/healthz"):
            app.preprocess_request()
            from flask import g

            logger.info("in a request")
            expected = g.request_id
    finally:
        logger.handlers.clear()
    entry = json.loads(stream.getvalue())
    assert entry["request_id"] == expected and len(expected) == 32


def test_json_log_lines(caplog):
    stream = io.StringIO()
    logger = logging.getLogger("portal.test_ops")
    logger.addHandler(make_handler("json", stream))
    try:
        logger.warning("通知书 %s", "SL1")
        try:
            raise RuntimeError("boom")
        except RuntimeError:
            logger.exception("failed")
    finally:
        logger.handlers.clear()
    first, second = (json.loads(line) for line in stream.getvalue().splitlines())
    assert first["message"] == "通知书 SL1" and first["level"] == "WARNING"
    assert first["logger"] == "portal.test_ops" and first["request_id"] is None
    assert first["time"].endswith("+00:00")
    assert "RuntimeError: boom" in second["exception"]
