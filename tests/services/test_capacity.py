"""A hall's appointment capacity: the roll forward from the weekly template (exactly N weeks,
rest days and calendar overrides skipped, idempotent), template changes that keep every
booking and never overfill, closures that list and message the citizens they touch, the
refusals of bad input, and capacity under a template change racing bookings (SQLite and
PostgreSQL)."""

from __future__ import annotations

from datetime import date, time, timedelta

import pytest
from sqlalchemy import func, select, update

from portal.extensions import db
from portal.models import (
    Appointment,
    AppointmentClosure,
    AppointmentSession,
    AppointmentSlot,
    CalendarDay,
    CounterWindow,
    Event,
    JobClaim,
    Message,
    QueueCategory,
    ServiceHall,
    User,
)
from services import appointments, capacity, halls, jobs
from services.errors import ValidationError
from tests.helpers import count
from tests.services.test_appointments import booking_attempt, race, register_citizens
from tests.workflow_cases import RESIDENCE_PERMIT, item_named, user

# a Sunday before the 2026 National Day holiday (Oct 1–7; Saturday Oct 10 is a working day)
SUNDAY = date(2026, 9, 27)


def admin() -> User:
    return user("admin")


def new_hall(code: str = "TEST") -> tuple[ServiceHall, QueueCategory]:
    hall = halls.create_hall(admin(), code=code, name="测试大厅", address="测试路 1 号")
    category = halls.create_category(admin(), hall, code="A", name="综合受理")
    return hall, category


def weekly(category: QueueCategory, weekday: int, starts: time, ends: time, places: int = 6):
    """A template row written directly, so that only the roll forward makes slots."""
    db.session.add(
        AppointmentSession(
            hall_id=category.hall_id,
            category_id=category.id,
            weekday=weekday,
            starts_at=starts,
            ends_at=ends,
            slot_minutes=60,
            capacity=places,
        )
    )
    db.session.flush()


def slots_by_day(category: QueueCategory) -> dict[date, int]:
    return dict(
        db.session.execute(
            select(AppointmentSlot.day, func.count())
            .where(AppointmentSlot.category_id == category.id)
            .group_by(AppointmentSlot.day)
        ).all()
    )


def template_week(category: QueueCategory) -> None:
    for weekday in range(5):
        weekly(category, weekday, time(9), time(12))  # 3 slots
    weekly(category, 5, time(9), time(11))  # Saturday morning: 2 slots


# ---- the roll forward ------------------------------------------------------------------------


def test_roll_forward_makes_exactly_four_weeks_skipping_rest_days(app_ctx):
    _, category = new_hall()
    template_week(category)
    db.session.add(CalendarDay(day=date(2026, 10, 14), is_workday=False, note="测试：停业"))
    db.session.flush()

    created = capacity.roll_forward(SUNDAY, weeks=4)

    days = slots_by_day(category)
    assert min(days) == date(2026, 9, 28) and max(days) <= SUNDAY + timedelta(days=28)
    # National Day (Oct 1–7, its weekend included) and the override (Wed Oct 14) have none
    for closed in [date(2026, 10, d) for d in (1, 2, 3, 4, 5, 6, 7, 14)]:
        assert closed not in days, closed
    assert days[date(2026, 10, 10)] == 3  # Saturday 调休上班: Monday's sessions
    assert days[date(2026, 10, 17)] == 2  # an ordinary Saturday: its own morning
    assert date(2026, 10, 11) not in days and date(2026, 10, 18) not in days  # no Sunday sessions
    assert days[date(2026, 10, 13)] == 3
    # 14 working weekdays × 3 + the make-up Saturday 3 + two Saturdays × 2
    assert sum(days.values()) == 14 * 3 + 3 + 2 * 2
    assert created >= sum(days.values())  # the demo halls' categories got those days too


def test_roll_forward_is_idempotent_and_adds_only_the_new_week(app_ctx):
    _, category = new_hall()
    template_week(category)
    capacity.roll_forward(SUNDAY, weeks=4)
    slots = count(AppointmentSlot)

    assert capacity.roll_forward(SUNDAY, weeks=4) == 0
    assert count(AppointmentSlot) == slots

    # a week later: Mon 26 – Fri 30 October and Saturday 31 October
    before = sum(slots_by_day(category).values())
    capacity.roll_forward(SUNDAY + timedelta(days=7), weeks=4)
    assert sum(slots_by_day(category).values()) - before == 5 * 3 + 2
    assert max(slots_by_day(category)) == date(2026, 10, 31)


def test_the_roll_forward_never_undoes_an_admins_change_to_one_slot(app_ctx):
    _, category = new_hall()
    template_week(category)
    capacity.roll_forward(SUNDAY, weeks=1)
    slot = db.session.scalar(
        select(AppointmentSlot).where(AppointmentSlot.category_id == category.id).limit(1)
    )
    capacity.set_slot_capacity(admin(), slot, 2)
    capacity.roll_forward(SUNDAY, weeks=1)
    capacity.roll_forward(SUNDAY, weeks=2)
    assert db.session.get(AppointmentSlot, slot.id).capacity == 2


def test_the_job_rolls_forward_with_the_configured_weeks(app_ctx):
    app_ctx.config["APPOINTMENT_WEEKS_AHEAD"] = 2
    try:
        _, category = new_hall()
        template_week(category)
        assert jobs.roll_appointment_slots(SUNDAY) > 0
        assert max(slots_by_day(category)) <= SUNDAY + timedelta(days=14)
        assert jobs.roll_appointment_slots(SUNDAY) == 0
    finally:
        app_ctx.config["APPOINTMENT_WEEKS_AHEAD"] = 4


def test_a_template_change_applies_to_the_generated_window_at_once(app_ctx):
    _, category = new_hall()
    today = appointments.local_now().date()
    result = capacity.add_weekly_sessions(
        admin(),
        category,
        weekdays=[0, 1, 2, 3, 4],
        starts_at=time(13, 30),
        ends_at=time(17),
        slot_minutes=30,
        capacity=6,
    )
    assert result.created > 0
    days = slots_by_day(category)
    assert min(days) > today and max(days) <= today + timedelta(days=28)
    assert set(days.values()) == {7}  # 13:30–17:00 in half hours
    # the window is claimed: the next roll forward adds nothing
    assert capacity.roll_forward(today) == 0
    event = db.session.scalar(select(Event).where(Event.action == "hall.template_added"))
    assert event.actor_id == admin().id and event.details["capacity"] == 6


# ---- template changes never touch a booking --------------------------------------------------


def booked_slot(places: int = 2) -> tuple[AppointmentSlot, list[Appointment]]:
    """A future SMZX slot with ``places`` bookings by new citizens (through the booking service)."""
    code = item_named(RESIDENCE_PERMIT).code
    actor_ids = register_citizens(places, 31)
    actor = db.session.get(User, actor_ids[0])
    target = appointments.target_for_item(actor, code)
    category = appointments.category_for(
        db.session.scalar(select(ServiceHall).where(ServiceHall.code == "SMZX")),
        target.department_id,
    )
    today = appointments.local_now().date()
    slot = db.session.scalar(
        select(AppointmentSlot)
        .where(
            AppointmentSlot.category_id == category.id,
            AppointmentSlot.day > today + timedelta(days=2),
            AppointmentSlot.day.not_in([today + timedelta(days=i) for i in range(3)]),
            AppointmentSlot.starts_at == time(10),
            AppointmentSlot.booked == 0,
        )
        .order_by(AppointmentSlot.day)
    )
    made = []
    for actor_id in actor_ids:
        actor = db.session.get(User, actor_id)
        made.append(
            appointments.book_appointment(actor, appointments.target_for_item(actor, code), slot.id)
        )
    db.session.refresh(slot)
    return slot, made


def session_of(slot: AppointmentSlot) -> AppointmentSession:
    return db.session.scalar(
        select(AppointmentSession).where(
            AppointmentSession.category_id == slot.category_id,
            AppointmentSession.weekday == slot.day.weekday(),
            AppointmentSession.starts_at <= slot.starts_at,
            AppointmentSession.ends_at > slot.starts_at,
        )
    )


def test_lowering_the_template_keeps_the_bookings_and_never_overfills(app_ctx):
    slot, made = booked_slot(2)
    session = session_of(slot)

    capacity.update_weekly_session(
        admin(),
        session,
        starts_at=session.starts_at,
        ends_at=session.ends_at,
        slot_minutes=60,
        capacity=1,
    )

    db.session.refresh(slot)
    assert slot.active and slot.booked == 2 and slot.capacity == 2  # not below what is booked
    assert all(db.session.get(Appointment, a.id).status == "booked" for a in made)
    # untouched slots of the same session take the new capacity
    sibling = db.session.scalar(
        select(AppointmentSlot).where(
            AppointmentSlot.category_id == slot.category_id,
            AppointmentSlot.day == slot.day,
            AppointmentSlot.starts_at == time(9),
        )
    )
    assert sibling.capacity == 1
    # and the full slot takes nobody else
    other = register_citizens(1, 32)[0]
    actor = db.session.get(User, other)
    with pytest.raises(ValidationError) as refused:
        appointments.book_appointment(
            actor,
            appointments.target_for_item(actor, item_named(RESIDENCE_PERMIT).code),
            slot.id,
        )
    assert refused.value.errors == {"slot": "该时段已约满，请选择其他时段"}


def test_removing_a_session_keeps_booked_slots_lists_and_messages_their_citizens(app_ctx):
    slot, made = booked_slot(2)
    session = session_of(slot)
    empty = db.session.scalar(
        select(AppointmentSlot.id).where(
            AppointmentSlot.category_id == slot.category_id,
            AppointmentSlot.day == slot.day,
            AppointmentSlot.starts_at == time(9),
        )
    )
    messages_before = count(Message, Message.kind == "appointment_slot_removed")

    result = capacity.delete_session(admin(), session)

    db.session.refresh(slot)
    assert not slot.active and slot.booked == 2  # kept, takes no new booking
    assert db.session.get(AppointmentSlot, empty) is None  # nothing pointed at it: gone
    assert {a.id for a in result.affected} >= {a.id for a in made}
    assert all(db.session.get(Appointment, a.id).status == "booked" for a in made)
    listed = capacity.to_contact(slot.hall_id, appointments.local_now().date())
    assert {a.id for a in made} <= {a.id for a in listed}
    assert count(Message, Message.kind == "appointment_slot_removed") - messages_before == len(
        result.affected
    )
    for a in made:
        assert db.session.scalar(
            select(Message).where(
                Message.citizen_id == a.citizen_id, Message.kind == "appointment_slot_removed"
            )
        )
    # a withdrawn slot is not offered and refuses a booking
    other = db.session.get(User, register_citizens(1, 33)[0])
    with pytest.raises(ValidationError) as refused:
        appointments.book_appointment(
            other,
            appointments.target_for_item(other, item_named(RESIDENCE_PERMIT).code),
            slot.id,
        )
    assert refused.value.errors == {"slot": "该时段已停止预约，请选择其他时段"}
    event = db.session.scalar(select(Event).where(Event.action == "hall.session_deleted"))
    assert event.actor_id == admin().id
    assert set(event.details["kept"]) >= {a.id for a in made}


# ---- closures --------------------------------------------------------------------------------


def test_a_closure_withdraws_its_slots_lists_and_messages_the_citizens(app_ctx):
    slot, made = booked_slot(1)
    hall = slot.hall
    morning = count(
        AppointmentSlot,
        AppointmentSlot.hall_id == hall.id,
        AppointmentSlot.day == slot.day,
        AppointmentSlot.active.is_(True),
    )

    closure, affected = capacity.add_closure(
        admin(),
        hall,
        first_day=slot.day,
        last_day=slot.day,
        part="am",
        category_id=None,
        reason="系统升级",
    )

    assert [a.id for a in affected] == [made[0].id]
    assert db.session.get(Appointment, made[0].id).status == "booked"
    message = db.session.scalar(
        select(Message).where(
            Message.citizen_id == made[0].citizen_id, Message.kind == "appointment_hall_closed"
        )
    )
    assert "系统升级" in message.body and made[0].code in message.body
    open_after = list(
        db.session.scalars(
            select(AppointmentSlot).where(
                AppointmentSlot.hall_id == hall.id,
                AppointmentSlot.day == slot.day,
                AppointmentSlot.active.is_(True),
            )
        )
    )
    assert open_after and all(s.starts_at >= time(12) for s in open_after)
    assert len(open_after) < morning
    assert made[0].id in {
        a.id for a in capacity.to_contact(hall.id, appointments.local_now().date())
    }
    event = db.session.scalar(select(Event).where(Event.action == "hall.closure_added"))
    assert event.actor_id == admin().id and event.details["affected"] == [made[0].id]

    # 恢复预约: the morning is offered again, the booked slot included
    capacity.delete_closure(admin(), closure)
    db.session.refresh(slot)
    assert slot.active
    assert (
        count(
            AppointmentSlot,
            AppointmentSlot.hall_id == hall.id,
            AppointmentSlot.day == slot.day,
            AppointmentSlot.active.is_(True),
        )
        == morning
    )


def test_a_closure_beyond_the_window_is_kept_by_the_roll_forward(app_ctx):
    hall, category = new_hall()
    template_week(category)
    capacity.add_closure(
        admin(),
        hall,
        first_day=date(2026, 12, 28),
        last_day=date(2026, 12, 29),
        part="day",
        category_id=None,
        reason="场地维修",
        today=date(2026, 12, 2),
    )
    capacity.roll_forward(date(2026, 12, 20), weeks=2)
    days = slots_by_day(category)
    assert date(2026, 12, 28) not in days and date(2026, 12, 29) not in days
    assert days[date(2026, 12, 30)] == 3


# ---- refusals: a message on the field, nothing written ---------------------------------------


def refused(call) -> dict[str, str]:
    events_before = count(Event)
    with pytest.raises(ValidationError) as exc:
        call()
    assert count(Event) == events_before
    return exc.value.errors


def test_overlapping_and_backwards_sessions_are_refused(app_ctx):
    _, category = new_hall()
    capacity.add_weekly_sessions(
        admin(),
        category,
        weekdays=[0, 1],
        starts_at=time(9),
        ends_at=time(12),
        slot_minutes=60,
        capacity=6,
    )
    rows = count(AppointmentSession)
    slots = count(AppointmentSlot)

    def add(**kw):
        values = {
            "weekdays": [1, 2],
            "starts_at": time(11),
            "ends_at": time(13),
            "slot_minutes": 60,
            "capacity": 6,
        } | kw
        return lambda: capacity.add_weekly_sessions(admin(), category, **values)

    assert refused(add()) == {"starts_at": "与已有的时段 周二 09:00-12:00 重叠"}
    assert refused(add(starts_at=time(14), ends_at=time(13))) == {
        "ends_at": "结束时间必须晚于开始时间"
    }
    assert refused(add(starts_at=time(14), ends_at=time(14))) == {
        "ends_at": "结束时间必须晚于开始时间"
    }
    assert refused(add(starts_at=time(13), ends_at=time(14, 30))) == {
        "ends_at": "时段长度必须是号段长度（60 分钟）的整数倍"
    }
    assert "capacity" in refused(add(starts_at=time(13), ends_at=time(14), capacity=0))
    assert "weekdays" in refused(add(weekdays=[]))
    assert count(AppointmentSession) == rows and count(AppointmentSlot) == slots
    # touching ends do not overlap
    capacity.add_weekly_sessions(
        admin(),
        category,
        weekdays=[0],
        starts_at=time(12),
        ends_at=time(13),
        slot_minutes=60,
        capacity=6,
    )


def test_an_extra_session_overlapping_the_template_or_in_the_past_is_refused(app_ctx):
    _, category = new_hall()
    template_week(category)
    now = appointments.local_now()
    capacity.roll_forward(now.date())
    monday = now.date() + timedelta(days=7 - now.date().weekday())

    def extra(day, starts, ends):
        return lambda: capacity.add_extra_session(
            admin(),
            category,
            day=day,
            starts_at=starts,
            ends_at=ends,
            slot_minutes=60,
            capacity=3,
            now=now,
        )

    assert refused(extra(monday, time(11), time(13))) == {
        "starts_at": "与已有的时段 周一 09:00-12:00 重叠"
    }
    assert refused(extra(now.date() - timedelta(days=1), time(14), time(15))) == {
        "day": "不能在已经过去的日期加开时段"
    }
    result = capacity.add_extra_session(
        admin(),
        category,
        day=monday,
        starts_at=time(14),
        ends_at=time(16),
        slot_minutes=60,
        capacity=3,
        now=now,
    )
    assert result.created == 2


def test_duplicate_window_numbers_and_letters_are_refused(app_ctx):
    hall, category = new_hall()
    halls.create_window(admin(), hall, number=1, category_codes=["A"])
    windows, categories = count(CounterWindow), count(QueueCategory)

    assert refused(lambda: halls.create_window(admin(), hall, number=1, category_codes=["A"])) == {
        "number": "本大厅已有 1 号窗口"
    }
    assert refused(lambda: halls.create_window(admin(), hall, number=2, category_codes=["Z"])) == {
        "category_codes": "请从本大厅的服务类别中选择"
    }
    assert refused(lambda: halls.create_category(admin(), hall, code="a", name="重复")) == {
        "code": "本大厅已有字母为 A 的服务类别"
    }
    assert count(CounterWindow) == windows and count(QueueCategory) == categories
    # another hall may use the same number and letter
    other, _ = new_hall("TEST2")
    halls.create_window(admin(), other, number=1, category_codes=["A"])


def test_a_slot_capacity_below_its_bookings_is_refused(app_ctx):
    slot, _ = booked_slot(2)
    before = slot.capacity
    assert refused(lambda: capacity.set_slot_capacity(admin(), slot, 1)) == {
        "capacity": "这个时段已有 2 人预约，名额不能少于 2"
    }
    assert db.session.get(AppointmentSlot, slot.id).capacity == before
    capacity.set_slot_capacity(admin(), slot, 2)
    assert db.session.get(AppointmentSlot, slot.id).capacity == 2


def test_a_closure_in_the_past_or_backwards_is_refused(app_ctx):
    hall, _ = new_hall()
    today = appointments.local_now().date()
    closures = count(AppointmentClosure)

    def close(first, last, **kw):
        return lambda: capacity.add_closure(
            admin(),
            hall,
            first_day=first,
            last_day=last,
            part=kw.get("part", "day"),
            category_id=None,
            reason=kw.get("reason", "维修"),
            today=today,
        )

    assert refused(close(today - timedelta(days=1), today)) == {
        "first_day": "不能暂停已经过去的日期"
    }
    assert refused(close(today + timedelta(days=3), today + timedelta(days=2))) == {
        "last_day": "结束日期不能早于开始日期"
    }
    assert "part" in refused(close(today, today, part="night"))
    assert "reason" in refused(close(today, today, reason=" "))
    assert count(AppointmentClosure) == closures


# ---- concurrency: a template change racing bookings (SQLite and PostgreSQL) ------------------


def test_lowering_capacity_while_citizens_book_never_overfills(database_factory):
    app = database_factory("capacity-race", seed=True)
    with app.app_context():
        actor_ids = register_citizens(4, 34)
        code = item_named(RESIDENCE_PERMIT).code
        target = appointments.target_for_item(db.session.get(User, actor_ids[0]), code)
        category = appointments.category_for(
            db.session.scalar(select(ServiceHall).where(ServiceHall.code == "SMZX")),
            target.department_id,
        )
        slot = db.session.scalar(
            select(AppointmentSlot)
            .where(
                AppointmentSlot.category_id == category.id,
                AppointmentSlot.day > appointments.local_now().date() + timedelta(days=2),
                AppointmentSlot.starts_at == time(10),
            )
            .order_by(AppointmentSlot.day)
        )
        slot_id, session_id = slot.id, session_of(slot).id
        db.session.commit()
        db.session.remove()

    def shrink(prepared):
        if prepared is None:
            return True
        session = db.session.get(AppointmentSession, session_id)
        return capacity.update_weekly_session(
            db.session.get(
                User, db.session.scalar(select(User.id).where(User.username == "admin"))
            ),
            session,
            starts_at=session.starts_at,
            ends_at=session.ends_at,
            slot_minutes=60,
            capacity=1,
        )

    attempts = {str(a): booking_attempt(a, code, slot_id) for a in actor_ids}
    attempts["shrink"] = shrink
    outcomes = race(app, attempts)

    assert outcomes["shrink"] == "done", outcomes
    with app.app_context():
        slot = db.session.get(AppointmentSlot, slot_id)
        made = db.session.scalar(
            select(func.count()).select_from(Appointment).where(Appointment.slot_id == slot_id)
        )
        done = sum(1 for k, o in outcomes.items() if k != "shrink" and o == "done")
        assert slot.booked == made == done
        assert slot.booked <= slot.capacity  # never overfilled
        assert slot.capacity == max(1, slot.booked)  # the template's 1, or what was booked
        db.session.remove()


def test_the_demo_rolls_its_template_forward(app_ctx):
    """The demo makes no slot itself: its template and the roll forward do (four weeks)."""
    today = appointments.local_now().date()
    last = db.session.scalar(select(func.max(AppointmentSlot.day)))
    assert today + timedelta(days=21) < last <= today + timedelta(days=28)
    assert count(JobClaim, JobClaim.job == capacity.CLAIM_JOB) > 0


def test_withdrawing_a_slot_while_citizens_book_leaves_no_booking_unannounced(database_factory):
    """A booking either lands before the withdrawal (and its citizen is messaged and listed)
    or is refused: none slips into a withdrawn slot unnoticed."""
    app = database_factory("capacity-withdraw", seed=True)
    with app.app_context():
        actor_ids = register_citizens(3, 35)
        code = item_named(RESIDENCE_PERMIT).code
        target = appointments.target_for_item(db.session.get(User, actor_ids[0]), code)
        category = appointments.category_for(
            db.session.scalar(select(ServiceHall).where(ServiceHall.code == "SMZX")),
            target.department_id,
        )
        slot = db.session.scalar(
            select(AppointmentSlot)
            .where(
                AppointmentSlot.category_id == category.id,
                AppointmentSlot.day > appointments.local_now().date() + timedelta(days=2),
                AppointmentSlot.starts_at == time(10),
            )
            .order_by(AppointmentSlot.day)
        )
        slot_id, session_id = slot.id, session_of(slot).id
        db.session.commit()
        db.session.remove()

    def withdraw(prepared):
        if prepared is None:
            return True
        return capacity.delete_session(
            db.session.get(
                User, db.session.scalar(select(User.id).where(User.username == "admin"))
            ),
            db.session.get(AppointmentSession, session_id),
        )

    attempts = {str(a): booking_attempt(a, code, slot_id) for a in actor_ids}
    attempts["withdraw"] = withdraw
    outcomes = race(app, attempts)

    assert outcomes["withdraw"] == "done", outcomes
    with app.app_context():
        slot = db.session.get(AppointmentSlot, slot_id)
        booked = list(db.session.scalars(select(Appointment).where(Appointment.slot_id == slot_id)))
        done = sum(1 for k, o in outcomes.items() if k != "withdraw" and o == "done")
        assert len(booked) == done
        if slot is None:
            assert done == 0
        else:
            assert not slot.active and slot.booked == done
            for a in booked:
                assert db.session.scalar(
                    select(Message.id).where(
                        Message.citizen_id == a.citizen_id,
                        Message.kind == "appointment_slot_removed",
                    )
                ), "a booking slipped into the withdrawn slot unannounced"
        db.session.remove()


def test_a_booking_checked_before_a_withdrawal_is_refused_by_its_update(database_factory, backend):
    """PostgreSQL (READ COMMITTED): the booking's rules pass, the hall withdraws the slot in
    another transaction, then the booking's conditional UPDATE takes nothing. (SQLite writers
    are serialised from their first statement, so the interleaving cannot happen there.)"""
    if backend != "postgresql":
        pytest.skip("PostgreSQL only: SQLite serialises writers")
    app = database_factory("capacity-interleave", seed=True)
    with app.app_context():
        actor = db.session.get(User, register_citizens(1, 36)[0])
        db.session.commit()
        target = appointments.target_for_item(actor, item_named(RESIDENCE_PERMIT).code)
        category = appointments.category_for(
            db.session.scalar(select(ServiceHall).where(ServiceHall.code == "SMZX")),
            target.department_id,
        )
        slot = db.session.scalar(
            select(AppointmentSlot)
            .where(
                AppointmentSlot.category_id == category.id,
                AppointmentSlot.day > appointments.local_now().date() + timedelta(days=2),
            )
            .order_by(AppointmentSlot.day)
        )
        appointments.check_booking(actor.citizen, target, slot, appointments.local_now())
        with db.engine.begin() as other:  # the admin's withdrawal, committed meanwhile
            other.execute(
                update(AppointmentSlot).where(AppointmentSlot.id == slot.id).values(active=False)
            )
        assert appointments._take_place(slot.id) is False
        db.session.rollback()
        db.session.remove()


def test_a_calendar_change_after_generation_is_followed_by_the_roll_forward(app_ctx):
    """Next year's holidays are imported after its days were generated (2027 is unknown to
    the package until an admin enters it): the next run withdraws that day's slots."""
    _, category = new_hall()
    template_week(category)
    capacity.roll_forward(SUNDAY, weeks=3)
    day = date(2026, 10, 13)  # a working Tuesday
    slots = count(
        AppointmentSlot, AppointmentSlot.category_id == category.id, AppointmentSlot.day == day
    )
    assert slots == 3
    db.session.add(CalendarDay(day=day, is_workday=False, note="测试：临时放假"))
    db.session.flush()

    capacity.roll_forward(SUNDAY, weeks=3)

    assert (
        count(
            AppointmentSlot, AppointmentSlot.category_id == category.id, AppointmentSlot.day == day
        )
        == 0
    )
    assert (
        count(
            AppointmentSlot,
            AppointmentSlot.category_id == category.id,
            AppointmentSlot.day == day + timedelta(days=1),
        )
        == 3
    )
