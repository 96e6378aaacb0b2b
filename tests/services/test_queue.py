"""The queue: numbering per category and day, concurrent takes, call order, recall, skip,
the one return of a skipped ticket, finishing, starting the counter context, statistics."""

from __future__ import annotations

import threading
from datetime import date, time, timedelta

import pytest
from sqlalchemy import func, select

from portal.extensions import db
from portal.models import (
    Appointment,
    AppointmentSlot,
    CounterContext,
    CounterWindow,
    Event,
    QueueCategory,
    Role,
    ServiceHall,
    Ticket,
    TicketCall,
    User,
)
from portal.models.base import utcnow
from services import accounts, counter, queue
from services.errors import Conflict, NotFound, ValidationError
from tests.helpers import hall
from tests.workflow_cases import RESIDENCE_PERMIT, submit_case, user

DAY = date(2026, 11, 24)


def window(number: int, code: str = "SMZX") -> CounterWindow:
    return db.session.scalar(
        select(CounterWindow).where(
            CounterWindow.hall_id == hall(code).id, CounterWindow.number == number
        )
    )


def second_clerk():
    first = user("counter01")
    clerk = accounts.create_staff(
        username="counter07",
        password="Demo@2026x",
        role=Role.counter,
        display_name="窗口七",
        department=first.department,
    )
    clerk.hall_id = first.hall_id
    db.session.flush()
    return clerk


def appointment_for(citizen_login: str, day: date = DAY) -> Appointment:
    smzx = hall()
    category = db.session.scalar(
        select(QueueCategory).where(QueueCategory.hall_id == smzx.id, QueueCategory.code == "A")
    )
    slot = AppointmentSlot(
        hall_id=smzx.id,
        category_id=category.id,
        day=day,
        starts_at=time(9),
        ends_at=time(10),
        capacity=4,
        booked=1,
    )
    db.session.add(slot)
    db.session.flush()
    booking = Appointment(
        code=f"YY{slot.id:06d}",
        slot_id=slot.id,
        citizen_id=user(citizen_login).citizen_id,
        status="booked",
    )
    db.session.add(booking)
    db.session.flush()
    return booking


def test_numbers_count_per_category_and_restart_each_day(app_ctx):
    smzx = hall()
    codes = [queue.take_ticket(smzx, c, day=DAY).code for c in ("A", "A", "B", "A", "b")]
    assert codes == ["A001", "A002", "B001", "A003", "B002"]
    assert queue.take_ticket(smzx, "A", day=DAY + timedelta(days=1)).code == "A001"
    # another hall's category A has its own sequence
    assert queue.take_ticket(hall("BSZX"), "A", day=DAY).code == "A001"
    waiting = {q.category.code: q.waiting for q in queue.hall_queues(smzx, DAY)}
    assert waiting["A"] == 3 and waiting["B"] == 2 and waiting["C"] == 0


def test_closed_and_unknown_categories_are_refused(app_ctx):
    smzx = hall()
    category = db.session.scalar(
        select(QueueCategory).where(QueueCategory.hall_id == smzx.id, QueueCategory.code == "C")
    )
    category.open = False
    db.session.flush()
    with pytest.raises(Conflict, match="暂停取号"):
        queue.take_ticket(smzx, "C", day=DAY)
    with pytest.raises(NotFound):
        queue.take_ticket(smzx, "Z", day=DAY)
    assert db.session.scalar(select(func.count(Ticket.id)).where(Ticket.hall_id == smzx.id)) == 0
    with pytest.raises(NotFound):
        queue.get_hall("NOPE")


def test_appointment_links_and_goes_first(app_ctx):
    smzx = hall()
    first = queue.take_ticket(smzx, "A", day=DAY)
    booking = appointment_for("13800000002")
    booked = queue.take_ticket(smzx, "A", appointment_code=booking.code.lower(), day=DAY)
    assert booked.appointment_id == booking.id and booked.source == "appointment"
    assert booking.status == "arrived" and booking.arrived_at is not None
    assert queue.people_ahead(booked) == 0
    later = queue.take_ticket(smzx, "A", day=DAY)
    assert queue.people_ahead(first) == 1  # the appointment goes before it
    assert queue.people_ahead(later) == 2
    with pytest.raises(ValidationError) as refused:
        queue.take_ticket(smzx, "A", appointment_code="YY999999", day=DAY)
    assert "appointment_code" in refused.value.errors
    # an appointment of another day is not today's
    with pytest.raises(ValidationError):
        queue.take_ticket(smzx, "A", appointment_code=booking.code, day=DAY + timedelta(days=1))

    clerk = user("counter01")
    queue.choose_window(clerk, window(1).id)
    assert queue.call_next(clerk, day=DAY).id == booked.id
    queue.finish(clerk, booked.id)
    assert queue.call_next(clerk, day=DAY).id == first.id


def test_case_number_links_silently(app_ctx):
    smzx = hall()
    case = submit_case("13800000002", RESIDENCE_PERMIT, {"basis": "work", "agent": "no"})
    linked = queue.take_ticket(smzx, "A", case_number=case.number.lower(), day=DAY)
    assert linked.application_id == case.id
    unknown = queue.take_ticket(smzx, "A", case_number="WB20990101000001", day=DAY)
    assert unknown.application_id is None and unknown.code == "A002"


def test_call_order_window_categories_and_one_clerk_per_window(app_ctx):
    smzx = hall()
    b1 = queue.take_ticket(smzx, "B", day=DAY)
    a1 = queue.take_ticket(smzx, "A", day=DAY)
    d1 = queue.take_ticket(smzx, "D", day=DAY)
    clerk, other = user("counter01"), second_clerk()
    with pytest.raises(Conflict, match="请先选择"):
        queue.call_next(clerk, day=DAY)
    queue.choose_window(clerk, window(3).id)  # B and F
    with pytest.raises(Conflict, match="已有工作人员"):
        queue.choose_window(other, window(3).id)
    queue.choose_window(other, window(1).id)  # A and F
    assert queue.call_next(other, day=DAY).id == a1.id
    assert queue.call_next(clerk, day=DAY).id == b1.id
    with pytest.raises(Conflict, match="请先完成或过号"):
        queue.call_next(clerk, day=DAY)
    queue.finish(clerk, b1.id)
    assert queue.call_next(clerk, day=DAY) is None  # D is not window 3's
    db.session.refresh(d1)
    assert d1.status == "waiting"
    # moving to another window frees the first one
    queue.finish(other, a1.id)
    queue.choose_window(other, window(5).id)
    assert window(1).staff_id is None
    assert queue.call_next(other, day=DAY).id == d1.id


def test_recall_skip_return_once_and_finish(app_ctx):
    smzx = hall()
    ticket = queue.take_ticket(smzx, "A", day=DAY)
    clerk = user("counter01")
    queue.choose_window(clerk, window(2).id)
    queue.call_next(clerk, day=DAY)
    first_called = ticket.called_at
    queue.recall(clerk, ticket.id)
    db.session.refresh(ticket)
    assert ticket.call_count == 2 and ticket.called_at == first_called
    kinds = db.session.scalars(
        select(TicketCall.kind).where(TicketCall.ticket_id == ticket.id).order_by(TicketCall.id)
    ).all()
    assert kinds == ["call", "recall"]
    shown = queue.recent_calls(smzx)
    assert [(c.code, c.window, c.kind) for c in shown[:2]] == [
        ("A001", 2, "recall"),
        ("A001", 2, "call"),
    ]
    queue.skip(clerk, ticket.id)
    assert ticket.status == "skipped" and ticket.finished_at is not None
    with pytest.raises(Conflict):
        queue.recall(clerk, ticket.id)
    assert [t.id for t in queue.skipped_tickets(window(2), DAY)] == [ticket.id]
    queue.recall_skipped(clerk, ticket.id)
    db.session.refresh(ticket)
    assert ticket.status == "called" and ticket.call_count == 3 and ticket.finished_at is None
    queue.skip(clerk, ticket.id)
    assert queue.skipped_tickets(window(2), DAY) == []
    with pytest.raises(Conflict, match="重呼过一次"):
        queue.recall_skipped(clerk, ticket.id)
    actions = db.session.scalars(
        select(Event.action).where(Event.action.like("queue_%"), Event.actor_id == clerk.id)
    ).all()
    assert {"queue_window", "queue_call", "queue_recall", "queue_skip", "queue_return"} <= set(
        actions
    )


def _open_context(clerk):
    return db.session.scalar(
        select(CounterContext).where(
            CounterContext.staff_id == clerk.id, CounterContext.ended_at.is_(None)
        )
    )


def test_the_ticket_brings_its_appointment_only_once_the_holder_is_identified(app_ctx):
    """开始接待 shows nobody; the 身份证号 of the appointment's citizen links it."""
    smzx = hall()
    booking = appointment_for("13800000003")
    plain = queue.take_ticket(smzx, "A", day=DAY)
    booked = queue.take_ticket(smzx, "A", appointment_code=booking.code, day=DAY)
    clerk = user("counter01")
    queue.choose_window(clerk, window(1).id)
    assert queue.call_next(clerk, day=DAY).id == booked.id
    ticket = queue.start_serving(clerk, booked.id)
    assert ticket.status == "serving" and queue.names_someone(ticket)
    assert _open_context(clerk) is None  # nobody on the screen yet
    owner = user("13800000003").citizen
    counter.lookup_citizen(clerk, owner.id_number)
    ctx = _open_context(clerk)
    assert (
        ctx.citizen_id == owner.id
        and ctx.ticket_id == booked.id
        and ctx.appointment_id == booking.id
    )
    queue.finish(clerk, booked.id)
    assert booked.status == "done"
    queue.call_next(clerk, day=DAY)
    ticket = queue.start_serving(clerk, plain.id)
    assert not queue.names_someone(ticket) and ticket.status == "serving"
    counter.lookup_citizen(clerk, user("13800000002").citizen.id_number)
    assert _open_context(clerk).ticket_id == plain.id
    counter.end_context(clerk)  # 办理下一位 finishes the ticket being served
    db.session.refresh(plain)
    assert plain.status == "done" and plain.finished_at is not None
    # another clerk cannot act on this window's ticket
    with pytest.raises((NotFound, Conflict)):
        queue.finish(second_clerk(), plain.id)


@pytest.mark.parametrize("who", ["stranger", "owner by phone"])
def test_a_ticket_naming_someone_elses_case_brings_nothing(app_ctx, who):
    """Issue 13 #6: an anonymous ticket with a (sequential) case number must not put that
    case's citizen on the clerk's screen; neither does a lookup by phone, which proves nothing."""
    case = submit_case("13800000001", RESIDENCE_PERMIT, {"basis": "work", "agent": "no"})
    owner = case.applicant
    booking = appointment_for("13800000001")
    ticket = queue.take_ticket(hall(), "A", case_number=case.number, day=DAY)
    named = queue.take_ticket(hall(), "A", appointment_code=booking.code, day=DAY)
    clerk = user("counter01")
    queue.choose_window(clerk, window(1).id)
    for _ in (ticket, named):
        taken = queue.call_next(clerk, day=DAY)
        queue.start_serving(clerk, taken.id)
        assert _open_context(clerk) is None
        if who == "stranger":
            person = user("13800000002").citizen
            counter.lookup_citizen(clerk, person.id_number)
        else:
            person = owner
            counter.lookup_citizen(clerk, owner.phone)
        ctx = _open_context(clerk)
        assert ctx.citizen_id == person.id and ctx.ticket_id == taken.id
        assert ctx.appointment_id is None
        refused = db.session.scalar(
            select(Event).where(Event.action == "queue_link_refused").order_by(Event.id.desc())
        )
        assert refused is not None and refused.details["ticket"] == taken.id
        queue.finish(clerk, taken.id)
        counter.end_context(clerk)
    assert {ticket.id, named.id} == {
        e.details["ticket"]
        for e in db.session.scalars(select(Event).where(Event.action == "queue_link_refused"))
    }


def test_daily_stats(app_ctx):
    smzx = hall()
    clerk = user("counter01")
    queue.choose_window(clerk, window(1).id)
    tickets = [queue.take_ticket(smzx, "A", day=DAY) for _ in range(3)]
    queue.take_ticket(smzx, "B", day=DAY)
    now = utcnow()
    for t in tickets:
        t.issued_at = now - timedelta(minutes=30)
    db.session.flush()
    queue.call_next(clerk, day=DAY)
    tickets[0].called_at = now - timedelta(minutes=20)  # waited 10 min
    db.session.flush()
    queue.finish(clerk, tickets[0].id)
    tickets[0].finished_at = now - timedelta(minutes=15)  # served 5 min
    db.session.flush()
    queue.call_next(clerk, day=DAY)
    tickets[1].called_at = now - timedelta(minutes=10)  # waited 20 min
    db.session.flush()
    queue.skip(clerk, tickets[1].id)
    stats = {s.code: s for s in queue.daily_stats(smzx, DAY)}
    a = stats["A"]
    assert (a.issued, a.waiting, a.served, a.skipped) == (3, 1, 1, 1)
    assert a.avg_wait == pytest.approx(15 * 60, abs=2) and a.max_wait == pytest.approx(
        20 * 60, abs=2
    )
    assert a.avg_service == pytest.approx(5 * 60, abs=2) and a.max_service == pytest.approx(
        5 * 60, abs=2
    )
    assert (stats["B"].issued, stats["B"].waiting, stats["B"].avg_wait) == (1, 1, None)
    assert stats["C"].issued == 0


def test_stats_query_count_does_not_grow(app_ctx, count_queries):
    smzx = hall()
    queue.take_ticket(smzx, "A", day=DAY)
    with count_queries as few:
        queue.daily_stats(smzx, DAY)
    for code in "ABCDEF" * 5:
        queue.take_ticket(smzx, code, day=DAY)
    with count_queries as many:
        queue.daily_stats(smzx, DAY)
    assert len(many) == len(few) == 2


def run_at_once(app, actions) -> list[object]:
    """Each action in its own thread and app context, all released together; their results
    (or the exceptions they raised)."""
    barrier = threading.Barrier(len(actions))
    results: list[object] = []

    def run(action):
        try:
            with app.app_context():
                barrier.wait(30)
                result = action()
                db.session.commit()
                results.append(result)
        except BaseException as exc:  # surfaced by the caller's assertion
            results.append(exc)
        finally:
            with app.app_context():
                db.session.remove()

    threads = [threading.Thread(target=run, args=(action,)) for action in actions]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    return results


def test_concurrent_takes_and_calls_never_collide(database_factory):
    app = database_factory("queue", seed=True)
    with app.app_context():
        hall_id = hall().id
        db.session.remove()
    count = 8
    taken = run_at_once(
        app,
        [lambda: queue.take_ticket(db.session.get(ServiceHall, hall_id), "A", day=DAY).code]
        * count,
    )
    assert sorted(taken) == [f"A{n:03d}" for n in range(1, count + 1)], taken
    with app.app_context():
        assert db.session.scalar(select(func.count(Ticket.id)).where(Ticket.day == DAY)) == count
        # two clerks at windows 1 and 2 (both serve A) call at the same moment
        clerks = [user("counter01").id, second_clerk().id]
        for clerk_id, number in zip(clerks, (1, 2), strict=True):
            queue.choose_window(db.session.get(User, clerk_id), window(number).id)
        db.session.commit()
        db.session.remove()
    called = run_at_once(
        app, [lambda c=c: queue.call_next(db.session.get(User, c), day=DAY).code for c in clerks]
    )
    assert sorted(called) == ["A001", "A002"], called
