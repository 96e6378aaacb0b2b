"""The reviewer's workspace: the department's queue with its deadline badges, the case page's
data (masked by default), the logged "显示完整信息", and the staff's view of a material.

Everything here is scoped to the reviewer's own department; another department's case is
"not found", exactly like a case that does not exist.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select, update
from sqlalchemy.orm import selectinload

from portal.extensions import db
from portal.models import (
    Application,
    ApplicationMaterial,
    CorrectionRequest,
    Document,
    Event,
    ItemVersion,
    Notice,
    PostCheckTask,
    Role,
    ServiceItem,
    StaffReminder,
    Suspension,
    User,
)
from portal.models.base import utcnow
from services import (
    audit,
    auto_approval,
    case_states,
    clock,
    data_use,
    notices,
    visits,
    workdays,
    workflow,
)
from services.errors import NotFound
from services.identity import mask_id_number, mask_name, mask_phone
from services.materials import answer_text, case_materials

DUE_FILTERS = ("overdue", "today", "soon", "none")
SOON_WORKING_DAYS = 3


@dataclass
class Badge:
    """A deadline in text and colour: 剩余 N 个工作日 / 今日到期 / 已超期 N 天 / 计时暂停."""

    kind: str  # ok / soon / today / overdue / paused / none
    text: str
    sort_key: tuple


@dataclass
class QueueRow:
    app: Application
    badge: Badge
    deadline_label: str  # what the date is: 受理答复 or 承诺办结
    deadline: date | None
    deemed: bool  # 视为受理
    step_name: str
    flags: list[str] = field(default_factory=list)


def _badge(deadline: date | None, day: date, overrides: dict[date, bool], paused: bool) -> Badge:
    if paused:
        return Badge("paused", str(_l("特别程序中，计时暂停")), (3, 0))
    if deadline is None:
        return Badge("none", str(_l("无期限")), (4, 0))
    if deadline < day:
        late = (day - deadline).days
        return Badge("overdue", str(_l("已超期 %(n)d 天", n=late)), (0, -late))
    if deadline == day:
        return Badge("today", str(_l("今日到期")), (1, 0))
    left = workdays.working_days_between(day, deadline, overrides)
    return Badge(
        "soon" if left <= SOON_WORKING_DAYS else "ok",
        str(_l("剩余 %(n)d 个工作日", n=left)),
        (2, left),
    )


def _received_dates(app_ids: list[int]) -> dict[int, date]:
    if not app_ids:
        return {}
    rows = db.session.execute(
        select(CorrectionRequest.application_id, func.max(CorrectionRequest.resubmitted_at))
        .where(CorrectionRequest.application_id.in_(app_ids))
        .group_by(CorrectionRequest.application_id)
    )
    return {app_id: clock.local_date(moment) for app_id, moment in rows if moment is not None}


def department_items(actor: User) -> list[ItemVersion]:
    return list(
        db.session.scalars(
            select(ItemVersion)
            .join(ServiceItem, ServiceItem.published_version_id == ItemVersion.id)
            .where(ServiceItem.department_id == actor.department_id)
            .order_by(ItemVersion.name)
        )
    )


def queue(
    actor: User,
    *,
    status: str = "",
    item_id: int | None = None,
    step: str = "",
    due: str = "",
    day: date | None = None,
) -> list[QueueRow]:
    """The department's open cases, most urgent first, in a fixed number of queries."""
    day = day or clock.local_today()
    stmt = (
        select(Application)
        .where(
            Application.department_id == actor.department_id,
            Application.status.in_(case_states.STAFF_OPEN_STATES),
        )
        .options(
            selectinload(Application.item_version),
            selectinload(Application.applicant),
            selectinload(Application.assignee),
        )
    )
    if status in case_states.STAFF_OPEN_STATES:
        stmt = stmt.where(Application.status == status)
    if item_id:
        stmt = stmt.where(Application.item_version.has(ItemVersion.item_id == item_id))
    apps = list(db.session.scalars(stmt.limit(500)))
    received = _received_dates([a.id for a in apps])
    arrivals = {
        a.id: received.get(a.id) or (clock.local_date(a.submitted_at) if a.submitted_at else day)
        for a in apps
    }
    earliest = min(
        [day, *arrivals.values(), *(a.due_date for a in apps if a.due_date)], default=day
    )
    latest = max([day, *(a.due_date for a in apps if a.due_date)], default=day)
    overrides = workdays.load_overrides(earliest, latest + timedelta(days=60))
    rows = []
    for app in apps:
        steps = app.item_version.steps or []
        step_name = steps[app.current_step]["name"] if app.current_step < len(steps) else ""
        if step and step_name != step:
            continue
        answer_by = workdays.add_working_days(
            arrivals[app.id], workflow.DEEMED_ACCEPTANCE_WORKING_DAYS, overrides
        )
        deemed = app.status == "submitted" and (
            app.deemed_accepted_at is not None or answer_by < day
        )
        if app.status == "submitted" and app.due_date is None:
            deadline, label = answer_by, str(_l("受理答复期限"))
        elif app.status in case_states.DELIVERY_STATES:
            deadline, label = None, str(case_states.state_label(app.status))
        else:
            deadline, label = app.due_date, str(_l("承诺办结日"))
        badge = _badge(deadline, day, overrides, app.status == "suspended")
        if due == "overdue" and badge.kind != "overdue":
            continue
        if due == "today" and badge.kind != "today":
            continue
        if due == "soon" and badge.kind not in ("today", "soon"):
            continue
        if due == "none" and deadline is not None:
            continue
        flags = []
        if app.supply_deadline:
            flags.append(str(_l("容缺材料 %(day)s 前补齐", day=app.supply_deadline.isoformat())))
        if app.overdue_at:
            flags.append(str(_l("已标记超期")))
        rows.append(QueueRow(app, badge, label, deadline, deemed, step_name, flags))
    rows.sort(key=lambda r: (r.badge.sort_key, r.deadline or date.max, r.app.id))
    return rows


def step_names(actor: User) -> list[str]:
    names: dict[str, None] = {}
    for version in department_items(actor):
        for step in version.steps or []:
            names.setdefault(step.get("name", ""), None)
    return [n for n in names if n]


# the reviewer's message centre shows each reminder under a title by its kind
REMINDER_TITLES = {
    "deemed": _l("视为受理"),
    "overdue": _l("办件已超期"),
    "due_soon": _l("办件即将到期"),
    "post_check": _l("告知承诺核查"),
    "resubmitted": _l("申请人已补正"),
    "supplied": _l("申请人已补交容缺材料"),
}


def _unread_for(actor: User) -> tuple:
    """The reminders addressed to the reviewer: their department's, or theirs alone, not yet read."""
    return (
        StaffReminder.department_id == actor.department_id,
        StaffReminder.read_at.is_(None),
        (StaffReminder.user_id.is_(None)) | (StaffReminder.user_id == actor.id),
    )


def reminders(actor: User, limit: int = 20, *, include_read: bool = False) -> list[StaffReminder]:
    """The reviewer's reminders, newest first: unread only (the queue) or all (the message centre)."""
    where = _unread_for(actor)
    return list(
        db.session.scalars(
            select(StaffReminder)
            .where(*(where if not include_read else (where[0], where[2])))
            .order_by(StaffReminder.id.desc())
            .limit(limit)
        )
    )


def unread_reminder_count(actor: User) -> int:
    return (
        db.session.scalar(
            select(func.count()).select_from(StaffReminder).where(*_unread_for(actor))
        )
        or 0
    )


def mark_reminders_read(actor: User) -> int:
    return db.session.execute(
        update(StaffReminder)
        .where(*_unread_for(actor))
        .values(read_at=utcnow())
        .execution_options(synchronize_session=False)
    ).rowcount


def department_reviewers(department_id: int | None) -> list[User]:
    return list(
        db.session.scalars(
            select(User)
            .where(
                User.role == Role.reviewer,
                User.active.is_(True),
                User.department_id == department_id,
            )
            .order_by(User.display_name)
        )
    )


# ---- the case page ------------------------------------------------------------------------


@dataclass
class CaseView:
    app: Application
    revealed: bool
    applicant: dict[str, str]
    answers: list[dict[str, Any]]
    materials: list[ApplicationMaterial]
    events: list[Event]
    notices: list[Notice]
    actions: list[str]
    failed_rules: list[dict[str, Any]]
    steps: list[dict[str, Any]]
    correction: CorrectionRequest | None
    post_check: PostCheckTask | None
    suspension: Suspension | None
    visit_count: int
    promised_visits: int
    reviewers: list[User]


MASKED_TYPES = {"id_number": mask_id_number, "phone": mask_phone}


def case_view(actor: User, application_id: int, *, revealed: bool = False) -> CaseView:
    app = workflow.get_staff_case(actor, application_id)
    citizen = app.applicant
    applicant = {
        "name": citizen.name if revealed else mask_name(citizen.name),
        "id_number": citizen.id_number if revealed else mask_id_number(citizen.id_number),
        "phone": (citizen.phone or "") if revealed else mask_phone(citizen.phone or ""),
        "address": citizen.address
        if revealed
        else (citizen.address[:6] + "……" if citizen.address else ""),
    }
    answers = []
    for q in app.item_version.questions or []:
        value = answer_text(q, (app.form_data or {}).get(q["key"]))
        if not revealed and value:
            if q.get("type") in MASKED_TYPES:
                value = MASKED_TYPES[q["type"]](value)
            elif q.get("prefill") == "name":
                value = mask_name(value)
            elif q.get("type") == "address" or q.get("prefill") == "address":
                value = value[:6] + "……"
        answers.append({"key": q["key"], "label": q["label"], "value": value})
    materials = case_materials(app.id)
    events = list(
        db.session.scalars(
            select(Event)
            .where(Event.application_id == app.id)
            .options(selectinload(Event.actor))
            .order_by(Event.id)
        )
    )
    suspension = db.session.scalar(
        select(Suspension).where(Suspension.application_id == app.id, Suspension.ended_on.is_(None))
    )
    post_check = db.session.scalar(
        select(PostCheckTask).where(PostCheckTask.application_id == app.id)
    )
    return CaseView(
        app=app,
        revealed=revealed,
        applicant=applicant,
        answers=answers,
        materials=materials,
        events=events,
        notices=notices.notices_of(app.id),
        actions=workflow.offered_actions(app, actor),
        failed_rules=auto_approval.failed_rules(app.id),
        steps=app.item_version.steps or [],
        correction=workflow.open_correction(app),
        post_check=post_check,
        suspension=suspension,
        visit_count=app.visit_count,
        promised_visits=visits.promised_visits(app),
        reviewers=department_reviewers(app.department_id),
    )


def staff_code(user: User) -> str:
    """How a citizen sees the staff member who looked at their data: a masked account id."""
    name = user.username or str(user.id)
    return name[:1] + "*" * max(len(name) - 3, 1) + name[-2:] if len(name) > 3 else "*" * len(name)


def reveal_personal_data(actor: User, application_id: int) -> Application:
    """ "显示完整信息": logged in the audit trail, and shown to the citizen on their case."""
    app = workflow.get_staff_case(actor, application_id)
    audit.record_event(
        "personal_data_revealed",
        actor=actor,
        application_id=app.id,
        details={
            "department": actor.department.name if actor.department else "",
            "staff": staff_code(actor),
            "fields": ["name", "id_number", "phone", "address", "form_data"],
        },
    )
    data_use.record_use(
        actor,
        app.applicant_id,
        data_use.REVEAL_PERSONAL_DATA,
        application_id=app.id,
        reason=data_use.CASE_REVIEW,
    )
    return app


def material_document(actor: User, application_id: int, material_id: int) -> Document:
    """The file behind one material of a case of the reviewer's department (404 otherwise)."""
    app = workflow.get_staff_case(actor, application_id)
    material = next((m for m in app.materials if m.id == material_id), None)
    if material is None or material.document_id is None:
        raise NotFound(str(_l("材料不存在")))
    document = db.session.get(Document, material.document_id)
    data_use.record_use(
        actor,
        app.applicant_id,
        data_use.VIEW_DOCUMENT,
        application_id=app.id,
        document=document,
        reason=data_use.CASE_REVIEW,
    )
    return document


def post_check_tasks(actor: User) -> list[PostCheckTask]:
    return list(
        db.session.scalars(
            select(PostCheckTask)
            .where(PostCheckTask.department_id == actor.department_id)
            .order_by(PostCheckTask.status != "open", PostCheckTask.due_date, PostCheckTask.id)
            .limit(200)
        )
    )


def applications_by_id(ids: list[int]) -> dict[int, Application]:
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
