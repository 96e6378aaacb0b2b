"""The working-day clock: China's statutory holidays and make-up working weekends (调休).

chinese-calendar knows the published years; for later years an admin enters the State
Council's schedule as CalendarDay overrides, and until then weekends are the only rest days.
Overrides win over the package, so a correction never needs a code change.
"""

from __future__ import annotations

from datetime import date, timedelta
from functools import lru_cache

import chinese_calendar
from sqlalchemy import bindparam, select

from portal.extensions import db
from portal.models import CalendarDay


def load_overrides(start: date, end: date) -> dict[date, bool]:
    rows = db.session.execute(_OVERRIDES, {"start": start, "end": end})
    return {day: workday for day, workday in rows}


# built once: deadlines are worked out on most staff pages (building it cost as much as running it)
_OVERRIDES = select(CalendarDay.day, CalendarDay.is_workday).where(
    CalendarDay.day.between(bindparam("start"), bindparam("end"))
)


def is_workday(day: date, overrides: dict[date, bool] | None = None) -> bool:
    """Overrides first (read from the database when not given), then chinese-calendar, then
    the weekend for a year neither knows."""
    if overrides is None:
        overrides = load_overrides(day, day)
    if overrides and day in overrides:
        return overrides[day]
    return _statutory_workday(day)


@lru_cache(maxsize=8192)
def _statutory_workday(day: date) -> bool:
    """chinese-calendar's answer, or the weekend for a year it does not know. Cached: the
    package checks each date against its whole table (about 65 µs a call), and a calendar
    import recalculates thousands of due dates."""
    try:
        return chinese_calendar.is_workday(day)
    except NotImplementedError:
        return day.weekday() < 5


def add_working_days(start: date, days: int, overrides: dict[date, bool] | None = None) -> date:
    """The date on which ``days`` working days after ``start`` have passed (start day excluded).

    0 days means today (即办件)."""
    if days < 0:
        raise ValueError("days must not be negative")
    if overrides is None:
        overrides = load_overrides(start, start + timedelta(days=days * 3 + 30))
    current = start
    remaining = days
    while remaining > 0:
        current += timedelta(days=1)
        if is_workday(current, overrides):
            remaining -= 1
    return current


def working_days_between(start: date, end: date, overrides: dict[date, bool] | None = None) -> int:
    """Working days after ``start`` up to and including ``end`` (negative when end < start)."""
    if end < start:
        return -working_days_between(end, start, overrides)
    if overrides is None:
        overrides = load_overrides(start, end)
    return sum(
        1
        for i in range(1, (end - start).days + 1)
        if is_workday(start + timedelta(days=i), overrides)
    )


def due_date(start: date, limit: int, unit: str) -> date:
    """The promised completion date for a limit in 工作日 (working) or 自然日 (natural)."""
    if unit == "natural":
        return start + timedelta(days=limit)
    return add_working_days(start, limit)
