"""One clock for the whole portal.

Instants are stored in UTC. Every date a deadline is counted from and every date or time a
person reads (pages, PDFs, messages, CSV) is in the city's zone, ``PORTAL_TZ`` (default
Asia/Shanghai): a case submitted at 07:30 Beijing time on a Monday is received on that Monday,
although it is still Sunday in UTC. Nothing else in the portal calls ``date.today()`` or a
naive ``datetime.now()``.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from functools import lru_cache
from zoneinfo import ZoneInfo

from flask import current_app, has_app_context

DEFAULT_ZONE = "Asia/Shanghai"


@lru_cache(maxsize=8)
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def portal_zone() -> ZoneInfo:
    """The city's zone from the configuration (the default outside an app)."""
    name = DEFAULT_ZONE
    if has_app_context():
        name = current_app.config.get("PORTAL_TZ") or DEFAULT_ZONE
    return _zone(name)


def utc_now() -> datetime:
    return datetime.now(UTC)


def to_local(instant: datetime, zone: ZoneInfo | None = None) -> datetime:
    """A stored instant in the city's zone (a naive value is taken as UTC, as stored);
    ``zone``: portal_zone() already looked up (a list of fifty rows asks it once)."""
    if instant.tzinfo is None:
        instant = instant.replace(tzinfo=UTC)
    return instant.astimezone(zone or portal_zone())


def local_now() -> datetime:
    return to_local(utc_now())


def local_today() -> date:
    """Today in the city: the day every job, queue and deadline calls "today"."""
    return local_now().date()


def local_date(instant: datetime, zone: ZoneInfo | None = None) -> date:
    """The legal date of an instant (received, accepted, issued …) in the city."""
    return to_local(instant, zone).date()


def local_instant(day: date, at: time) -> datetime:
    """The UTC instant of a wall-clock time on a day in the city (e.g. a hall's 09:00)."""
    return datetime.combine(day, at, tzinfo=portal_zone()).astimezone(UTC)


def format_local(value: datetime | date | None, kind: str = "datetime") -> str:
    """The one way dates and times are written for people: ``datetime`` 2026-12-01 07:30,
    ``date`` 2026-12-01, ``time`` 07:30, ``long_date`` 2026年12月01日 (PDFs)."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        value = to_local(value)
    elif kind in ("datetime", "time"):
        kind = "date"
    pattern = {
        "datetime": "%Y-%m-%d %H:%M",
        "date": "%Y-%m-%d",
        "time": "%H:%M",
        "long_date": "%Y年%m月%d日",
    }[kind]
    return value.strftime(pattern)
