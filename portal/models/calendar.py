"""Working-day calendar overrides and per-day counters."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Date, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.extensions import db
from portal.models.accounts import User
from portal.models.base import UTCDateTime, utcnow


class CalendarDay(db.Model):
    """An admin's override of the statutory calendar (for years chinese-calendar does not know yet)."""

    __tablename__ = "calendar_days"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    is_workday: Mapped[bool] = mapped_column(Boolean)
    note: Mapped[str] = mapped_column(String(100), default="")


class CalendarImport(db.Model):
    """A year's State Council schedule (放假安排) as an admin imported it.

    A year with an import counts as known even when chinese-calendar does not know it; the
    row keeps the text, the days it changed and the cases whose due dates moved."""

    __tablename__ = "calendar_imports"

    id: Mapped[int] = mapped_column(primary_key=True)
    year: Mapped[int] = mapped_column(index=True)
    source: Mapped[str] = mapped_column(Text)
    imported_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    imported_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    # [{"day": "2027-02-15", "before": true, "after": false, "note": "春节"}, …]
    changed_days: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    # [{"id": 1, "number": "…", "before": "2027-02-18", "after": "2027-02-25"}, …]
    moved_cases: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)

    imported_by: Mapped[User | None] = relationship()


class DailyCounter(db.Model):
    """A sequence per (name, day): readable case numbers that never collide under concurrency."""

    __tablename__ = "daily_counters"
    __table_args__ = (UniqueConstraint("name", "day"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(32))
    day: Mapped[date] = mapped_column(Date)
    value: Mapped[int] = mapped_column(default=0)
