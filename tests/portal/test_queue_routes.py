"""The queue through the web: take a ticket, see it, the display's JSON, the clerk's desk."""

from __future__ import annotations

import re

from sqlalchemy import select

from portal.extensions import db
from portal.models import (
    CounterWindow,
    QueueCategory,
    ServiceHall,
    StaffReminder,
    Ticket,
    TicketCall,
)
from services import kiosk
from tests.conftest import csrf_token


def take(client, category: str, **extra):
    token = csrf_token(client, "/queue/SMZX/")
    return client.post(
        "/queue/SMZX/tickets", data={"csrf_token": token, "category": category, **extra}
    )


def test_take_a_ticket_and_view_it(client, query):
    page = client.get("/queue/SMZX/").get_data(as_text=True)
    assert "户籍与出入境" in page and "等候 0 人" in page
    response = take(client, "A")
    assert response.status_code == 302
    ticket_page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "A001" in ticket_page and "前面等候" in ticket_page and "0 人" in ticket_page
    second = client.get(take(client, "A").headers["Location"]).get_data(as_text=True)
    assert "A002" in second and "1 人" in second
    assert "等候 2 人" in client.get("/queue/SMZX/").get_data(as_text=True)
    assert (
        query(lambda: db.session.scalar(select(Ticket.source).where(Ticket.code == "A002")))
        == "tablet"
    )


def test_take_refusals_change_nothing(client, query):
    def close_c():
        category = db.session.scalar(
            select(QueueCategory)
            .join(ServiceHall)
            .where(ServiceHall.code == "SMZX", QueueCategory.code == "C")
        )
        category.open = False
        db.session.commit()

    query(close_c)
    closed = take(client, "C")
    assert closed.status_code == 409 and "暂停取号" in closed.get_data(as_text=True)
    wrong = take(client, "A", appointment_code="YY000000")
    assert wrong.status_code == 422 and "没有找到本大厅今天的这个预约号" in wrong.get_data(
        as_text=True
    )
    assert take(client, "Q").status_code == 404
    assert client.get("/queue/NOPE/").status_code == 404
    assert client.post("/queue/SMZX/tickets", data={"category": "A"}).status_code == 400  # no CSRF
    assert query(lambda: db.session.scalar(select(Ticket.id).limit(1))) is None


def test_desk_call_recall_skip_finish_and_the_display_json(client, login_as, query):
    take(client, "A")
    take(client, "A")
    login_as("counter01")
    desk = client.get("/queue/desk").get_data(as_text=True)
    assert "选择您所在的窗口" in desk
    window_id = re.search(r'name="window" value="(\d+)"', desk).group(1)
    token = csrf_token(client, "/queue/desk")
    assert (
        client.post(
            "/queue/desk/window", data={"csrf_token": token, "window": window_id}
        ).status_code
        == 302
    )
    client.post("/queue/desk/call", data={"csrf_token": token})
    desk = client.get("/queue/desk").get_data(as_text=True)
    assert "A001" in desk and "开始接待" in desk
    ticket_id = query(lambda: db.session.scalar(select(Ticket.id).where(Ticket.code == "A001")))
    client.post(f"/queue/desk/tickets/{ticket_id}/recall", data={"csrf_token": token})
    calls = client.get("/queue/SMZX/calls.json").get_json()["calls"]
    assert [c["kind"] for c in calls] == ["recall", "call"]
    assert calls[0]["text"] == "请 A001 号到 1 号窗口"
    assert client.get(f"/queue/SMZX/calls.json?after={calls[0]['id']}").get_json()["calls"] == []
    display = client.get("/queue/SMZX/display").get_data(as_text=True)
    assert "请 A001 号到 1 号窗口" in display
    client.post(f"/queue/desk/tickets/{ticket_id}/skip", data={"csrf_token": token})
    client.post("/queue/desk/call", data={"csrf_token": token})
    second = query(lambda: db.session.scalar(select(Ticket.id).where(Ticket.code == "A002")))
    served = client.post(f"/queue/desk/tickets/{second}/serve", data={"csrf_token": token})
    assert served.status_code == 302 and served.headers["Location"].endswith("/counter/")
    client.post(f"/queue/desk/tickets/{second}/finish", data={"csrf_token": token})
    statuses = query(lambda: dict(db.session.execute(select(Ticket.code, Ticket.status)).all()))
    assert statuses == {"A001": "skipped", "A002": "done"}
    assert query(
        lambda: db.session.scalar(select(TicketCall.id).order_by(TicketCall.id.desc()).limit(1))
    )
    # 过号 tickets can come back once
    desk = client.get("/queue/desk").get_data(as_text=True)
    assert "今日过号" in desk and "补叫" in desk
    assert (
        client.post(
            f"/queue/desk/tickets/{ticket_id}/bogus", data={"csrf_token": token}
        ).status_code
        == 404
    )
    stats = client.get("/queue/stats").get_data(as_text=True)
    assert "户籍与出入境" in stats


def test_desk_shows_kiosk_help_until_acknowledged(client, login_as, query):
    def ask(code: str) -> int:
        kiosk.request_help(db.session.scalar(select(ServiceHall).where(ServiceHall.code == code)))
        db.session.commit()
        return db.session.scalar(
            select(StaffReminder.id).where(StaffReminder.kind == f"kiosk_help:{code}")
        )

    other_hall = query(lambda: ask("BSZX"))
    login_as("counter01")
    desk = client.get("/queue/desk").get_data(as_text=True)
    assert "自助终端求助" not in desk  # another hall's request is not counter01's
    token = csrf_token(client, "/queue/desk")
    assert (
        client.post(f"/queue/desk/help/{other_hall}", data={"csrf_token": token}).status_code == 404
    )
    query(lambda: ask("SMZX"))
    desk = client.get("/queue/desk").get_data(as_text=True)
    assert "自助终端求助" in desk
    reminder = re.search(r"/queue/desk/help/(\d+)", desk).group(1)
    client.post(f"/queue/desk/help/{reminder}", data={"csrf_token": token})
    desk = client.get("/queue/desk").get_data(as_text=True)
    assert "已处理自助终端求助" in desk and f"/queue/desk/help/{reminder}" not in desk


def test_admin_chooses_the_hall_for_statistics(client, login_as):
    login_as("admin")
    page = client.get("/queue/stats?hall=BSZX").get_data(as_text=True)
    assert "北山街道便民服务中心" in page and "综合受理" in page and "户籍与出入境" not in page
    assert client.get("/queue/stats?hall=NOPE").status_code == 404


def test_stats_page_query_count_does_not_grow_with_tickets(client, login_as, query, count_queries):
    login_as("counter01")
    take(client, "A")
    with count_queries as few:
        assert client.get("/queue/stats").status_code == 200
    for code in "ABCDEF" * 3:
        take(client, code)
    with count_queries as many:
        assert client.get("/queue/stats").status_code == 200
    assert len(many) == len(few)


def test_desk_status_json_has_the_counts_and_the_halls_help(client, login_as, query):
    login_as("counter01")
    token = csrf_token(client, "/queue/desk")
    window = query(
        lambda: db.session.scalar(
            select(CounterWindow.id)
            .join(ServiceHall)
            .where(ServiceHall.code == "SMZX", CounterWindow.number == 6)
        )
    )
    client.post("/queue/desk/window", data={"csrf_token": token, "window": window})

    def waiting_e() -> str:
        data = client.get("/queue/desk/status.json").get_json()
        return re.search(r"E [^：<]+：(\d+) 人", data["waiting"]).group(1)

    before = int(waiting_e())
    take(client, "E")
    assert int(waiting_e()) == before + 1
    assert client.get("/queue/desk/status.json").get_json()["help"].strip() == ""
    query(
        lambda: (
            kiosk.request_help(
                db.session.scalar(select(ServiceHall).where(ServiceHall.code == "SMZX"))
            ),
            db.session.commit(),
        )
    )
    response = client.get("/queue/desk/status.json")
    assert response.headers["Cache-Control"] == "no-store"
    assert (
        "自助终端求助" in response.get_json()["help"]
        and "/queue/desk/help/" in response.get_json()["help"]
    )
