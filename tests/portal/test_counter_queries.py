"""The counter's pages issue as many SQL queries with much data as with little: no query per
case, per booking or per kiosk item (the workstation serving a citizen with 1 or 30 cases, the
hall's bookings today with 1 or 40, a citizen's bookings with 1 or 3, the kiosk pages)."""

from __future__ import annotations

import re
from datetime import time, timedelta

from sqlalchemy import select, update

from portal.extensions import db
from portal.models import (
    Application,
    Appointment,
    AppointmentSlot,
    Channel,
    Citizen,
    ItemVersion,
    ServiceItem,
)
from services import applications, appointments, counter
from tests.conftest import login
from tests.helpers import hall
from tests.workflow_cases import user


def counted(client, count_queries, path: str) -> int:
    client.get(path)  # warm: the first request of a session loads what every page needs once
    with count_queries as statements:
        response = client.get(path)
    assert response.status_code == 200, path
    return len(statements)


def published_items(limit: int, *, skip: int = 0) -> list[ServiceItem]:
    return list(
        db.session.scalars(
            select(ServiceItem)
            .join(ItemVersion, ItemVersion.id == ServiceItem.published_version_id)
            .order_by(ServiceItem.id)
            .offset(skip)
            .limit(limit)
        )
    )


# ---- the workstation serving a citizen with many cases ----------------------------------------


def serve_with_cases(total: int, *, skip: int) -> None:
    """counter01 serves 13800000003, who has ``total`` more cases at the counter: drafts,
    cases in review and results waiting to be handed over."""
    clerk, citizen = user("counter01"), user("13800000003").citizen
    counter.begin_context(clerk, citizen)
    drafts = [
        applications.start_draft(actor=clerk, applicant=citizen, item=item, channel=Channel.counter)
        for item in published_items(total, skip=skip)
    ]
    for i, status in ((0, "submitted"), (1, "approved")):
        ids = [d.id for d in drafts[i::3]]
        db.session.execute(update(Application).where(Application.id.in_(ids)).values(status=status))
    db.session.commit()


def test_workstation_queries_do_not_grow_with_the_citizens_cases(client, query, count_queries):
    query(lambda: serve_with_cases(3, skip=0))
    login(client, "counter01")
    few = counted(client, count_queries, "/counter/")
    query(lambda: serve_with_cases(30, skip=3))
    page = client.get("/counter/").get_data(as_text=True)
    assert page.count('href="/counter/intake/') >= 10 and page.count('href="/counter/cases/') >= 20
    assert counted(client, count_queries, "/counter/") == few


# ---- the hall's bookings today ---------------------------------------------------------------


def book_today(total: int) -> None:
    """``total`` bookings in today's SMZX slots, for items and for cases, of several citizens."""
    smzx = hall()
    today = appointments.local_now().date()
    slots = list(
        db.session.scalars(
            select(AppointmentSlot).where(
                AppointmentSlot.hall_id == smzx.id, AppointmentSlot.day == today
            )
        )
    )
    if not slots:  # a weekend: a slot of its own, late in the day
        category = smzx.categories[0]
        slots = [
            AppointmentSlot(
                hall_id=smzx.id,
                category_id=category.id,
                day=today,
                starts_at=time(23),
                ends_at=time(23, 30),
                capacity=100,
                booked=0,
            )
        ]
        db.session.add_all(slots)
        db.session.flush()
    citizens = list(db.session.scalars(select(Citizen).order_by(Citizen.id).limit(10)))
    cases = list(
        db.session.scalars(
            select(Application.id)
            .where(Application.parent_id.is_(None))
            .order_by(Application.id)
            .limit(10)
        )
    )
    items = published_items(10)
    for n in range(total):
        db.session.add(
            Appointment(
                code=appointments.new_code(),
                slot_id=slots[n % len(slots)].id,
                citizen_id=citizens[n % len(citizens)].id,
                item_id=items[n % len(items)].id,
                application_id=cases[n % len(cases)] if n % 2 else None,
                status="booked",
                note="",
            )
        )
        db.session.flush()
    db.session.commit()


def test_hall_bookings_queries_do_not_grow_with_the_bookings(client, query, count_queries):
    query(lambda: book_today(2))
    login(client, "counter01")
    few = counted(client, count_queries, "/appointments/hall")
    query(lambda: book_today(38))
    assert (
        client.get("/appointments/hall").get_data(as_text=True).count('href="/appointments/hall/')
        >= 40
    )
    assert counted(client, count_queries, "/appointments/hall") == few


# ---- a citizen's own bookings ----------------------------------------------------------------


def book_items(login_name: str, total: int, *, skip: int) -> None:
    """Bring the citizen's bookings to ``total`` through the service (the demo may have made
    some), each in the first free slot that serves the item."""
    actor = user(login_name)
    smzx = hall()
    tomorrow = appointments.local_now().date() + timedelta(days=1)
    count = total - len(appointments.list_own(actor))
    booked = 0
    for item in published_items(40, skip=skip) if count > 0 else []:
        target = appointments.target_for_item(actor, item.code)
        category = appointments.category_for(smzx, target.department_id)
        slot = category and db.session.scalar(
            select(AppointmentSlot)
            .where(
                AppointmentSlot.category_id == category.id,
                AppointmentSlot.day >= tomorrow,
                AppointmentSlot.booked < AppointmentSlot.capacity,
            )
            .order_by(AppointmentSlot.day, AppointmentSlot.id)
        )
        if slot is None:
            continue
        appointments.book_appointment(actor, target, slot.id)
        booked += 1
        if booked == count:
            break
    assert booked == count
    db.session.commit()


def test_my_bookings_queries_do_not_grow_with_the_bookings(client, query, count_queries):
    query(lambda: book_items("13800000001", 1, skip=0))
    login(client, "13800000001")
    few = counted(client, count_queries, "/appointments/")
    query(lambda: book_items("13800000001", 3, skip=20))
    assert (
        len(
            re.findall(
                r'href="/appointments/\d+"', client.get("/appointments/").get_data(as_text=True)
            )
        )
        == 3
    )
    assert counted(client, count_queries, "/appointments/") == few


# ---- the kiosk ----------------------------------------------------------------------------------


def enable_kiosk_items(count: int) -> None:
    for item in published_items(count):
        item.kiosk_enabled = True
    db.session.commit()


def test_kiosk_pages_stay_small_and_flat(client, query, count_queries):
    start = counted(client, count_queries, "/kiosk/SMZX/")
    assert start <= 2
    items = counted(client, count_queries, "/kiosk/SMZX/apply")
    query(lambda: enable_kiosk_items(30))
    assert counted(client, count_queries, "/kiosk/SMZX/") == start
    assert counted(client, count_queries, "/kiosk/SMZX/apply") == items
