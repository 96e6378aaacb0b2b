"""The demo's bookings: 王秀兰 for her 失业登记 case and 13800000001 for a kiosk item, at 市民服务中心
on the next working day, made through the booking service; loading the demo again adds nothing."""

from __future__ import annotations

from sqlalchemy import func, select

from portal.extensions import db
from portal.models import (
    Application,
    Appointment,
    AppointmentSlot,
    Message,
    OutboxMessage,
    ServiceHall,
    ServiceItem,
)
from seeds.counter import DEMO_BOOKINGS
from seeds.demo import load_demo
from services import clock, workdays
from tests.helpers import count
from tests.workflow_cases import UNEMPLOYMENT, user


def test_demo_bookings_on_the_next_working_day(app_ctx):
    rows = db.session.execute(
        select(Appointment, AppointmentSlot, ServiceHall)
        .join(AppointmentSlot, Appointment.slot_id == AppointmentSlot.id)
        .join(ServiceHall, ServiceHall.id == AppointmentSlot.hall_id)
    ).all()
    assert len(rows) == len(DEMO_BOOKINGS) == 2
    by_citizen = {a.citizen_id: (a, slot, hall) for a, slot, hall in rows}
    elder, rich = user("13800000003"), user("13800000001")
    assert set(by_citizen) == {elder.citizen_id, rich.citizen_id}
    seeded_on = min(slot.day for _, slot, _ in rows)
    for appointment, slot, hall in by_citizen.values():
        assert hall.code == "SMZX" and appointment.status == "booked" and slot.booked >= 1
        assert (
            slot.day == seeded_on and workdays.add_working_days(clock.local_today(), 1) >= seeded_on
        )
    case = db.session.get(Application, by_citizen[elder.citizen_id][0].application_id)
    assert case is not None and case.title == UNEMPLOYMENT and case.applicant_id == elder.citizen_id
    item_booking = by_citizen[rich.citizen_id][0]
    assert (
        item_booking.application_id is None
        and db.session.get(ServiceItem, item_booking.item_id).kiosk_enabled
    )
    # the citizens were told in the message centre; no text message waits for demo phones
    for appointment, _, _ in rows:
        assert (
            db.session.scalar(
                select(func.count(Message.id)).where(
                    Message.citizen_id == appointment.citizen_id,
                    Message.kind == "appointment_booked",
                )
            )
            == 1
        )
    assert (
        db.session.scalar(
            select(func.count(OutboxMessage.id)).where(OutboxMessage.status == "pending")
        )
        == 0
    )


def test_loading_the_demo_again_adds_no_booking(app_ctx):
    before = (count(Appointment), count(Message))
    assert load_demo() is False
    assert (count(Appointment), count(Message)) == before
