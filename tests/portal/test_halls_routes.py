"""The hall admin pages through the test client: good input, each bad input (422, the message
next to the field, nothing changed), and the audit event naming the admin."""

import re
from datetime import time, timedelta

import pytest
from sqlalchemy import func, select

from portal.extensions import db
from portal.models import (
    AppointmentClosure,
    AppointmentSession,
    AppointmentSlot,
    CounterWindow,
    Event,
    QueueCategory,
    ServiceHall,
    User,
)
from services import clock
from tests.conftest import csrf_token, login


def error_for(html: str, field_id: str) -> str:
    match = re.search(rf'<p class="error" id="{re.escape(field_id)}-error">(.*?)</p>', html, re.S)
    return match.group(1) if match else ""


@pytest.fixture
def admin(client):
    assert login(client, "admin").status_code == 302
    return client


def post(client, path, data, token_from=None):
    return client.post(path, data={"csrf_token": csrf_token(client, token_from or path), **data})


def smzx(query):
    def load():
        hall = db.session.scalar(select(ServiceHall).where(ServiceHall.code == "SMZX"))
        return hall.id, {c.code: c.id for c in hall.categories}

    return query(load)


def events(query, action):
    def load():
        return [
            (e.actor_id, e.details)
            for e in db.session.scalars(select(Event).where(Event.action == action))
        ]

    return query(load)


def admin_id(query):
    return query(lambda: db.session.scalar(select(User.id).where(User.username == "admin")))


def test_every_page_opens(admin, query):
    hall_id, cats = smzx(query)
    session_id = query(
        lambda: db.session.scalar(
            select(AppointmentSession.id).where(
                AppointmentSession.category_id == cats["A"], AppointmentSession.weekday == 0
            )
        )
    )
    window_id = query(
        lambda: db.session.scalar(select(CounterWindow.id).where(CounterWindow.hall_id == hall_id))
    )
    for path in (
        "/admin/halls",
        "/admin/halls/new",
        f"/admin/halls/{hall_id}",
        f"/admin/halls/{hall_id}/edit",
        f"/admin/halls/{hall_id}/categories/new",
        f"/admin/halls/{hall_id}/categories/{cats['A']}/edit",
        f"/admin/halls/{hall_id}/windows/new",
        f"/admin/halls/{hall_id}/windows/{window_id}/edit",
        f"/admin/halls/{hall_id}/categories/{cats['A']}/template",
        f"/admin/halls/{hall_id}/categories/{cats['A']}/sessions/{session_id}/edit",
        f"/admin/halls/{hall_id}/closures",
        f"/admin/halls/{hall_id}/slots",
        f"/admin/halls/{hall_id}/slots?day=2020-01-06",
    ):
        response = admin.get(path)
        assert response.status_code == 200, path
    assert admin.get(f"/admin/halls/{hall_id}/slots?day=2026-13-01").status_code == 422
