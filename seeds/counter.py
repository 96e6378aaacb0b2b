"""Demo service halls: the city's 市民服务中心 and a township centre, their queue categories,
windows, weekly appointment templates (the roll forward makes the slots four weeks ahead from
them), the items offered on the self-service kiosk, and a few bookings for the next working
day."""

from __future__ import annotations

from datetime import date, time

from sqlalchemy import select

from portal.extensions import db
from portal.models import (
    Appointment,
    AppointmentSession,
    AppointmentSlot,
    CounterWindow,
    Department,
    ItemVersion,
    QueueCategory,
    ServiceHall,
    ServiceItem,
    User,
)
from services import capacity, clock, workdays

HALLS = (
    {
        "code": "SMZX",
        "name": "市民服务中心",
        "address": "西湖区人民路 100 号市民服务中心一楼",
        "hours": "周一至周五 9:00-17:00，周六 9:00-12:00（部分事项）",
        "phone": "12345",
        "categories": (
            ("A", "户籍与出入境", ("GA", "JJ")),
            ("B", "社保医保与公积金", ("RS", "YB", "GJ")),
            ("C", "民政卫健与教育", ("MZ", "WJ", "JY", "CL")),
            ("D", "不动产与住房", ("BD", "ZJ")),
            ("E", "企业开办与税务", ("SJ", "SW")),
            ("F", "综合受理", ()),
        ),
        "windows": ((1, "AF"), (2, "AF"), (3, "BF"), (4, "BC"), (5, "DE"), (6, "EF")),
    },
    {
        "code": "BSZX",
        "name": "北山街道便民服务中心",
        "address": "西湖区保俶路 200 号",
        "hours": "周一至周五 9:00-17:00",
        "phone": "0571-87000000",
        "categories": (("A", "综合受理", ()),),
        "windows": ((1, "A"), (2, "A")),
    },
)
# the weekly template of every category: Monday to Friday 9-12 and 13:30-16:30 in slots of one
# hour with 4 places; the 市民服务中心's 综合受理 also on Saturday morning (see its hours). The
# roll forward (services/capacity.py, `flask jobs run`) makes the slots, so the demo never runs out.
SLOT_HOURS = (
    (time(9), time(10)),
    (time(10), time(11)),
    (time(11), time(12)),
    (time(13, 30), time(14, 30)),
    (time(14, 30), time(15, 30)),
    (time(15, 30), time(16, 30)),
)
SESSIONS = ((time(9), time(12)), (time(13, 30), time(16, 30)))
SATURDAY = (("SMZX", "F", time(9), time(12)),)
SLOT_CAPACITY = 4
# simple items a citizen can apply for at the kiosk without help
# bookings at SMZX on the next working day, in the afternoon (login, item, slot index): 王秀兰 for her 失业登记
# case (the 容缺 material still to bring), 13800000001 for a kiosk item without a case yet.
# Not 13800000002: the tests book for that citizen from an empty slate (at most three at a time).
DEMO_BOOKINGS = (("13800000003", "失业登记", 3), ("13800000001", "社会保障卡申领", 4))
KIOSK_ITEMS = (
    "老年人优待证申领",
    "高龄津贴申领",
    "社会保障卡申领",
    "不动产登记信息查询（无房证明）",
    "无犯罪记录证明开具",
    "城乡居民基本医疗保险参保登记",
    "居住登记",
    "失业登记",
)


def load_halls(counter_staff: list[User], start: date | None = None) -> list[ServiceHall]:
    """The demo halls; the given counter staff work in the first one."""
    depts = {d.code: d.id for d in db.session.scalars(select(Department))}
    halls = []
    for spec in HALLS:
        hall = ServiceHall(
            code=spec["code"],
            name=spec["name"],
            address=spec["address"],
            hours=spec["hours"],
            phone=spec["phone"],
        )
        db.session.add(hall)
        db.session.flush()
        for code, name, dept_codes in spec["categories"]:
            db.session.add(
                QueueCategory(
                    hall_id=hall.id,
                    code=code,
                    name=name,
                    department_ids=[depts[c] for c in dept_codes if c in depts],
                )
            )
        for number, codes in spec["windows"]:
            db.session.add(
                CounterWindow(
                    hall_id=hall.id,
                    number=number,
                    name=f"{number} 号窗口",
                    category_codes=list(codes),
                )
            )
        halls.append(hall)
    db.session.flush()
    for user in counter_staff:
        user.hall_id = halls[0].id
    add_templates(halls)
    capacity.roll_forward(start or clock.local_today())
    for item in db.session.scalars(select(ServiceItem)):
        if item.published_version is not None and item.published_version.name in KIOSK_ITEMS:
            item.kiosk_enabled = True
    db.session.flush()
    return halls


def add_templates(halls: list[ServiceHall]) -> None:
    """The weekly template of every category (rows only: the roll forward makes the slots)."""
    saturday = {(hall, letter): (starts, ends) for hall, letter, starts, ends in SATURDAY}
    for hall in halls:
        for category in db.session.scalars(
            select(QueueCategory).where(QueueCategory.hall_id == hall.id)
        ):
            periods = [(weekday, s, e) for weekday in range(5) for s, e in SESSIONS]
            if (hall.code, category.code) in saturday:
                periods.append((5, *saturday[(hall.code, category.code)]))
            for weekday, starts, ends in periods:
                db.session.add(
                    AppointmentSession(
                        hall_id=hall.id,
                        category_id=category.id,
                        weekday=weekday,
                        starts_at=starts,
                        ends_at=ends,
                        slot_minutes=60,
                        capacity=SLOT_CAPACITY,
                    )
                )
    db.session.flush()


def load_demo_bookings(start: date | None = None) -> list[Appointment]:
    """The demo bookings, made through the booking service (its rules, its messages)."""
    from seeds.cases import user
    from services import appointments

    hall = db.session.scalar(select(ServiceHall).where(ServiceHall.code == HALLS[0]["code"]))
    day = workdays.add_working_days(start or clock.local_today(), 1)
    booked = []
    for login, item_name, hour in DEMO_BOOKINGS:
        actor = user(login)
        code = db.session.scalar(
            select(ServiceItem.code)
            .join(ItemVersion, ItemVersion.id == ServiceItem.published_version_id)
            .where(ItemVersion.name == item_name)
        )
        target = appointments.target_for_item(actor, code)
        category = appointments.category_for(hall, target.department_id)
        slot = db.session.scalar(
            select(AppointmentSlot).where(
                AppointmentSlot.category_id == category.id,
                AppointmentSlot.day == day,
                AppointmentSlot.starts_at == SLOT_HOURS[hour][0],
            )
        )
        booked.append(appointments.book_appointment(actor, target, slot.id))
    return booked
