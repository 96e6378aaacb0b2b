"""Authentication failures and access refusals leave audit events (issue 13, ASVS V16):
a wrong password, a wrong second-factor code, and every 403, GET or POST."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from portal.extensions import db
from portal.models import Event, User
from services import two_factor
from services.errors import ValidationError
from tests.conftest import csrf_token, login


def _events(query, action):
    return query(
        lambda: [
            (e.actor_id, e.details)
            for e in db.session.scalars(select(Event).where(Event.action == action))
        ]
    )


def test_a_wrong_password_is_audited_without_the_password(client, query):
    assert login(client, "13800000001", "Wrong-pass-9").status_code == 422
    [(actor, details)] = _events(query, "login_failed")
    account = query(lambda: db.session.scalar(select(User.id).where(User.phone == "13800000001")))
    assert actor is None and details["account"] == account
    assert "Wrong-pass-9" not in str(details)


def test_an_unknown_login_is_audited_too(client, query):
    login(client, "13999990000", "Wrong-pass-9")
    [(actor, details)] = _events(query, "login_failed")
    assert details["account"] is None and details["login"] == "unknown:13999990000"


def test_every_403_is_audited_with_the_actor(client, query):
    login(client, "13800000001")
    assert client.get("/admin/").status_code == 403  # a GET: written though read-only
    token = csrf_token(client, "/")
    assert client.post("/admin/departments/new", data={"csrf_token": token}).status_code == 403
    citizen = query(lambda: db.session.scalar(select(User.id).where(User.phone == "13800000001")))
    refused = _events(query, "access_refused")
    assert [(a, d["method"], d["path"]) for a, d in refused] == [
        (citizen, "GET", "/admin/"),
        (citizen, "POST", "/admin/departments/new"),
    ]


def test_a_wrong_second_factor_code_is_audited(app_ctx):
    admin = db.session.scalar(select(User).where(User.username == "admin"))
    with pytest.raises(ValidationError):
        two_factor.record_failure(admin, "198.51.100.9")
    event = db.session.scalar(select(Event).where(Event.action == "second_factor_failed"))
    assert event.actor_id == admin.id and event.details == {"client": "198.51.100.9"}
