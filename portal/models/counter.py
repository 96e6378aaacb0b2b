"""The counter and the kiosk: service halls, queue categories, windows, tickets, appointments,
the walk-in context a counter clerk is serving, and the idempotency keys of offline intakes."""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    ForeignKey,
    Index,
    String,
    Text,
    Time,
    UniqueConstraint,
    true,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.extensions import db
from portal.models.accounts import Citizen, User
from portal.models.base import TimestampMixin, UTCDateTime, utcnow


class ServiceHall(TimestampMixin, db.Model):
    """政务服务大厅 / 便民服务中心: a place with counters, a queue and appointment slots."""

    __tablename__ = "service_halls"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(16), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    address: Mapped[str] = mapped_column(String(200), default="")
    hours: Mapped[str] = mapped_column(String(200), default="")
    phone: Mapped[str] = mapped_column(String(40), default="")
    active: Mapped[bool] = mapped_column(Boolean, default=True)

    categories: Mapped[list[QueueCategory]] = relationship(
        back_populates="hall", order_by="QueueCategory.code"
    )
    windows: Mapped[list[CounterWindow]] = relationship(
        back_populates="hall", order_by="CounterWindow.number"
    )


class QueueCategory(db.Model):
    """A service category of a hall's queue, with its ticket letter (A 户籍, B 社保 …)."""

    __tablename__ = "queue_categories"
    __table_args__ = (UniqueConstraint("hall_id", "code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    hall_id: Mapped[int] = mapped_column(ForeignKey("service_halls.id"))
    code: Mapped[str] = mapped_column(String(2))  # the ticket's letter
    name: Mapped[str] = mapped_column(String(50))
    # the departments whose items this category serves (empty: any item, 综合受理)
    department_ids: Mapped[list[int]] = mapped_column(JSON, default=list)
    open: Mapped[bool] = mapped_column(Boolean, default=True)

    hall: Mapped[ServiceHall] = relationship(back_populates="categories")


class CounterWindow(db.Model):
    """A numbered window (窗口) of a hall; the clerk at it calls tickets of its categories."""

    __tablename__ = "counter_windows"
    __table_args__ = (UniqueConstraint("hall_id", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    hall_id: Mapped[int] = mapped_column(ForeignKey("service_halls.id"))
    number: Mapped[int] = mapped_column()
    name: Mapped[str] = mapped_column(String(50), default="")
    category_codes: Mapped[list[str]] = mapped_column(JSON, default=list)
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), unique=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)

    hall: Mapped[ServiceHall] = relationship(back_populates="windows")
    staff: Mapped[User | None] = relationship()


class Ticket(db.Model):
    """取号: a numbered queue ticket of one category for one day (A012)."""

    __tablename__ = "tickets"
    __table_args__ = (
        UniqueConstraint("category_id", "day", "number"),
        Index("ix_tickets_hall_day_status", "hall_id", "day", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    hall_id: Mapped[int] = mapped_column(ForeignKey("service_halls.id"))
    category_id: Mapped[int] = mapped_column(ForeignKey("queue_categories.id"))
    day: Mapped[date] = mapped_column(Date)
    number: Mapped[int] = mapped_column()
    code: Mapped[str] = mapped_column(String(8))  # "A012"
    # waiting → called → serving → done; called → skipped (过号); waiting → cancelled
    status: Mapped[str] = mapped_column(String(16), default="waiting")
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    called_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    call_count: Mapped[int] = mapped_column(default=0)
    window_id: Mapped[int | None] = mapped_column(ForeignKey("counter_windows.id"))
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    appointment_id: Mapped[int | None] = mapped_column(ForeignKey("appointments.id"))
    application_id: Mapped[int | None] = mapped_column(ForeignKey("applications.id"))
    source: Mapped[str] = mapped_column(String(16), default="kiosk")  # kiosk / tablet / appointment

    category: Mapped[QueueCategory] = relationship()
    window: Mapped[CounterWindow | None] = relationship()


class TicketCall(db.Model):
    """One call of a ticket to a window (叫号 or 重呼): what the call display shows and speaks."""

    __tablename__ = "ticket_calls"
    __table_args__ = (Index("ix_ticket_calls_hall_id", "hall_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    hall_id: Mapped[int] = mapped_column(ForeignKey("service_halls.id"))
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"))
    window_id: Mapped[int] = mapped_column(ForeignKey("counter_windows.id"))
    staff_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    kind: Mapped[str] = mapped_column(String(8), default="call")  # call / recall
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    ticket: Mapped[Ticket] = relationship()
    window: Mapped[CounterWindow] = relationship()


class AppointmentSlot(db.Model):
    """A bookable period of one hall and category on one day, with a capacity."""

    __tablename__ = "appointment_slots"
    __table_args__ = (
        UniqueConstraint("hall_id", "category_id", "day", "starts_at"),
        Index("ix_appointment_slots_day", "day", "hall_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    hall_id: Mapped[int] = mapped_column(ForeignKey("service_halls.id"))
    category_id: Mapped[int] = mapped_column(ForeignKey("queue_categories.id"))
    day: Mapped[date] = mapped_column(Date)
    starts_at: Mapped[time] = mapped_column(Time)
    ends_at: Mapped[time] = mapped_column(Time)
    capacity: Mapped[int] = mapped_column()
    booked: Mapped[int] = mapped_column(default=0)  # kept ≤ capacity by a conditional UPDATE
    # False once the hall's template or a closure no longer offers it: no new bookings; kept
    # (never deleted) while bookings point at it, so staff can contact those citizens
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())

    hall: Mapped[ServiceHall] = relationship()
    category: Mapped[QueueCategory] = relationship()


class AppointmentSession(TimestampMixin, db.Model):
    """A period in which a hall's category takes bookings, cut into slots of ``slot_minutes``
    with ``capacity`` places each: every week on ``weekday`` (0 = Monday; the weekly template)
    or once on ``day`` (an extra session, 加开)."""

    __tablename__ = "appointment_sessions"
    __table_args__ = (Index("ix_appointment_sessions_category", "category_id", "weekday"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    hall_id: Mapped[int] = mapped_column(ForeignKey("service_halls.id"))
    category_id: Mapped[int] = mapped_column(ForeignKey("queue_categories.id"))
    weekday: Mapped[int | None] = mapped_column()
    day: Mapped[date | None] = mapped_column(Date)
    starts_at: Mapped[time] = mapped_column(Time)
    ends_at: Mapped[time] = mapped_column(Time)
    slot_minutes: Mapped[int] = mapped_column(default=60)
    capacity: Mapped[int] = mapped_column()

    category: Mapped[QueueCategory] = relationship()


class AppointmentClosure(TimestampMixin, db.Model):
    """暂停预约: a hall (or one of its categories) closed for a day or a range of days, the
    whole day or its morning or afternoon."""

    __tablename__ = "appointment_closures"
    __table_args__ = (Index("ix_appointment_closures_hall_days", "hall_id", "last_day"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    hall_id: Mapped[int] = mapped_column(ForeignKey("service_halls.id"))
    category_id: Mapped[int | None] = mapped_column(ForeignKey("queue_categories.id"))
    first_day: Mapped[date] = mapped_column(Date)
    last_day: Mapped[date] = mapped_column(Date)
    part: Mapped[str] = mapped_column(String(8), default="day")  # day / am / pm
    reason: Mapped[str] = mapped_column(String(200), default="")
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    category: Mapped[QueueCategory | None] = relationship()


class Appointment(TimestampMixin, db.Model):
    """预约: a citizen's booking of a slot, for an item or for one of their own cases."""

    __tablename__ = "appointments"
    __table_args__ = (
        Index("ix_appointments_citizen_status", "citizen_id", "status"),
        Index("ix_appointments_slot_status", "slot_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(16), unique=True)  # told at the door / on the ticket
    slot_id: Mapped[int] = mapped_column(ForeignKey("appointment_slots.id"))
    citizen_id: Mapped[int] = mapped_column(ForeignKey("citizens.id"))
    item_id: Mapped[int | None] = mapped_column(ForeignKey("service_items.id"))
    application_id: Mapped[int | None] = mapped_column(ForeignKey("applications.id"))
    # booked → arrived → done; booked → cancelled / no_show
    status: Mapped[str] = mapped_column(String(16), default="booked")
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    arrived_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    note: Mapped[str] = mapped_column(Text, default="")

    slot: Mapped[AppointmentSlot] = relationship()
    citizen: Mapped[Citizen] = relationship()


class CounterContext(db.Model):
    """The walk-in a clerk is serving now, kept on the server (never in a URL or a form).

    One open row per clerk; "办理下一位" closes it. Pages of the workstation read the citizen
    from here, so nothing of the previous citizen can leak into the next one's pages."""

    __tablename__ = "counter_contexts"
    __table_args__ = (Index("ix_counter_contexts_staff_open", "staff_id", "ended_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    citizen_id: Mapped[int | None] = mapped_column(ForeignKey("citizens.id"))
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("citizens.id"))
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id"))
    appointment_id: Mapped[int | None] = mapped_column(ForeignKey("appointments.id"))
    # the cases opened or handled in this contact (each counted as one visit at most)
    application_ids: Mapped[list[int]] = mapped_column(JSON, default=list)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    staff: Mapped[User] = relationship()
    citizen: Mapped[Citizen | None] = relationship(foreign_keys=[citizen_id])
    agent: Mapped[Citizen | None] = relationship(foreign_keys=[agent_id])


class IntakeKey(db.Model):
    """The client-made idempotency key of an offline intake: a replay returns the same case."""

    __tablename__ = "intake_keys"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(64), unique=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    application_id: Mapped[int | None] = mapped_column(ForeignKey("applications.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # the answer given the first time (case number, or the refusal to show to staff)
    response: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
