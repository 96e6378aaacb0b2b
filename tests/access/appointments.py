"""预约: the citizen's booking pages (their own bookings and cases only) and the hall's
今日预约 for counter staff. Paths that need a booking reuse 13800000001's upcoming one or make
it through the services (the browser check visits these pages one after another)."""

from datetime import time

from sqlalchemy import select

from portal.extensions import db
from portal.models import Application, Appointment, AppointmentSlot, ServiceHall
from services import appointments
from tests.access import CITIZEN_ONLY, COUNTER_ONLY
from tests.workflow_cases import RESIDENCE_PERMIT, item_named, submit_case, user

CITIZEN = "13800000001"


def booking() -> Appointment:
    """13800000001's upcoming booking at 市民服务中心 (made once)."""
    actor = user(CITIZEN)
    existing = db.session.scalar(
        select(Appointment)
        .join(AppointmentSlot, Appointment.slot_id == AppointmentSlot.id)
        .where(
            Appointment.citizen_id == actor.citizen_id,
            Appointment.status == "booked",
            AppointmentSlot.day > appointments.local_now().date(),
        )
        .order_by(Appointment.id)
        .limit(1)
    )
    if existing is not None:
        return existing
    target = appointments.target_for_item(actor, item_named(RESIDENCE_PERMIT).code)
    page = appointments.booking_page(target, "SMZX", None)
    slot = next(c.slot for c in page.slots if c.bookable)
    made = appointments.book_appointment(actor, target, slot.id)
    db.session.commit()
    return made


def booking_path(suffix: str = ""):
    return lambda: f"/appointments/{booking().id}{suffix}"


def case_booking_path() -> str:
    """One of 13800000001's open cases or drafts (the seed's 失业登记 draft), else a new case."""
    actor = user(CITIZEN)
    case_id = db.session.scalar(
        select(Application.id)
        .where(
            Application.applicant_id == actor.citizen_id,
            Application.parent_id.is_(None),
            Application.status.not_in(appointments.NOTHING_TO_DO),
        )
        .order_by(Application.id)
        .limit(1)
    )
    if case_id is None:
        case_id = submit_case(CITIZEN, RESIDENCE_PERMIT, {"basis": "work", "agent": "no"}).id
        db.session.commit()
    return f"/appointments/cases/{case_id}/book"


def todays_hall() -> str:
    """今日预约 with a row: a booking of 13800000003 in a slot today at 市民服务中心 that has
    already started (so both 接待 and 未到场 show). Written directly: the service refuses to
    book a slot that has started."""
    today = appointments.local_now().date()
    hall = db.session.scalar(select(ServiceHall).where(ServiceHall.code == "SMZX"))
    slot = db.session.scalar(
        select(AppointmentSlot).where(
            AppointmentSlot.hall_id == hall.id,
            AppointmentSlot.day == today,
            AppointmentSlot.starts_at == time(0),
        )
    )
    if slot is None:
        slot = AppointmentSlot(
            hall_id=hall.id,
            category_id=hall.categories[0].id,
            day=today,
            starts_at=time(0),
            ends_at=time(0, 30),
            capacity=4,
            booked=1,
        )
        db.session.add(slot)
        db.session.flush()
        db.session.add(
            Appointment(
                code=appointments.new_code(),
                slot_id=slot.id,
                citizen_id=user("13800000003").citizen_id,
                item_id=item_named(RESIDENCE_PERMIT).id,
                status="booked",
                note="",
            )
        )
        db.session.commit()
    return "/appointments/hall"


GET = {
    "appointments.mine": ("/appointments/", CITIZEN_ONLY),
    "appointments.book_item": (
        lambda: f"/appointments/items/{item_named(RESIDENCE_PERMIT).code}/book",
        CITIZEN_ONLY,
    ),
    "appointments.book_case": (case_booking_path, CITIZEN_ONLY),
    "appointments.detail": (booking_path(), CITIZEN_ONLY),
    "appointments.reschedule": (booking_path("/reschedule"), CITIZEN_ONLY),
    "appointments.hall_today": (todays_hall, COUNTER_ONLY),
    "appointments.hall_detail": (lambda: f"/appointments/hall/{booking().id}", COUNTER_ONLY),
}
POST_ONLY = {
    "appointments.cancel": "/appointments/1/cancel",
    "appointments.receive": "/appointments/hall/1/receive",
    "appointments.no_show": "/appointments/hall/1/no-show",
}
