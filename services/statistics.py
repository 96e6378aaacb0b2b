"""The promise in numbers (统计): the dashboard's KPIs, the items that break the promise, the
cases behind a figure and the public per-item figures.

Everything is counted in SQL (GROUP BY with CASE sums); Python only adds up groups, never
walks over cases. Each fact counts on the local day (PORTAL_TZ) it happened:

- received on the day of submission (提交), accepted on the day of acceptance;
- 不予受理, 不予许可 and every decision (准予 or 不予许可) on the decision day: on time when
  decided on or before the case's due date (which already carries the 特别程序 pauses);
  即办 when decided on the day of acceptance; 秒批 when the item's rules decided it (the
  ``approved`` event without an actor: workflow records ``approve_instantly`` under the state
  it reaches, and only 秒批 takes it with no one acting); the time taken in working days from the
  day of acceptance to the day of decision (services/workdays: holidays and 调休 count);
- 办结 and 撤回 on the day the case closed, with the in-person visits of each completed case;
- 补正 rounds on the day they were requested, 补正例外 on the day granted, post-check
  outcomes on the day checked, 容缺 and 告知承诺 on the day of acceptance;
- 减材料 over the materials of the cases submitted that day; "returning" applicants had a
  completed case before this one was submitted;
- ratings on the day given; queue tickets on their day.

The same grouped queries either answer a period straight from the cases or fill the daily
summaries (portal/models/statistics.py), which `flask jobs run` keeps (``summarise``): the new
days, and again only the days that changes since its last run count on; each month's sums are
kept beside its days. A period is read from the monthly sums for its whole months, the daily
summaries for the other days they cover and the cases for the rest (today, or days the job
has not reached yet), so all give the same numbers. Open and overdue now are counted in a
partial index of the open cases.

A bundle's parent case (一件事) is not counted: its child cases are. Drafts are not cases.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from time import perf_counter
from typing import Any

from flask import has_app_context
from flask_babel import lazy_gettext as _l
from sqlalchemy import (
    Date,
    String,
    and_,
    case,
    cast,
    delete,
    event,
    exists,
    func,
    insert,
    literal,
    or_,
    select,
    text,
    type_coerce,
)
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.orm import Session, aliased

from portal.models import (
    Application,
    ApplicationMaterial,
    Appointment,
    AppointmentSlot,
    CorrectionException,
    CorrectionRequest,
    Department,
    Event,
    FollowUpTicket,
    ItemVersion,
    MaterialRequirement,
    PostCheckTask,
    QueueCategory,
    Rating,
    SatisfiedBy,
    ServiceHall,
    ServiceItem,
    StatDaily,
    StatDuration,
    StatDurationMonthly,
    StatMonthly,
    StatQueue,
    StatQueueMonthly,
    StatStaleDay,
    StatState,
    Ticket,
    User,
    Visit,
)
from portal.models.applications import QUEUE_OPEN_PREDICATE
from portal.models.catalogue import version_themes
from portal.models.statistics import DAILY_COUNTERS
from services import cache, case_states, clock, workdays

MIN_CASES_FOR_SHARES = 20  # public figures: fewer cases than this → no percentages
CHANNELS = ("online", "counter", "kiosk")
NOT_UPLOADED = ("shared", "elicence", "library", "commitment")
# a ticket waits or is served at most this long in the histograms (longer counts as this)
MAX_QUEUE_MINUTES = 600
HOURS_PER_HALL_DAY = 8
# changes are re-read from this long before the last check (transactions still open then)
CHANGE_MARGIN = timedelta(minutes=15)

KPI_LABELS = {
    "received": _l("收件量"),
    "accepted": _l("受理量"),
    "not_accepted": _l("不予受理"),
    "completed": _l("办结量"),
    "denied": _l("不予许可"),
    "withdrawn": _l("撤回"),
    "open_now": _l("在办件"),
    "overdue_now": _l("超期在办件"),
    "share_zero": _l("跑零次率"),
    "share_at_most_one": _l("最多跑一次率"),
    "over_promise": _l("超过承诺到场次数"),
    "on_time_rate": _l("按时办结率"),
    "median_days": _l("办理时长中位数（工作日）"),
    "p90_days": _l("办理时长90分位（工作日）"),
    "instant_share": _l("即办件比例"),
    "auto_share": _l("秒批比例"),
    "compression": _l("承诺时限压缩比"),
    "rounds_per_case": _l("平均补正次数"),
    "corrected_cases": _l("补正办件"),
    "exceptions": _l("补正例外"),
    "deferred": _l("容缺受理"),
    "commitment": _l("告知承诺"),
    "post_checks_open": _l("待核查"),
    "post_checks_passed": _l("核查属实"),
    "post_checks_false": _l("核查不实"),
    "material_share": _l("减材料比例"),
    "material_share_returning": _l("减材料比例（再次办事的申请人）"),
    "source_shared": _l("数据共享"),
    "source_elicence": _l("电子证照"),
    "source_library": _l("材料库复用"),
    "source_commitment": _l("告知承诺免交"),
    "good_rate": _l("好评率"),
    "average_score": _l("平均评分"),
    "follow_ups_open": _l("差评整改中"),
    "follow_ups_overdue": _l("整改超期"),
    "wait_median": _l("等候时间中位数（分钟）"),
    "wait_p90": _l("等候时间90分位（分钟）"),
    "service_median": _l("办理时间中位数（分钟）"),
    "service_p90": _l("办理时间90分位（分钟）"),
    "no_shows": _l("过号及爽约"),
    "tickets_per_hour": _l("每小时取号量"),
}


# ---- what the pages pass and get --------------------------------------------------------


@dataclass(frozen=True)
class StatsFilter:
    """A period of local dates (both inclusive) and the dashboard's filters."""

    start: date
    end: date
    department_id: int | None = None
    item_id: int | None = None  # ServiceItem.id: all versions of the item
    theme_id: int | None = None  # items any of whose versions carry the theme
    channel: str | None = None  # online / counter / kiosk
    hall_id: int | None = None  # cases taken in by a clerk of that hall

    def query_args(self) -> dict[str, str]:
        args = {"start": self.start.isoformat(), "end": self.end.isoformat()}
        for name, value in (
            ("department", self.department_id),
            ("item", self.item_id),
            ("theme", self.theme_id),
            ("channel", self.channel),
            ("hall", self.hall_id),
        ):
            if value is not None:
                args[name] = str(value)
        return args

    def between(self, start: date, end: date) -> StatsFilter:
        return StatsFilter(
            start, end, self.department_id, self.item_id, self.theme_id, self.channel, self.hall_id
        )

    @property
    def case_level(self) -> bool:
        """Filters that only cases carry (a queue ticket has no department, item or channel)."""
        return any(v is not None for v in (self.department_id, self.item_id, self.theme_id)) or (
            self.channel is not None
        )


def default_period(today: date) -> StatsFilter:
    """The last 30 days up to today."""
    return StatsFilter(today - timedelta(days=29), today)


def last_12_months(today: date) -> tuple[date, date]:
    """The public figures' window: the twelve months up to yesterday."""
    end = today - timedelta(days=1)
    try:
        start = end.replace(year=end.year - 1) + timedelta(days=1)
    except ValueError:  # 29 February
        start = end.replace(year=end.year - 1, day=28) + timedelta(days=1)
    return start, end


def _share(part: int, whole: int) -> float | None:
    return part / whole if whole else None


@dataclass(frozen=True)
class Volume:
    received: int
    accepted: int
    not_accepted: int
    completed: int
    denied: int
    withdrawn: int
    open_now: int
    overdue_now: int


@dataclass(frozen=True)
class VisitRow:
    channel: str | None
    completed: int
    zero: int
    one: int
    two: int
    three_plus: int
    share_zero: float | None
    share_at_most_one: float | None
    over_promise: int


@dataclass(frozen=True)
class ItemCompression:
    item_id: int
    item_name: str
    department_name: str
    legal_limit: int | None
    promised_limit: int | None
    unit: str
    ratio: float | None


@dataclass(frozen=True)
class Timeliness:
    decided: int
    on_time: int
    on_time_rate: float | None
    median_days: float | None
    p90_days: float | None
    instant: int
    instant_share: float | None
    auto: int
    auto_share: float | None
    compression: list[ItemCompression]


@dataclass(frozen=True)
class Corrections:
    received: int
    corrected_cases: int
    rounds: int
    rounds_per_case: float | None
    exceptions: int
    deferred: int
    commitment: int
    post_checks_open: int
    post_checks_passed: int
    post_checks_false: int


@dataclass(frozen=True)
class MaterialShare:
    required: int
    not_uploaded: int
    share: float | None
    by_source: dict[str, int]


@dataclass(frozen=True)
class Materials:
    all: MaterialShare
    returning: MaterialShare


@dataclass(frozen=True)
class Ratings:
    count: int
    distribution: dict[int, int]
    average: float | None
    good: int
    good_rate: float | None
    follow_ups_open: int
    follow_ups_overdue: int


@dataclass(frozen=True)
class QueueRow:
    hall_id: int | None
    hall_name: str
    category_id: int | None
    category_name: str
    tickets: int
    served: int
    no_shows: int
    wait_median: float | None
    wait_p90: float | None
    service_median: float | None
    service_p90: float | None
    tickets_per_hour: float | None


@dataclass(frozen=True)
class DayRow:
    day: date
    received: int
    completed: int
    decided: int
    on_time: int
    zero_visit: int
    good_ratings: int
    ratings: int


@dataclass(frozen=True)
class Dashboard:
    filter: StatsFilter
    volume: Volume
    visits: list[VisitRow]
    timeliness: Timeliness
    corrections: Corrections
    materials: Materials
    ratings: Ratings
    counters: list[QueueRow]
    daily: list[DayRow]


@dataclass(frozen=True)
class CaseFilter:
    """Which cases stand behind a figure (the drill-down of a ranking or a list)."""

    kind: str  # over_promised_visits / over_one_visit / overdue / corrected / bad_rating
    item_id: int | None = None

    def query_args(self) -> dict[str, str]:
        args = {"kind": self.kind}
        if self.item_id is not None:
            args["item"] = str(self.item_id)
        return args


CASE_KINDS = {
    "over_promised_visits": _l("到场次数超过办事指南承诺的办件"),
    "over_one_visit": _l("到场两次及以上的办件"),
    "overdue": _l("超期办件"),
    "corrected": _l("被要求补正的办件"),
    "bad_rating": _l("收到差评的办件"),
}


@dataclass(frozen=True)
class RankedItem:
    item_id: int
    item_name: str
    department_id: int
    department_name: str
    value: float
    cases: int
    case_filter: CaseFilter


@dataclass(frozen=True)
class Rankings:
    over_one_visit: list[RankedItem]
    overdue: list[RankedItem]
    corrections: list[RankedItem]
    worst_ratings: list[RankedItem]


@dataclass(frozen=True)
class CaseRow:
    application_id: int
    number: str
    item_name: str
    department_name: str
    channel: str
    status: str
    received_on: date | None
    decided_on: date | None
    due_date: date | None
    visits: int
    promised_visits: int
    visit_reasons: list[str]
    correction_rounds: int
    worst_rating: int | None


@dataclass(frozen=True)
class CaseList:
    total: int
    rows: list[CaseRow]


@dataclass(frozen=True)
class ItemFigures:
    item_id: int
    cases: int
    enough: bool
    within_promise: float | None
    typical_days: float | None
    zero_visit: float | None
    good_rate: float | None


# ---- SQL building blocks ------------------------------------------------------------------


@contextmanager
def _part(timings: dict[str, float] | None, name: str) -> Iterator[None]:
    """Adds the seconds the block took to ``timings[name]`` (nothing when timings is None)."""
    if timings is None:
        yield
        return
    started = perf_counter()
    try:
        yield
    finally:
        timings[name] = timings.get(name, 0.0) + perf_counter() - started


def _dialect(session: Session) -> str:
    return session.get_bind().dialect.name


def _local_day(session: Session, column: Any) -> Any:
    """The local date (PORTAL_TZ) of a stored UTC instant, in SQL. SQLite has no time zones:
    it shifts by the zone's current offset, exact for zones without daylight saving time
    (Asia/Shanghai, the portal's)."""
    if _dialect(session) == "postgresql":
        return cast(func.timezone(clock.portal_zone().key, column), Date)
    offset = clock.local_now().utcoffset() or timedelta(0)
    minutes = int(offset.total_seconds() // 60)
    return type_coerce(func.date(column, literal(f"{minutes:+d} minutes")), Date)


def _minutes_between(session: Session, start: Any, end: Any) -> Any:
    """Whole minutes from one instant to a later one, in SQL, capped at MAX_QUEUE_MINUTES."""
    if _dialect(session) == "postgresql":
        raw = func.floor(func.extract("epoch", end - start) / 60)
    else:
        seconds = func.round((func.julianday(end) - func.julianday(start)) * 86400)
        raw = func.floor(seconds / 60)
    return case((raw > MAX_QUEUE_MINUTES, MAX_QUEUE_MINUTES), (raw < 0, 0), else_=raw)


def _instants(start: date, end: date) -> tuple[datetime, datetime]:
    """The UTC instants bounding local days start … end (end inclusive)."""
    return clock.local_instant(start, time.min), clock.local_instant(
        end + timedelta(days=1), time.min
    )


def _items_with_theme(theme_id: int) -> Any:
    return (
        select(ItemVersion.item_id)
        .join(version_themes, version_themes.c.version_id == ItemVersion.id)
        .where(version_themes.c.theme_id == theme_id)
    )


Creator = aliased(User, name="creator")


def _case_keys(session: Session, instant: Any) -> list[Any]:
    return [
        _local_day(session, instant).label("day"),
        Application.department_id.label("department_id"),
        ItemVersion.item_id.label("item_id"),
        # as text: the same on both databases, and no enum made per row
        type_coerce(Application.channel, String(16)).label("channel"),
        Creator.hall_id.label("hall_id"),
    ]


def _cases_on(session: Session, f: StatsFilter, instant: Any, *columns: Any, extra=()):
    """A GROUP BY (day, department, item, channel, hall) over the cases whose ``instant``
    falls within the filter's period, with the filter's conditions."""
    keys = _case_keys(session, instant)
    low, high = _instants(f.start, f.end)
    stmt = (
        select(*keys, *extra, *columns)
        .select_from(Application)
        .join(ItemVersion, Application.item_version_id == ItemVersion.id)
        .outerjoin(Creator, Application.created_by_id == Creator.id)
        .where(instant >= low, instant < high)
    )
    stmt = _filter_cases(stmt, f)
    return stmt, [*keys, *extra]


def _filter_cases(stmt, f: StatsFilter):
    if f.department_id is not None:
        stmt = stmt.where(Application.department_id == f.department_id)
    if f.item_id is not None:
        stmt = stmt.where(ItemVersion.item_id == f.item_id)
    if f.theme_id is not None:
        stmt = stmt.where(ItemVersion.item_id.in_(_items_with_theme(f.theme_id)))
    if f.channel is not None:
        stmt = stmt.where(Application.channel == f.channel)
    if f.hall_id is not None:
        stmt = stmt.where(Creator.hall_id == f.hall_id)
    return stmt


def _rows(session: Session, stmt: Any) -> Any:
    """Run a grouped count on the session's connection: plain rows, without the ORM's
    per-row work (these queries name columns, never entities; the caller has flushed)."""
    return session.connection().execute(stmt)


def _count_if(condition: Any) -> Any:
    return func.sum(case((condition, 1), else_=0))


Key = tuple  # (day, department_id, item_id, channel, hall_id)


def _channel(value: Any) -> str:
    return value.value if hasattr(value, "value") else str(value or "")


def _key(row: Any) -> Key:
    return (row.day, row.department_id, row.item_id, _channel(row.channel), row.hall_id)


def _new_counts() -> dict[str, int]:
    return dict.fromkeys(DAILY_COUNTERS, 0)


@dataclass
class Live:
    """The grouped counts of a period computed from the cases: per key, the daily counters;
    per (key, working days), the decisions; per (day, hall, category, kind, minutes), tickets."""

    daily: dict[Key, dict[str, int]] = field(default_factory=dict)
    durations: dict[tuple, int] = field(default_factory=dict)
    queue: dict[tuple, int] = field(default_factory=dict)


def compute_live(session: Session, f: StatsFilter) -> Live:
    """Every count of the period straight from the cases, ratings and tickets."""
    session.flush()
    live = Live()
    daily: dict[Key, dict[str, int]] = defaultdict(_new_counts)

    def add(stmt, names: Sequence[str]) -> None:
        for row in _rows(session, stmt):
            counts = daily[_key(row)]
            for name in names:
                counts[name] += int(getattr(row, name) or 0)

    not_parent = Application.item_version_id.is_not(None)
    # received
    stmt, keys = _cases_on(session, f, Application.submitted_at, func.count().label("received"))
    add(stmt.where(not_parent).group_by(*keys), ["received"])
    # accepted, 容缺, 告知承诺
    stmt, keys = _cases_on(
        session,
        f,
        Application.accepted_at,
        func.count().label("accepted"),
        # 容缺受理 as recorded by its event: supply_deadline is cleared once the materials come
        _count_if(
            exists().where(
                Event.application_id == Application.id,
                Event.action == "accepted_pending_materials",
            )
        ).label("deferred"),
        func.count(PostCheckTask.id).label("commitment"),
    )
    stmt = stmt.outerjoin(PostCheckTask, PostCheckTask.application_id == Application.id)
    add(stmt.group_by(*keys), ["accepted", "deferred", "commitment"])
    # decisions
    decided_day = _local_day(session, Application.decided_at)
    decision = Application.status != "not_accepted"
    automatic = exists().where(
        Event.application_id == Application.id,
        Event.action == "approved",
        Event.actor_id.is_(None),
    )
    # and the time each decision took: grouped by the day of acceptance too, in working days
    accepted_day = _local_day(session, Application.accepted_at).label("accepted_day")
    stmt, keys = _cases_on(
        session,
        f,
        Application.decided_at,
        _count_if(Application.status == "not_accepted").label("not_accepted"),
        _count_if(Application.status == "denied").label("denied"),
        _count_if(decision).label("decided"),
        _count_if(
            and_(decision, or_(Application.due_date.is_(None), Application.due_date >= decided_day))
        ).label("on_time"),
        _count_if(and_(decision, accepted_day == decided_day)).label("instant"),
        _count_if(and_(decision, automatic)).label("auto"),
        _count_if(and_(decision, Application.accepted_at.is_not(None))).label("timed"),
        extra=(accepted_day,),
    )
    decisions = _rows(session, stmt.group_by(*keys)).all()
    for row in decisions:
        counts = daily[_key(row)]
        for name in ("not_accepted", "denied", "decided", "on_time", "instant", "auto"):
            counts[name] += int(getattr(row, name) or 0)
    pairs = [row for row in decisions if row.accepted_day is not None and row.timed]
    if pairs:
        ordinal = _workday_ordinals(min(row.accepted_day for row in pairs), f.end)
        durations: dict[tuple, int] = defaultdict(int)
        for row in pairs:
            taken = ordinal[row.day] - ordinal[row.accepted_day]
            durations[(*_key(row), max(taken, 0))] += int(row.timed)
        live.durations = dict(durations)
    # closed: 办结 with its visits, 撤回
    completed = Application.status == "completed"
    visits = Application.visit_count
    stmt, keys = _cases_on(
        session,
        f,
        Application.completed_at,
        _count_if(completed).label("completed"),
        _count_if(Application.status == "withdrawn").label("withdrawn"),
        _count_if(and_(completed, visits == 0)).label("visits_0"),
        _count_if(and_(completed, visits == 1)).label("visits_1"),
        _count_if(and_(completed, visits == 2)).label("visits_2"),
        _count_if(and_(completed, visits >= 3)).label("visits_3"),
        _count_if(and_(completed, visits > ItemVersion.visits)).label("over_promise"),
    )
    add(
        stmt.group_by(*keys),
        ["completed", "withdrawn", "visits_0", "visits_1", "visits_2", "visits_3", "over_promise"],
    )
    # 补正 rounds on the day requested
    stmt, keys = _cases_on(
        session,
        f,
        CorrectionRequest.requested_at,
        func.count().label("corrections"),
        _count_if(CorrectionRequest.round == 1).label("corrected_cases"),
    )
    stmt = stmt.join(CorrectionRequest, CorrectionRequest.application_id == Application.id)
    add(stmt.group_by(*keys), ["corrections", "corrected_cases"])
    stmt, keys = _cases_on(
        session, f, CorrectionException.created_at, func.count().label("exceptions")
    )
    stmt = stmt.join(CorrectionException, CorrectionException.application_id == Application.id)
    add(stmt.group_by(*keys), ["exceptions"])
    # 告知承诺 post-checks on the day checked
    stmt, keys = _cases_on(
        session,
        f,
        PostCheckTask.checked_at,
        _count_if(PostCheckTask.status == "passed").label("checks_passed"),
        _count_if(PostCheckTask.status == "false").label("checks_false"),
    )
    stmt = stmt.join(PostCheckTask, PostCheckTask.application_id == Application.id)
    add(stmt.group_by(*keys), ["checks_passed", "checks_false"])
    # 减材料: the required materials of the cases submitted that day, and how each was satisfied
    Earlier = aliased(Application, name="earlier")
    returning = (
        exists()
        .where(
            Earlier.applicant_id == Application.applicant_id,
            Earlier.status == "completed",
            Earlier.completed_at < Application.submitted_at,
        )
        .label("is_returning")
    )
    # whether the applicant returns is asked once per case, not once per material: the cases
    # are a sub-select the databases keep apart (OFFSET 0), then joined to their materials
    stmt, keys = _cases_on(
        session, f, Application.submitted_at, Application.id.label("case_id"), extra=(returning,)
    )
    cases = stmt.where(not_parent).offset(0).subquery("submitted_cases")
    groups = [cases.c[name] for name in (*KEY_FIELDS, "is_returning")]
    satisfied = ApplicationMaterial.satisfied_by.label("satisfied_by")
    stmt = (
        select(*groups, satisfied, func.count().label("materials"))
        .select_from(cases)
        .join(ApplicationMaterial, ApplicationMaterial.application_id == cases.c.case_id)
        .join(MaterialRequirement, MaterialRequirement.id == ApplicationMaterial.requirement_id)
        .where(MaterialRequirement.necessity != "optional")
        .group_by(*groups, ApplicationMaterial.satisfied_by)
    )
    for row in _rows(session, stmt):
        counts = daily[_key(row)]
        source = SatisfiedBy(row.satisfied_by).value if row.satisfied_by else ""
        counts["materials"] += row.materials
        if source in NOT_UPLOADED:
            counts[f"by_{source}"] += row.materials
        if row.is_returning:
            counts["ret_materials"] += row.materials
            if source in NOT_UPLOADED:
                counts[f"ret_{source}"] += row.materials
    # 好差评 on the day given
    stmt, keys = _cases_on(
        session,
        f,
        Rating.created_at,
        *[_count_if(Rating.score == n).label(f"score_{n}") for n in range(1, 6)],
    )
    stmt = stmt.join(Rating, Rating.application_id == Application.id)
    add(stmt.group_by(*keys), [f"score_{n}" for n in range(1, 6)])
    live.daily = {key: counts for key, counts in daily.items() if any(counts.values())}
    if not f.case_level:
        live.queue = _live_queue(session, f)
    return live


def _workday_ordinals(first: date, last: date) -> dict[date, int]:
    """Day → working days after ``first`` up to that day (services/workdays' rule: holidays,
    调休 and the admin's overrides), so a duration is a subtraction."""
    overrides = workdays.load_overrides(first, last)
    ordinals, count, day = {}, 0, first
    while day <= last:
        if day > first and workdays.is_workday(day, overrides):
            count += 1
        ordinals[day] = count
        day += timedelta(days=1)
    return ordinals


def _live_queue(session: Session, f: StatsFilter) -> dict[tuple, int]:
    """Tickets of the period by (day, hall, category, kind, minutes)."""
    queue: dict[tuple, int] = defaultdict(int)
    where = [Ticket.day >= f.start, Ticket.day <= f.end]
    if f.hall_id is not None:
        where.append(Ticket.hall_id == f.hall_id)
    keys = [Ticket.day, Ticket.hall_id, Ticket.category_id]
    counts = select(
        *keys,
        func.count().label("issued"),
        _count_if(Ticket.status == "done").label("served"),
        _count_if(Ticket.status == "skipped").label("skipped"),
    ).where(*where)
    for row in _rows(session, counts.group_by(*keys)):
        for kind in ("issued", "served", "skipped"):
            if getattr(row, kind):
                queue[(row.day, row.hall_id, row.category_id, kind, 0)] += getattr(row, kind)
    for kind, start, end in (
        ("wait", Ticket.issued_at, Ticket.called_at),
        ("service", Ticket.called_at, Ticket.finished_at),
    ):
        minutes = _minutes_between(session, start, end).label("minutes")
        stmt = (
            select(*keys, minutes, func.count().label("n"))
            .where(*where, start.is_not(None), end.is_not(None))
            .group_by(*keys, minutes)
        )
        if kind == "service":
            stmt = stmt.where(Ticket.status == "done")
        for row in _rows(session, stmt):
            queue[(row.day, row.hall_id, row.category_id, kind, int(row.minutes))] += row.n
    no_shows = select(
        AppointmentSlot.day, AppointmentSlot.hall_id, AppointmentSlot.category_id, func.count()
    ).join(Appointment, Appointment.slot_id == AppointmentSlot.id)
    no_shows = no_shows.where(
        Appointment.status == "no_show",
        AppointmentSlot.day >= f.start,
        AppointmentSlot.day <= f.end,
    )
    if f.hall_id is not None:
        no_shows = no_shows.where(AppointmentSlot.hall_id == f.hall_id)
    for day, hall_id, category_id, n in _rows(
        session,
        no_shows.group_by(
            AppointmentSlot.day, AppointmentSlot.hall_id, AppointmentSlot.category_id
        ),
    ):
        queue[(day, hall_id, category_id, "no_show", 0)] += n
    return dict(queue)


# ---- summaries ---------------------------------------------------------------------------


def _state(session: Session, *, lock: bool = False) -> StatState | None:
    """The summaries' one state row (made by the migration); ``lock`` holds it for update
    until the commit, so that a second run waits and then finds the work done."""
    stmt = select(StatState).order_by(StatState.id).limit(1)
    if lock:
        stmt = stmt.with_for_update()
    return session.scalar(stmt)


def summarised_until(session: Session) -> date | None:
    state = _state(session)
    return state.summarised_until if state else None


SUMMARY_CHUNK_DAYS = 31
KEY_FIELDS = ("day", "department_id", "item_id", "channel", "hall_id")
QUEUE_KEY_FIELDS = ("hall_id", "category_id", "kind", "minutes")


def summarise_range(session: Session, start: date, end: date) -> None:
    """Replace the summaries of days start … end by a recomputation from the cases, a month
    at a time (so that a year of a large catalogue never sits in memory at once), then the
    monthly sums of the months they fall in."""
    first = start
    while start <= end:
        last = min(end, start + timedelta(days=SUMMARY_CHUNK_DAYS - 1))
        _summarise_chunk(session, start, last)
        start = last + timedelta(days=1)
    _roll_up_months(session, first, end)


# (daily table, monthly table, the key summed over, the sums)
MONTHLY_SUMMARIES = (
    (StatDaily, StatMonthly, KEY_FIELDS[1:], DAILY_COUNTERS),
    (StatDuration, StatDurationMonthly, (*KEY_FIELDS[1:], "working_days"), ("cases",)),
    (StatQueue, StatQueueMonthly, QUEUE_KEY_FIELDS, ("tickets",)),
)


def _roll_up_months(session: Session, start: date, end: date) -> None:
    """Replace the monthly sums of the months days start … end fall in by the sums of their
    daily rows (INSERT … SELECT: nothing passes through Python)."""
    month = start.replace(day=1)
    while month <= end:
        following = _month_after(month)
        for daily, monthly, key, sums in MONTHLY_SUMMARIES:
            session.execute(delete(monthly).where(monthly.month == month))
            columns = [getattr(daily, name) for name in key]
            session.execute(
                insert(monthly.__table__).from_select(
                    ["month", *key, *sums],
                    select(
                        literal(month, Date),
                        *columns,
                        *[func.sum(getattr(daily, name)) for name in sums],
                    )
                    .where(daily.day >= month, daily.day < following)
                    .group_by(*columns),
                )
            )
        month = following


def _summarise_chunk(session: Session, start: date, end: date) -> None:
    live = compute_live(session, StatsFilter(start, end))
    # plain executemany on the table (batched VALUES, no RETURNING of each row's id)
    connection = session.connection()
    for table in (StatDaily, StatDuration, StatQueue):
        session.execute(delete(table).where(table.day >= start, table.day <= end))
    rows = [
        {
            "day": key[0],
            "department_id": key[1],
            "item_id": key[2],
            "channel": key[3],
            "hall_id": key[4],
            **counts,
        }
        for key, counts in live.daily.items()
    ]
    if rows:
        connection.execute(insert(StatDaily.__table__), rows)
    rows = [
        {
            "day": key[0],
            "department_id": key[1],
            "item_id": key[2],
            "channel": key[3],
            "hall_id": key[4],
            "working_days": key[5],
            "cases": n,
        }
        for key, n in live.durations.items()
    ]
    if rows:
        connection.execute(insert(StatDuration.__table__), rows)
    rows = [
        {
            "day": key[0],
            "hall_id": key[1],
            "category_id": key[2],
            "kind": key[3],
            "minutes": key[4],
            "tickets": n,
        }
        for key, n in live.queue.items()
    ]
    if rows:
        connection.execute(insert(StatQueue.__table__), rows)
    session.flush()


# the instants a case counts on (each only ever set once by the workflow)
CASE_INSTANTS = ("submitted_at", "accepted_at", "decided_at", "completed_at")


@event.listens_for(Session, "before_flush")
def _note_moved_instants(session: Session, flush_context, instances) -> None:
    """A case instant that moves or is cleared through the ORM (an import of paper records, a
    correction of the record) leaves its old day to be summarised again: that day's summaries
    still count the case there, and the case's new days no longer include it."""
    if not has_app_context():
        return
    days: set[date] = set()
    for obj in session.dirty:
        if not isinstance(obj, Application):
            continue
        state = sa_inspect(obj)
        for name in CASE_INSTANTS:
            if name not in state.committed_state:  # not set since loaded: nothing to read
                continue
            history = state.attrs[name].load_history()
            days.update(clock.local_date(old) for old in history.deleted or () if old is not None)
    for day in sorted(days):
        session.add(StatStaleDay(day=day))


def _changed_days(session: Session, since: datetime) -> set[date]:
    """The local days the changes since ``since`` count on: every day a changed case counts
    on (its instants, its correction requests, exceptions, post-checks and ratings), the days
    of new ratings, post-checks, exceptions and tickets, and the days noted stale. Only these
    days need summarising again."""
    changed = select(Application.id).where(Application.updated_at >= since)
    days: set[date] = set()

    def add(column: Any, *where: Any) -> None:
        day = _local_day(session, column)
        days.update(session.scalars(select(day).where(column.is_not(None), *where).distinct()))

    for name in CASE_INSTANTS:
        add(getattr(Application, name), Application.updated_at >= since)
    for column, owner in (
        (CorrectionRequest.requested_at, CorrectionRequest.application_id),
        (CorrectionException.created_at, CorrectionException.application_id),
        (PostCheckTask.checked_at, PostCheckTask.application_id),
        (Rating.created_at, Rating.application_id),
    ):
        add(column, column >= since)
        add(column, owner.in_(changed))
    days.update(
        session.scalars(
            select(Ticket.day)
            .where(
                or_(
                    Ticket.issued_at >= since,
                    Ticket.called_at >= since,
                    Ticket.finished_at >= since,
                )
            )
            .distinct()
        )
    )
    return {d if isinstance(d, date) else date.fromisoformat(d) for d in days}


def _runs(days: Iterable[date]) -> list[tuple[date, date]]:
    """Consecutive days as (first, last) runs."""
    runs: list[tuple[date, date]] = []
    for day in sorted(set(days)):
        if runs and runs[-1][1] + timedelta(days=1) == day:
            runs[-1] = (runs[-1][0], day)
        else:
            runs.append((day, day))
    return runs


def summarise(session: Session, today: date, now: datetime | None = None) -> int:
    """Bring the summaries up to yesterday: the days not summarised yet, and only the days
    that changes since the last run count on (see ``_changed_days``). Returns the number of
    days (re)summarised. The caller commits.

    Safe to rerun; two workers at once compute the same rows (the jobs runner claims the run)."""
    now = now or clock.utc_now()
    yesterday = today - timedelta(days=1)
    state = _state(session, lock=True)
    if state is None:
        state = StatState()
        session.add(state)
    stale = session.execute(select(StatStaleDay.id, StatStaleDay.day)).all()
    days: set[date] = set()
    if state.summarised_until is None:
        first = session.scalar(select(func.min(Application.submitted_at)))
        first_ticket = session.scalar(select(func.min(Ticket.day)))
        starts = [d for d in (first and clock.local_date(first), first_ticket) if d is not None]
        start = min(starts) if starts else None
    else:
        start = state.summarised_until + timedelta(days=1)
        if state.checked_at is not None:
            days.update(_changed_days(session, state.checked_at - CHANGE_MARGIN))
        days.update(day for _id, day in stale)
    days = {d for d in days if d <= yesterday}
    runs = _runs(days)
    if start is not None and start <= yesterday:
        # the days not summarised yet are summarised whole below
        runs = [(a, min(b, start - timedelta(days=1))) for a, b in runs if a < start]
        runs.append((start, yesterday))
    done = 0
    for first, last in runs:
        summarise_range(session, first, last)
        done += (last - first).days + 1
    if stale:
        session.execute(delete(StatStaleDay).where(StatStaleDay.id <= max(i for i, _ in stale)))
    state.summarised_until = yesterday
    state.checked_at = now
    session.flush()
    return done


def _summary_filter(stmt, table, f: StatsFilter):
    if f.department_id is not None:
        stmt = stmt.where(table.department_id == f.department_id)
    if f.item_id is not None:
        stmt = stmt.where(table.item_id == f.item_id)
    if f.theme_id is not None:
        stmt = stmt.where(table.item_id.in_(_items_with_theme(f.theme_id)))
    if f.channel is not None:
        stmt = stmt.where(table.channel == f.channel)
    if f.hall_id is not None:
        stmt = stmt.where(table.hall_id == f.hall_id)
    return stmt


# ---- reading a period: summaries where they exist, the cases for the rest -----------------


def _month_after(day: date) -> date:
    """The first day of the month after ``day``'s."""
    return (day.replace(day=1) + timedelta(days=32)).replace(day=1)


def _spans(start: date, end: date) -> tuple[list[tuple[date, date]], tuple[date, date] | None]:
    """Days start … end as the whole calendar months among them (first and last month's first
    day, or None) and the day ranges at either edge."""
    first = start if start.day == 1 else _month_after(start)
    last = first
    months = None
    while _month_after(last) - timedelta(days=1) <= end:
        months = (first, last)
        last = _month_after(last)
    if months is None:
        return [(start, end)], None
    ranges = []
    if start < months[0]:
        ranges.append((start, months[0] - timedelta(days=1)))
    if _month_after(months[1]) <= end:
        ranges.append((_month_after(months[1]), end))
    return ranges, months


class _Period:
    """One period's counts, grouped as a page needs them ("by" some of KEY_FIELDS): from the
    monthly summaries for the whole months summarised, the daily ones for the other days
    summarised, and the cases for the rest."""

    def __init__(self, session: Session, f: StatsFilter, today: date, use_summaries: bool):
        self.session, self.f = session, f
        until = summarised_until(session) if use_summaries else None
        until = min(until, today - timedelta(days=1)) if until else None
        self.summary: StatsFilter | None = None
        live_start = f.start
        if until is not None and until >= f.start:
            self.summary = f.between(f.start, min(until, f.end))
            live_start = until + timedelta(days=1)
        self.live = (
            compute_live(session, f.between(live_start, f.end)) if live_start <= f.end else Live()
        )

    def _summed(
        self, daily: Any, monthly: Any, groups: Sequence[str], sums: Sequence[str], *, by_day=False
    ) -> list[Any]:
        """Rows of the summaries over the summarised days: ``groups`` then the ``sums``."""
        if self.summary is None:
            return []
        f = self.summary
        spans, months = ([(f.start, f.end)], None) if by_day else _spans(f.start, f.end)
        parts = [(daily, daily.day, low, high) for low, high in spans]
        if months is not None:
            parts.append((monthly, monthly.month, *months))
        rows = []
        for table, when, low, high in parts:
            keys = [getattr(table, name) for name in groups]
            stmt = select(
                *keys, *[func.sum(getattr(table, name)).label(name) for name in sums]
            ).where(when >= low, when <= high)
            if table in (StatQueue, StatQueueMonthly):
                if f.hall_id is not None:
                    stmt = stmt.where(table.hall_id == f.hall_id)
            else:
                stmt = _summary_filter(stmt, table, f)
            if keys:
                stmt = stmt.group_by(*keys)
            rows.extend(_rows(self.session, stmt))
        return rows

    def daily(
        self, by: Sequence[str] = (), names: Sequence[str] = DAILY_COUNTERS
    ) -> dict[tuple, dict[str, int]]:
        """Per group: the counters (only ``names`` read from the summaries; the rest 0)."""
        result: dict[tuple, dict[str, int]] = defaultdict(_new_counts)
        positions = [KEY_FIELDS.index(name) for name in by]
        for row in self._summed(StatDaily, StatMonthly, by, names, by_day="day" in by):
            counts = result[tuple(row[: len(by)])]
            for name in names:
                counts[name] += int(getattr(row, name) or 0)
        for key, counts in self.live.daily.items():
            target = result[tuple(key[p] for p in positions)]
            for name in names:
                target[name] += counts[name]
        return result

    def durations(self, by: Sequence[str] = ()) -> dict[tuple, dict[int, int]]:
        """Per group: working days → decisions."""
        result: dict[tuple, dict[int, int]] = defaultdict(lambda: defaultdict(int))
        positions = [KEY_FIELDS.index(name) for name in by]
        for row in self._summed(
            StatDuration, StatDurationMonthly, [*by, "working_days"], ["cases"]
        ):
            result[tuple(row[: len(by)])][row.working_days] += int(row.cases)
        for key, n in self.live.durations.items():
            result[tuple(key[p] for p in positions)][key[5]] += n
        return result

    def queue(self) -> dict[tuple, int]:
        """(hall, category, kind, minutes) → tickets."""
        result: dict[tuple, int] = defaultdict(int)
        if self.f.case_level:
            return result
        for row in self._summed(StatQueue, StatQueueMonthly, QUEUE_KEY_FIELDS, ["tickets"]):
            result[(row.hall_id, row.category_id, row.kind, row.minutes)] += int(row.tickets)
        for (_day, hall, category, kind, minutes), n in self.live.queue.items():
            result[(hall, category, kind, minutes)] += n
        return result

    def queue_days(self) -> dict[int, int]:
        """Per hall: the days on which it issued tickets."""
        days: dict[int, set] = defaultdict(set)
        if self.f.case_level:
            return {}
        if self.summary is not None:
            stmt = (
                select(StatQueue.hall_id, StatQueue.day)
                .where(
                    StatQueue.kind == "issued",
                    StatQueue.day >= self.summary.start,
                    StatQueue.day <= self.summary.end,
                )
                .distinct()
            )
            if self.f.hall_id is not None:
                stmt = stmt.where(StatQueue.hall_id == self.f.hall_id)
            for hall, day in _rows(self.session, stmt):
                days[hall].add(day)
        for day, hall, _category, kind, _minutes in self.live.queue:
            if kind == "issued":
                days[hall].add(day)
        return {hall: len(d) for hall, d in days.items()}


def percentile(histogram: dict[int, int], q: float) -> float | None:
    """The q-th quantile (0 < q ≤ 1) of values given as value → count, by the nearest-rank
    rule (the smallest value with at least q of the counts at or below it); the median of an
    even count is the mean of the two middle values."""
    total = sum(histogram.values())
    if not total:
        return None
    ordered = sorted((v, n) for v, n in histogram.items() if n)
    if q == 0.5 and total % 2 == 0:
        return (_nth(ordered, total // 2) + _nth(ordered, total // 2 + 1)) / 2
    return float(_nth(ordered, max(1, math.ceil(q * total))))


def _nth(ordered: list[tuple[int, int]], rank: int) -> int:
    seen = 0
    for value, n in ordered:
        seen += n
        if seen >= rank:
            return value
    return ordered[-1][0]


# ---- the dashboard --------------------------------------------------------------------------


def dashboard(
    session: Session,
    f: StatsFilter,
    *,
    today: date,
    use_summaries: bool = True,
    timings: dict[str, float] | None = None,
) -> Dashboard:
    """Every KPI of the period and filters (see the module's docstring for what counts when).
    ``timings``, when given, receives the seconds each part took (scripts/bench_statistics)."""
    with _part(timings, "period: live counts of the days not summarised"):
        period = _Period(session, f, today, use_summaries)
    return _dashboard(session, f, today, period, timings)


def dashboard_and_rankings(
    session: Session,
    f: StatsFilter,
    *,
    today: date,
    limit: int = 10,
    use_summaries: bool = True,
    timings: dict[str, float] | None = None,
) -> tuple[Dashboard, Rankings]:
    """``dashboard`` and ``promise_breakers`` of one period, counting its live days once."""
    with _part(timings, "period: live counts of the days not summarised"):
        period = _Period(session, f, today, use_summaries)
    board = _dashboard(session, f, today, period, timings)
    return board, _promise_breakers(session, f, today, period, limit, timings)


def _dashboard(
    session: Session,
    f: StatsFilter,
    today: date,
    period: _Period,
    timings: dict[str, float] | None,
) -> Dashboard:
    with _part(timings, "totals by channel (volume, visits, timeliness, …)"):
        by_channel = period.daily(["channel"])
    total = _new_counts()
    for counts in by_channel.values():
        for name, n in counts.items():
            total[name] += n
    with _part(timings, "open and overdue now"):
        volume = _volume(session, f, total, today)
    with _part(timings, "durations (median, 90th percentile)"):
        histogram = period.durations()[()]
    with _part(timings, "compression per item"):
        compressions = compression(session, f)
    with _part(timings, "corrections, post-checks open"):
        corrections = _corrections(session, f, total)
    with _part(timings, "ratings, follow-ups open"):
        ratings = _ratings(session, f, total, today)
    with _part(timings, "counters (queue)"):
        counters = _queue_rows(session, period)
    with _part(timings, "daily rows"):
        daily = _daily_rows(f, period.daily(["day"], DAY_ROW_COUNTERS))
    return Dashboard(
        filter=f,
        volume=volume,
        visits=[
            *[
                _visit_row(channel, by_channel[(channel,)])
                for channel in CHANNELS
                if (channel,) in by_channel and by_channel[(channel,)]["completed"]
            ],
            _visit_row(None, total),
        ],
        timeliness=Timeliness(
            decided=total["decided"],
            on_time=total["on_time"],
            on_time_rate=_share(total["on_time"], total["decided"]),
            median_days=percentile(histogram, 0.5),
            p90_days=percentile(histogram, 0.9),
            instant=total["instant"],
            instant_share=_share(total["instant"], total["decided"]),
            auto=total["auto"],
            auto_share=_share(total["auto"], total["decided"]),
            compression=compressions,
        ),
        corrections=corrections,
        materials=Materials(
            all=_material_share(total, "by"), returning=_material_share(total, "ret")
        ),
        ratings=ratings,
        counters=counters,
        daily=daily,
    )


# the open cases' own condition, in the very text of the partial index ix_applications_open_now
# (portal/models/statistics.py): SQLite uses a partial index only for a query that names it
OPEN_NOW_SQL = text("applications." + QUEUE_OPEN_PREDICATE)


def _cases_now(f: StatsFilter, *columns: Any):
    """Cases as they stand now (open, overdue), read from the partial index of the open cases
    alone (status, due date, item version, department, channel, clerk): no join, so the
    count never touches the cases' rows; an item, theme or hall filter is a sub-select."""
    stmt = (
        select(*columns)
        .select_from(Application)
        .where(OPEN_NOW_SQL, Application.item_version_id.is_not(None))
    )
    if f.department_id is not None:
        stmt = stmt.where(Application.department_id == f.department_id)
    if f.item_id is not None:
        stmt = stmt.where(
            Application.item_version_id.in_(
                select(ItemVersion.id).where(ItemVersion.item_id == f.item_id)
            )
        )
    if f.theme_id is not None:
        stmt = stmt.where(
            Application.item_version_id.in_(
                select(ItemVersion.id).where(ItemVersion.item_id.in_(_items_with_theme(f.theme_id)))
            )
        )
    if f.channel is not None:
        stmt = stmt.where(Application.channel == f.channel)
    if f.hall_id is not None:
        stmt = stmt.where(
            Application.created_by_id.in_(select(User.id).where(User.hall_id == f.hall_id))
        )
    return stmt


def _overdue_now(today: date) -> Any:
    return and_(
        Application.status.in_((*case_states.CLOCK_STATES, "submitted")),
        Application.due_date < today,
    )


def _volume(session: Session, f: StatsFilter, total: dict[str, int], today: date) -> Volume:
    open_now = session.scalar(_cases_now(f, func.count()))
    overdue_now = session.scalar(_cases_now(f, func.count()).where(_overdue_now(today)))
    return Volume(
        received=total["received"],
        accepted=total["accepted"],
        not_accepted=total["not_accepted"],
        completed=total["completed"],
        denied=total["denied"],
        withdrawn=total["withdrawn"],
        open_now=open_now or 0,
        overdue_now=overdue_now or 0,
    )


def _visit_row(channel: str | None, counts: dict[str, int]) -> VisitRow:
    done = counts["completed"]
    return VisitRow(
        channel=channel,
        completed=done,
        zero=counts["visits_0"],
        one=counts["visits_1"],
        two=counts["visits_2"],
        three_plus=counts["visits_3"],
        share_zero=_share(counts["visits_0"], done),
        share_at_most_one=_share(counts["visits_0"] + counts["visits_1"], done),
        over_promise=counts["over_promise"],
    )


def _corrections(session: Session, f: StatsFilter, total: dict[str, int]) -> Corrections:
    stmt = (
        select(func.count())
        .select_from(PostCheckTask)
        .join(Application, PostCheckTask.application_id == Application.id)
        .join(ItemVersion, Application.item_version_id == ItemVersion.id)
        .outerjoin(Creator, Application.created_by_id == Creator.id)
        .where(PostCheckTask.status == "open")
    )
    return Corrections(
        received=total["received"],
        corrected_cases=total["corrected_cases"],
        rounds=total["corrections"],
        rounds_per_case=_share(total["corrections"], total["received"]),
        exceptions=total["exceptions"],
        deferred=total["deferred"],
        commitment=total["commitment"],
        post_checks_open=session.scalar(_filter_cases(stmt, f)) or 0,
        post_checks_passed=total["checks_passed"],
        post_checks_false=total["checks_false"],
    )


def _material_share(counts: dict[str, int], prefix: str) -> MaterialShare:
    required = counts["materials" if prefix == "by" else "ret_materials"]
    by_source = {source: counts[f"{prefix}_{source}"] for source in NOT_UPLOADED}
    not_uploaded = sum(by_source.values())
    return MaterialShare(required, not_uploaded, _share(not_uploaded, required), by_source)


def _ratings(session: Session, f: StatsFilter, total: dict[str, int], today: date) -> Ratings:
    distribution = {n: total[f"score_{n}"] for n in range(1, 6)}
    count = sum(distribution.values())
    good = distribution[3] + distribution[4] + distribution[5]
    stmt = (
        select(
            func.count(),
            _count_if(FollowUpTicket.due_date < today),
        )
        .select_from(FollowUpTicket)
        .join(Application, FollowUpTicket.application_id == Application.id)
        .join(ItemVersion, Application.item_version_id == ItemVersion.id)
        .outerjoin(Creator, Application.created_by_id == Creator.id)
        .where(FollowUpTicket.status.not_in(("revisited", "revoked")))
    )
    open_, overdue = session.execute(_filter_cases(stmt, f)).one()
    return Ratings(
        count=count,
        distribution=distribution,
        average=(sum(n * c for n, c in distribution.items()) / count) if count else None,
        good=good,
        good_rate=_share(good, count),
        follow_ups_open=open_ or 0,
        follow_ups_overdue=overdue or 0,
    )


def _queue_rows(session: Session, period: _Period) -> list[QueueRow]:
    counts = period.queue()
    if not counts:
        return []
    hall_days = period.queue_days()
    halls = dict(session.execute(select(ServiceHall.id, ServiceHall.name)).all())
    categories = dict(session.execute(select(QueueCategory.id, QueueCategory.name)).all())
    groups: dict[tuple, dict[str, Any]] = defaultdict(
        lambda: {"issued": 0, "served": 0, "skipped": 0, "no_show": 0, "wait": {}, "service": {}}
    )
    for (hall, category, kind, minutes), n in counts.items():
        for group in (groups[(hall, category)], groups[(None, None)]):
            if kind in ("wait", "service"):
                group[kind][minutes] = group[kind].get(minutes, 0) + n
            else:
                group[kind] += n
    rows = []
    for (hall, category), g in sorted(
        groups.items(),
        key=lambda item: (
            item[0][0] is None,
            halls.get(item[0][0], ""),
            categories.get(item[0][1], ""),
        ),
    ):
        if hall is None:
            hours = sum(hall_days.values()) * HOURS_PER_HALL_DAY
        else:
            hours = hall_days.get(hall, 0) * HOURS_PER_HALL_DAY
        rows.append(
            QueueRow(
                hall_id=hall,
                hall_name=halls.get(hall, "") if hall is not None else "",
                category_id=category,
                category_name=categories.get(category, "") if category is not None else "",
                tickets=g["issued"],
                served=g["served"],
                no_shows=g["skipped"] + g["no_show"],
                wait_median=percentile(g["wait"], 0.5),
                wait_p90=percentile(g["wait"], 0.9),
                service_median=percentile(g["service"], 0.5),
                service_p90=percentile(g["service"], 0.9),
                tickets_per_hour=_share(g["issued"], hours),
            )
        )
    return rows


DAY_ROW_COUNTERS = ("received", "completed", "decided", "on_time", "visits_0") + tuple(
    f"score_{n}" for n in range(1, 6)
)


def _daily_rows(f: StatsFilter, by_day: dict[tuple, dict[str, int]]) -> list[DayRow]:
    rows = []
    day = f.start
    while day <= f.end:
        c = by_day.get((day,)) or _new_counts()
        rows.append(
            DayRow(
                day=day,
                received=c["received"],
                completed=c["completed"],
                decided=c["decided"],
                on_time=c["on_time"],
                zero_visit=c["visits_0"],
                good_ratings=c["score_3"] + c["score_4"] + c["score_5"],
                ratings=sum(c[f"score_{n}"] for n in range(1, 6)),
            )
        )
        day += timedelta(days=1)
    return rows


def compression(session: Session, f: StatsFilter) -> list[ItemCompression]:
    """承诺时限压缩比 of each published item in the filter: 1 − promised ÷ legal limit (both in
    the same unit; an item whose limits are in different units has none)."""
    stmt = (
        select(ServiceItem.id, ItemVersion, Department.name)
        .join(ItemVersion, ServiceItem.published_version_id == ItemVersion.id)
        .join(Department, Department.id == ServiceItem.department_id)
        .order_by(Department.name, ItemVersion.name)
    )
    if f.department_id is not None:
        stmt = stmt.where(ServiceItem.department_id == f.department_id)
    if f.item_id is not None:
        stmt = stmt.where(ServiceItem.id == f.item_id)
    if f.theme_id is not None:
        stmt = stmt.where(ServiceItem.id.in_(_items_with_theme(f.theme_id)))
    rows = []
    for item_id, version, department_name in session.execute(stmt):
        legal, promised = version.legal_limit, version.promised_limit
        ratio = None
        if (
            legal
            and promised is not None
            and version.legal_limit_unit == version.promised_limit_unit
        ):
            ratio = 1 - promised / legal
        rows.append(
            ItemCompression(
                item_id=item_id,
                item_name=version.name,
                department_name=department_name,
                legal_limit=legal,
                promised_limit=promised,
                unit=version.promised_limit_unit,
                ratio=ratio,
            )
        )
    return rows


# ---- the items that break the promise, and their cases -------------------------------------


def promise_breakers(
    session: Session,
    f: StatsFilter,
    *,
    today: date,
    limit: int = 10,
    use_summaries: bool = True,
    timings: dict[str, float] | None = None,
) -> Rankings:
    """The items worst at keeping the promise in the period, worst first, each with the
    filter that lists its cases."""
    with _part(timings, "rankings: live counts of the days not summarised"):
        period = _Period(session, f, today, use_summaries)
    return _promise_breakers(session, f, today, period, limit, timings)


def _promise_breakers(
    session: Session,
    f: StatsFilter,
    today: date,
    period: _Period,
    limit: int,
    timings: dict[str, float] | None,
) -> Rankings:
    with _part(timings, "rankings: counts by item"):
        by_item = {key[0]: c for key, c in period.daily(["item_id"]).items() if key[0] is not None}
    with _part(timings, "rankings: overdue now by item"):
        overdue_now = _overdue_now_by_item(session, f, today)
    with _part(timings, "rankings: item names"):
        names = _item_names(session, set(by_item) | set(overdue_now))
    return _rank(by_item, overdue_now, names, limit)


def _overdue_now_by_item(session: Session, f: StatsFilter, today: date) -> dict[int, int]:
    """Item → its cases overdue now (grouped by item version on the open cases' index)."""
    by_version = dict(
        session.execute(
            _cases_now(f, Application.item_version_id, func.count())
            .where(_overdue_now(today))
            .group_by(Application.item_version_id)
        ).all()
    )
    if not by_version:
        return {}
    items: dict[int, int] = defaultdict(int)
    for version_id, item_id in session.execute(
        select(ItemVersion.id, ItemVersion.item_id).where(ItemVersion.id.in_(by_version))
    ):
        items[item_id] += by_version[version_id]
    return dict(items)


def _rank(
    by_item: dict[int, dict[str, int]],
    overdue_now: dict[int, int],
    names: dict[int, tuple[str, int, str]],
    limit: int,
) -> Rankings:
    def ranked(kind: str, values: dict[int, tuple[float, int]], reverse: bool = True):
        order = sorted(
            ((v, n, item) for item, (v, n) in values.items() if item in names),
            key=lambda t: ((-t[0] if reverse else t[0]), -t[1], names[t[2]][0]),
        )
        return [
            RankedItem(
                item_id=item,
                item_name=names[item][0],
                department_id=names[item][1],
                department_name=names[item][2],
                value=value,
                cases=n,
                case_filter=CaseFilter(kind, item),
            )
            for value, n, item in order[:limit]
        ]

    over_one = {
        i: (c["visits_2"] + c["visits_3"], c["completed"])
        for i, c in by_item.items()
        if c["visits_2"] + c["visits_3"]
    }
    overdue = {}
    for item in set(by_item) | set(overdue_now):
        c = by_item.get(item) or _new_counts()
        late = c["decided"] - c["on_time"] + overdue_now.get(item, 0)
        if late:
            overdue[item] = (late, c["decided"] + overdue_now.get(item, 0))
    corrections = {
        i: (c["corrections"], c["received"]) for i, c in by_item.items() if c["corrections"]
    }
    ratings = {}
    for item, c in by_item.items():
        count = sum(c[f"score_{n}"] for n in range(1, 6))
        if count:
            ratings[item] = (sum(n * c[f"score_{n}"] for n in range(1, 6)) / count, count)
    return Rankings(
        over_one_visit=ranked("over_one_visit", over_one),
        overdue=ranked("overdue", overdue),
        corrections=ranked("corrected", corrections),
        worst_ratings=ranked("bad_rating", ratings, reverse=False),
    )


def _item_names(session: Session, item_ids: set[int]) -> dict[int, tuple[str, int, str]]:
    """item id → (the name of its published version, or of its latest, department id and
    department name)."""
    if not item_ids:
        return {}
    names: dict[int, tuple[str, int, str]] = {}
    stmt = (
        select(ServiceItem.id, ServiceItem.published_version_id, ItemVersion.id, ItemVersion.name)
        .join(ItemVersion, ItemVersion.item_id == ServiceItem.id)
        .where(ServiceItem.id.in_(item_ids))
        .order_by(ServiceItem.id, ItemVersion.number)
    )
    departments = dict(
        session.execute(
            select(ServiceItem.id, Department.id)
            .join(Department, Department.id == ServiceItem.department_id)
            .where(ServiceItem.id.in_(item_ids))
        ).all()
    )
    department_names = dict(session.execute(select(Department.id, Department.name)).all())
    published: dict[int, str] = {}
    for item_id, published_id, version_id, name in session.execute(stmt):
        department_id = departments[item_id]
        names[item_id] = (name, department_id, department_names.get(department_id, ""))
        if version_id == published_id:
            published[item_id] = name
    for item_id, name in published.items():
        names[item_id] = (name, *names[item_id][1:])
    return names


def list_cases(
    session: Session,
    f: StatsFilter,
    cf: CaseFilter,
    *,
    today: date,
    limit: int = 50,
    offset: int = 0,
) -> CaseList:
    """The cases behind a figure, newest first: no personal data (number, item, status,
    dates, visits with the reasons recorded, correction rounds, the worst rating)."""
    if cf.kind not in CASE_KINDS:
        raise ValueError(f"unknown case list {cf.kind!r}")
    low, high = _instants(f.start, f.end)
    stmt = (
        select(Application.id)
        .select_from(Application)
        .join(ItemVersion, Application.item_version_id == ItemVersion.id)
        .outerjoin(Creator, Application.created_by_id == Creator.id)
    )
    stmt = _filter_cases(stmt, f)
    if cf.item_id is not None:
        stmt = stmt.where(ItemVersion.item_id == cf.item_id)
    completed_in = and_(
        Application.status == "completed",
        Application.completed_at >= low,
        Application.completed_at < high,
    )
    if cf.kind == "over_promised_visits":
        stmt = stmt.where(completed_in, Application.visit_count > ItemVersion.visits)
    elif cf.kind == "over_one_visit":
        stmt = stmt.where(completed_in, Application.visit_count >= 2)
    elif cf.kind == "overdue":
        decided_day = _local_day(session, Application.decided_at)
        stmt = stmt.where(
            or_(
                and_(
                    Application.decided_at >= low,
                    Application.decided_at < high,
                    Application.status != "not_accepted",
                    Application.due_date < decided_day,
                ),
                and_(
                    Application.status.in_((*case_states.CLOCK_STATES, "submitted")),
                    Application.due_date < today,
                ),
            )
        )
    elif cf.kind == "corrected":
        stmt = stmt.where(
            exists().where(
                CorrectionRequest.application_id == Application.id,
                CorrectionRequest.requested_at >= low,
                CorrectionRequest.requested_at < high,
            )
        )
    else:  # bad_rating
        stmt = stmt.where(
            exists().where(
                Rating.application_id == Application.id,
                Rating.score <= 2,
                Rating.created_at >= low,
                Rating.created_at < high,
            )
        )
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    ids = list(session.scalars(stmt.order_by(Application.id.desc()).limit(limit).offset(offset)))
    if not ids:
        return CaseList(total, [])
    worst = (
        select(func.min(Rating.score))
        .where(Rating.application_id == Application.id)
        .scalar_subquery()
    )
    rows = session.execute(
        select(Application, ItemVersion.name, ItemVersion.visits, Department.name, worst)
        .join(ItemVersion, Application.item_version_id == ItemVersion.id)
        .outerjoin(Department, Department.id == Application.department_id)
        .where(Application.id.in_(ids))
        .order_by(Application.id.desc())
    ).all()
    reasons: dict[int, list[str]] = defaultdict(list)
    for application_id, reason in session.execute(
        select(Visit.application_id, Visit.reason)
        .where(Visit.application_id.in_(ids), Visit.beyond_guide.is_(True))
        .order_by(Visit.application_id, Visit.number)
    ):
        if reason:
            reasons[application_id].append(reason)
    return CaseList(
        total,
        [
            CaseRow(
                application_id=app.id,
                number=app.number or "",
                item_name=item_name,
                department_name=department_name or "",
                channel=_channel(app.channel),
                status=app.status,
                received_on=clock.local_date(app.submitted_at) if app.submitted_at else None,
                decided_on=clock.local_date(app.decided_at) if app.decided_at else None,
                due_date=app.due_date,
                visits=app.visit_count,
                promised_visits=promised,
                visit_reasons=reasons.get(app.id, []),
                correction_rounds=app.correction_rounds,
                worst_rating=worst_score,
            )
            for app, item_name, promised, department_name, worst_score in rows
        ],
    )


# ---- public per-item figures ---------------------------------------------------------------

FIGURES_TTL_SECONDS = 26 * 3600  # a day's figures outlive the day a little, then go


def item_figures(
    session: Session, item_ids: Iterable[int] | None, today: date
) -> dict[int, ItemFigures]:
    """The last 12 months' figures of the given items (None: every item with cases), for the
    guide pages and the public performance page. Computed once per local day and kept in
    services/cache (in-process, or Redis shared by every worker and node): `flask jobs run`
    computes every item's after midnight, so no reader waits for them; before that, a guide
    page computes and keeps only its own item's (a few summary rows), never every item's.
    An item without cases in the 12 months is absent."""
    key = f"statistics:item_figures:{today.isoformat()}"
    if item_ids is None:
        figures = cache.get_or_set(
            key, lambda: compute_item_figures(session, today), ttl=FIGURES_TTL_SECONDS
        )
        return dict(figures)
    figures = cache.get(key)
    if figures is not None:
        return {i: figures[i] for i in item_ids if i in figures}
    result = {}
    for item_id in item_ids:
        # kept as a 1-tuple: an item without cases is remembered too
        (one,) = cache.get_or_set(
            f"{key}:{item_id}",
            lambda item_id=item_id: (
                compute_item_figures(session, today, item_id=item_id).get(item_id),
            ),
            ttl=FIGURES_TTL_SECONDS,
        )
        if one is not None:
            result[item_id] = one
    return result


def compute_item_figures(
    session: Session, today: date, *, use_summaries: bool = True, item_id: int | None = None
) -> dict[int, ItemFigures]:
    """Every item's figures (or only ``item_id``'s) of the twelve months up to yesterday."""
    start, end = last_12_months(today)
    period = _Period(session, StatsFilter(start, end, item_id=item_id), today, use_summaries)
    durations = period.durations(["item_id"])
    figures = {}
    for (item_id,), c in period.daily(["item_id"]).items():
        if item_id is None or not c["received"]:
            continue
        enough = c["received"] >= MIN_CASES_FOR_SHARES
        ratings = sum(c[f"score_{n}"] for n in range(1, 6))
        figures[item_id] = ItemFigures(
            item_id=item_id,
            cases=c["received"],
            enough=enough,
            within_promise=_share(c["on_time"], c["decided"]) if enough else None,
            typical_days=percentile(durations.get((item_id,), {}), 0.5) if enough else None,
            zero_visit=_share(c["visits_0"], c["completed"]) if enough else None,
            good_rate=_share(c["score_3"] + c["score_4"] + c["score_5"], ratings)
            if enough
            else None,
        )
    return figures
