"""The hall admin pages through the test client: good input, each bad input (422, the message
next to the field, nothing changed), and the audit event naming the admin."""

import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from portal.extensions import db
from portal.models import (
    Appointment,
    AppointmentClosure,
    AppointmentSession,
    AppointmentSlot,
    CounterWindow,
    Event,
    QueueCategory,
    ServiceHall,
    User,
)
from services import capacity, clock, workdays
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


def test_a_hall_a_window_a_category_and_a_template_through_the_pages(admin, query):
    response = post(
        admin,
        "/admin/halls/new",
        {
            "code": "rtest",
            "name": "路由测试大厅",
            "address": "测试路 9 号",
            "hours": "",
            "phone": "",
        },
    )
    assert response.status_code == 302
    hall_id = query(
        lambda: db.session.scalar(select(ServiceHall.id).where(ServiceHall.code == "RTEST"))
    )
    base = f"/admin/halls/{hall_id}"
    assert (
        post(
            admin, f"{base}/categories/new", {"code": "A", "name": "综合受理", "open": "y"}
        ).status_code
        == 302
    )
    category_id = query(
        lambda: db.session.scalar(select(QueueCategory.id).where(QueueCategory.hall_id == hall_id))
    )
    assert (
        post(
            admin, f"{base}/windows/new", {"number": "1", "name": "", "category_codes": ["A"]}
        ).status_code
        == 302
    )
    template = f"{base}/categories/{category_id}/template"
    response = post(
        admin,
        template,
        {
            "week-weekdays": ["0", "1", "2", "3", "4"],
            "week-starts_at": "09:00",
            "week-ends_at": "12:00",
            "week-slot_minutes": "60",
            "week-capacity": "6",
        },
    )
    assert response.status_code == 302
    page = admin.get(template).get_data(as_text=True)
    assert "09:00-12:00" in page
    me = admin_id(query)
    for action in (
        "hall.created",
        "hall.category_created",
        "hall.window_created",
        "hall.template_added",
    ):
        assert [a for a, d in events(query, action) if d.get("hall") == hall_id] == [me], action
    slots = query(
        lambda: db.session.scalar(
            select(func.count())
            .select_from(AppointmentSlot)
            .where(AppointmentSlot.category_id == category_id)
        )
    )
    assert slots > 0


def test_each_bad_input_is_said_next_to_its_field_and_changes_nothing(admin, query):
    hall_id, cats = smzx(query)
    base = f"/admin/halls/{hall_id}"
    template = f"{base}/categories/{cats['A']}/template"

    def counts():
        return query(
            lambda: tuple(
                db.session.scalar(select(func.count()).select_from(model))
                for model in (
                    ServiceHall,
                    QueueCategory,
                    CounterWindow,
                    AppointmentSession,
                    AppointmentClosure,
                    Event,
                )
            )
        )

    before = counts()
    today = clock.local_today()

    def a_monday_schedule():  # the next day that opens with Monday's sessions (not a holiday)
        days = [today + timedelta(days=i) for i in range(1, 30)]
        overrides = workdays.load_overrides(days[0] - timedelta(days=15), days[-1])
        return next(d for d in days if capacity.schedule_weekday(d, overrides) == 0)

    next_monday = query(a_monday_schedule)
    week = {"week-weekdays": ["0"], "week-slot_minutes": "60", "week-capacity": "6"}
    cases = [
        # overlapping sessions (the demo's Monday 09:00-12:00)
        (
            template,
            {**week, "week-starts_at": "11:00", "week-ends_at": "13:00"},
            "week-starts_at",
            "重叠",
        ),
        # end before start
        (
            template,
            {**week, "week-starts_at": "17:00", "week-ends_at": "16:00"},
            "week-ends_at",
            "结束时间必须晚于开始时间",
        ),
        (
            template,
            {**week, "week-starts_at": "25:00", "week-ends_at": "16:00"},
            "week-starts_at",
            "请按 时:分 填写时间",
        ),
        # a window number and a category letter already used in the hall
        (
            f"{base}/windows/new",
            {"number": "1", "category_codes": ["A"]},
            "number",
            "本大厅已有 1 号窗口",
        ),
        (
            f"{base}/categories/new",
            {"code": "B", "name": "重复"},
            "code",
            "本大厅已有字母为 B 的服务类别",
        ),
        (f"{base}/windows/new", {"number": "abc", "category_codes": ["A"]}, "number", "请填写整数"),
        # a closure in the past, backwards, a bad date
        (
            f"{base}/closures",
            {"first_day": "2020-01-06", "part": "day", "category_id": "0", "reason": "维修"},
            "first_day",
            "不能暂停已经过去的日期",
        ),
        (
            f"{base}/closures",
            {
                "first_day": (clock.local_today() + timedelta(days=5)).isoformat(),
                "last_day": (clock.local_today() + timedelta(days=4)).isoformat(),
                "part": "day",
                "category_id": "0",
                "reason": "维修",
            },
            "last_day",
            "结束日期不能早于开始日期",
        ),
        (
            f"{base}/closures",
            {"first_day": "2026-02-30", "part": "day", "category_id": "0", "reason": "维修"},
            "first_day",
            "请按 年-月-日 填写日期",
        ),
        (
            f"{base}/closures",
            {
                "first_day": clock.local_today().isoformat(),
                "part": "night",
                "category_id": "0",
                "reason": "维修",
            },
            "part",
            "请从列表中选择",
        ),
        (f"{base}/edit", {"name": ""}, "name", "请填写大厅名称"),
        # an extra session in the past, or overlapping the template (Monday 09:00-12:00)
        (
            f"{base}/categories/{cats['A']}/extra",
            {
                "extra-day": "2020-01-06",
                "extra-starts_at": "14:00",
                "extra-ends_at": "15:00",
                "extra-slot_minutes": "60",
                "extra-capacity": "3",
            },
            "extra-day",
            "不能在已经过去的日期加开时段",
        ),
        (
            f"{base}/categories/{cats['A']}/extra",
            {
                "extra-day": next_monday.isoformat(),
                "extra-starts_at": "11:00",
                "extra-ends_at": "12:00",
                "extra-slot_minutes": "60",
                "extra-capacity": "3",
            },
            "extra-starts_at",
            "与已有的时段 周一 09:00-12:00 重叠",
        ),
    ]
    for path, data, field, message in cases:
        token_from = template if path.endswith("/extra") else None
        response = post(admin, path, data, token_from=token_from)
        html = response.get_data(as_text=True)
        assert response.status_code == 422, (path, data)
        assert message in error_for(html, field), (path, field, error_for(html, field))
    assert counts() == before


def booked_slot_id(query) -> tuple[int, int]:
    """A future SMZX slot holding the demo booking of 13800000001."""

    def load():
        a = db.session.scalar(
            select(Appointment)
            .join(User, User.citizen_id == Appointment.citizen_id)
            .where(User.phone == "13800000001", Appointment.status == "booked")
        )
        return a.slot.hall_id, a.slot_id

    return query(load)


def test_a_slot_capacity_below_its_bookings_is_refused_with_422(admin, query):
    hall_id, slot_id = booked_slot_id(query)
    day = query(lambda: db.session.get(AppointmentSlot, slot_id).day.isoformat())
    page = f"/admin/halls/{hall_id}/slots?day={day}"
    response = post(
        admin,
        f"/admin/halls/{hall_id}/slots/{slot_id}",
        {f"slot{slot_id}-capacity": "0"},
        token_from=page,
    )
    assert response.status_code == 422
    assert "名额不能少于 1" in error_for(response.get_data(as_text=True), f"slot{slot_id}-capacity")
    assert query(lambda: db.session.get(AppointmentSlot, slot_id).capacity) == 4
    response = post(
        admin,
        f"/admin/halls/{hall_id}/slots/{slot_id}",
        {f"slot{slot_id}-capacity": "2"},
        token_from=page,
    )
    assert response.status_code == 302
    assert query(lambda: db.session.get(AppointmentSlot, slot_id).capacity) == 2
    assert [a for a, d in events(query, "hall.slot_capacity") if d["slot"] == slot_id] == [
        admin_id(query)
    ]


def test_a_closure_lists_the_bookings_to_contact(admin, query):
    hall_id, slot_id = booked_slot_id(query)
    day = query(lambda: db.session.get(AppointmentSlot, slot_id).day.isoformat())
    response = post(
        admin,
        f"/admin/halls/{hall_id}/closures",
        {"first_day": day, "last_day": "", "part": "pm", "category_id": "0", "reason": "系统升级"},
    )
    assert response.status_code == 302
    page = admin.get(response.headers["Location"]).get_data(as_text=True)
    assert "受影响" in page and "需要联系的预约" in page
    code = query(
        lambda: db.session.scalar(select(Appointment.code).where(Appointment.slot_id == slot_id))
    )
    assert code in page
    assert "138****0001" in page  # masked
    assert [a for a, d in events(query, "hall.closure_added") if d["hall"] == hall_id] == [
        admin_id(query)
    ]


def test_the_counters_day_list_goes_to_any_day_with_prev_and_next(client, query):
    assert login(client, "counter01").status_code == 302
    today = clock.local_today()
    page = client.get("/appointments/hall").get_data(as_text=True)
    assert f"day={(today - timedelta(days=1)).isoformat()}" in page
    assert f"day={(today + timedelta(days=1)).isoformat()}" in page
    past = client.get("/appointments/hall?day=2025-03-03")
    assert past.status_code == 200 and "day=2025-03-04" in past.get_data(as_text=True)


def test_the_slots_page_shows_one_category_when_asked(admin, query):
    hall_id, cats = smzx(query)
    _, slot_id = booked_slot_id(query)
    day = query(lambda: db.session.get(AppointmentSlot, slot_id).day.isoformat())
    every = admin.get(f"/admin/halls/{hall_id}/slots?day={day}").get_data(as_text=True)
    one = admin.get(f"/admin/halls/{hall_id}/slots?day={day}&category={cats['A']}")
    html = one.get_data(as_text=True)
    assert one.status_code == 200
    assert "B 社保医保与公积金</td>" in every and "B 社保医保与公积金</td>" not in html
    assert "A 户籍与出入境</td>" in html
    assert f"category={cats['A']}" in html  # previous / next day keep the category


def test_the_counter_sees_the_bookings_to_contact_and_may_reveal_the_phone(client, query):
    from portal.models import DataUseLog

    hall_id, slot_id = booked_slot_id(query)

    def close():
        slot = db.session.get(AppointmentSlot, slot_id)
        capacity.add_closure(
            db.session.scalar(select(User).where(User.username == "admin")),
            slot.hall,
            first_day=slot.day,
            last_day=slot.day,
            part="day",
            category_id=None,
            reason="系统升级",
        )
        db.session.commit()
        return db.session.scalar(select(Appointment).where(Appointment.slot_id == slot_id)).id

    appointment_id = query(close)
    assert login(client, "counter01").status_code == 302
    page = client.get("/appointments/hall").get_data(as_text=True)
    assert "需要联系的预约" in page and f"/appointments/hall/{appointment_id}" in page
    detail = client.get(f"/appointments/hall/{appointment_id}").get_data(as_text=True)
    assert "138****0001" in detail and "13800000001" not in detail
    uses = query(lambda: db.session.scalar(select(func.count()).select_from(DataUseLog)))

    response = client.post(
        f"/appointments/hall/{appointment_id}/contact",
        data={"csrf_token": csrf_token(client, f"/appointments/hall/{appointment_id}")},
    )
    assert response.status_code == 200
    assert "13800000001" in response.get_data(as_text=True)
    assert "no-store" in response.headers["Cache-Control"]
    assert (
        query(lambda: db.session.scalar(select(func.count()).select_from(DataUseLog))) == uses + 1
    )
    counter_id = query(
        lambda: db.session.scalar(select(User.id).where(User.username == "counter01"))
    )
    assert [
        a
        for a, d in events(query, "appointment_contact_revealed")
        if d["appointment"] == appointment_id
    ] == [counter_id]
    # without CSRF: refused, nothing written
    assert client.post(f"/appointments/hall/{appointment_id}/contact").status_code == 400
    assert (
        query(lambda: db.session.scalar(select(func.count()).select_from(DataUseLog))) == uses + 1
    )


def test_deleting_a_session_shows_its_bookings_first(admin, query):
    hall_id, slot_id = booked_slot_id(query)

    def load():
        slot = db.session.get(AppointmentSlot, slot_id)
        session = db.session.scalar(
            select(AppointmentSession).where(
                AppointmentSession.category_id == slot.category_id,
                AppointmentSession.weekday == slot.day.weekday(),
                AppointmentSession.starts_at <= slot.starts_at,
                AppointmentSession.ends_at > slot.starts_at,
            )
        )
        code = db.session.scalar(select(Appointment.code).where(Appointment.slot_id == slot_id))
        return slot.category_id, session.id, code

    category_id, session_id, code = query(load)
    path = f"/admin/halls/{hall_id}/categories/{category_id}/sessions/{session_id}/delete"
    page = admin.get(path)
    assert page.status_code == 200 and code in page.get_data(as_text=True)
    assert query(lambda: db.session.get(AppointmentSession, session_id)) is not None  # GET: nothing
    response = post(admin, path, {})
    assert response.status_code == 302
    assert query(lambda: db.session.get(AppointmentSession, session_id)) is None
    assert query(lambda: db.session.get(AppointmentSlot, slot_id).active) is False
    assert [a for a, _ in events(query, "hall.session_deleted")] == [admin_id(query)]
