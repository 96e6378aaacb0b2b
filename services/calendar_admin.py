"""The working-day calendar as admins keep it: a year's State Council schedule, single days, and
the due dates that move when either changes.

The arithmetic stays in ``services.workdays`` (chinese-calendar, then ``CalendarDay`` overrides);
this module changes the overrides and answers the questions around them:

- which years are known (chinese-calendar knows them, or an admin imported their schedule);
- what an import would change, day by day, and which open cases' 承诺办结日 would move;
- applying it (audited), recalculating those cases from their start, and keeping the list.

A case's due date is recalculated only when the current calendar still explains it (the start,
the promised limit and its ended 特别程序 give exactly the stored date); a date set any other
way is left alone and listed for a person to check.
"""

from __future__ import annotations

import calendar as month_calendar
import hashlib
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta

import chinese_calendar
from flask_babel import lazy_gettext as _l
from sqlalchemy import bindparam, delete, exists, select
from sqlalchemy.orm import selectinload

from portal.extensions import db
from portal.models import (
    Application,
    CalendarDay,
    CalendarImport,
    ItemVersion,
    Suspension,
    User,
)
from services import audit, case_states, clock, workdays, workflow
from services.errors import Conflict, NotFound, ValidationError

MAX_SOURCE_CHARS = 10_000
MAX_LINES = 200
MIN_YEAR, MAX_YEAR = 2004, 2100
# the State Council publishes next year's schedule in November: warn from the 1st
WARN_FROM = (11, 1)

HOLIDAY_NAMES = {h.value: h.chinese for h in chinese_calendar.Holiday}

# ---------------------------------------------------------------------------- known years


def library_knows(year: int) -> bool:
    """chinese-calendar carries the State Council's schedule for this year."""
    try:
        chinese_calendar.is_workday(date(year, 1, 1))
    except NotImplementedError:
        return False
    return True


def imported_years(years: Iterable[int]) -> set[int]:
    wanted = set(years)
    if not wanted:
        return set()
    return set(
        db.session.scalars(
            select(CalendarImport.year).where(CalendarImport.year.in_(wanted)).distinct()
        )
    )


def year_is_known(year: int) -> bool:
    return library_knows(year) or bool(imported_years([year]))


def missing_schedule_years(today: date | None = None) -> list[int]:
    """Years whose schedule is needed now and neither known to chinese-calendar nor imported:
    this year, and from 1 November the next one."""
    today = today or clock.local_today()
    needed = [today.year]
    if (today.month, today.day) >= WARN_FROM:
        needed.append(today.year + 1)
    unknown = [y for y in needed if not library_knows(y)]
    have = imported_years(unknown)
    return [y for y in unknown if y not in have]


def missing_schedule_message(year: int) -> str:
    return str(
        _l(
            "%(year)d 年的法定节假日和调休安排还没有导入：在导入之前，计算期限时只把周末当作休息日，"
            "跨入这一年的承诺办结日可能算错。请在“工作日历”中导入国务院办公厅发布的放假安排。",
            year=year,
        )
    )


# ---------------------------------------------------------------------------- the year view


@dataclass(frozen=True)
class DayCell:
    day: date
    workday: bool
    note: str
    overridden: bool  # an admin's entry (import or single day), not chinese-calendar's

    @property
    def unusual(self) -> bool:
        """A weekday off (放假) or a weekend at work (调休上班)."""
        return self.workday != (self.day.weekday() < 5)


@dataclass(frozen=True)
class MonthView:
    month: int
    weeks: list[list[DayCell | None]]


@dataclass(frozen=True)
class YearView:
    year: int
    library: bool
    imports: list[CalendarImport]
    months: list[MonthView]

    @property
    def known(self) -> bool:
        return self.library or bool(self.imports)

    @property
    def unusual_days(self) -> list[DayCell]:
        return [
            cell
            for m in self.months
            for week in m.weeks
            for cell in week
            if cell is not None and (cell.unusual or cell.overridden)
        ]


def _library_note(day: date) -> str:
    try:
        _, name = chinese_calendar.get_holiday_detail(day)
    except NotImplementedError:
        return ""
    return HOLIDAY_NAMES.get(name, name or "") if name else ""


def _cell(day: date, overrides: dict[date, CalendarDay]) -> DayCell:
    row = overrides.get(day)
    if row is not None:
        return DayCell(day, row.is_workday, row.note, True)
    return DayCell(day, workdays.is_workday(day, {}), _library_note(day), False)


def check_year(year: int) -> int:
    if not MIN_YEAR <= year <= MAX_YEAR:
        raise NotFound(str(_l("没有这一年的日历")))
    return year


def year_view(year: int) -> YearView:
    check_year(year)
    rows = db.session.scalars(
        select(CalendarDay).where(CalendarDay.day.between(date(year, 1, 1), date(year, 12, 31)))
    )
    overrides = {row.day: row for row in rows}
    imports = list(
        db.session.scalars(
            select(CalendarImport)
            .where(CalendarImport.year == year)
            .options(selectinload(CalendarImport.imported_by).load_only(User.display_name))
            .order_by(CalendarImport.id.desc())
        )
    )
    months = []
    for month in range(1, 13):
        weeks = [
            [_cell(d, overrides) if d.month == month else None for d in week]
            for week in month_calendar.Calendar(firstweekday=0).monthdatescalendar(year, month)
        ]
        months.append(MonthView(month, weeks))
    return YearView(year, library_knows(year), imports, months)


def day_cell(day: date) -> DayCell:
    check_year(day.year)
    row = db.session.get(CalendarDay, day)
    return _cell(day, {day: row} if row else {})


# ---------------------------------------------------------------------------- parsing

_DATE = (
    r"(?:(?P<y>\d{4})\s*年\s*)?(?:(?P<m>\d{1,2})\s*月\s*)?(?P<d>\d{1,2})\s*日"
    r"(?:\s*\((?:周|星期|礼拜)[一二三四五六日天]\))?"
)
DATE_RE = re.compile(_DATE)
RANGE_WORDS = re.compile(r"^\s*(?:至|到|-|—|–|~|～)\s*$")
ENUMERATION = re.compile(
    r"^(?:[一二三四五六七八九十]+[、.]|\d+[、.)]|\([一二三四五六七八九十\d]+\))\s*"
)
CSV_LINE = re.compile(r"^\s*\d{4}-\d{1,2}-\d{1,2}\s*,")
CSV_KINDS = {"rest": False, "work": True, "休": False, "班": True, "放假": False, "上班": True}
REST_WORDS = ("放假", "休息", "休假")
WORK_WORDS = ("上班",)


@dataclass(frozen=True)
class ScheduleLine:
    """One dated range of a schedule: rest days (放假) or make-up working days (调休上班)."""

    line: int
    first: date
    last: date
    workday: bool
    note: str

    def days(self) -> list[date]:
        return [self.first + timedelta(days=i) for i in range((self.last - self.first).days + 1)]


class _LineError(Exception):
    pass


def _date(year: int, y: str | None, m: int | None, d: str, shown: str) -> date:
    if y is not None and int(y) != year:
        raise _LineError(str(_l("“%(date)s”不在 %(year)d 年内", date=shown, year=year)))
    if m is None:
        raise _LineError(str(_l("“%(date)s”没有写月份", date=shown)))
    try:
        return date(year, m, int(d))
    except ValueError:
        raise _LineError(str(_l("“%(date)s”不是有效的日期", date=shown))) from None


def _segment_ranges(text: str, year: int, month: list[int | None]) -> list[tuple[date, date]]:
    """The dates in a piece of a sentence, a range where 至 stands between two of them."""
    found = list(DATE_RE.finditer(text))
    ranges: list[tuple[date, date]] = []
    joined = False
    for i, match in enumerate(found):
        if match.group("m"):
            month[0] = int(match.group("m"))
        day = _date(year, match.group("y"), month[0], match.group("d"), match.group(0))
        if joined:
            first = ranges[-1][0]
            if day < first:
                raise _LineError(str(_l("“%(date)s”早于这一段的开始日期", date=match.group(0))))
            ranges[-1] = (first, day)
            joined = False
        else:
            ranges.append((day, day))
        if i + 1 < len(found):
            joined = bool(RANGE_WORDS.match(text[match.end() : found[i + 1].start()]))
    return ranges


def _parse_wording(text: str, year: int, line_no: int) -> list[ScheduleLine]:
    """``春节：2月15日至21日放假调休，共7天。2月14日（周六）、2月28日（周六）上班。``"""
    text = ENUMERATION.sub("", text)
    name, sep, body = text.partition(":")
    if not sep:
        name, body = "", text
    name = name.strip()[:40]
    if DATE_RE.search(name):
        name, body = "", text
    month: list[int | None] = [None]
    entries: list[ScheduleLine] = []
    pending: list[tuple[date, date]] = []
    for segment in re.split(r"[。;,，；]", body):
        ranges = _segment_ranges(segment, year, month)
        if any(w in segment for w in REST_WORDS):
            workday = False
        elif any(w in segment for w in WORK_WORDS):
            workday = True
        else:
            pending.extend(ranges)
            continue
        for first, last in [*pending, *ranges]:
            entries.append(ScheduleLine(line_no, first, last, workday, name))
        pending = []
    if pending:
        raise _LineError(str(_l("看不出这些日期是放假还是上班")))
    if not entries:
        raise _LineError(
            str(_l("看不懂这一行：请写成“春节：2月15日至21日放假，2月14日上班”或 CSV"))
        )
    return entries


def _parse_csv(text: str, year: int, line_no: int) -> list[ScheduleLine]:
    """``2027-02-15,2027-02-21,rest`` (an optional fourth column is the note)."""
    cells = [c.strip() for c in text.split(",")]
    if len(cells) not in (3, 4):
        raise _LineError(str(_l("CSV 一行应为 date_from,date_to,kind 三列（可加第四列备注）")))
    try:
        first = date.fromisoformat(cells[0])
        last = date.fromisoformat(cells[1]) if cells[1] else first
    except ValueError:
        raise _LineError(str(_l("日期应写成 2027-02-15 的格式"))) from None
    for day in (first, last):
        if day.year != year:
            raise _LineError(
                str(_l("“%(date)s”不在 %(year)d 年内", date=day.isoformat(), year=year))
            )
    if last < first:
        raise _LineError(str(_l("结束日期早于开始日期")))
    kind = cells[2].lower()
    if kind not in CSV_KINDS:
        raise _LineError(str(_l("第三列应为 rest（放假）或 work（上班）")))
    note = cells[3][:40] if len(cells) == 4 else ""
    return [ScheduleLine(line_no, first, last, CSV_KINDS[kind], note)]


def parse_schedule(source: str, year: int) -> list[ScheduleLine]:
    """The year's schedule, one holiday per line, in the State Council's wording or as CSV.

    Refuses the whole text when a line does not parse, names a date outside ``year``, or
    contradicts another line (a day both off and at work): nothing is half imported."""
    check_year(year)
    source = (source or "").replace("\r\n", "\n")
    if len(source) > MAX_SOURCE_CHARS:
        raise ValidationError({"source": str(_l("内容太长：最多 %(n)d 个字", n=MAX_SOURCE_CHARS))})
    lines = source.split("\n")
    if len(lines) > MAX_LINES:
        raise ValidationError({"source": str(_l("最多 %(n)d 行", n=MAX_LINES))})
    errors: list[str] = []
    entries: list[ScheduleLine] = []
    for n, raw in enumerate(lines, start=1):
        text = unicodedata.normalize("NFKC", raw).strip()
        if not text or text.startswith("#") or text.lower().startswith("date_from"):
            continue
        if any(unicodedata.category(ch) == "Cc" for ch in text):
            errors.append(str(_l("第 %(n)d 行含有不允许的字符", n=n)))
            continue
        try:
            if CSV_LINE.match(text):
                entries.extend(_parse_csv(text, year, n))
            else:
                entries.extend(_parse_wording(text, year, n))
        except _LineError as exc:
            errors.append(str(_l("第 %(n)d 行：%(why)s", n=n, why=str(exc))))
    if not errors and not entries:
        errors.append(str(_l("请填写这一年的放假安排")))
    if not errors:
        errors = _contradictions(entries)
    if errors:
        raise ValidationError({"source": "；".join(errors)})
    return entries


def _contradictions(entries: list[ScheduleLine]) -> list[str]:
    seen: dict[date, ScheduleLine] = {}
    errors: list[str] = []
    pairs: set[tuple[int, int]] = set()
    for entry in entries:
        for day in entry.days():
            other = seen.setdefault(day, entry)
            if other.workday != entry.workday and (other.line, entry.line) not in pairs:
                pairs.add((other.line, entry.line))
                errors.append(
                    str(
                        _l(
                            "第 %(a)d 行和第 %(b)d 行矛盾：%(day)s 不能既放假又上班",
                            a=other.line,
                            b=entry.line,
                            day=day.isoformat(),
                        )
                    )
                )
    return errors


# ---------------------------------------------------------------------------- due dates


@dataclass(frozen=True)
class CaseMove:
    id: int
    number: str
    before: date
    after: date

    def as_dict(self) -> dict[str, object]:
        return {
            "id": self.id,
            "number": self.number,
            "before": self.before.isoformat(),
            "after": self.after.isoformat(),
        }


@dataclass
class MovePlan:
    moves: list[CaseMove] = field(default_factory=list)
    # open cases whose stored due date the calendar does not explain: left for a person
    unexplained: list[tuple[int, str, date]] = field(default_factory=list)


def _all_overrides(since: date) -> dict[date, bool]:
    rows = db.session.execute(
        select(CalendarDay.day, CalendarDay.is_workday).where(CalendarDay.day >= since)
    )
    return {day: workday for day, workday in rows}


def _start_of(app: Application) -> date | None:
    """The day the promised clock started: acceptance, or arrival for 视为受理."""
    if app.deemed_accepted_at is not None:
        return workflow.received_on(app)
    if app.accepted_at is not None:
        return clock.local_date(app.accepted_at)
    return None


def _due_under(
    start: date, limit: int, suspensions: list[Suspension], overrides: dict[date, bool]
) -> date:
    due = workdays.add_working_days(start, limit, overrides)
    for pause in suspensions:
        days = max(workdays.working_days_between(pause.started_on, pause.ended_on, overrides), 0)
        due = workdays.add_working_days(due, days, overrides)
    return due


def plan_moves(first_changed: date, after: dict[date, bool | None]) -> MovePlan:
    """Open cases counted in 工作日 whose due date lies on or after the first changed day, and
    what their due dates become once ``after`` (day → workday, None = back to the default)
    replaces the current overrides."""
    plan = MovePlan()
    apps = list(
        db.session.scalars(
            select(Application)
            .join(ItemVersion, Application.item_version_id == ItemVersion.id)
            .where(
                Application.status.in_(case_states.OPEN_STATES),
                Application.due_date.is_not(None),
                Application.due_date >= first_changed,
                ItemVersion.promised_limit_unit != "natural",
            )
            .options(selectinload(Application.item_version).load_only(ItemVersion.promised_limit))
            .order_by(Application.due_date, Application.id)
        )
    )
    if not apps:
        return plan
    pauses: dict[int, list[Suspension]] = {}
    for pause in db.session.scalars(
        select(Suspension)
        .where(
            Suspension.application_id.in_([a.id for a in apps]),
            Suspension.ended_on.is_not(None),
        )
        .order_by(Suspension.id)
    ):
        pauses.setdefault(pause.application_id, []).append(pause)
    starts = {app.id: _start_of(app) for app in apps}
    since = min((s for s in starts.values() if s is not None), default=first_changed)
    before = _all_overrides(min(since, first_changed))
    changed = dict(before)
    for day, workday in after.items():
        if workday is None:
            changed.pop(day, None)
        else:
            changed[day] = workday
    for app in apps:
        start = starts[app.id]
        limit = app.item_version.promised_limit or 0
        own = pauses.get(app.id, [])
        if start is None or _due_under(start, limit, own, before) != app.due_date:
            plan.unexplained.append((app.id, app.number or "", app.due_date))
            continue
        new = _due_under(start, limit, own, changed)
        if new != app.due_date:
            plan.moves.append(CaseMove(app.id, app.number or "", app.due_date, new))
    return plan


def _apply_moves(plan: MovePlan, actor: User, reason: dict[str, object]) -> None:
    """Move the due dates (one flush), then put each move on its case's audit trail."""
    if not plan.moves:
        return
    table = Application.__table__
    # one statement for all; the version bump tells a reviewer's open page that the case changed
    db.session.execute(
        table.update()
        .where(table.c.id == bindparam("move_id"))
        .values(due_date=bindparam("move_after"), version=table.c.version + 1),
        [{"move_id": m.id, "move_after": m.after} for m in plan.moves],
    )
    moved = {m.id for m in plan.moves}
    for obj in list(db.session.identity_map.values()):
        if isinstance(obj, Application) and obj.id in moved:
            db.session.expire(obj)
    audit.record_many(
        "due_date_recalculated",
        actor=actor,
        items=[
            (
                move.id,
                {"before": move.before.isoformat(), "after": move.after.isoformat(), **reason},
            )
            for move in plan.moves
        ],
    )


# ---------------------------------------------------------------------------- import


@dataclass(frozen=True)
class DayChange:
    day: date
    before: bool
    after: bool
    note: str

    def as_dict(self) -> dict[str, object]:
        return {
            "day": self.day.isoformat(),
            "before": self.before,
            "after": self.after,
            "note": self.note,
        }


@dataclass
class ImportPlan:
    year: int
    entries: list[ScheduleLine]
    target: dict[date, tuple[bool, str]]  # the year's overrides after the import
    changes: list[DayChange]
    cases: MovePlan
    fingerprint: str


def _year_rows(year: int) -> list[CalendarDay]:
    return list(
        db.session.scalars(
            select(CalendarDay)
            .where(CalendarDay.day.between(date(year, 1, 1), date(year, 12, 31)))
            .order_by(CalendarDay.day)
        )
    )


def _fingerprint(year: int, rows: list[CalendarDay], source: str) -> str:
    """What the preview was computed from: the year's overrides and the text."""
    state = "|".join(f"{r.day.isoformat()}:{int(r.is_workday)}:{r.note}" for r in rows)
    return hashlib.sha256(f"{year}\n{state}\n{source}".encode()).hexdigest()


def plan_import(year: int, source: str) -> ImportPlan:
    """What importing ``source`` as ``year``'s schedule would do; changes nothing."""
    entries = parse_schedule(source, year)
    target: dict[date, tuple[bool, str]] = {}
    for entry in entries:
        for day in entry.days():
            target[day] = (entry.workday, entry.note or target.get(day, (False, ""))[1])
    rows = _year_rows(year)
    current = {r.day: r.is_workday for r in rows}
    changes = []
    day = date(year, 1, 1)
    while day.year == year:
        before = workdays.is_workday(day, current)
        after = target[day][0] if day in target else workdays.is_workday(day, {})
        if before != after:
            changes.append(DayChange(day, before, after, target.get(day, (after, ""))[1]))
        day += timedelta(days=1)
    after_map: dict[date, bool | None] = {d: None for d in current}
    after_map.update({d: w for d, (w, _) in target.items()})
    cases = plan_moves(changes[0].day, after_map) if changes else MovePlan()
    return ImportPlan(year, entries, target, changes, cases, _fingerprint(year, rows, source))


def import_schedule(year: int, source: str, *, fingerprint: str, actor: User) -> CalendarImport:
    """Replace ``year``'s overrides with the schedule, recalculate the due dates it moves, and
    keep the record (the year then counts as known). ``fingerprint`` is the preview's: when
    the calendar changed since, the admin must look at the new preview first."""
    plan = plan_import(year, source)
    if fingerprint != plan.fingerprint:
        raise Conflict(str(_l("日历在您预览之后已被修改，请重新预览后再确认")))
    db.session.execute(
        delete(CalendarDay).where(CalendarDay.day.between(date(year, 1, 1), date(year, 12, 31)))
    )
    db.session.add_all(
        CalendarDay(day=day, is_workday=workday, note=note)
        for day, (workday, note) in sorted(plan.target.items())
    )
    record = CalendarImport(
        year=year,
        source=source,
        imported_by_id=actor.id,
        changed_days=[c.as_dict() for c in plan.changes],
        moved_cases=[m.as_dict() for m in plan.cases.moves],
    )
    db.session.add(record)
    db.session.flush()
    _apply_moves(plan.cases, actor, {"calendar_import": record.id, "year": year})
    audit.record_event(
        "calendar.imported",
        actor=actor,
        details={
            "import_id": record.id,
            "year": year,
            "days": len(plan.target),
            "changed_days": [c.day.isoformat() for c in plan.changes],
            "moved_cases": [m.id for m in plan.cases.moves],
        },
    )
    return record


def load_import(import_id: int) -> CalendarImport:
    record = db.session.scalar(
        select(CalendarImport)
        .where(CalendarImport.id == import_id)
        .options(selectinload(CalendarImport.imported_by).load_only(User.display_name))
    )
    if record is None:
        raise NotFound(str(_l("没有找到这次导入")))
    return record


# ---------------------------------------------------------------------------- one day

DAY_CHOICES = ("work", "rest", "default")


@dataclass(frozen=True)
class DayEdit:
    change: DayChange | None
    cases: MovePlan


def set_day(day: date, choice: str, note: str, *, actor: User) -> DayEdit:
    """Make one day a working day, a rest day, or what chinese-calendar (or the weekend) says."""
    check_year(day.year)
    if choice not in DAY_CHOICES:
        raise ValidationError({"choice": str(_l("请选择这一天是工作日还是休息日"))})
    note = unicodedata.normalize("NFKC", note or "").strip()
    if len(note) > 40:
        raise ValidationError({"note": str(_l("最多 %(n)d 个字", n=40))})
    if any(unicodedata.category(ch) == "Cc" for ch in note):
        raise ValidationError({"note": str(_l("含有不允许的字符"))})
    row = db.session.get(CalendarDay, day, with_for_update=True)
    before = workdays.is_workday(day, {day: row.is_workday} if row else {})
    old = {"workday": row.is_workday, "note": row.note} if row else None
    after_value: bool | None = None if choice == "default" else choice == "work"
    after = workdays.is_workday(day, {}) if after_value is None else after_value
    cases = plan_moves(day, {day: after_value}) if before != after else MovePlan()
    if after_value is None:
        if row is not None:
            db.session.delete(row)
    elif row is None:
        db.session.add(CalendarDay(day=day, is_workday=after_value, note=note))
    else:
        row.is_workday, row.note = after_value, note
    db.session.flush()
    new = None if after_value is None else {"workday": after_value, "note": note}
    if old == new:
        return DayEdit(None, cases)
    _apply_moves(cases, actor, {"calendar_day": day.isoformat()})
    audit.record_event(
        "calendar.day_changed",
        actor=actor,
        details={
            "day": day.isoformat(),
            "before": old,
            "after": new,
            "moved_cases": [m.as_dict() for m in cases.moves],
        },
    )
    return DayEdit(DayChange(day, before, after, note) if before != after else None, cases)


def has_overrides(year: int) -> bool:
    return bool(
        db.session.scalar(
            select(exists().where(CalendarDay.day.between(date(year, 1, 1), date(year, 12, 31))))
        )
    )
