"""A hall's appointment capacity: the weekly template, extra sessions, closures, and the slots
they make, kept ``APPOINTMENT_WEEKS_AHEAD`` weeks ahead by ``flask jobs run``.

A session (``AppointmentSession``) is a period of one category, cut into slots of
``slot_minutes`` with ``capacity`` places each: weekly (on a weekday) or once (an extra
session on a date, 加开). Which weekly sessions run on a day follows the working-day calendar
(services/workdays.py, overrides included):

- Monday to Friday: that weekday's sessions on a working day, none on a rest day (a holiday);
- a weekend day that is a working day (调休上班): Monday's sessions;
- a weekend rest day: its own sessions (e.g. Saturday morning), unless it belongs to a
  holiday (its run of rest days takes in a weekday: 国庆, 春节 …), when the hall is closed.

Extra sessions run whatever the calendar says; a closure (``AppointmentClosure``: a date or
a range, the whole day, the morning or the afternoon, one category or all) takes the slots
away.

``reconcile`` makes a category's slots of some days what the plan says, and never touches a
booking: a slot keeps its bookings; its capacity never goes below what is booked (set in
the UPDATE itself, so a booking made at the same moment is counted); a slot the plan no
longer has is withdrawn (``active`` false: no new bookings, again in the UPDATE the booking
races with) and deleted only when nothing ever pointed at it. The citizens of a withdrawn
slot are messaged and the staff see them under 需要联系的预约.

The roll forward claims each (category, day) once (``JobClaim``), so a day is generated once
whatever the number of workers, and an admin's later change to one slot is not undone by the
next run; a template change reconciles the whole window again.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import case, delete, exists, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from portal.extensions import db
from portal.models import (
    Appointment,
    AppointmentClosure,
    AppointmentSession,
    AppointmentSlot,
    JobClaim,
    QueueCategory,
    ServiceHall,
    User,
)
from services import appointments, audit, clock, data_use, messages, workdays
from services.catalogue.checks import Checks
from services.errors import NotFound, ValidationError

CLAIM_JOB = "appointment_day"
NOON = time(12)
SLOT_MINUTES = (15, 20, 30, 45, 60, 90, 120)
MAX_CAPACITY = 500
MAX_CLOSURE_DAYS = 366
WEEKDAY_LABELS = {
    0: _l("周一"),
    1: _l("周二"),
    2: _l("周三"),
    3: _l("周四"),
    4: _l("周五"),
    5: _l("周六"),
    6: _l("周日"),
}
PART_LABELS = {"day": _l("全天"), "am": _l("上午"), "pm": _l("下午")}


def weeks_ahead() -> int:
    return int(current_app.config.get("APPOINTMENT_WEEKS_AHEAD", 4))


def window(today: date, weeks: int | None = None) -> tuple[date, date]:
    """The days the roll forward keeps: tomorrow to ``weeks`` weeks from today."""
    weeks = weeks_ahead() if weeks is None else weeks
    return today + timedelta(days=1), today + timedelta(days=7 * weeks)


def _days(first: date, last: date) -> list[date]:
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


def _hhmm(t: time) -> str:
    return f"{t:%H:%M}"


def session_text(session: AppointmentSession) -> str:
    when = (
        str(WEEKDAY_LABELS[session.weekday])
        if session.weekday is not None
        else session.day.isoformat()
    )
    return f"{when} {_hhmm(session.starts_at)}-{_hhmm(session.ends_at)}"


# ---- which sessions run on a day --------------------------------------------------------------


def _in_holiday(day: date, overrides: dict[date, bool]) -> bool:
    """A weekend rest day whose run of rest days takes in a weekday is part of a holiday."""
    for step in (-1, 1):
        current = day + timedelta(days=step)
        while not workdays.is_workday(current, overrides):
            if current.weekday() < 5:
                return True
            current += timedelta(days=step)
    return False


def schedule_weekday(day: date, overrides: dict[date, bool]) -> int | None:
    """The weekday whose weekly sessions run on ``day``; None when the hall is closed."""
    weekday = day.weekday()
    working = workdays.is_workday(day, overrides)
    if weekday < 5:
        return weekday if working else None
    if working:  # 调休上班
        return 0
    return None if _in_holiday(day, overrides) else weekday


def _overrides(first: date, last: date) -> dict[date, bool]:
    # a holiday run is never longer than a fortnight: enough to see its ends
    return workdays.load_overrides(first - timedelta(days=15), last + timedelta(days=15))


def cut(starts_at: time, ends_at: time, minutes: int) -> list[tuple[time, time]]:
    """The slots of a period: ``minutes`` each, from its start."""
    out = []
    start = datetime.combine(date.min, starts_at)
    end = datetime.combine(date.min, ends_at)
    step = timedelta(minutes=minutes)
    while start + step <= end:
        out.append((start.time(), (start + step).time()))
        start += step
    return out


def _closed(closure: AppointmentClosure, starts_at: time) -> bool:
    if closure.part == "am":
        return starts_at < NOON
    if closure.part == "pm":
        return starts_at >= NOON
    return True


@dataclass
class Plan:
    """A category's sessions and closures over some days, loaded once."""

    weekly: dict[int, list[AppointmentSession]]
    extra: dict[date, list[AppointmentSession]]
    closures: list[AppointmentClosure]
    overrides: dict[date, bool]

    def sessions(self, day: date) -> list[AppointmentSession]:
        weekday = schedule_weekday(day, self.overrides)
        weekly = self.weekly.get(weekday, []) if weekday is not None else []
        return weekly + self.extra.get(day, [])

    def slots(self, day: date) -> dict[time, tuple[time, int]]:
        """{start: (end, capacity)} of the day, closures taken away."""
        out: dict[time, tuple[time, int]] = {}
        for session in self.sessions(day):
            for start, end in cut(session.starts_at, session.ends_at, session.slot_minutes):
                out[start] = (end, session.capacity)
        for closure in self.closures:
            if closure.first_day <= day <= closure.last_day:
                out = {s: v for s, v in out.items() if not _closed(closure, s)}
        return out

    def closure_of(self, day: date, starts_at: time) -> AppointmentClosure | None:
        for closure in self.closures:
            if closure.first_day <= day <= closure.last_day and _closed(closure, starts_at):
                return closure
        return None


def load_plan(category: QueueCategory, first: date, last: date) -> Plan:
    sessions = db.session.scalars(
        select(AppointmentSession).where(AppointmentSession.category_id == category.id)
    )
    weekly: dict[int, list[AppointmentSession]] = defaultdict(list)
    extra: dict[date, list[AppointmentSession]] = defaultdict(list)
    for s in sessions:
        if s.weekday is not None:
            weekly[s.weekday].append(s)
        elif s.day is not None:
            extra[s.day].append(s)
    closures = list(
        db.session.scalars(
            select(AppointmentClosure).where(
                AppointmentClosure.hall_id == category.hall_id,
                (AppointmentClosure.category_id.is_(None))
                | (AppointmentClosure.category_id == category.id),
                AppointmentClosure.first_day <= last,
                AppointmentClosure.last_day >= first,
            )
        )
    )
    return Plan(weekly, extra, closures, _overrides(first, last))


# ---- making the slots what the plan says ------------------------------------------------------


@dataclass
class Reconciled:
    created: int = 0
    changed: int = 0
    withdrawn: int = 0
    deleted: int = 0
    # bookings in slots withdrawn by this change (their citizens were messaged)
    affected: list[Appointment] = field(default_factory=list)


def _insert_slots(category: QueueCategory, day: date, rows: list[tuple[time, time, int]]) -> int:
    """New slots of one day in a savepoint; if another worker made them first, none."""
    if not rows:
        return 0
    try:
        with db.session.begin_nested():
            db.session.add_all(
                AppointmentSlot(
                    hall_id=category.hall_id,
                    category_id=category.id,
                    day=day,
                    starts_at=start,
                    ends_at=end,
                    capacity=capacity,
                    booked=0,
                    active=True,
                )
                for start, end, capacity in rows
            )
        return len(rows)
    except IntegrityError:
        return 0


def _set_capacity(slot_id: int, ends_at: time, capacity: int) -> None:
    """Active again with the plan's capacity, never below what is booked at this moment."""
    db.session.execute(
        update(AppointmentSlot)
        .where(AppointmentSlot.id == slot_id)
        .values(
            active=True,
            ends_at=ends_at,
            capacity=case(
                (AppointmentSlot.booked > capacity, AppointmentSlot.booked), else_=capacity
            ),
        )
        .execution_options(synchronize_session=False)
    )


def _withdraw(slot_id: int) -> bool:
    """No new bookings from now on; True when this call withdrew it (not an earlier one)."""
    return (
        db.session.execute(
            update(AppointmentSlot)
            .where(AppointmentSlot.id == slot_id, AppointmentSlot.active.is_(True))
            .values(active=False)
            .execution_options(synchronize_session=False)
        ).rowcount
        == 1
    )


def _delete_unused(slot_ids: list[int]) -> int:
    """Withdrawn slots that no booking (even a cancelled one) ever pointed at."""
    if not slot_ids:
        return 0
    used = exists().where(Appointment.slot_id == AppointmentSlot.id)
    return db.session.execute(
        delete(AppointmentSlot)
        .where(AppointmentSlot.id.in_(slot_ids), AppointmentSlot.booked == 0, ~used)
        .execution_options(synchronize_session=False)
    ).rowcount


def reconcile(category: QueueCategory, days: Iterable[date]) -> Reconciled:
    """Make the category's slots on ``days`` what its plan says (see the module's notes)."""
    days = sorted(set(days))
    result = Reconciled()
    if not days:
        return result
    first, last = days[0], days[-1]
    plan = load_plan(category, first, last)
    existing: dict[date, dict[time, AppointmentSlot]] = defaultdict(dict)
    for slot in db.session.scalars(
        select(AppointmentSlot).where(
            AppointmentSlot.category_id == category.id,
            AppointmentSlot.day.between(first, last),
        )
    ):
        existing[slot.day][slot.starts_at] = slot
    withdrawn: list[int] = []
    for day in days:
        planned = plan.slots(day)
        have = existing.get(day, {})
        new_rows = []
        for start, (end, capacity) in sorted(planned.items()):
            slot = have.get(start)
            if slot is None:
                new_rows.append((start, end, capacity))
            elif (
                not slot.active
                or slot.capacity != max(capacity, slot.booked)
                or (slot.ends_at != end)
            ):
                _set_capacity(slot.id, end, capacity)
                result.changed += 1
        result.created += _insert_slots(category, day, new_rows)
        for start, slot in have.items():
            if start not in planned and slot.active and _withdraw(slot.id):
                withdrawn.append(slot.id)
    result.withdrawn = len(withdrawn)
    result.deleted = _delete_unused(withdrawn)
    db.session.expire_all()
    kept = (
        list(
            db.session.scalars(select(AppointmentSlot.id).where(AppointmentSlot.id.in_(withdrawn)))
        )
        if withdrawn
        else []
    )
    if kept:
        result.affected = _notify_affected(kept, plan)
    db.session.flush()
    return result


def _notify_affected(slot_ids: list[int], plan: Plan) -> list[Appointment]:
    booked = list(
        db.session.scalars(
            select(Appointment)
            .where(Appointment.slot_id.in_(slot_ids), Appointment.status == appointments.UPCOMING)
            .options(
                selectinload(Appointment.slot).selectinload(AppointmentSlot.hall),
                selectinload(Appointment.citizen),
            )
            .order_by(Appointment.id)
        )
    )
    titles = appointments.titles_of(booked)
    for a in booked:
        closure = plan.closure_of(a.slot.day, a.slot.starts_at)
        params = {
            "what": titles.get(a.id, ""),
            "code": a.code,
            "hall": a.slot.hall.name,
            "when": appointments.when_text(a.slot),
        }
        if closure is not None:
            messages.notify(
                a.citizen,
                "appointment_hall_closed",
                reason=closure.reason or str(_l("大厅安排")),
                **params,
            )
        else:
            messages.notify(a.citizen, "appointment_slot_removed", **params)
    return booked


# ---- the roll forward (services/jobs.py commits each category) --------------------------------


def _claim(key: str) -> bool:
    try:
        with db.session.begin_nested():
            db.session.add(JobClaim(job=CLAIM_JOB, key=key))
        return True
    except IntegrityError:
        return False


def _marks(days: list[date]) -> dict[date, str]:
    """Each day's schedule as the calendar has it now (the weekday whose sessions run, or x)."""
    if not days:
        return {}
    overrides = _overrides(min(days), max(days))
    marks = {}
    for day in days:
        weekday = schedule_weekday(day, overrides)
        marks[day] = "x" if weekday is None else str(weekday)
    return marks


def _keys(category_id: int, marks: dict[date, str]) -> dict[date, str]:
    """The claim of a (category, day) names the day's schedule too: when the calendar changes
    a generated day (next year's holidays imported, an override), its key changes and the
    roll forward reconciles that day again (its slots withdrawn, their citizens messaged)."""
    return {day: f"{category_id}:{day.isoformat()}:{mark}" for day, mark in marks.items()}


def _claimed(keys: list[str]) -> set[str]:
    if not keys:
        return set()
    return set(
        db.session.scalars(
            select(JobClaim.key).where(JobClaim.job == CLAIM_JOB, JobClaim.key.in_(keys))
        )
    )


def days_to_roll(today: date, weeks: int | None = None) -> dict[int, list[date]]:
    """{category id: the days of the window not generated yet (or since re-scheduled)}."""
    first, last = window(today, weeks)
    marks = _marks(_days(first, last))
    out = {}
    for category_id in db.session.scalars(select(QueueCategory.id).order_by(QueueCategory.id)):
        keys = _keys(category_id, marks)
        done = _claimed(list(keys.values()))
        todo = [d for d, k in keys.items() if k not in done]
        if todo:
            out[category_id] = todo
    return out


def roll_category(category_id: int, days: list[date]) -> Reconciled:
    """Generate the days of one category that this worker claims first."""
    category = db.session.get(QueueCategory, category_id)
    keys = _keys(category_id, _marks(days))
    mine = [d for d, k in keys.items() if _claim(k)]
    return reconcile(category, mine) if category is not None else Reconciled()


def roll_forward(today: date, weeks: int | None = None) -> int:
    """Every category's missing days of the window (the seeds and tests; the job commits per
    category through ``days_to_roll`` / ``roll_category``). Returns the slots created."""
    return sum(
        roll_category(category_id, days).created
        for category_id, days in days_to_roll(today, weeks).items()
    )


def _reconcile_window(category: QueueCategory, today: date) -> Reconciled:
    """After a template change: the whole window again, every day claimed as generated."""
    first, last = window(today)
    days = _days(first, last)
    keys = _keys(category.id, _marks(days))
    done = _claimed(list(keys.values()))
    for key in keys.values():
        if key not in done:
            _claim(key)
    return reconcile(category, days)


def _generated_days(category: QueueCategory, days: list[date]) -> list[date]:
    """The days among ``days`` the roll forward has generated already (others wait for it)."""
    keys = {k: d for d, k in _keys(category.id, _marks(days)).items()}
    return [keys[k] for k in _claimed(list(keys))]


# ---- the weekly template and extra sessions ---------------------------------------------------


def get_session(category: QueueCategory, session_id: int) -> AppointmentSession:
    session = db.session.get(AppointmentSession, session_id)
    if session is None or session.category_id != category.id:
        raise NotFound(str(_l("预约时段不存在")))
    return session


def template_of(category: QueueCategory) -> dict[int, list[AppointmentSession]]:
    """{weekday: its sessions by start} for every weekday."""
    out: dict[int, list[AppointmentSession]] = {d: [] for d in WEEKDAY_LABELS}
    for s in db.session.scalars(
        select(AppointmentSession)
        .where(
            AppointmentSession.category_id == category.id, AppointmentSession.weekday.is_not(None)
        )
        .order_by(AppointmentSession.weekday, AppointmentSession.starts_at)
    ):
        out[s.weekday].append(s)
    return out


def extra_sessions(category: QueueCategory, today: date) -> list[AppointmentSession]:
    return list(
        db.session.scalars(
            select(AppointmentSession)
            .where(AppointmentSession.category_id == category.id, AppointmentSession.day >= today)
            .order_by(AppointmentSession.day, AppointmentSession.starts_at)
        )
    )


def _overlaps(a_start: time, a_end: time, b_start: time, b_end: time) -> bool:
    return a_start < b_end and b_start < a_end


def _check_period(
    checks: Checks, starts_at: time | None, ends_at: time | None, minutes: int | None, capacity
) -> bool:
    ok = True
    if starts_at is None:
        checks.fail("starts_at", _l("请填写开始时间"))
        ok = False
    if ends_at is None:
        checks.fail("ends_at", _l("请填写结束时间"))
        ok = False
    if minutes not in SLOT_MINUTES:
        checks.fail("slot_minutes", _l("请从列表中选择每个号段的长度"))
        ok = False
    if capacity is None or not 1 <= capacity <= MAX_CAPACITY:
        checks.fail("capacity", _l("每个号段的名额请填写 1 至 %(n)d 的整数", n=MAX_CAPACITY))
    if not ok:
        return False
    if ends_at <= starts_at:
        checks.fail("ends_at", _l("结束时间必须晚于开始时间"))
        return False
    length = (datetime.combine(date.min, ends_at) - datetime.combine(date.min, starts_at)).seconds
    if length % (minutes * 60):
        checks.fail(
            "ends_at",
            _l("时段长度必须是号段长度（%(n)d 分钟）的整数倍", n=minutes),
        )
        return False
    return True


def _overlap_message(other: AppointmentSession):
    return _l("与已有的时段 %(when)s 重叠", when=session_text(other))


def _check_weekly_overlap(
    checks: Checks,
    category: QueueCategory,
    weekdays: list[int],
    starts_at: time,
    ends_at: time,
    session_id: int | None = None,
) -> None:
    query = select(AppointmentSession).where(
        AppointmentSession.category_id == category.id,
        AppointmentSession.weekday.in_(weekdays),
    )
    if session_id is not None:
        query = query.where(AppointmentSession.id != session_id)
    for other in db.session.scalars(query.order_by(AppointmentSession.weekday)):
        if _overlaps(starts_at, ends_at, other.starts_at, other.ends_at):
            checks.fail("starts_at", _overlap_message(other))
            return


def _record(action: str, actor: User, category: QueueCategory, **details) -> None:
    audit.record_event(
        f"hall.{action}",
        actor=actor,
        details={
            "hall": category.hall_id,
            "category": category.id,
            "letter": category.code,
            **details,
        },
    )


def add_weekly_sessions(
    actor: User,
    category: QueueCategory,
    *,
    weekdays: list[int],
    starts_at: time | None,
    ends_at: time | None,
    slot_minutes: int | None,
    capacity: int | None,
    today: date | None = None,
) -> Reconciled:
    """One session on each of ``weekdays``; the window's slots follow at once."""
    today = today or clock.local_today()
    checks = Checks()
    weekdays = sorted({int(d) for d in weekdays or []})
    if not weekdays or not set(weekdays) <= set(WEEKDAY_LABELS):
        checks.fail("weekdays", _l("请至少选择一天"))
    if _check_period(checks, starts_at, ends_at, slot_minutes, capacity) and weekdays:
        _check_weekly_overlap(checks, category, weekdays, starts_at, ends_at)
    checks.done()
    for weekday in weekdays:
        db.session.add(
            AppointmentSession(
                hall_id=category.hall_id,
                category_id=category.id,
                weekday=weekday,
                starts_at=starts_at,
                ends_at=ends_at,
                slot_minutes=slot_minutes,
                capacity=capacity,
            )
        )
    db.session.flush()
    result = _reconcile_window(category, today)
    _record(
        "template_added",
        actor,
        category,
        weekdays=weekdays,
        period=f"{_hhmm(starts_at)}-{_hhmm(ends_at)}",
        slot_minutes=slot_minutes,
        capacity=capacity,
        kept=[a.id for a in result.affected],
    )
    return result


def update_weekly_session(
    actor: User,
    session: AppointmentSession,
    *,
    starts_at: time | None,
    ends_at: time | None,
    slot_minutes: int | None,
    capacity: int | None,
    today: date | None = None,
) -> Reconciled:
    today = today or clock.local_today()
    category = session.category
    checks = Checks()
    if _check_period(checks, starts_at, ends_at, slot_minutes, capacity):
        _check_weekly_overlap(
            checks, category, [session.weekday], starts_at, ends_at, session_id=session.id
        )
    checks.done()
    before = session_text(session)
    session.starts_at, session.ends_at = starts_at, ends_at
    session.slot_minutes, session.capacity = slot_minutes, capacity
    db.session.flush()
    result = _reconcile_window(category, today)
    _record(
        "template_changed",
        actor,
        category,
        session=session.id,
        before=before,
        after=session_text(session),
        slot_minutes=slot_minutes,
        capacity=capacity,
        kept=[a.id for a in result.affected],
    )
    return result


def bookings_in_session(session: AppointmentSession, today: date) -> list[Appointment]:
    """The upcoming bookings in slots this session makes from tomorrow on: what deleting it
    would leave to contact (shown before the admin confirms)."""
    query = (
        select(Appointment)
        .join(AppointmentSlot, Appointment.slot_id == AppointmentSlot.id)
        .where(
            AppointmentSlot.category_id == session.category_id,
            AppointmentSlot.active.is_(True),
            AppointmentSlot.day > today,
            AppointmentSlot.starts_at >= session.starts_at,
            AppointmentSlot.starts_at < session.ends_at,
            Appointment.status == appointments.UPCOMING,
        )
        .options(selectinload(Appointment.slot), selectinload(Appointment.citizen))
        .order_by(AppointmentSlot.day, AppointmentSlot.starts_at, Appointment.id)
    )
    if session.day is not None:
        return list(db.session.scalars(query.where(AppointmentSlot.day == session.day)))
    rows = list(db.session.scalars(query))
    if not rows:
        return []
    marks = _marks(sorted({a.slot.day for a in rows}))
    return [a for a in rows if marks[a.slot.day] == str(session.weekday)]


def delete_session(
    actor: User, session: AppointmentSession, today: date | None = None
) -> Reconciled:
    """A weekly or extra session goes; slots holding bookings stay (withdrawn) and are listed."""
    today = today or clock.local_today()
    category = session.category
    text = session_text(session)
    day = session.day
    db.session.delete(session)
    db.session.flush()
    if day is None:
        result = _reconcile_window(category, today)
    else:
        result = reconcile(category, _generated_days(category, [day]) if day > today else [day])
    _record(
        "session_deleted",
        actor,
        category,
        session=text,
        kept=[a.id for a in result.affected],
    )
    return result


def add_extra_session(
    actor: User,
    category: QueueCategory,
    *,
    day: date | None,
    starts_at: time | None,
    ends_at: time | None,
    slot_minutes: int | None,
    capacity: int | None,
    now: datetime | None = None,
) -> Reconciled:
    """加开: a session on one date, whatever the calendar says (a Saturday, a holiday)."""
    now = now or appointments.local_now()
    checks = Checks()
    if day is None:
        checks.fail("day", _l("请填写日期"))
    elif day < now.date():
        checks.fail("day", _l("不能在已经过去的日期加开时段"))
    ok = _check_period(checks, starts_at, ends_at, slot_minutes, capacity)
    if ok and day is not None and day == now.date() and starts_at <= now.time():
        checks.fail("starts_at", _l("今天加开的时段必须在现在之后开始"))
    elif ok and day is not None:
        plan = load_plan(category, day, day)
        for other in plan.sessions(day):
            if _overlaps(starts_at, ends_at, other.starts_at, other.ends_at):
                checks.fail("starts_at", _overlap_message(other))
                break
    checks.done()
    session = AppointmentSession(
        hall_id=category.hall_id,
        category_id=category.id,
        day=day,
        starts_at=starts_at,
        ends_at=ends_at,
        slot_minutes=slot_minutes,
        capacity=capacity,
    )
    db.session.add(session)
    db.session.flush()
    # a day the roll forward has not reached yet gets the session when it does
    first, last = window(now.date())
    days = [day] if day <= now.date() or day <= last else []
    result = reconcile(category, days)
    _record(
        "extra_session_added",
        actor,
        category,
        session=session_text(session),
        slot_minutes=slot_minutes,
        capacity=capacity,
    )
    return result


# ---- closures ---------------------------------------------------------------------------------


def closures_of(hall: ServiceHall, today: date) -> list[AppointmentClosure]:
    return list(
        db.session.scalars(
            select(AppointmentClosure)
            .where(AppointmentClosure.hall_id == hall.id, AppointmentClosure.last_day >= today)
            .options(selectinload(AppointmentClosure.category))
            .order_by(AppointmentClosure.first_day, AppointmentClosure.id)
        )
    )


def get_closure(hall: ServiceHall, closure_id: int) -> AppointmentClosure:
    closure = db.session.get(AppointmentClosure, closure_id)
    if closure is None or closure.hall_id != hall.id:
        raise NotFound(str(_l("暂停安排不存在")))
    return closure


def _closure_days(closure: AppointmentClosure, today: date) -> dict[int, list[date]]:
    """{category id: the days of the closure that already have slots to change}."""
    first = max(closure.first_day, today)
    hall = db.session.get(ServiceHall, closure.hall_id)
    categories = [c for c in hall.categories if closure.category_id in (None, c.id)]
    days = _days(first, closure.last_day) if first <= closure.last_day else []
    out = {}
    for category in categories:
        # today's slots were generated long ago (or never): take them as they are
        generated = set(_generated_days(category, days))
        out[category.id] = [d for d in days if d in generated or d == today]
    return out


def add_closure(
    actor: User,
    hall: ServiceHall,
    *,
    first_day: date | None,
    last_day: date | None,
    part: str,
    category_id: int | None,
    reason: str,
    today: date | None = None,
) -> tuple[AppointmentClosure, list[Appointment]]:
    """暂停预约; returns the closure and the bookings it touches (their citizens messaged)."""
    today = today or clock.local_today()
    checks = Checks()
    last_day = last_day or first_day
    if first_day is None:
        checks.fail("first_day", _l("请填写开始日期"))
    elif first_day < today:
        checks.fail("first_day", _l("不能暂停已经过去的日期"))
    elif last_day < first_day:
        checks.fail("last_day", _l("结束日期不能早于开始日期"))
    elif (last_day - first_day).days >= MAX_CLOSURE_DAYS:
        checks.fail("last_day", _l("一次最多暂停 %(n)d 天", n=MAX_CLOSURE_DAYS))
    checks.choice("part", part, PART_LABELS, _l("暂停时段"))
    if category_id is not None and category_id not in {c.id for c in hall.categories}:
        checks.fail("category_id", _l("请从本大厅的服务类别中选择"))
    reason = checks.text("reason", reason, _l("暂停原因"), max_len=200, required=True)
    checks.done()
    closure = AppointmentClosure(
        hall_id=hall.id,
        category_id=category_id,
        first_day=first_day,
        last_day=last_day,
        part=part,
        reason=reason,
        created_by=actor.id,
    )
    db.session.add(closure)
    db.session.flush()
    affected: list[Appointment] = []
    for cid, days in _closure_days(closure, today).items():
        affected += reconcile(db.session.get(QueueCategory, cid), days).affected
    audit.record_event(
        "hall.closure_added",
        actor=actor,
        details={
            "hall": hall.id,
            "closure": closure.id,
            "category": category_id,
            "days": f"{first_day.isoformat()}..{last_day.isoformat()}",
            "part": part,
            "reason": reason,
            "affected": [a.id for a in affected],
        },
    )
    return closure, affected


def delete_closure(actor: User, closure: AppointmentClosure, today: date | None = None) -> None:
    """恢复预约: the closure's days get their planned slots back (withdrawn ones reopen)."""
    today = today or clock.local_today()
    days = _closure_days(closure, today)
    details = {
        "hall": closure.hall_id,
        "closure": closure.id,
        "days": f"{closure.first_day.isoformat()}..{closure.last_day.isoformat()}",
    }
    db.session.delete(closure)
    db.session.flush()
    for cid, category_days in days.items():
        reconcile(db.session.get(QueueCategory, cid), category_days)
    audit.record_event("hall.closure_removed", actor=actor, details=details)


# ---- slots: one day of a hall, one slot's capacity, bookings to contact ---------------------


def hall_slots(hall: ServiceHall, day: date) -> list[AppointmentSlot]:
    return list(
        db.session.scalars(
            select(AppointmentSlot)
            .where(AppointmentSlot.hall_id == hall.id, AppointmentSlot.day == day)
            .options(selectinload(AppointmentSlot.category))
            .order_by(AppointmentSlot.category_id, AppointmentSlot.starts_at)
        )
    )


def get_slot(hall: ServiceHall, slot_id: int) -> AppointmentSlot:
    slot = db.session.get(AppointmentSlot, slot_id)
    if slot is None or slot.hall_id != hall.id:
        raise NotFound(str(_l("预约时段不存在")))
    return slot


def set_slot_capacity(actor: User, slot: AppointmentSlot, capacity: int | None) -> AppointmentSlot:
    """One slot's places; never below what is booked (checked in the UPDATE itself)."""
    if capacity is None or not 0 <= capacity <= MAX_CAPACITY:
        raise ValidationError({"capacity": str(_l("名额请填写 0 至 %(n)d 的整数", n=MAX_CAPACITY))})
    before = slot.capacity
    changed = db.session.execute(
        update(AppointmentSlot)
        .where(AppointmentSlot.id == slot.id, AppointmentSlot.booked <= capacity)
        .values(capacity=capacity)
        .execution_options(synchronize_session=False)
    ).rowcount
    db.session.refresh(slot)
    if not changed:
        raise ValidationError(
            {
                "capacity": str(
                    _l(
                        "这个时段已有 %(n)d 人预约，名额不能少于 %(n)d",
                        n=slot.booked,
                    )
                )
            }
        )
    audit.record_event(
        "hall.slot_capacity",
        actor=actor,
        details={
            "hall": slot.hall_id,
            "slot": slot.id,
            "when": appointments.when_text(slot),
            "before": before,
            "after": capacity,
        },
    )
    return slot


def to_contact(hall_id: int, today: date) -> list[Appointment]:
    """需要联系的预约: upcoming bookings in slots the hall no longer offers."""
    return list(
        db.session.scalars(
            select(Appointment)
            .join(AppointmentSlot, Appointment.slot_id == AppointmentSlot.id)
            .where(
                AppointmentSlot.hall_id == hall_id,
                AppointmentSlot.active.is_(False),
                AppointmentSlot.day >= today,
                Appointment.status == appointments.UPCOMING,
            )
            .options(
                selectinload(Appointment.slot).selectinload(AppointmentSlot.category),
                selectinload(Appointment.citizen),
            )
            .order_by(AppointmentSlot.day, AppointmentSlot.starts_at, Appointment.id)
        )
    )


def contact_phone(staff: User, appointment_id: int) -> str:
    """A clerk of the booking's hall asks for the citizen's full phone number to call them
    (a withdrawn slot, a no-show): written to the citizen's 数据使用记录 and the audit trail."""
    appointment = appointments.hall_appointment(staff, appointment_id)
    data_use.record_use(
        staff,
        appointment.citizen_id,
        data_use.REVEAL_PERSONAL_DATA,
        reason=data_use.COUNTER_SERVICE,
        application_id=appointment.application_id,
    )
    audit.record_event(
        "appointment_contact_revealed",
        actor=staff,
        application_id=appointment.application_id,
        details={"appointment": appointment.id, "code": appointment.code},
    )
    return appointment.citizen.phone or ""
