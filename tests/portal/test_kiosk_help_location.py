"""A kiosk's help request says which kiosk and where it stands (issue 11 §9).

Staff set a kiosk up once (把本机设为自助终端, tests/kiosk_device.py); the browser keeps the
name in its signed device setting (which outlives the idle reset) and shows it by the
呼叫工作人员 button. A help request then names that kiosk and the page the citizen was on, on the clerk's
desk; two kiosks calling at once are two requests, and a kiosk never set up says so."""

from __future__ import annotations

from sqlalchemy import select

from portal.extensions import db
from portal.models import StaffReminder
from tests.conftest import csrf_token
from tests.kiosk_device import set_up_kiosk

TERMINAL = "B区2号机（取号机右侧）"


def _call(client, page: str = "/kiosk/SMZX/case", where: str = "kiosk.case_status"):
    token = csrf_token(client, page)
    return client.post("/kiosk/SMZX/help", data={"csrf_token": token, "where": where, "next": page})


def _open_requests(query) -> list[str]:
    return query(
        lambda: db.session.scalars(
            select(StaffReminder.body)
            .where(StaffReminder.kind == "kiosk_help:SMZX", StaffReminder.read_at.is_(None))
            .order_by(StaffReminder.id)
        ).all()
    )


def test_the_desk_shows_which_kiosk_calls_and_where(app, client, login_as, query):
    set_up_kiosk(client, terminal=TERMINAL)
    assert TERMINAL in client.get("/kiosk/SMZX/case").get_data(as_text=True)  # shown on screen

    assert _call(client).status_code == 302
    assert _call(client).status_code == 302  # a worried second tap writes nothing more
    bodies = _open_requests(query)
    assert len(bodies) == 1 and TERMINAL in bodies[0] and "办件查询" in bodies[0], bodies

    # the idle reset forgets the citizen, not the kiosk
    client.post("/kiosk/SMZX/reset", data={"csrf_token": csrf_token(client, "/kiosk/SMZX/")})
    assert TERMINAL in client.get("/kiosk/SMZX/").get_data(as_text=True)

    # another kiosk, never set up, calling at the same time: a second request, named as such
    other = app.test_client()
    assert _call(other, "/kiosk/SMZX/guides", "kiosk.guides").status_code == 302
    bodies = _open_requests(query)
    assert len(bodies) == 2 and "未设置位置的自助终端" in bodies[1] and "办事指南" in bodies[1]

    desk = login_as("counter01").get("/queue/desk").get_data(as_text=True)
    assert TERMINAL in desk and "未设置位置的自助终端" in desk


def test_a_terminal_name_is_cleaned_and_bounded(client, query):
    set_up_kiosk(client, terminal="东\u0007" * 20)
    _call(client)
    (body,) = _open_requests(query)
    assert "\u0007" not in body and "东" * 20 in body
