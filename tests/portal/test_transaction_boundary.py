"""The one transaction boundary per request (portal/transaction.py).

Views call services and never commit or roll back: the boundary commits once when the view
returns, rolls back when it raises (or answers 5xx), keeps refusal events after a rollback and
lets caches and the outbox follow the commit. Most tests run small views on an app of their
own (a fresh migrated database, no `tx` fixture), so every COMMIT reaches the engine.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from flask import Flask, jsonify
from sqlalchemy import event, select
from sqlalchemy.orm import Session

from portal.extensions import db
from portal.models import Event, LoginFailure
from portal.transaction import attempt
from services import audit
from services.errors import NotAuthorized, ValidationError
from services.guide_cache import clear_guide_cache, guide_cache
from tests.conftest import csrf_token, login

PORTAL = Path(__file__).resolve().parents[2] / "portal"
# The boundary itself, the CLI and the background tasks (portal/celery_app.py): commands and
# tasks are not requests, they commit their own work.
MAY_COMMIT = {"transaction.py", "cli.py", "celery_app.py"}


def _write(login: str) -> None:
    db.session.add(LoginFailure(login=login, remote_addr="test"))
    db.session.flush()


@pytest.fixture(scope="module")
def boundary_app(database_factory) -> Flask:
    app = database_factory("boundary", WTF_CSRF_ENABLED=False)
    seen: dict = {}
    app.extensions["boundary_test_seen"] = seen

    @app.post("/t/ok")
    def ok():
        _write("ok")
        return "done"

    @app.post("/t/raise")
    def raise_after_flush():
        _write("raise")
        raise ValidationError({"": "refused"})

    @app.post("/t/unexpected")
    def unexpected():
        _write("unexpected")
        raise RuntimeError("boom")

    @app.post("/t/5xx")
    def server_error():
        _write("5xx")
        return "unavailable", 503

    @app.post("/t/form")
    def form_refused():
        """A view that shows the refusal itself (as a form with errors)."""
        _write("before")
        try:
            with attempt():
                _write("refused")
                raise ValidationError({"name": "wrong"})
        except ValidationError as exc:
            _write("after")
            return jsonify(errors=exc.errors), 422

    @app.post("/t/kept-422")
    def kept_with_422():
        """A 4xx page the view returns itself is committed (a failed login is kept)."""
        _write("kept")
        return "no", 422

    @app.post("/t/refusal")
    def refusal():
        _write("refused-action")
        audit.record_refusal("test_refused", actor=None, details={"why": "test"})
        raise NotAuthorized("not yours")

    @app.post("/t/refusal-shown")
    def refusal_shown():
        try:
            with attempt():
                _write("refused-action")
                audit.record_refusal("test_refused", actor=None, details={"why": "shown"})
                raise NotAuthorized("not yours")
        except NotAuthorized:
            return "shown", 403

    @app.post("/t/cache")
    def cache():
        _write("cache")
        clear_guide_cache()
        seen["entry_in_view"] = guide_cache().get(("guide",))
        return "done"

    @app.post("/t/cache-refused")
    def cache_refused():
        _write("cache")
        clear_guide_cache()
        raise ValidationError({"": "refused"})

    return app


@pytest.fixture
def fresh(boundary_app: Flask):
    """Empty the tables these tests write (the database is this module's own)."""
    with boundary_app.app_context():
        db.session.execute(LoginFailure.__table__.delete())
        db.session.execute(Event.__table__.delete())
        db.session.commit()
        guide_cache().clear()
    yield boundary_app.test_client()


def rows(app: Flask) -> list[str]:
    with app.app_context():
        return sorted(db.session.scalars(select(LoginFailure.login)))


def refusal_events(app: Flask) -> list[dict]:
    with app.app_context():
        return list(db.session.scalars(select(Event.details).where(Event.action == "test_refused")))


class Commits:
    """Count the COMMITs the app's engine sends."""

    def __init__(self, app: Flask) -> None:
        self.engine = db._app_engines[app][None]
        self.count = 0

    def _seen(self, conn) -> None:
        self.count += 1

    def __enter__(self) -> Commits:
        event.listen(self.engine, "commit", self._seen)
        return self

    def __exit__(self, *exc) -> None:
        event.remove(self.engine, "commit", self._seen)


def test_a_view_that_returns_is_committed_once(boundary_app, fresh):
    with Commits(boundary_app) as commits:
        assert fresh.post("/t/ok").status_code == 200
    assert commits.count == 1
    assert rows(boundary_app) == ["ok"]


def test_a_service_that_raises_after_flushing_leaves_no_row(boundary_app, fresh):
    with Commits(boundary_app) as commits:
        assert fresh.post("/t/raise").status_code == 400
    assert commits.count == 0
    assert rows(boundary_app) == []


def test_an_unexpected_error_is_rolled_back(boundary_app, fresh):
    with pytest.raises(RuntimeError):  # the tests propagate exceptions
        fresh.post("/t/unexpected")
    assert rows(boundary_app) == []


def test_a_5xx_answer_is_rolled_back(boundary_app, fresh):
    assert fresh.post("/t/5xx").status_code == 503
    assert rows(boundary_app) == []


def test_a_refusal_shown_by_the_view_rolls_back_and_the_rest_commits(boundary_app, fresh):
    """attempt(): as a view that catches ValidationError to show the form again."""
    with Commits(boundary_app) as commits:
        response = fresh.post("/t/form")
    assert response.status_code == 422 and response.json == {"errors": {"name": "wrong"}}
    assert rows(boundary_app) == ["after"]  # what was flushed before the refusal is gone too
    assert commits.count == 1


def test_a_4xx_page_the_view_returns_is_committed(boundary_app, fresh):
    assert fresh.post("/t/kept-422").status_code == 422
    assert rows(boundary_app) == ["kept"]


def test_a_refusal_event_survives_the_rollback_in_its_own_commit(boundary_app, fresh):
    with Commits(boundary_app) as commits:
        assert fresh.post("/t/refusal").status_code == 403
    assert rows(boundary_app) == []  # the refused action is rolled back
    assert refusal_events(boundary_app) == [{"why": "test"}]  # its refusal is kept
    assert commits.count == 1
    with boundary_app.app_context():
        assert audit.verify_chain().broken_at is None


def test_a_refusal_event_survives_attempt_and_is_recorded_once(boundary_app, fresh):
    assert fresh.post("/t/refusal-shown").status_code == 403
    assert rows(boundary_app) == []
    assert refusal_events(boundary_app) == [{"why": "shown"}]


def test_the_guide_cache_is_cleared_after_the_commit_not_before(boundary_app, fresh):
    with boundary_app.app_context():
        guide_cache().put(("guide",), "old html")
    assert fresh.post("/t/cache").status_code == 200
    # inside the view the change was not committed yet: the cache still held the entry …
    assert boundary_app.extensions["boundary_test_seen"]["entry_in_view"] == "old html"
    with boundary_app.app_context():  # … and it is gone once the commit is done
        assert guide_cache().get(("guide",)) is None


def test_a_refused_change_leaves_the_guide_cache(boundary_app, fresh):
    with boundary_app.app_context():
        guide_cache().put(("guide",), "html")
    assert fresh.post("/t/cache-refused").status_code == 400
    with boundary_app.app_context():
        assert guide_cache().get(("guide",)) == "html"


def test_a_real_post_commits_once(app, client):
    """On the demo app (inside the `tx` fixture, where a session commit releases a savepoint):
    switching 长辈模式 on is one commit of the session."""
    login(client, "13800000001")
    token = csrf_token(client, "/")
    commits = []

    def count(session: Session) -> None:
        if not session.in_nested_transaction():
            commits.append(session)

    event.listen(Session, "after_commit", count)
    try:
        response = client.post(
            "/preferences/elder-mode", data={"csrf_token": token, "enable": "1", "next": "/"}
        )
    finally:
        event.remove(Session, "after_commit", count)
    assert response.status_code == 302
    assert len(commits) == 1


def _commit_or_rollback_calls(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return [
        f"{path.relative_to(PORTAL.parent)}:{node.lineno} .{node.func.attr}()"
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr in ("commit", "rollback")
    ]


def test_no_service_commits_or_rolls_back():
    """Services flush. Scheduled jobs commit their own work (they are not requests), so does
    `flask simulate` (a year replayed, committed day by day; never in production), and the
    outbox delivery, which runs after the commit, commits each claim before it sends and each
    outcome after (a request's own rows were claimed by its commit)."""
    allowed = {
        ("jobs.py", None),
        ("simulation.py", None),
        ("messages.py", "deliver_pending"),
        ("messages.py", "_deliver"),
        ("messages.py", "_send_claimed"),
        ("messages.py", "release_own"),
        ("messages.py", "release_abandoned_claims"),
    }
    found = []
    for path in sorted((PORTAL.parent / "services").rglob("*.py")):
        if (path.name, None) in allowed:
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for function in ast.walk(tree):
            if not isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            if (path.name, function.name) in allowed:
                continue
            found += [
                f"{path.name}:{node.lineno} {function.name} .{node.func.attr}()"
                for node in ast.walk(function)
                if isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr in ("commit", "rollback")
            ]
    assert found == []


def test_no_view_commits_or_rolls_back_by_hand():
    found = [
        call
        for path in sorted(PORTAL.rglob("*.py"))
        if path.name not in MAY_COMMIT or path.parent != PORTAL
        for call in _commit_or_rollback_calls(path)
    ]
    assert found == []
