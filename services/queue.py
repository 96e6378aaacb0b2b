"""The hall's queue (排队叫号): tickets (取号), the clerk's window, calls and the statistics.

Numbers restart every day per category (A001, A002 …) from a daily counter, so concurrent
takes never collide on either database. A clerk sits at one window; 叫号 takes the next
waiting ticket of the window's categories (appointment-linked tickets first, then the
oldest) with a conditional UPDATE, so two clerks calling at once never get the same ticket.

A skipped ticket (过号) may be called back once (``recall_skipped``), when the person comes
back later the same day; a second return is refused and they take a new ticket.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import Float, and_, case, cast, func, or_, select, update

from portal.extensions import db
from portal.models import (
    Application,
    Appointment,
    AppointmentSlot,
    CounterWindow,
    QueueCategory,
    Role,
    ServiceHall,
    Ticket,
    TicketCall,
    User,
)
from portal.models.base import utcnow
from services import audit, clock, kiosk
from services.errors import Conflict, NotAuthorized, NotFound, ValidationError
from services.numbering import next_ticket_number

WAITING, CALLED, SERVING, DONE, SKIPPED, CANCELLED = (
    "waiting",
    "called",
    "serving",
    "done",
    "skipped",
    "cancelled",
)
SOURCES = ("kiosk", "tablet", "appointment")
RECENT_CALLS = 6


@dataclass(frozen=True)
class CategoryQueue:
    category: QueueCategory
    waiting: int


@dataclass(frozen=True)
class CallShown:
    """One call as the display shows and speaks it (no personal data)."""

    id: int
    code: str
    window: int
    kind: str
    at: datetime


@dataclass(frozen=True)
class CategoryStats:
    code: str
    name: str
    issued: int
    waiting: int
    served: int
    skipped: int
    avg_wait: float | None  # seconds
    max_wait: float | None
    avg_service: float | None
    max_service: float | None


def today() -> date:
    return clock.local_today()


# --- halls and tickets ----------------------------------------------------------------------


def get_hall(code: str) -> ServiceHall:
    hall = db.session.scalar(
        select(ServiceHall).where(
            ServiceHall.code == (code or "").upper(), ServiceHall.active.is_(True)
        )
    )
    if hall is None:
        raise NotFound(str(_l("服务大厅不存在")))
    return hall


def hall_queues(hall: ServiceHall, day: date | None = None) -> list[CategoryQueue]:
    """The hall's categories with how many people wait in each today (two queries)."""
    day = day or today()
    counts = dict(
        db.session.execute(
            select(Ticket.category_id, func.count(Ticket.id))
            .where(Ticket.hall_id == hall.id, Ticket.day == day, Ticket.status == WAITING)
            .group_by(Ticket.category_id)
        ).all()
    )
    categories = db.session.scalars(
        select(QueueCategory).where(QueueCategory.hall_id == hall.id).order_by(QueueCategory.code)
    )
    return [CategoryQueue(c, counts.get(c.id, 0)) for c in categories]


def _find_appointment(hall: ServiceHall, code: str, day: date) -> Appointment:
    appointment = db.session.scalar(
        select(Appointment)
        .join(AppointmentSlot, AppointmentSlot.id == Appointment.slot_id)
        .where(
            Appointment.code == code.strip().upper(),
            AppointmentSlot.hall_id == hall.id,
            AppointmentSlot.day == day,
            Appointment.status.in_(("booked", "arrived")),
        )
    )
    if appointment is None:
        raise ValidationError(
            {"appointment_code": str(_l("没有找到本大厅今天的这个预约号，请核对后重试"))}
        )
    return appointment


def take_ticket(
    hall: ServiceHall,
    category_code: str,
    *,
    appointment_code: str = "",
    case_number: str = "",
    source: str = "kiosk",
    day: date | None = None,
) -> Ticket:
    """取号: the next number of the category for the day.

    A ticket may name an appointment of this hall for today (checked: a wrong code is
    refused) or a case number (linked silently when it exists, so the ticket page tells
    nothing about whether a case exists)."""
    day = day or today()
    category = db.session.scalar(
        select(QueueCategory).where(
            QueueCategory.hall_id == hall.id, QueueCategory.code == (category_code or "").upper()
        )
    )
    if category is None:
        raise NotFound(str(_l("没有这个业务类别")))
    if not category.open:
        raise Conflict(str(_l("“%(name)s”今天暂停取号，请咨询大厅工作人员", name=category.name)))
    appointment_id = application_id = None
    if appointment_code and appointment_code.strip():
        appointment = _find_appointment(hall, appointment_code, day)
        appointment_id, source = appointment.id, "appointment"
        if appointment.status == "booked":
            appointment.status, appointment.arrived_at = "arrived", utcnow()
        application_id = appointment.application_id
    if case_number and case_number.strip() and application_id is None:
        application_id = db.session.scalar(
            select(Application.id).where(Application.number == case_number.strip().upper())
        )
    number = next_ticket_number(category.id, day)
    ticket = Ticket(
        hall_id=hall.id,
        category_id=category.id,
        day=day,
        number=number,
        code=f"{category.code}{number:03d}",
        status=WAITING,
        issued_at=utcnow(),
        appointment_id=appointment_id,
        application_id=application_id,
        source=source if source in SOURCES else "kiosk",
    )
    db.session.add(ticket)
    db.session.flush()
    return ticket


def get_ticket(hall: ServiceHall, ticket_id: int) -> Ticket:
    ticket = db.session.get(Ticket, ticket_id)
    if ticket is None or ticket.hall_id != hall.id:
        raise NotFound(str(_l("号码不存在")))
    return ticket


def people_ahead(ticket: Ticket) -> int:
    """Waiting tickets of the same category that will be called before this one."""
    if ticket.status != WAITING:
        return 0
    before = Ticket.id < ticket.id
    if ticket.appointment_id is not None:
        ahead = and_(Ticket.appointment_id.is_not(None), before)
    else:
        ahead = or_(Ticket.appointment_id.is_not(None), before)
    return (
        db.session.scalar(
            select(func.count(Ticket.id)).where(
                Ticket.category_id == ticket.category_id,
                Ticket.day == ticket.day,
                Ticket.status == WAITING,
                Ticket.id != ticket.id,
                ahead,
            )
        )
        or 0
    )


# --- the clerk's window ---------------------------------------------------------------------


def _require_counter(staff: User) -> None:
    if staff is None or staff.role != Role.counter:
        raise NotAuthorized(str(_l("只有综合窗口人员可以叫号")))


def staff_hall(staff: User) -> ServiceHall:
    _require_counter(staff)
    hall = db.session.get(ServiceHall, staff.hall_id) if staff.hall_id else None
    if hall is None:
        raise NotFound(str(_l("您还没有分配到服务大厅，请联系管理员")))
    return hall


def staff_window(staff: User) -> CounterWindow | None:
    if staff is None or staff.role != Role.counter:
        return None
    return db.session.scalar(select(CounterWindow).where(CounterWindow.staff_id == staff.id))


def choose_window(staff: User, window_id: int) -> CounterWindow:
    """Sit at a window of one's hall: one clerk per window (a conditional UPDATE)."""
    hall = staff_hall(staff)
    window = db.session.get(CounterWindow, window_id)
    if window is None or window.hall_id != hall.id or not window.active:
        raise NotFound(str(_l("窗口不存在")))
    if window.staff_id == staff.id:
        return window
    leave_window(staff)
    taken = db.session.execute(
        update(CounterWindow)
        .where(CounterWindow.id == window.id, CounterWindow.staff_id.is_(None))
        .values(staff_id=staff.id)
        .execution_options(synchronize_session=False)
    ).rowcount
    if not taken:
        raise Conflict(str(_l("%(number)d 号窗口已有工作人员", number=window.number)))
    db.session.refresh(window)
    audit.record_event(
        "queue_window", actor=staff, details={"window": window.id, "number": window.number}
    )
    return window


def leave_window(staff: User) -> None:
    _require_counter(staff)
    left = db.session.execute(
        update(CounterWindow)
        .where(CounterWindow.staff_id == staff.id)
        .values(staff_id=None)
        .execution_options(synchronize_session=False)
    ).rowcount
    if left:
        db.session.expire_all()
        audit.record_event("queue_window_left", actor=staff, details={})


def _my_window(staff: User) -> CounterWindow:
    _require_counter(staff)
    window = staff_window(staff)
    if window is None:
        raise Conflict(str(_l("请先选择您所在的窗口")))
    return window


def current_ticket(window: CounterWindow) -> Ticket | None:
    """The ticket called to (or being served at) the window today."""
    return db.session.scalar(
        select(Ticket)
        .where(Ticket.window_id == window.id, Ticket.status.in_((CALLED, SERVING)))
        .order_by(Ticket.called_at.desc(), Ticket.id.desc())
        .limit(1)
    )


def _own_ticket(
    staff: User, ticket_id: int, statuses: tuple[str, ...]
) -> tuple[CounterWindow, Ticket]:
    window = _my_window(staff)
    ticket = db.session.get(Ticket, ticket_id)
    if ticket is None or ticket.window_id != window.id:
        raise NotFound(str(_l("号码不存在")))
    if ticket.status not in statuses:
        raise Conflict(str(_l("号码 %(code)s 的状态已变化，请刷新", code=ticket.code)))
    return window, ticket


def _record_call(staff: User, window: CounterWindow, ticket: Ticket, kind: str) -> TicketCall:
    call = TicketCall(
        hall_id=ticket.hall_id,
        ticket_id=ticket.id,
        window_id=window.id,
        staff_id=staff.id,
        kind=kind,
        created_at=utcnow(),
    )
    db.session.add(call)
    db.session.flush()
    audit.record_event(
        f"queue_{kind}",
        actor=staff,
        application_id=ticket.application_id,
        details={"ticket": ticket.id, "code": ticket.code, "window": window.number},
    )
    return call


def _claim(ticket_id: int, from_status: str, window: CounterWindow, staff: User) -> bool:
    now = utcnow()
    return bool(
        db.session.execute(
            update(Ticket)
            .where(Ticket.id == ticket_id, Ticket.status == from_status)
            .values(
                status=CALLED,
                window_id=window.id,
                staff_id=staff.id,
                call_count=Ticket.call_count + 1,
                called_at=func.coalesce(Ticket.called_at, now),
            )
            .execution_options(synchronize_session=False)
        ).rowcount
    )


def _free(window: CounterWindow) -> None:
    busy = current_ticket(window)
    if busy is not None:
        raise Conflict(str(_l("请先完成或过号当前的 %(code)s 号", code=busy.code)))


def call_next(staff: User, day: date | None = None) -> Ticket | None:
    """叫号: the next waiting ticket of the window's categories, or None when nobody waits."""
    window = _my_window(staff)
    _free(window)
    day = day or today()
    candidates = (
        select(Ticket.id)
        .join(QueueCategory, QueueCategory.id == Ticket.category_id)
        .where(
            Ticket.hall_id == window.hall_id,
            Ticket.day == day,
            Ticket.status == WAITING,
            QueueCategory.code.in_(window.category_codes or []),
        )
        .order_by(
            case((Ticket.appointment_id.is_not(None), 0), else_=1), Ticket.issued_at, Ticket.id
        )
        .limit(5)
    )
    for _attempt in range(10):  # another clerk may take a candidate between SELECT and UPDATE
        ids = db.session.scalars(candidates).all()
        if not ids:
            return None
        for ticket_id in ids:
            if _claim(ticket_id, WAITING, window, staff):
                ticket = db.session.get(Ticket, ticket_id)
                db.session.refresh(ticket)
                _record_call(staff, window, ticket, "call")
                return ticket
    raise Conflict(str(_l("叫号的人太多，请再试一次")))


def recall(staff: User, ticket_id: int) -> Ticket:
    """重呼: announce the called ticket again."""
    window, ticket = _own_ticket(staff, ticket_id, (CALLED,))
    ticket.call_count += 1
    _record_call(staff, window, ticket, "recall")
    return ticket


def skip(staff: User, ticket_id: int) -> Ticket:
    """过号: the called person did not come."""
    _window, ticket = _own_ticket(staff, ticket_id, (CALLED,))
    ticket.status, ticket.finished_at = SKIPPED, utcnow()
    db.session.flush()
    audit.record_event(
        "queue_skip",
        actor=staff,
        application_id=ticket.application_id,
        details={"ticket": ticket.id, "code": ticket.code},
    )
    return ticket


def returnable(ticket: Ticket) -> bool:
    return ticket.status == SKIPPED and not db.session.scalar(
        select(func.count(TicketCall.id)).where(
            TicketCall.ticket_id == ticket.id, TicketCall.kind == "return"
        )
    )


def skipped_tickets(window: CounterWindow, day: date | None = None) -> list[Ticket]:
    """Today's skipped tickets of the window's categories that may still come back once."""
    returned = select(TicketCall.ticket_id).where(TicketCall.kind == "return")
    return list(
        db.session.scalars(
            select(Ticket)
            .join(QueueCategory, QueueCategory.id == Ticket.category_id)
            .where(
                Ticket.hall_id == window.hall_id,
                Ticket.day == (day or today()),
                Ticket.status == SKIPPED,
                QueueCategory.code.in_(window.category_codes or []),
                Ticket.id.not_in(returned),
            )
            .order_by(Ticket.finished_at)
        )
    )


def recall_skipped(staff: User, ticket_id: int) -> Ticket:
    """The skipped person came back: call the ticket to this window once more (only once)."""
    window = _my_window(staff)
    _free(window)
    ticket = db.session.get(Ticket, ticket_id)
    if (
        ticket is None
        or ticket.hall_id != window.hall_id
        or ticket.category.code not in (window.category_codes or [])
    ):
        raise NotFound(str(_l("号码不存在")))
    if not returnable(ticket) or not _claim(ticket.id, SKIPPED, window, staff):
        raise Conflict(str(_l("%(code)s 号已过号重呼过一次，请重新取号", code=ticket.code)))
    db.session.refresh(ticket)
    ticket.finished_at = None
    _record_call(staff, window, ticket, "return")
    return ticket


def start_serving(staff: User, ticket_id: int) -> Ticket:
    """开始接待: the called ticket is being served.

    A ticket is taken anonymously, so the appointment code or case number it names proves
    nothing about who holds it (case numbers are sequential). No citizen comes onto the clerk's
    screen here: the clerk identifies the person (身份证号 read or typed) and the ticket's
    appointment and case are linked only when they are that person's (counter.lookup_citizen).
    """
    _window, ticket = _own_ticket(staff, ticket_id, (CALLED, SERVING))
    ticket.status = SERVING
    db.session.flush()
    audit.record_event(
        "queue_serve",
        actor=staff,
        details={"ticket": ticket.id, "code": ticket.code},
    )
    return ticket


def names_someone(ticket: Ticket) -> bool:
    """The ticket was taken with an appointment code or a case number."""
    return ticket.appointment_id is not None or ticket.application_id is not None


def finish(staff: User, ticket_id: int) -> Ticket:
    """完成: the person has been served."""
    _window, ticket = _own_ticket(staff, ticket_id, (CALLED, SERVING))
    ticket.status, ticket.finished_at = DONE, utcnow()
    db.session.flush()
    audit.record_event(
        "queue_done",
        actor=staff,
        application_id=ticket.application_id,
        details={"ticket": ticket.id, "code": ticket.code},
    )
    return ticket


# --- the call display -----------------------------------------------------------------------


def recent_calls(hall: ServiceHall, count: int = RECENT_CALLS, after: int = 0) -> list[CallShown]:
    """The hall's latest calls, newest first (one query)."""
    rows = db.session.execute(
        select(
            TicketCall.id, Ticket.code, CounterWindow.number, TicketCall.kind, TicketCall.created_at
        )
        .join(Ticket, Ticket.id == TicketCall.ticket_id)
        .join(CounterWindow, CounterWindow.id == TicketCall.window_id)
        .where(TicketCall.hall_id == hall.id, TicketCall.id > after)
        .order_by(TicketCall.id.desc())
        .limit(count)
    )
    return [CallShown(*row) for row in rows]


# --- statistics -----------------------------------------------------------------------------


def _seconds(start, end):
    """Seconds between two timestamp columns, in the database's own arithmetic."""
    if db.session.get_bind().dialect.name == "postgresql":
        return func.extract("epoch", end - start)
    return (func.julianday(end) - func.julianday(start)) * cast(86400.0, Float)


def daily_stats(hall: ServiceHall, day: date | None = None) -> list[CategoryStats]:
    """Per category for the day: issued, waiting, served, skipped, waiting and service times.

    Two queries whatever the number of tickets: everything is aggregated in SQL."""
    day = day or today()
    wait = _seconds(Ticket.issued_at, Ticket.called_at)
    service = case((Ticket.status == DONE, _seconds(Ticket.called_at, Ticket.finished_at)))
    rows = {
        row[0]: row[1:]
        for row in db.session.execute(
            select(
                Ticket.category_id,
                func.count(Ticket.id),
                func.sum(case((Ticket.status == WAITING, 1), else_=0)),
                func.sum(case((Ticket.status == DONE, 1), else_=0)),
                func.sum(case((Ticket.status == SKIPPED, 1), else_=0)),
                func.avg(wait),
                func.max(wait),
                func.avg(service),
                func.max(service),
            )
            .where(Ticket.hall_id == hall.id, Ticket.day == day)
            .group_by(Ticket.category_id)
        )
    }
    stats = []
    for category in db.session.scalars(
        select(QueueCategory).where(QueueCategory.hall_id == hall.id).order_by(QueueCategory.code)
    ):
        issued, waiting, served, skipped_, avg_w, max_w, avg_s, max_s = rows.get(
            category.id, (0, 0, 0, 0, None, None, None, None)
        )
        stats.append(
            CategoryStats(
                category.code,
                category.name,
                int(issued or 0),
                int(waiting or 0),
                int(served or 0),
                int(skipped_ or 0),
                _num(avg_w),
                _num(max_w),
                _num(avg_s),
                _num(max_s),
            )
        )
    return stats


def _num(value) -> float | None:
    return None if value is None else float(value)


# --- what the desk and the statistics page show ---------------------------------------------


@dataclass
class DeskOverview:
    hall: ServiceHall
    window: CounterWindow | None
    windows: list[CounterWindow]
    current: Ticket | None
    queues: list[CategoryQueue]
    returnable: list[Ticket]
    help_requests: list


def desk_overview(staff: User) -> DeskOverview:
    """The clerk's desk: their window (or the windows to choose from), the ticket at it, the
    queues of its categories, skipped tickets that may come back, and kiosk help requests."""
    hall = staff_hall(staff)
    window = staff_window(staff)
    windows = list(
        db.session.scalars(
            select(CounterWindow)
            .where(CounterWindow.hall_id == hall.id, CounterWindow.active.is_(True))
            .order_by(CounterWindow.number)
        )
    )
    queues = hall_queues(hall)
    if window is not None:
        queues = [q for q in queues if q.category.code in (window.category_codes or [])]
    return DeskOverview(
        hall=hall,
        window=window,
        windows=windows,
        current=current_ticket(window) if window else None,
        queues=queues,
        returnable=skipped_tickets(window) if window else [],
        help_requests=kiosk.help_requests(staff),
    )


def stats_hall(actor: User, code: str | None) -> tuple[ServiceHall, list[ServiceHall]]:
    """The hall whose statistics the actor sees: a clerk their own, an admin any (chosen)."""
    if actor.role == Role.counter:
        hall = staff_hall(actor)
        return hall, [hall]
    if actor.role != Role.admin:
        raise NotAuthorized(str(_l("没有权限")))
    halls = list(
        db.session.scalars(
            select(ServiceHall).where(ServiceHall.active.is_(True)).order_by(ServiceHall.id)
        )
    )
    if not halls:
        raise NotFound(str(_l("服务大厅不存在")))
    chosen = next((h for h in halls if code and h.code == code.upper()), None)
    if code and chosen is None:
        raise NotFound(str(_l("服务大厅不存在")))
    return chosen or halls[0], halls
