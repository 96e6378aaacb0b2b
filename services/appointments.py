"""预约: a citizen books a place in a hall for an item or one of their own cases.

Capacity is kept by the database, not by reading and then writing: taking a place is one
conditional UPDATE (``booked = booked + 1 … WHERE booked < capacity``) whose row count says
whether it succeeded, so concurrent bookings never overfill a slot on SQLite or PostgreSQL.
Freeing a place is the mirror UPDATE (``booked > 0``). A booking changes state only by
conditional UPDATEs on its status too, so a cancel racing a reschedule or the counter's 接待
changes exactly one thing.

The rules a booking must pass (``check_booking``):
- the slot exists (404 otherwise), its hall is open, its category is open and serves the
  item's department (the hall's 综合受理 category serves any item);
- it has not started yet (today's slot only until its start time) and has a free place;
- at most ``MAX_ACTIVE`` upcoming bookings per citizen;
- one upcoming booking per matter: a second one for the same case or the same item is
  refused whatever the day (our call: the visit is meant to settle the matter once, and a
  second place would only block another citizen; the citizen reschedules instead).

"Run at most once" (最多跑一次): ``prepare`` says what a case still needs online before the
visit (a draft's pre-check problems, the items of an open 补正, missing 容缺 materials), or
that everything is ready ("材料已预审，到场一次办结"), or that the result waits to be picked
up with an ID card.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import date, datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.orm import selectinload

from portal.extensions import db
from portal.models import (
    Application,
    ApplicationMaterial,
    Appointment,
    AppointmentSlot,
    Citizen,
    CounterContext,
    ItemVersion,
    QueueCategory,
    Role,
    SatisfiedBy,
    ServiceHall,
    ServiceItem,
    User,
)
from portal.models.base import utcnow
from services import applications, audit, clock, counter, messages, workflow
from services.errors import Conflict, NotAuthorized, NotFound, ValidationError

MAX_ACTIVE = 3  # upcoming bookings per citizen
CODE_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"  # no 0/O, 1/I: read out at the door
CODE_LENGTH = 6
UPCOMING = "booked"
STATUS_LABELS = {
    "booked": _l("已预约"),
    "arrived": _l("已到场"),
    "done": _l("已办结"),
    "cancelled": _l("已取消"),
    "no_show": _l("未到场"),
}
# the case states in which a visit has nothing left to do
NOTHING_TO_DO = tuple(s for s in applications.CLOSED_STATES)

FULL_MESSAGE = _l("该时段已约满，请选择其他时段")
STARTED_MESSAGE = _l("该时段已开始或已过去，请选择其他时段")


def local_now() -> datetime:
    """Now as the hall's wall clock (naive, like the slots' day and time): the city's zone,
    whatever zone the server runs in."""
    return clock.local_now().replace(tzinfo=None)


# ---- what is booked: an item, or one of the citizen's own cases -----------------------------


@dataclass
class Target:
    """The matter of a booking: an item, or a case (which names its item)."""

    item: ServiceItem | None
    application: Application | None = None

    @property
    def department_id(self) -> int | None:
        if self.application is not None:
            return self.application.department_id
        return self.item.published_version.department_id if self.item else None

    @property
    def title(self) -> str:
        if self.application is not None:
            return self.application.title
        return self.item.published_version.name if self.item else ""


def target_for_item(actor: User, code: str) -> Target:
    """An item; when the citizen already has an open case or draft for it, that case (so the
    booking page says what the case still needs rather than offering a second application)."""
    item = db.session.scalar(
        select(ServiceItem)
        .where(ServiceItem.code == code)
        .options(selectinload(ServiceItem.published_version))
    )
    if item is None or item.published_version is None:
        raise NotFound(str(_l("该事项暂未开放办理")))
    case = None
    if actor.citizen_id is not None:
        case = db.session.scalar(
            select(Application)
            .join(ItemVersion, Application.item_version_id == ItemVersion.id)
            .where(
                ItemVersion.item_id == item.id,
                Application.applicant_id == actor.citizen_id,
                Application.parent_id.is_(None),
                Application.status.not_in(NOTHING_TO_DO),
            )
            .order_by(Application.updated_at.desc(), Application.id.desc())
            .limit(1)
        )
    return Target(item=item, application=case)


def target_for_case(actor: User, case_id: int) -> Target:
    """One of the actor's own cases (404 for anyone else's); a closed case needs no visit."""
    app = applications.get_own_application(actor, case_id)
    if app.status in NOTHING_TO_DO:
        raise Conflict(str(_l("该办件已办结或已终止，无需预约到场")))
    item = app.item_version.item if app.item_version is not None else None
    return Target(item=item, application=app)


def target_of(appointment: Appointment) -> Target:
    app = (
        db.session.get(Application, appointment.application_id)
        if appointment.application_id
        else None
    )
    item = db.session.get(ServiceItem, appointment.item_id) if appointment.item_id else None
    return Target(item=item, application=app)


# ---- halls, categories, days and slots ------------------------------------------------------


def open_halls() -> list[ServiceHall]:
    return list(
        db.session.scalars(
            select(ServiceHall).where(ServiceHall.active.is_(True)).order_by(ServiceHall.id)
        )
    )


def category_for(hall: ServiceHall, department_id: int | None) -> QueueCategory | None:
    """The hall's category serving the department, else its 综合受理 (serves any item)."""
    general = None
    for category in hall.categories:
        if department_id is not None and department_id in (category.department_ids or []):
            return category
        if not category.department_ids and general is None:
            general = category
    return general


@dataclass
class SlotChoice:
    slot: AppointmentSlot
    remaining: int
    started: bool

    @property
    def bookable(self) -> bool:
        return self.remaining > 0 and not self.started


@dataclass
class BookingPage:
    """What the booking page shows: halls, the derived category, days with places, slots."""

    halls: list[ServiceHall]
    hall: ServiceHall | None
    category: QueueCategory | None
    days: list[tuple[date, int]] = field(default_factory=list)  # (day, places left)
    day: date | None = None
    slots: list[SlotChoice] = field(default_factory=list)


def _started(slot: AppointmentSlot, now: datetime) -> bool:
    return datetime.combine(slot.day, slot.starts_at) <= now


def booking_page(
    target: Target, hall_code: str | None, day: date | None, now: datetime | None = None
) -> BookingPage:
    now = now or local_now()
    halls = open_halls()
    hall = (
        halls[0]
        if halls and not hall_code
        else next((h for h in halls if h.code == hall_code), None)
    )
    if hall_code and hall is None:
        raise NotFound(str(_l("服务大厅不存在")))
    page = BookingPage(
        halls=halls, hall=hall, category=category_for(hall, target.department_id) if hall else None
    )
    if page.category is None or not page.category.open:
        return page
    # places left per day count only slots still to come: today's until they start (当天预约)
    left = func.sum(AppointmentSlot.capacity - AppointmentSlot.booked)
    page.days = [
        (d, int(n or 0))
        for d, n in db.session.execute(
            select(AppointmentSlot.day, left)
            .where(
                AppointmentSlot.category_id == page.category.id,
                AppointmentSlot.active.is_(True),
                or_(
                    AppointmentSlot.day > now.date(),
                    and_(
                        AppointmentSlot.day == now.date(),
                        AppointmentSlot.starts_at > now.time(),
                    ),
                ),
            )
            .group_by(AppointmentSlot.day)
            .order_by(AppointmentSlot.day)
        )
    ]
    available = [d for d, _ in page.days]
    page.day = day if day in available else next((d for d, n in page.days if n > 0), None)
    if page.day is not None:
        page.slots = [
            SlotChoice(s, s.capacity - s.booked, _started(s, now))
            for s in db.session.scalars(
                select(AppointmentSlot)
                .where(
                    AppointmentSlot.category_id == page.category.id,
                    AppointmentSlot.day == page.day,
                    AppointmentSlot.active.is_(True),
                )
                .order_by(AppointmentSlot.starts_at)
            )
        ]
    return page


# ---- booking, cancelling, rescheduling -------------------------------------------------------


def _citizen_of(actor: User) -> Citizen:
    if actor is None or actor.role != Role.citizen or actor.citizen is None:
        raise NotAuthorized(str(_l("请以办事群众身份登录后预约")))
    return actor.citizen


def _upcoming(citizen_id: int, today: date):
    return (
        select(Appointment)
        .join(AppointmentSlot, Appointment.slot_id == AppointmentSlot.id)
        .where(
            Appointment.citizen_id == citizen_id,
            Appointment.status == UPCOMING,
            AppointmentSlot.day >= today,
        )
    )


def check_booking(
    citizen: Citizen,
    target: Target,
    slot: AppointmentSlot,
    now: datetime,
    replacing: Appointment | None = None,
) -> None:
    """Every rule except capacity (which the UPDATE itself enforces); raises ValidationError."""
    hall = slot.hall
    if not hall.active or not slot.category.open:
        raise ValidationError({"slot": str(_l("该服务类别暂停预约，请选择其他大厅或日期"))})
    if not slot.active:
        raise ValidationError({"slot": str(_l("该时段已停止预约，请选择其他时段"))})
    if category_for(hall, target.department_id) is not slot.category:
        raise ValidationError({"slot": str(_l("该时段不受理这个事项，请从列出的时段中选择"))})
    if _started(slot, now):
        raise ValidationError({"slot": str(STARTED_MESSAGE)})
    others = _upcoming(citizen.id, now.date())
    if replacing is not None:
        others = others.where(Appointment.id != replacing.id)
    # serialise one citizen's bookings (PostgreSQL; SQLite's writers are serialised already)
    db.session.execute(select(Citizen.id).where(Citizen.id == citizen.id).with_for_update())
    active = list(db.session.scalars(others))
    same = [
        a
        for a in active
        if (target.application is not None and a.application_id == target.application.id)
        or (target.item is not None and a.item_id == target.item.id)
    ]
    if same:
        raise ValidationError(
            {
                "": str(
                    _l("您已预约过这件事（预约号 %(code)s），如需换时间请改约", code=same[0].code)
                )
            }
        )
    if len(active) >= MAX_ACTIVE:
        raise ValidationError(
            {"": str(_l("每人最多同时保留 %(n)d 个预约，请先取消不需要的预约", n=MAX_ACTIVE))}
        )


def _take_place(slot_id: int) -> bool:
    """The one conditional UPDATE that keeps ``booked`` ≤ ``capacity`` (and takes nothing in a
    slot the hall withdrew at the same moment: services/capacity.py)."""
    taken = db.session.execute(
        update(AppointmentSlot)
        .where(
            AppointmentSlot.id == slot_id,
            AppointmentSlot.active.is_(True),
            AppointmentSlot.booked < AppointmentSlot.capacity,
        )
        .values(booked=AppointmentSlot.booked + 1)
        .execution_options(synchronize_session=False)
    ).rowcount
    return taken == 1


def _free_place(slot_id: int) -> None:
    db.session.execute(
        update(AppointmentSlot)
        .where(AppointmentSlot.id == slot_id, AppointmentSlot.booked > 0)
        .values(booked=AppointmentSlot.booked - 1)
        .execution_options(synchronize_session=False)
    )


def _slot(slot_id: int | None) -> AppointmentSlot:
    slot = db.session.get(AppointmentSlot, slot_id) if slot_id else None
    if slot is None:
        raise NotFound(str(_l("预约时段不存在")))
    return slot


def new_code() -> str:
    while True:
        code = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
        if db.session.scalar(select(Appointment.id).where(Appointment.code == code)) is None:
            return code


def when_text(slot: AppointmentSlot) -> str:
    return f"{slot.day.isoformat()} {slot.starts_at:%H:%M}-{slot.ends_at:%H:%M}"


def _notify(appointment: Appointment, kind: str, target: Target) -> None:
    slot = appointment.slot
    messages.notify(
        appointment.citizen,
        kind,
        application=target.application,
        what=target.title,
        code=appointment.code,
        hall=slot.hall.name,
        when=when_text(slot),
    )


def book_appointment(
    actor: User, target: Target, slot_id: int | None, now: datetime | None = None
) -> Appointment:
    """Take a place in the slot for the target; refused with a field error, writing nothing."""
    citizen = _citizen_of(actor)
    slot = _slot(slot_id)
    now = now or local_now()
    check_booking(citizen, target, slot, now)
    if not _take_place(slot.id):
        raise ValidationError({"slot": str(FULL_MESSAGE)})
    appointment = Appointment(
        code=new_code(),
        slot_id=slot.id,
        citizen_id=citizen.id,
        item_id=target.item.id if target.item else None,
        application_id=target.application.id if target.application else None,
        status=UPCOMING,
        note="",
    )
    db.session.add(appointment)
    db.session.flush()
    db.session.refresh(slot)
    audit.record_event(
        "appointment_booked",
        actor=actor,
        details={
            "appointment": appointment.id,
            "code": appointment.code,
            "slot": slot.id,
            "application": appointment.application_id,
        },
    )
    _notify(appointment, "appointment_booked", target)
    return appointment


def own_appointment(actor: User, appointment_id: int) -> Appointment:
    """The citizen's own booking (404 for anyone else's)."""
    appointment = db.session.get(Appointment, appointment_id)
    if (
        appointment is None
        or actor.citizen_id is None
        or appointment.citizen_id != actor.citizen_id
    ):
        raise NotFound(str(_l("预约不存在")))
    return appointment


def has_started(slot: AppointmentSlot, now: datetime | None = None) -> bool:
    return _started(slot, now or local_now())


def is_changeable(appointment: Appointment, now: datetime | None = None) -> bool:
    """Cancel and 改约 are open until the slot starts."""
    return appointment.status == UPCOMING and not has_started(appointment.slot, now)


def _changeable(appointment: Appointment, now: datetime) -> None:
    if appointment.status != UPCOMING:
        raise Conflict(
            str(_l("该预约已%(status)s，不能再更改", status=STATUS_LABELS[appointment.status]))
        )
    if _started(appointment.slot, now):
        raise Conflict(str(_l("预约时段已开始，不能再取消或改约")))


def cancel_appointment(
    actor: User, appointment_id: int, now: datetime | None = None
) -> Appointment:
    """Cancel an upcoming booking and give its place back."""
    appointment = own_appointment(actor, appointment_id)
    _changeable(appointment, now or local_now())
    changed = db.session.execute(
        update(Appointment)
        .where(Appointment.id == appointment.id, Appointment.status == UPCOMING)
        .values(status="cancelled", cancelled_at=utcnow())
        .execution_options(synchronize_session=False)
    ).rowcount
    if not changed:
        raise Conflict(str(_l("该预约已被处理，请刷新后重试")))
    _free_place(appointment.slot_id)
    db.session.refresh(appointment)
    audit.record_event(
        "appointment_cancelled",
        actor=actor,
        details={"appointment": appointment.id, "code": appointment.code},
    )
    _notify(appointment, "appointment_cancelled", target_of(appointment))
    return appointment


def reschedule_appointment(
    actor: User, appointment_id: int, slot_id: int | None, now: datetime | None = None
) -> Appointment:
    """改约: take the new place and free the old one in the same transaction (same code)."""
    appointment = own_appointment(actor, appointment_id)
    now = now or local_now()
    _changeable(appointment, now)
    slot = _slot(slot_id)
    if slot.id == appointment.slot_id:
        raise ValidationError({"slot": str(_l("请选择与原预约不同的时段"))})
    target = target_of(appointment)
    check_booking(appointment.citizen, target, slot, now, replacing=appointment)
    old_slot_id = appointment.slot_id
    if not _take_place(slot.id):
        raise ValidationError({"slot": str(FULL_MESSAGE)})
    moved = db.session.execute(
        update(Appointment)
        .where(
            Appointment.id == appointment.id,
            Appointment.status == UPCOMING,
            Appointment.slot_id == old_slot_id,
        )
        .values(slot_id=slot.id)
        .execution_options(synchronize_session=False)
    ).rowcount
    if not moved:  # cancelled or moved meanwhile: the caller rolls back the place just taken
        raise Conflict(str(_l("该预约已被处理，请刷新后重试")))
    _free_place(old_slot_id)
    db.session.expire_all()
    appointment = db.session.get(Appointment, appointment.id)
    audit.record_event(
        "appointment_rescheduled",
        actor=actor,
        details={"appointment": appointment.id, "from": old_slot_id, "to": slot.id},
    )
    _notify(appointment, "appointment_rescheduled", target)
    return appointment


def list_own(actor: User) -> list[Appointment]:
    if actor.citizen_id is None:
        return []
    return list(
        db.session.scalars(
            select(Appointment)
            .join(AppointmentSlot, Appointment.slot_id == AppointmentSlot.id)
            .where(Appointment.citizen_id == actor.citizen_id)
            .options(
                selectinload(Appointment.slot).selectinload(AppointmentSlot.hall),
                selectinload(Appointment.slot).selectinload(AppointmentSlot.category),
            )
            .order_by(
                AppointmentSlot.day.desc(), AppointmentSlot.starts_at.desc(), Appointment.id.desc()
            )
        )
    )


def titles_of(appointments: list[Appointment]) -> dict[int, str]:
    """{appointment id: what it is for} in two queries."""
    app_ids = {a.application_id for a in appointments if a.application_id}
    item_ids = {a.item_id for a in appointments if a.item_id and not a.application_id}
    apps = (
        {
            a.id: a
            for a in db.session.scalars(
                select(Application)
                .where(Application.id.in_(app_ids))
                .options(selectinload(Application.item_version), selectinload(Application.bundle))
            )
        }
        if app_ids
        else {}
    )
    items = (
        {
            i.id: i
            for i in db.session.scalars(
                select(ServiceItem)
                .where(ServiceItem.id.in_(item_ids))
                .options(selectinload(ServiceItem.published_version))
            )
        }
        if item_ids
        else {}
    )
    out = {}
    for a in appointments:
        if a.application_id in apps:
            out[a.id] = apps[a.application_id].title
        elif a.item_id in items and items[a.item_id].published_version:
            out[a.id] = items[a.item_id].published_version.name
        else:
            out[a.id] = ""
    return out


# ---- 最多跑一次: what to finish online before the visit --------------------------------------


@dataclass
class Preparation:
    """``kind``: no_case, draft, waiting, correction, supply, ready, pickup, closed."""

    kind: str
    ready: bool
    summary: str
    todo: list[str] = field(default_factory=list)  # what to finish online first
    bring: list[str] = field(default_factory=list)  # what to bring on the day


READY_STATES = ("accepted", "accepted_on_commitment", "in_review", "suspended")
PREPARATION_LABELS = {
    "no_case": _l("未在网上申请"),
    "draft": _l("草稿未提交"),
    "waiting": _l("预审中"),
    "correction": _l("待补正"),
    "supply": _l("待补交容缺材料"),
    "ready": _l("材料已预审"),
    "pickup": _l("待领取结果"),
    "closed": _l("已办结"),
}
_KIND_OF_STATUS = {
    applications.DRAFT: "draft",
    "submitted": "waiting",
    "correction_required": "correction",
    "accepted_pending_materials": "supply",
    "approved": "pickup",
    "awaiting_pickup": "pickup",
}


def preparation_kind(app: Application | None) -> str:
    """The case's readiness for the visit, from its status alone (cheap, for lists)."""
    if app is None:
        return "no_case"
    return _KIND_OF_STATUS.get(app.status, "ready" if app.status in READY_STATES else "closed")


def prepare(target: Target) -> Preparation:
    """What the citizen must still do online so that the one visit settles the matter."""
    app = target.application
    if app is None:
        return Preparation(
            "no_case",
            False,
            str(
                _l(
                    "这个事项还没有办件。建议先在网上提交申请，材料预审通过后到场一次办结；"
                    "也可以直接到场，请按材料清单带齐材料。"
                )
            ),
        )
    status = app.status
    if status == applications.DRAFT:
        todo = [p.message for p in applications.precheck(app)] if app.item_version else []
        if not todo:
            todo = [str(_l("申请已填好，请确认并提交"))]
        return Preparation(
            "draft",
            False,
            str(_l("申请还没有提交。请先在网上完成以下事项，预审通过后到场一次办结：")),
            todo=todo,
        )
    if status == "correction_required":
        request = workflow.open_correction(app)
        todo = [f"{i['label']}：{i['reason']}" for i in (request.items if request else [])]
        return Preparation(
            "correction",
            False,
            str(_l("部门已一次性告知需要补正的内容，请先在网上补正：")),
            todo=todo,
        )
    if status == "accepted_pending_materials":
        missing = db.session.scalars(
            select(ApplicationMaterial).where(
                ApplicationMaterial.application_id == app.id,
                ApplicationMaterial.satisfied_by == SatisfiedBy.deferred,
            )
        ).all()
        return Preparation(
            "supply",
            False,
            str(_l("还有容缺材料未补交，请先在网上补交：")),
            todo=[m.requirement.material_type.name for m in missing],
        )
    if status == "submitted":
        return Preparation(
            "waiting",
            False,
            str(_l("办件正在预审，预审通过后我们会通知您；到场时请带上身份证原件。")),
            bring=[str(_l("身份证原件"))],
        )
    if status in ("approved", "awaiting_pickup"):
        return Preparation(
            "pickup",
            True,
            str(_l("审批已通过，请携带身份证原件到场领取办理结果。")),
            bring=[str(_l("身份证原件"))],
        )
    if status in READY_STATES:
        originals = db.session.scalars(
            select(ApplicationMaterial)
            .where(ApplicationMaterial.application_id == app.id)
            .options(selectinload(ApplicationMaterial.requirement))
        ).all()
        bring = [str(_l("身份证原件"))] + sorted(
            {
                m.requirement.material_type.name
                for m in originals
                if m.requirement.original
                and m.requirement.form == "paper"
                and m.satisfied_by not in (SatisfiedBy.shared, SatisfiedBy.elicence)
            }
        )
        return Preparation("ready", True, str(_l("材料已预审，到场一次办结")), bring=bring)
    return Preparation("closed", False, str(_l("该办件已办结或已终止，无需到场。")))


# ---- the counter: today's bookings of the clerk's hall ---------------------------------------


def _require_counter(staff: User) -> int:
    if staff is None or staff.role != Role.counter:
        raise NotAuthorized(str(_l("只有综合窗口人员可以查看大厅预约")))
    if staff.hall_id is None:
        raise NotFound(str(_l("您还没有被分配到服务大厅")))
    return staff.hall_id


def hall_day(staff: User, day: date) -> list[Appointment]:
    """The day's bookings of the clerk's hall, by slot (cancelled ones left out)."""
    hall_id = _require_counter(staff)
    return list(
        db.session.scalars(
            select(Appointment)
            .join(AppointmentSlot, Appointment.slot_id == AppointmentSlot.id)
            .where(
                AppointmentSlot.hall_id == hall_id,
                AppointmentSlot.day == day,
                Appointment.status != "cancelled",
            )
            .options(
                selectinload(Appointment.slot).selectinload(AppointmentSlot.category),
                selectinload(Appointment.citizen),
            )
            .order_by(AppointmentSlot.starts_at, AppointmentSlot.category_id, Appointment.id)
        )
    )


def cases_of(appointments: list[Appointment]) -> dict[int, Application]:
    ids = {a.application_id for a in appointments if a.application_id}
    if not ids:
        return {}
    return {
        a.id: a
        for a in db.session.scalars(
            select(Application)
            .where(Application.id.in_(ids))
            .options(selectinload(Application.item_version))
        )
    }


def hall_appointment(staff: User, appointment_id: int) -> Appointment:
    """A booking of the clerk's own hall (404 for another hall's)."""
    hall_id = _require_counter(staff)
    appointment = db.session.get(Appointment, appointment_id)
    if appointment is None or appointment.slot.hall_id != hall_id:
        raise NotFound(str(_l("预约不存在")))
    return appointment


def receive_appointment(
    staff: User, appointment_id: int, now: datetime | None = None
) -> CounterContext:
    """接待: the citizen has arrived; the clerk starts serving them for this booking."""
    appointment = hall_appointment(staff, appointment_id)
    now = now or local_now()
    if appointment.slot.day != now.date():
        raise Conflict(str(_l("只能接待当天的预约")))
    changed = db.session.execute(
        update(Appointment)
        .where(Appointment.id == appointment.id, Appointment.status.in_((UPCOMING, "no_show")))
        .values(status="arrived", arrived_at=utcnow())
        .execution_options(synchronize_session=False)
    ).rowcount
    if not changed:
        raise Conflict(str(_l("该预约已接待或已取消")))
    db.session.refresh(appointment)
    app = (
        db.session.get(Application, appointment.application_id)
        if appointment.application_id
        else None
    )
    if (
        app is not None and app.applicant_id != appointment.citizen_id
    ):  # an agent brings a principal's case
        return counter.begin_context(
            staff, app.applicant, agent=appointment.citizen, appointment_id=appointment.id
        )
    return counter.begin_context(staff, appointment.citizen, appointment_id=appointment.id)


def mark_no_show(staff: User, appointment_id: int, now: datetime | None = None) -> Appointment:
    """未到场: only once the slot has started."""
    appointment = hall_appointment(staff, appointment_id)
    if not _started(appointment.slot, now or local_now()):
        raise Conflict(str(_l("预约时段开始后才能标记未到场")))
    changed = db.session.execute(
        update(Appointment)
        .where(Appointment.id == appointment.id, Appointment.status == UPCOMING)
        .values(status="no_show")
        .execution_options(synchronize_session=False)
    ).rowcount
    if not changed:
        raise Conflict(str(_l("该预约已接待或已取消")))
    db.session.refresh(appointment)
    audit.record_event("appointment_no_show", actor=staff, details={"appointment": appointment.id})
    return appointment


# ---- scheduled jobs (called by services/jobs.py) ---------------------------------------------


def missed_condition(now: datetime):
    """Slots that have ended by ``now``."""
    return or_(
        AppointmentSlot.day < now.date(),
        and_(AppointmentSlot.day == now.date(), AppointmentSlot.ends_at <= now.time()),
    )


def flag_no_shows(now: datetime) -> int:
    """Booked and never received although the slot ended → no_show, in one conditional UPDATE
    (a second run, or a second worker, finds nothing left to change)."""
    ended = select(AppointmentSlot.id).where(missed_condition(now))
    return db.session.execute(
        update(Appointment)
        .where(Appointment.status == UPCOMING, Appointment.slot_id.in_(ended))
        .values(status="no_show")
        .execution_options(synchronize_session=False)
    ).rowcount


def due_reminders(day: date) -> list[int]:
    """Upcoming bookings on ``day`` (the reminder job sends the day before)."""
    return list(
        db.session.scalars(
            select(Appointment.id)
            .join(AppointmentSlot, Appointment.slot_id == AppointmentSlot.id)
            .where(Appointment.status == UPCOMING, AppointmentSlot.day == day)
            .order_by(Appointment.id)
        )
    )


def send_reminder(appointment_id: int) -> None:
    appointment = db.session.get(Appointment, appointment_id)
    _notify(appointment, "appointment_reminder", target_of(appointment))
