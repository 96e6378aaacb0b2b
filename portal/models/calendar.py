"""Working-day calendar overrides and per-day counters."""

from __future__ import annotations

from datetime import date

from sqlalchemy import Boolean, Date, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from portal.extensions import db


class CalendarDay(db.Model):
    """An admin's override of the statutory calendar (for years chinese-calendar does not know yet)."""

    __tablename__ = "calendar_days"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    is_workday: Mapped[bool] = mapped_column(Boolean)
    note: Mapped[str] = mapped_column(String(100), default="")


class DailyCounter(db.Model):
    """A sequence per (name, day): readable case numbers that never collide under concurrency."""

    __tablename__ = "daily_counters"
    __table_args__ = (UniqueConstraint("name", "day"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(32))
    day: Mapped[date] = mapped_column(Date)
    value: Mapped[int] = mapped_column(default=0)
