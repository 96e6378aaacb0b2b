"""预约 by the day, in the city's time (issue 11 §9).

- The hall's appointment list shows the day asked for with ``?day=`` (today without it), and a
  malformed day is said next to the field, never a 500.
- Booking offers today's slots that have not started yet, in Asia/Shanghai time whatever
  zone the server runs in: at 07:30 on a Monday in the city (still Sunday in UTC) the
  Monday is the first day offered, and its 09:00 slot can be booked.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time

import time_machine
from sqlalchemy import select

from portal.extensions import db
from portal.models import Appointment, AppointmentSlot, ServiceHall
from services import appointments
from tests.conftest import csrf_token
from tests.workflow_cases import RESIDENCE_PERMIT, item_named, user

MONDAY = date(2027, 3, 8)  # far beyond the demo's own slots
# 07:30 on Monday in the city is 23:30 on Sunday in UTC
MONDAY_0730_UTC = datetime(2027, 3, 7, 23, 30, tzinfo=UTC)
MONDAY_1030_UTC = datetime(2027, 3, 8, 2, 30, tzinfo=UTC)
CITIZEN = "13800000002"


def _slots(query) -> dict[str, int]:
    """Slots of the category 居住证申领 is booked in at 市民服务中心: Sunday 09:00 (yesterday in
    the city), Monday 07:00 (started at 07:30), Monday 09:00 and Tuesday 09:00; all with room."""

    def make():
        hall = db.session.scalar(select(ServiceHall).where(ServiceHall.code == "SMZX"))
        target = appointments.target_for_item(user(CITIZEN), item_named(RESIDENCE_PERMIT).code)
        category = appointments.category_for(hall, target.department_id)
        made = {}
        for name, day, hour in (
            ("sunday_9", date(2027, 3, 7), 9),
            ("monday_7", MONDAY, 7),
            ("monday_9", MONDAY, 9),
            ("tuesday_9", date(2027, 3, 9), 9),
        ):
            slot = AppointmentSlot(
                hall_id=hall.id,
                category_id=category.id,
                day=day,
                starts_at=time(hour),
                ends_at=time(hour, 30),
                capacity=4,
            )
            db.session.add(slot)
            db.session.flush()
            made[name] = slot.id
        db.session.commit()
        return made

    return query(make)


def item_named_code(client) -> str:
    with client.application.app_context():
        return item_named(RESIDENCE_PERMIT).code


def _book_page(client) -> str:
    code = item_named_code(client)
    return client.get(f"/appointments/items/{code}/book?hall=SMZX").get_data(as_text=True)


def _slot_input(page: str, slot_id: int) -> str:
    match = re.search(rf'<input type="radio" name="slot" id="slot-{slot_id}"[^>]*>', page)
    assert match, f"slot {slot_id} is not on the page"
    return match.group(0)


def test_same_day_slots_still_to_come_are_offered_in_the_citys_time(client, login_as, query):
    slots = _slots(query)
    with time_machine.travel(MONDAY_0730_UTC, tick=False):
        login_as(CITIZEN)
        page = _book_page(client)
        # Monday (today in the city) is offered first; Sunday is yesterday and not offered
        assert 'value="2027-03-08" selected' in page, page[:3000]
        assert 'value="2027-03-07"' not in page
        assert "2027-03-08 周一 （余 4 个）" in page  # the started 07:00 slot is not counted
        assert "disabled" not in _slot_input(page, slots["monday_9"])
        assert "disabled" in _slot_input(page, slots["monday_7"])  # 已开始

        code = item_named_code(client)
        token = csrf_token(client, f"/appointments/items/{code}/book")
        refused = client.post(
            f"/appointments/items/{code}/book",
            data={"csrf_token": token, "slot": slots["monday_7"], "hall": "SMZX"},
        )
        assert refused.status_code == 422
        assert "该时段已开始或已过去" in refused.get_data(as_text=True)
        booked = client.post(
            f"/appointments/items/{code}/book",
            data={"csrf_token": token, "slot": slots["monday_9"], "hall": "SMZX"},
        )
        assert booked.status_code == 302, booked.get_data(as_text=True)[:2000]
    assert query(lambda: db.session.get(AppointmentSlot, slots["monday_9"]).booked) == 1


def test_later_in_the_morning_only_the_afternoon_is_left_today(client, login_as, query):
    slots = _slots(query)
    with time_machine.travel(MONDAY_1030_UTC, tick=False):  # 10:30 in the city
        login_as(CITIZEN)
        page = _book_page(client)
        # nothing left today: the next day is offered, today not at all
        assert 'value="2027-03-08"' not in page
        assert 'value="2027-03-09" selected' in page
        assert f'value="{slots["tuesday_9"]}"' in page


def test_the_hall_list_shows_the_day_asked_for(client, login_as, query):
    slots = _slots(query)

    def book_tuesday():
        actor = user(CITIZEN)
        target = appointments.target_for_item(actor, item_named(RESIDENCE_PERMIT).code)
        now = datetime(2027, 3, 8, 7, 30)  # the hall's wall clock
        booked = appointments.book_appointment(actor, target, slots["tuesday_9"], now=now)
        db.session.commit()
        return booked.code

    code = query(book_tuesday)
    with time_machine.travel(MONDAY_0730_UTC, tick=False):
        desk = login_as("counter01")
        today = desk.get("/appointments/hall")
        assert today.status_code == 200
        html = today.get_data(as_text=True)
        assert "今日预约" in html and "2027-03-08" in html and code not in html

        tuesday = desk.get("/appointments/hall?day=2027-03-09")
        assert tuesday.status_code == 200
        html = tuesday.get_data(as_text=True)
        assert code in html and "2027-03-09 的预约" in html
        assert 'name="day" value="2027-03-09"' in html

        bad = desk.get("/appointments/hall?day=2027-13-40")
        assert bad.status_code == 422
        html = bad.get_data(as_text=True)
        assert 'id="day-error"' in html and "请按 年-月-日 填写日期" in html
        assert 'aria-invalid="true"' in html and 'value="2027-13-40"' in html
    status = query(
        lambda: db.session.scalar(select(Appointment.status).where(Appointment.code == code))
    )
    assert status == "booked"  # looking is not changing
