"""The reviewer's workspace: the department's queue with its deadline badges, the case page's
data (masked by default), the logged "显示完整信息", and the staff's view of a material.

Everything here is scoped to the reviewer's own department; another department's case is
"not found", exactly like a case that does not exist.
"""

from __future__ import annotations

import re
from bisect import bisect_left
from dataclasses import dataclass, field
from datetime import date, time, timedelta
from typing import Any, NamedTuple

from flask_babel import lazy_gettext as _l
from sqlalchemy import Integer, String, and_, bindparam, false, func, or_, select, text, update
from sqlalchemy.orm import load_only, selectinload
from sqlalchemy.orm.attributes import set_committed_value

from portal.extensions import db
from portal.models import (
    Application,
    ApplicationMaterial,
    Bundle,
    Citizen,
    CorrectionRequest,
    Document,
    Event,
    ItemVersion,
    Notice,
    PostCheckTask,
    QueueCount,
    Role,
    ServiceItem,
    StaffReminder,
    Suspension,
    User,
)
from portal.models.applications import QUEUE_OPEN_PREDICATE
from portal.models.base import utcnow
from services import (
    appended_rows,
    audit,
    auto_approval,
    cache,
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
from services.materials import answer_text

DUE_FILTERS = ("overdue", "today", "soon", "none")
SOON_WORKING_DAYS = 3


@dataclass
class Badge:
    """A deadline in text and colour: 剩余 N 个工作日 / 今日到期 / 已超期 N 天 / 计时暂停."""

    kind: str  # ok / soon / today / overdue / paused / none
    text: str
    sort_key: tuple


@dataclass(slots=True)
class QueueRow:
    """One row of the queue, ready to show: ``app`` is the case's columns (a result row with
    id, number, status, version … and the joined names), never an ORM object."""

    app: Any
    badge: Badge
    deadline_label: str  # what the date is: 受理答复 or 承诺办结
    deadline: date | None
    deemed: bool  # 视为受理
    step_name: str
    title: str  # the item's name, or the life event's for a bundle
    applicant: str  # masked (张*三)
    state: str  # the state's label
    flags: list[str] = field(default_factory=list)


# a badge's words; %(n)d is filled in after translation, so that a page translates each once
BADGE_TEXTS = {
    "paused": _l("特别程序中，计时暂停"),
    "none": _l("无期限"),
    "overdue": _l("已超期 %(n)d 天"),
    "today": _l("今日到期"),
    "left": _l("剩余 %(n)d 个工作日"),
}


def _badge(
    deadline: date | None,
    day: date,
    overrides: dict[date, bool],
    paused: bool,
    working_days: _WorkingDays | None = None,
    texts: dict[str, str] | None = None,
) -> Badge:
    """The badge of a deadline; ``texts`` are BADGE_TEXTS already translated (else each is
    translated here)."""

    def say(key: str, **n: int) -> str:
        text = texts[key] if texts is not None else str(BADGE_TEXTS[key])
        return text % n if n else text

    if paused:
        return Badge("paused", say("paused"), (3, 0))
    if deadline is None:
        return Badge("none", say("none"), (4, 0))
    if deadline < day:
        late = (day - deadline).days
        return Badge("overdue", say("overdue", n=late), (0, -late))
    if deadline == day:
        return Badge("today", say("today"), (1, 0))
    if working_days is not None:
        left = working_days.between(day, deadline)
    else:
        left = workdays.working_days_between(day, deadline, overrides)
    return Badge("soon" if left <= SOON_WORKING_DAYS else "ok", say("left", n=left), (2, left))


class _WorkingDays:
    """The working days of one stretch of the calendar, counted once: how many lie between two
    of its dates, or which date ends N of them, is then a look-up, not a walk day by day (a
    queue page's fifty rows all fall in one stretch). Dates outside it ask services/workdays."""

    def __init__(self, first: date, last: date, overrides: dict[date, bool]) -> None:
        self.first, self.overrides = first, overrides
        self.counts = [0]  # working days after ``first`` up to and including first + i
        for i in range(1, (last - first).days + 1):
            worked = workdays.is_workday(first + timedelta(days=i), overrides)
            self.counts.append(self.counts[-1] + worked)

    def _index(self, day: date) -> int | None:
        i = (day - self.first).days
        return i if 0 <= i < len(self.counts) else None

    def between(self, start: date, end: date) -> int:
        """workdays.working_days_between(start, end) for start <= end."""
        a, b = self._index(start), self._index(end)
        if a is None or b is None:
            return workdays.working_days_between(start, end, self.overrides)
        return self.counts[b] - self.counts[a]

    def add(self, start: date, days: int) -> date:
        """workdays.add_working_days(start, days)."""
        a = self._index(start)
        if a is not None:
            i = bisect_left(self.counts, self.counts[a] + days, lo=a)
            if i < len(self.counts):
                return self.first + timedelta(days=i)
        return workdays.add_working_days(start, days, self.overrides)


def department_items(actor: User) -> list[ItemVersion]:
    """The department's published items (name, item id and steps only: the filters' choices)."""
    return list(
        db.session.scalars(
            select(ItemVersion)
            .join(ServiceItem, ServiceItem.published_version_id == ItemVersion.id)
            .where(ServiceItem.department_id == actor.department_id)
            .options(load_only(ItemVersion.item_id, ItemVersion.name, ItemVersion.steps))
            .order_by(ItemVersion.name)
        )
    )


# ---- the queue: keyset pages over a partial index ---------------------------------------------
#
# The department's open cases are read a page at a time in index order, never all of them:
# due-first walks ix_applications_queue_due (department, 承诺办结日 with the cases still waiting
# for acceptance first, id), newest-first ix_applications_queue_new (department, id). Both are
# partial indexes over the open states (migration 0018); the query names those states as
# literals, exactly as the index does, so that SQLite sees the index applies. The next and
# previous links carry the last and first row's sort key (keyset), never an OFFSET, so a page
# costs the same on the first page and the thousandth, with 1,000 cases or 1,000,000.
# The counts per state are kept by the database (queue_counts, migration 0021): a few rows.

PAGE_SIZE = 50
_CURSOR_ID = re.compile(r"[0-9]{1,10}")
_CURSOR_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
MAX_CURSOR_ID = 2**31 - 1
SORTS = ("due", "new")
# the open states as the partial indexes' predicate spells them (the same literal SQL)
OPEN_STATES_SQL = text("applications." + QUEUE_OPEN_PREDICATE)


@dataclass
class QueuePage:
    rows: list[QueueRow]
    counts: dict[str, int]  # open cases of the department per state, whatever the filters
    next_cursor: str | None  # ?after= for the next page, None on the last
    prev_cursor: str | None  # ?before= for the previous page, None on the first

    @property
    def total(self) -> int:
        return sum(self.counts.values())


def _parse_cursor(raw: str, sort: str) -> tuple[date | None, int] | None:
    """A page boundary from the URL: ``<id>`` (newest first) or ``<YYYY-MM-DD or empty>.<id>``
    (due first). Anything else is no boundary at all (the first page), never an error."""
    head, dot, tail = (raw or "").rpartition(".")
    if sort == "new":
        head, tail = "", raw or ""
    elif not dot:
        return None
    if not _CURSOR_ID.fullmatch(tail) or int(tail) > MAX_CURSOR_ID:
        return None
    if not head:
        return None, int(tail)
    if not _CURSOR_DAY.fullmatch(head):
        return None
    try:
        return date.fromisoformat(head), int(tail)
    except ValueError:
        return None


def _cursor(app, sort: str) -> str:
    if sort == "new":
        return str(app.id)
    return f"{app.due_date.isoformat() if app.due_date else ''}.{app.id}"


def _after(key: tuple[date | None, int], sort: str, forward: bool):
    """Rows after (forward) or before the boundary ``key`` in the page order."""
    day, case_id = key
    if sort == "new":  # id descending
        return Application.id < case_id if forward else Application.id > case_id
    due, ident = Application.due_date, Application.id
    if forward:  # (NULL first, then dates ascending), id ascending
        if day is None:
            return or_(and_(due.is_(None), ident > case_id), due.is_not(None))
        return or_(due > day, and_(due == day, ident > case_id))
    if day is None:
        return and_(due.is_(None), ident < case_id)
    return or_(due.is_(None), due < day, and_(due == day, ident < case_id))


def _order(sort: str, forward: bool) -> tuple:
    if sort == "new":
        return (Application.id.desc(),) if forward else (Application.id.asc(),)
    if forward:
        return (Application.due_date.asc().nulls_first(), Application.id.asc())
    return (Application.due_date.desc().nulls_last(), Application.id.desc())


def _first_arrival(target: date, overrides: dict[date, bool]) -> date:
    """The earliest arrival date whose answer deadline (受理答复期限) is on or after ``target``."""
    arrival = target
    while (
        workdays.add_working_days(
            arrival - timedelta(days=1), workflow.DEEMED_ACCEPTANCE_WORKING_DAYS, overrides
        )
        >= target
    ):
        arrival -= timedelta(days=1)
    return arrival


def _due_filter(due: str, day: date):
    """The deadline filters as SQL, matching the badge each row then shows (_badge): a case
    waiting for acceptance is measured by its answer deadline (arrival + 5 working days, the
    arrival being the last resubmission or else the submission), a case in a delivery state has
    no deadline, a suspended one is paused, any other by its 承诺办结日."""
    if due not in DUE_FILTERS:
        return None
    awaiting = and_(Application.status == "submitted", Application.due_date.is_(None))
    no_deadline = Application.status.in_(case_states.DELIVERY_STATES)
    if due == "none":
        return or_(no_deadline, and_(~awaiting, Application.due_date.is_(None)))
    dated = and_(~no_deadline, Application.status != "suspended", ~awaiting)
    overrides = workdays.load_overrides(day - timedelta(days=90), day + timedelta(days=90))
    arrival = func.coalesce(
        select(func.max(CorrectionRequest.resubmitted_at))
        .where(CorrectionRequest.application_id == Application.id)
        .scalar_subquery(),
        Application.submitted_at,
        type_=Application.submitted_at.type,
    )

    def arrived_from(first: date):
        return arrival >= clock.local_instant(first, time(0))

    def arrived_before(first: date):
        return arrival < clock.local_instant(first, time(0))

    if due == "overdue":
        lo, hi = None, day  # deadline < today
    elif due == "today":
        lo, hi = day, day + timedelta(days=1)
    else:  # soon: today, or at most SOON_WORKING_DAYS working days left
        lo, hi = day, workdays.add_working_days(day, SOON_WORKING_DAYS + 1, overrides)
    dated_range = [Application.due_date < hi]
    awaiting_range = [arrived_before(_first_arrival(hi, overrides))]
    if lo is not None:
        dated_range.append(Application.due_date >= lo)
        awaiting_range.append(arrived_from(_first_arrival(lo, overrides)))
    return or_(and_(dated, *dated_range), and_(awaiting, *awaiting_range))


def _step_filter(actor: User, step: str):
    """Cases whose current step (办理流程, in their own guide version) is named ``step``: per
    step position, the versions that have it there (a few IN lists, not one condition per
    version: a department has hundreds of versions)."""
    versions_at: dict[int, list[int]] = {}
    for version_id, (_name, steps) in department_versions(actor.department_id).items():
        for index, s in enumerate(steps):
            if s == step:
                versions_at.setdefault(index, []).append(version_id)
    if not versions_at:
        return false()
    return or_(
        *(
            and_(Application.current_step == index, Application.item_version_id.in_(ids))
            for index, ids in sorted(versions_at.items())
        )
    )


def department_versions(department_id: int | None) -> dict[int, tuple[str, tuple[str, ...]]]:
    """Every item version of the department (published, archived): id → (name, step names).

    What a queue row shows of its item. Kept under the publish generation (services/cache.py):
    a version changes only through the catalogue, whose commits start a new generation."""

    def make() -> dict[int, tuple[str, tuple[str, ...]]]:
        return _version_facts(ItemVersion.department_id == department_id)

    return cache.get_or_set_scoped(make, "review-queue-versions", department_id)


def _version_facts(where) -> dict[int, tuple[str, tuple[str, ...]]]:
    return {
        version_id: (name, tuple(s.get("name", "") for s in steps or []))
        for version_id, name, steps in db.session.execute(
            select(ItemVersion.id, ItemVersion.name, ItemVersion.steps).where(where)
        )
    }


def queue_counts(actor: User) -> dict[str, int]:
    """Open cases of the department per state, from the counts the database keeps (a few rows
    however many cases there are; models/review.py)."""
    return {
        status: n
        for status, n in db.session.execute(_QUEUE_COUNTS, {"department": actor.department_id})
        if n
    }


_QUEUE_COUNTS = (
    select(QueueCount.status, func.sum(QueueCount.n))
    .where(QueueCount.department_id == bindparam("department"))
    .group_by(QueueCount.status)
)


def compact_queue_counts() -> int:
    """Fold each (department, state)'s +1/-1 rows into one; a state whose rows sum to nothing
    keeps none (services/appended_rows.py). Returns the rows removed; the caller commits."""
    return appended_rows.fold("queue_counts", ("department_id", "status"), "n", drop_zero=True)


def queue(
    actor: User,
    *,
    status: str = "",
    item_id: int | None = None,
    step: str = "",
    due: str = "",
    sort: str = "due",
    after: str = "",
    before: str = "",
    day: date | None = None,
    page_size: int = PAGE_SIZE,
) -> QueuePage:
    """One page of the department's open cases, due first (the cases still waiting for
    acceptance, oldest first, then by 承诺办结日) or newest first, in a fixed number of queries."""
    day = day or clock.local_today()
    sort = sort if sort in SORTS else "due"
    forward = True
    key = _parse_cursor(after, sort) if after else None
    if key is None and before:
        key = _parse_cursor(before, sort)
        forward = key is None
    deadline = _due_filter(due, day)
    if (
        status not in case_states.STAFF_OPEN_STATES
        and not item_id
        and not step
        and deadline is None
        and key is None
    ):
        stmt = _FIRST_PAGE[sort]  # what a reviewer opens all day: built once
    else:
        stmt = _filtered_page(actor, status, item_id, step, deadline, key, sort, forward)
    apps = db.session.execute(
        stmt, {"department": actor.department_id, "limit": page_size + 1}
    ).all()
    more = len(apps) > page_size
    apps = apps[:page_size]
    if not forward:
        apps.reverse()
    has_next = more if forward else key is not None
    has_prev = (key is not None) if forward else more
    return QueuePage(
        rows=_queue_rows(apps, day, department_versions(actor.department_id)),
        counts=queue_counts(actor),
        next_cursor=_cursor(apps[-1], sort) if apps and has_next else None,
        prev_cursor=_cursor(apps[0], sort) if apps and has_prev else None,
    )


# what a queue row shows: enough of the case for its badge, its links and the claim form, the
# names it shows (applicant, holder, bundle) by a join on their primary keys, and the last
# resubmission (the arrival a waiting case's answer deadline counts from) per row: one statement
QUEUE_COLUMNS = (
    "id",
    "number",
    "item_version_id",
    "bundle_id",
    "department_id",
    "applicant_id",
    "assignee_id",
    "status",
    "submitted_at",
    "due_date",
    "deemed_accepted_at",
    "overdue_at",
    "supply_deadline",
    "current_step",
    "version",
)
_QUEUE_SELECT = (
    select(
        *(getattr(Application, c) for c in QUEUE_COLUMNS),
        Citizen.name.label("applicant_name"),
        User.display_name.label("assignee_name"),
        Bundle.name.label("bundle_name"),
        select(func.max(CorrectionRequest.resubmitted_at))
        .where(CorrectionRequest.application_id == Application.id)
        .correlate(Application)
        .scalar_subquery()
        .label("resubmitted_at"),
    )
    .select_from(Application)
    .outerjoin(Citizen, Citizen.id == Application.applicant_id)
    .outerjoin(User, User.id == Application.assignee_id)
    .outerjoin(Bundle, Bundle.id == Application.bundle_id)
)


# The department and the page size are written into the SQL where it runs (literal_execute),
# not bound: the first page (no filter, no cursor) is then a statement without parameters,
# which PostgreSQL plans once per connection. With them bound it planned the statement again
# on every request (1-1.4 ms at a million cases, more than running it): a big department's
# custom plan always looked cheaper than the generic one, so the prepared statement never
# kept a plan. The values come from the caller: {"department": …, "limit": page size + 1}.
_DEPARTMENT = bindparam("department", type_=Integer, literal_execute=True)
_LIMIT = bindparam("limit", type_=Integer, literal_execute=True)
_FIRST_PAGE = {
    sort: _QUEUE_SELECT.where(Application.department_id == _DEPARTMENT, OPEN_STATES_SQL)
    .order_by(*_order(sort, True))
    .limit(_LIMIT)
    for sort in SORTS
}


def _filtered_page(
    actor: User,
    status: str,
    item_id: int | None,
    step: str,
    deadline,
    key: tuple | None,
    sort: str,
    forward: bool,
):
    """The statement of a page with filters or a page boundary."""
    department = Application.department_id == _DEPARTMENT
    if item_id:
        # one item's cases are few beside the department's: found through
        # ix_applications_item_version_id and sorted, rather than by walking the department's
        # index in page order and skipping the other items' cases (the planner cannot tell
        # the two apart; this spelling of the department's condition takes its index away)
        department = func.coalesce(Application.department_id, 0) == actor.department_id
    stmt = _QUEUE_SELECT.where(department)
    if status in case_states.STAFF_OPEN_STATES:
        # one state: ix_applications_queue_state_due / _department_status_id, in page order.
        # Written into the SQL (one of twelve values) so that PostgreSQL sees the partial
        # index applies whatever plan it keeps, and keeps one for a state's first page.
        stmt = stmt.where(
            Application.status == bindparam(None, status, type_=String, literal_execute=True)
        )
    else:
        stmt = stmt.where(OPEN_STATES_SQL)
    if item_id:
        stmt = stmt.where(
            Application.item_version_id.in_(
                select(ItemVersion.id).where(ItemVersion.item_id == item_id)
            )
        )
    if step:
        stmt = stmt.where(_step_filter(actor, step))
    if deadline is not None:
        stmt = stmt.where(deadline)
    if key is not None:
        stmt = stmt.where(_after(key, sort, forward))
    return stmt.order_by(*_order(sort, forward)).limit(_LIMIT)


def _queue_rows(
    apps: list, day: date, versions: dict[int, tuple[str, tuple[str, ...]]]
) -> list[QueueRow]:
    """The rows' badges, labels and names. Fifty rows share a handful of dates, states and
    texts: each is worked out (and translated) once per page, not once per row."""
    if not apps:
        return []
    missing = {a.item_version_id for a in apps if a.item_version_id not in versions}
    if missing - {None}:  # a version filed under another department (an item that moved)
        versions = {**versions, **_version_facts(ItemVersion.id.in_(missing - {None}))}
    zone = clock.portal_zone()
    arrivals = {
        a.id: clock.local_date(a.resubmitted_at or a.submitted_at, zone)
        if (a.resubmitted_at or a.submitted_at)
        else day
        for a in apps
    }
    earliest = min([day, *arrivals.values(), *(a.due_date for a in apps if a.due_date)])
    latest = max([day, *(a.due_date for a in apps if a.due_date)])
    overrides = workdays.load_overrides(earliest, latest + timedelta(days=60))
    working_days = _WorkingDays(earliest, latest + timedelta(days=60), overrides)
    answer_label, due_label = str(_l("受理答复期限")), str(_l("承诺办结日"))
    overdue_flag, supply_flag = str(_l("已标记超期")), str(_l("容缺材料 %(day)s 前补齐"))
    texts = {key: str(text) for key, text in BADGE_TEXTS.items()}
    answer_by: dict[date, date] = {}
    badges: dict[tuple[date | None, bool], Badge] = {}
    states: dict[str, str] = {}
    rows = []
    for app in apps:
        name, steps = versions.get(app.item_version_id, ("", ()))
        arrival = arrivals[app.id]
        if arrival not in answer_by:
            answer_by[arrival] = working_days.add(arrival, workflow.DEEMED_ACCEPTANCE_WORKING_DAYS)
        status = app.status
        deemed = status == "submitted" and (
            app.deemed_accepted_at is not None or answer_by[arrival] < day
        )
        if status not in states:
            states[status] = case_states.state_label(status)
        if status == "submitted" and app.due_date is None:
            deadline, label = answer_by[arrival], answer_label
        elif status in case_states.DELIVERY_STATES:
            deadline, label = None, states[status]
        else:
            deadline, label = app.due_date, due_label
        paused = status == "suspended"
        badge = badges.get((deadline, paused))
        if badge is None:
            badge = badges[deadline, paused] = _badge(
                deadline, day, overrides, paused, working_days, texts
            )
        flags = []
        if app.supply_deadline:
            flags.append(supply_flag % {"day": app.supply_deadline.isoformat()})
        if app.overdue_at:
            flags.append(overdue_flag)
        rows.append(
            QueueRow(
                app=app,
                badge=badge,
                deadline_label=label,
                deadline=deadline,
                deemed=deemed,
                step_name=steps[app.current_step] if app.current_step < len(steps) else "",
                title=app.bundle_name if app.bundle_id is not None else name,
                applicant=mask_name(app.applicant_name or ""),
                state=states[status],
                flags=flags,
            )
        )
    return rows


def step_names(versions: list[ItemVersion]) -> list[str]:
    names: dict[str, None] = {}
    for version in versions:
        for step in version.steps or []:
            names.setdefault(step.get("name", ""), None)
    return [n for n in names if n]


class ItemChoice(NamedTuple):
    item_id: int
    name: str


@dataclass(frozen=True)
class QueueChoices:
    """The item and step filters' choices: the department's published items and their steps."""

    items: tuple[ItemChoice, ...]
    steps: tuple[str, ...]
    department: str  # the department's name, for the page's heading


def queue_choices(actor: User) -> QueueChoices:
    """The filters' choices change only when something is published, so they are kept under
    the publish generation (services/cache.py): no query, no JSON read on most requests."""
    department_id = actor.department_id

    def make() -> QueueChoices:
        versions = department_items(actor)
        return QueueChoices(
            items=tuple(ItemChoice(v.item_id, v.name) for v in versions),
            steps=tuple(step_names(versions)),
            department=actor.department.name if actor.department else "",
        )

    return cache.get_or_set_scoped(make, "review-queue-choices", department_id)


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
    if not include_read:  # the queue's, on every visit: a statement built once
        return list(
            db.session.scalars(
                _UNREAD_REMINDERS,
                {"department": actor.department_id, "user": actor.id, "limit": limit},
            )
        )
    where = _unread_for(actor)
    return list(
        db.session.scalars(
            select(StaffReminder)
            .where(where[0], where[2])
            .order_by(StaffReminder.id.desc())
            .limit(limit)
        )
    )


_UNREAD_REMINDERS = (
    select(StaffReminder)
    .where(
        StaffReminder.department_id == bindparam("department"),
        StaffReminder.read_at.is_(None),
        (StaffReminder.user_id.is_(None)) | (StaffReminder.user_id == bindparam("user")),
    )
    .order_by(StaffReminder.id.desc())
    .limit(bindparam("limit"))
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
    # the materials came with the case (load_case), with their requirement and type: only
    # their documents are read here, in one query, and the order is the guide's
    materials = sorted(app.materials, key=lambda m: (m.requirement.position, m.id))
    wanted = [m.document_id for m in materials if m.document_id is not None]
    documents = (
        {d.id: d for d in db.session.scalars(select(Document).where(Document.id.in_(wanted)))}
        if wanted
        else {}
    )
    for material in materials:  # each material's .document, as a selectin load sets it
        set_committed_value(material, "document", documents.get(material.document_id))
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
