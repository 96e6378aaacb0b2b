"""预约: capacity (also under concurrent booking, on SQLite and PostgreSQL), the refusals,
cancel and 改约, the counter's 接待 and 未到场, the scheduled no-show and reminder jobs, and
what a case must finish online before the visit (最多跑一次)."""

from __future__ import annotations

import random
import threading
from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, select

from portal.extensions import db
from portal.models import (
    Appointment,
    AppointmentSlot,
    CounterContext,
    JobClaim,
    Message,
    QueueCategory,
    User,
)
from seeds.factories import make_faker, make_person
from services import accounts, appointments, counter, jobs, workflow
from services.errors import Conflict, NotFound, ValidationError
from tests.helpers import count, hall
from tests.workflow_cases import RESIDENCE_PERMIT, UNEMPLOYMENT, item_named, submit_case, user

NOW = appointments.local_now


def slots_for(target: appointments.Target, code: str = "SMZX") -> list[AppointmentSlot]:
    """The target's category's future slots at the hall, earliest first."""
    category = appointments.category_for(hall(code), target.department_id)
    return list(
        db.session.scalars(
            select(AppointmentSlot)
            .where(AppointmentSlot.category_id == category.id, AppointmentSlot.day > NOW().date())
            .order_by(AppointmentSlot.day, AppointmentSlot.starts_at)
        )
    )


def item_target(login: str, name: str = RESIDENCE_PERMIT) -> appointments.Target:
    return appointments.target_for_item(user(login), item_named(name).code)


def test_booking_takes_a_place_gives_a_code_and_a_message(app_ctx):
    citizen = user("13800000002")
    target = item_target("13800000002")
    slot = slots_for(target)[0]
    messages_before = count(Message)

    booked = appointments.book_appointment(citizen, target, slot.id)

    assert booked.status == "booked" and booked.citizen_id == citizen.citizen_id
    assert len(booked.code) == appointments.CODE_LENGTH
    assert set(booked.code) <= set(appointments.CODE_ALPHABET)
    assert db.session.get(AppointmentSlot, slot.id).booked == 1
    assert booked.item_id == item_named(RESIDENCE_PERMIT).id
    message = db.session.scalar(
        select(Message)
        .where(Message.citizen_id == citizen.citizen_id)
        .order_by(Message.id.desc())
        .limit(1)
    )
    assert count(Message) == messages_before + 1
    assert message.kind == "appointment_booked" and booked.code in message.body
    assert slot.hall.name in message.body


def test_the_category_follows_the_items_department(app_ctx):
    police = item_target("13800000002", RESIDENCE_PERMIT)
    labour = item_target("13800000002", UNEMPLOYMENT)
    assert appointments.category_for(hall(), police.department_id).name == "户籍与出入境"
    assert appointments.category_for(hall(), labour.department_id).name == "社保医保与公积金"
    # the township centre has only 综合受理, which serves any item
    assert appointments.category_for(hall("BSZX"), police.department_id).name == "综合受理"


def test_a_full_slot_is_refused_next_to_the_field_and_nothing_is_written(app_ctx):
    target = item_target("13800000002")
    slot = slots_for(target)[0]
    slot.booked = slot.capacity
    db.session.flush()
    before = (count(Appointment), count(Message))

    with pytest.raises(ValidationError) as refused:
        appointments.book_appointment(user("13800000002"), target, slot.id)

    assert refused.value.errors == {"slot": "该时段已约满，请选择其他时段"}
    db.session.expire_all()
    assert db.session.get(AppointmentSlot, slot.id).booked == slot.capacity
    assert (count(Appointment), count(Message)) == before


def test_a_slot_in_the_past_or_already_started_is_refused(app_ctx):
    target = item_target("13800000002")
    slot = slots_for(target)[0]
    started = datetime.combine(slot.day, slot.starts_at) + timedelta(minutes=1)
    with pytest.raises(ValidationError) as refused:
        appointments.book_appointment(user("13800000002"), target, slot.id, now=started)
    assert "已开始或已过去" in refused.value.errors["slot"]
    next_day = datetime.combine(slot.day + timedelta(days=1), slot.starts_at)
    with pytest.raises(ValidationError):
        appointments.book_appointment(user("13800000002"), target, slot.id, now=next_day)
    # a minute before it starts it is still bookable
    just_before = datetime.combine(slot.day, slot.starts_at) - timedelta(minutes=1)
    assert appointments.book_appointment(user("13800000002"), target, slot.id, now=just_before).id
    assert db.session.get(AppointmentSlot, slot.id).booked == 1


def test_a_closed_category_or_another_categorys_slot_is_refused(app_ctx):
    target = item_target("13800000002")
    slot = slots_for(target)[0]
    slot.category.open = False
    db.session.flush()
    with pytest.raises(ValidationError) as refused:
        appointments.book_appointment(user("13800000002"), target, slot.id)
    assert "暂停预约" in refused.value.errors["slot"]
    slot.category.open = True
    other = db.session.scalar(
        select(AppointmentSlot)
        .join(QueueCategory)
        .where(
            QueueCategory.hall_id == slot.hall_id,
            QueueCategory.id != slot.category_id,
            AppointmentSlot.day == slot.day,
        )
        .limit(1)
    )
    taken = other.booked  # the demo may have booked it already
    with pytest.raises(ValidationError) as refused:
        appointments.book_appointment(user("13800000002"), target, other.id)
    assert "不受理这个事项" in refused.value.errors["slot"]
    assert db.session.get(AppointmentSlot, other.id).booked == taken


def test_an_unknown_slot_is_not_found(app_ctx):
    with pytest.raises(NotFound):
        appointments.book_appointment(user("13800000002"), item_target("13800000002"), 10**9)


def test_one_upcoming_booking_per_matter_and_at_most_three(app_ctx):
    citizen = user("13800000002")
    target = item_target("13800000002")
    first, second = slots_for(target)[:2]
    booked = appointments.book_appointment(citizen, target, first.id)
    with pytest.raises(ValidationError) as refused:
        appointments.book_appointment(citizen, target, second.id)  # same item, another time
    assert booked.code in refused.value.errors[""]
    others = ("失业登记", "老年人优待证申领", "居住登记")
    for name in others[:2]:
        other = item_target("13800000002", name)
        appointments.book_appointment(citizen, other, slots_for(other)[0].id)
    last = item_target("13800000002", others[2])
    with pytest.raises(ValidationError) as refused:
        appointments.book_appointment(citizen, last, slots_for(last)[0].id)
    assert "最多同时保留 3 个预约" in refused.value.errors[""]
    # a cancelled booking no longer counts
    appointments.cancel_appointment(citizen, booked.id)
    assert appointments.book_appointment(citizen, last, slots_for(last)[0].id).status == "booked"


def test_cancel_frees_the_place_once(app_ctx):
    citizen = user("13800000002")
    target = item_target("13800000002")
    slot = slots_for(target)[0]
    booked = appointments.book_appointment(citizen, target, slot.id)
    assert db.session.get(AppointmentSlot, slot.id).booked == 1

    cancelled = appointments.cancel_appointment(citizen, booked.id)

    assert cancelled.status == "cancelled" and cancelled.cancelled_at is not None
    db.session.expire_all()
    assert db.session.get(AppointmentSlot, slot.id).booked == 0
    with pytest.raises(Conflict):
        appointments.cancel_appointment(citizen, booked.id)
    assert db.session.get(AppointmentSlot, slot.id).booked == 0
    with pytest.raises(NotFound):  # nobody else's to cancel
        appointments.cancel_appointment(user("13800000001"), booked.id)


def test_reschedule_moves_the_place_and_keeps_the_code(app_ctx):
    citizen = user("13800000002")
    target = item_target("13800000002")
    old, new, full = slots_for(target)[:3]
    booked = appointments.book_appointment(citizen, target, old.id)
    code = booked.code

    moved = appointments.reschedule_appointment(citizen, booked.id, new.id)

    assert moved.slot_id == new.id and moved.code == code and moved.status == "booked"
    db.session.expire_all()
    assert db.session.get(AppointmentSlot, old.id).booked == 0
    assert db.session.get(AppointmentSlot, new.id).booked == 1
    assert (
        db.session.scalar(
            select(Message.kind)
            .where(Message.citizen_id == citizen.citizen_id)
            .order_by(Message.id.desc())
            .limit(1)
        )
        == "appointment_rescheduled"
    )

    # to a full slot: refused, and both places stay as they were
    db.session.get(AppointmentSlot, full.id).booked = full.capacity
    db.session.flush()
    with pytest.raises(ValidationError) as refused:
        appointments.reschedule_appointment(citizen, booked.id, full.id)
    assert refused.value.errors == {"slot": "该时段已约满，请选择其他时段"}
    db.session.expire_all()
    assert db.session.get(Appointment, booked.id).slot_id == new.id
    assert db.session.get(AppointmentSlot, new.id).booked == 1
    assert db.session.get(AppointmentSlot, full.id).booked == full.capacity


def test_another_citizens_case_is_not_found(app_ctx):
    case = submit_case("13800000003", RESIDENCE_PERMIT, {"basis": "work", "agent": "no"})
    with pytest.raises(NotFound):
        appointments.target_for_case(user("13800000002"), case.id)
    assert appointments.target_for_case(user("13800000003"), case.id).application.id == case.id


# ---- 最多跑一次: the advice ------------------------------------------------------------------


def test_no_case_offers_to_apply_online_first(app_ctx):
    prep = appointments.prepare(item_target("13800000002"))
    assert prep.kind == "no_case" and not prep.ready
    assert "先在网上提交申请" in prep.summary


def test_a_draft_lists_what_is_missing(app_ctx):
    # the demo's 13800000001 left a 失业登记 draft after the conditions step
    target = item_target("13800000001", UNEMPLOYMENT)
    assert target.application is not None and target.application.status == "draft"
    prep = appointments.prepare(target)
    assert prep.kind == "draft" and not prep.ready
    assert "申请人姓名：此项必填" in prep.todo  # what applications.precheck finds in that draft


def test_a_correction_lists_the_items_to_correct(app_ctx):
    case = submit_case("13800000002", RESIDENCE_PERMIT, {"basis": "work", "agent": "no"})
    workflow.perform(
        user("reviewer01"),
        case.id,
        "request_correction",
        case.version,
        fields={"address": "请写到门牌号"},
    )
    prep = appointments.prepare(appointments.target_for_case(user("13800000002"), case.id))
    assert prep.kind == "correction" and not prep.ready
    assert any("请写到门牌号" in t for t in prep.todo)


def test_an_accepted_case_is_ready_for_one_visit(app_ctx):
    case = submit_case("13800000002", RESIDENCE_PERMIT, {"basis": "work", "agent": "no"})
    target = appointments.target_for_case(user("13800000002"), case.id)
    assert appointments.prepare(target).kind == "waiting"
    workflow.perform(user("reviewer01"), case.id, "accept", case.version)
    prep = appointments.prepare(target)
    assert prep.ready and prep.summary == "材料已预审，到场一次办结"
    assert "身份证原件" in prep.bring


def test_an_approved_result_waits_for_pickup_with_an_id_card(app_ctx):
    case = submit_case("13800000002", RESIDENCE_PERMIT, {"basis": "work", "agent": "no"})
    case.status = "approved"  # a result that is not an e-licence waits at the counter
    db.session.flush()
    prep = appointments.prepare(appointments.target_for_case(user("13800000002"), case.id))
    assert prep.kind == "pickup" and prep.ready
    assert "身份证原件" in prep.summary
    case.status = "completed"
    db.session.flush()
    with pytest.raises(Conflict):
        appointments.target_for_case(user("13800000002"), case.id)


# ---- the counter and the jobs ----------------------------------------------------------------


def _booked_today(app_ctx, login="13800000002"):
    """A booking whose slot is moved to today 09:00-10:00 (the seed's slots start tomorrow)."""
    target = item_target(login)
    slot = slots_for(target)[0]
    booked = appointments.book_appointment(user(login), target, slot.id)
    slot.day = NOW().date()
    db.session.flush()
    return booked, slot


def test_receiving_begins_the_counter_context(app_ctx):
    booked, slot = _booked_today(app_ctx)
    clerk = user("counter01")
    assert clerk.hall_id == slot.hall_id
    assert booked in appointments.hall_day(clerk, slot.day)

    context = appointments.receive_appointment(clerk, booked.id)

    assert context.citizen_id == booked.citizen_id and context.appointment_id == booked.id
    assert db.session.get(Appointment, booked.id).status == "arrived"
    with pytest.raises(Conflict):
        appointments.receive_appointment(clerk, booked.id)
    assert (
        db.session.scalar(
            select(func.count())
            .select_from(CounterContext)
            .where(CounterContext.staff_id == clerk.id, CounterContext.ended_at.is_(None))
        )
        == 1
    )
    counter.end_context(clerk)  # 办理下一位: the booking has been dealt with
    assert db.session.get(Appointment, booked.id).status == "done"


def test_another_halls_clerk_cannot_see_or_receive(app_ctx):
    booked, slot = _booked_today(app_ctx)
    clerk = user("counter01")
    clerk.hall_id = hall("BSZX").id
    db.session.flush()
    assert appointments.hall_day(clerk, slot.day) == []
    with pytest.raises(NotFound):
        appointments.receive_appointment(clerk, booked.id)


def test_no_show_only_after_the_slot_started(app_ctx):
    booked, slot = _booked_today(app_ctx)
    clerk = user("counter01")
    before = datetime.combine(slot.day, slot.starts_at) - timedelta(minutes=5)
    with pytest.raises(Conflict):
        appointments.mark_no_show(clerk, booked.id, now=before)
    assert db.session.get(Appointment, booked.id).status == "booked"
    after = datetime.combine(slot.day, slot.starts_at) + timedelta(minutes=5)
    assert appointments.mark_no_show(clerk, booked.id, now=after).status == "no_show"


def test_the_no_show_job_marks_ended_slots_once(app_ctx):
    target = item_target("13800000002")
    first, later = slots_for(target)[0], slots_for(item_target("13800000002", UNEMPLOYMENT))[-1]
    ended = appointments.book_appointment(user("13800000002"), target, first.id)
    upcoming = appointments.book_appointment(
        user("13800000002"), item_target("13800000002", UNEMPLOYMENT), later.id
    )
    during = datetime.combine(first.day, first.starts_at) + timedelta(minutes=30)
    after_end = datetime.combine(first.day, first.ends_at)

    assert jobs.mark_missed_appointments(during) == 0  # still running: not yet missed
    assert jobs.mark_missed_appointments(after_end) == 1
    assert jobs.mark_missed_appointments(after_end) == 0
    db.session.expire_all()
    assert db.session.get(Appointment, ended.id).status == "no_show"
    assert db.session.get(Appointment, upcoming.id).status == "booked"


def test_the_reminder_job_reminds_the_day_before_once(app_ctx):
    target = item_target("13800000002")
    slot = slots_for(target)[0]
    demo = len(appointments.due_reminders(slot.day))  # the demo's bookings of that day
    booked = appointments.book_appointment(user("13800000002"), target, slot.id)
    from services import workdays

    day_before = next(
        d
        for d in (slot.day - timedelta(days=n) for n in range(1, 5))
        if workdays.add_working_days(d, 1) == slot.day
    )
    assert jobs.remind_appointments(day_before) == demo + 1
    assert jobs.remind_appointments(day_before) == 0
    reminders = db.session.scalars(
        select(Message).where(
            Message.citizen_id == booked.citizen_id, Message.kind == "appointment_reminder"
        )
    ).all()
    assert len(reminders) == 1 and booked.code in reminders[0].body
    assert (
        db.session.scalar(
            select(func.count()).select_from(JobClaim).where(JobClaim.job == "appointment_reminder")
        )
        == demo + 1
    )


# ---- capacity under concurrent booking (SQLite and PostgreSQL) -----------------------------


def register_citizens(count: int, seed: int) -> list[int]:
    """``count`` new citizens with online accounts; their user ids."""
    fake, rng = make_faker(seed), random.Random(seed)
    ids = []
    for n in range(count):
        person = make_person(fake, rng, phone=f"139{seed:02d}00{n:04d}")
        ids.append(
            accounts.register_citizen(
                phone=person["phone"],
                password="Qingshan2026!x",
                name=person["name"],
                id_number=person["id_number"],
            ).id
        )
    return ids


def race(app, attempts: dict[str, object]) -> dict[str, object]:
    """Run each attempt(actor) in its own thread and app context, all released at once;
    returns "done" or the exception per attempt."""
    barrier = threading.Barrier(len(attempts))
    outcomes: dict[str, object] = {}

    def run(name, attempt):
        try:
            with app.app_context():
                prepared = attempt(None)  # load what the attempt needs, then hold no lock
                db.session.commit()
                barrier.wait(30)
                attempt(prepared)
                db.session.commit()
                outcomes[name] = "done"
        except BaseException as exc:  # refusals and surprises, checked by the caller
            outcomes[name] = exc
        finally:
            with app.app_context():
                db.session.remove()

    threads = [threading.Thread(target=run, args=item) for item in attempts.items()]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    return outcomes


def booking_attempt(actor_id: int, code: str, slot_id: int):
    def attempt(prepared):
        actor = db.session.get(User, actor_id)
        if prepared is None:
            return appointments.target_for_item(actor, code)
        return appointments.book_appointment(
            actor, appointments.target_for_item(actor, code), slot_id
        )

    return attempt


def full(outcome) -> bool:
    return isinstance(outcome, ValidationError) and outcome.errors == {
        "slot": "该时段已约满，请选择其他时段"
    }


def test_concurrent_bookings_never_exceed_capacity(database_factory):
    app = database_factory("appoint", seed=True)
    with app.app_context():
        actor_ids = register_citizens(5, 11)
        code = item_named(RESIDENCE_PERMIT).code
        slot = slots_for(appointments.target_for_item(db.session.get(User, actor_ids[0]), code))[0]
        slot.capacity = 2
        db.session.commit()
        slot_id = slot.id
        db.session.remove()

    outcomes = race(app, {str(a): booking_attempt(a, code, slot_id) for a in actor_ids})

    assert sorted(o == "done" for o in outcomes.values()) == [False, False, False, True, True], (
        outcomes
    )
    assert all(full(o) for o in outcomes.values() if o != "done"), outcomes
    with app.app_context():
        assert db.session.get(AppointmentSlot, slot_id).booked == 2
        assert (
            db.session.scalar(
                select(func.count()).select_from(Appointment).where(Appointment.slot_id == slot_id)
            )
            == 2
        )
        db.session.remove()


def test_a_reschedule_racing_a_booking_for_the_last_place(database_factory):
    app = database_factory("appoint-move", seed=True)
    with app.app_context():
        mover_id, booker_id = register_citizens(2, 12)
        code = item_named(RESIDENCE_PERMIT).code
        old, last = slots_for(appointments.target_for_item(db.session.get(User, mover_id), code))[
            :2
        ]
        mover = db.session.get(User, mover_id)
        moving = appointments.book_appointment(
            mover, appointments.target_for_item(mover, code), old.id
        )
        last.capacity = 1
        db.session.commit()
        moving_id, old_id, last_id = moving.id, old.id, last.id
        db.session.remove()

    def reschedule(prepared):
        if prepared is None:
            return True
        return appointments.reschedule_appointment(
            db.session.get(User, mover_id), moving_id, last_id
        )

    outcomes = race(app, {"move": reschedule, "book": booking_attempt(booker_id, code, last_id)})

    assert sorted(o == "done" for o in outcomes.values()) == [False, True], outcomes
    loser = next(o for o in outcomes.values() if o != "done")
    assert full(loser), outcomes
    with app.app_context():
        assert db.session.get(AppointmentSlot, last_id).booked == 1
        moved = db.session.get(Appointment, moving_id)
        # the old place is freed only when the move succeeded
        assert db.session.get(AppointmentSlot, old_id).booked == (
            0 if outcomes["move"] == "done" else 1
        )
        assert moved.slot_id == (last_id if outcomes["move"] == "done" else old_id)
        db.session.remove()
