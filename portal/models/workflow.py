"""The review workflow's records: notices, correction rounds, suspensions, post-checks,
visits, follow-up tickets for bad ratings, staff reminders and the jobs' claims."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Date, ForeignKey, Index, String, Text, UniqueConstraint, event
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.extensions import db
from portal.models.accounts import Department, User
from portal.models.base import TimestampMixin, UTCDateTime, utcnow


class Notice(db.Model):
    """A legal notice (受理通知书, 补正材料通知书 …) rendered once and kept as issued.

    The row is written when the notice is issued, with what it is rendered with
    (``render_context``); the PDF is rendered then or by a background task a moment later
    (services/notices.py), and attached once: ``storage_key``, ``sha256`` and ``rendered_at``
    are set by one conditional UPDATE (… WHERE storage_key IS NULL), so a task run twice
    still leaves one file. The sha256 is in the issuing event, or in the ``notice_rendered``
    event of a task. Otherwise rows are never updated."""

    __tablename__ = "notices"
    __table_args__ = (Index("ix_notices_application", "application_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(40), unique=True)
    application_id: Mapped[int] = mapped_column(ForeignKey("applications.id"))
    kind: Mapped[str] = mapped_column(String(32))
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"))
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    issued_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    storage_key: Mapped[str | None] = mapped_column(String(200))  # None: being rendered
    sha256: Mapped[str | None] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(default=0)
    render_context: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    rendered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # printed in the QR code, so that anyone holding the paper can verify it
    check_code: Mapped[str] = mapped_column(String(16))
    # the random code in the QR (/verify/c/<code>): the public page by code, with no input
    verify_code: Mapped[str] = mapped_column(String(43), unique=True, index=True)

    department: Mapped[Department | None] = relationship()


@event.listens_for(Notice, "before_update")
def _notices_are_immutable(mapper, connection, target: Notice) -> None:
    raise ValueError("a notice is kept exactly as issued; issue a new one instead")


def notice_ready(notice: Notice) -> bool:
    """The notice's PDF is made and stored (until then the pages say 通知书生成中)."""
    return notice.storage_key is not None


class CorrectionRequest(db.Model):
    """一次性告知: one round of correction listing every defective item with its reason."""

    __tablename__ = "correction_requests"
    __table_args__ = (UniqueConstraint("application_id", "round"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[int] = mapped_column(ForeignKey("applications.id"), index=True)
    round: Mapped[int] = mapped_column(default=1)
    # [{"kind": "material"|"field", "key": requirement id or question key, "label": ..., "reason": ...}]
    items: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    requested_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    resubmitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    exception_id: Mapped[int | None] = mapped_column(ForeignKey("correction_exceptions.id"))
    notice_id: Mapped[int | None] = mapped_column(ForeignKey("notices.id"))


class CorrectionException(TimestampMixin, db.Model):
    """An admin's recorded exception allowing one more correction round (counted in statistics)."""

    __tablename__ = "correction_exceptions"

    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[int] = mapped_column(ForeignKey("applications.id"), index=True)
    granted_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    reason: Mapped[str] = mapped_column(Text)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    granted_by: Mapped[User] = relationship()


class Suspension(db.Model):
    """特别程序 (hearing, inspection, expert review): the promised clock stops while it runs."""

    __tablename__ = "suspensions"

    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[int] = mapped_column(ForeignKey("applications.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # hearing / inspection / expert
    reason: Mapped[str] = mapped_column(Text)
    expected_days: Mapped[int] = mapped_column()
    started_on: Mapped[date] = mapped_column(Date)
    ended_on: Mapped[date | None] = mapped_column(Date)
    working_days: Mapped[int | None] = mapped_column()  # the days the clock stood still
    started_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))


class PostCheckTask(TimestampMixin, db.Model):
    """告知承诺: the department checks after the decision that the commitment was true."""

    __tablename__ = "post_check_tasks"
    __table_args__ = (Index("ix_post_check_tasks_department_status", "department_id", "status"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[int] = mapped_column(ForeignKey("applications.id"), unique=True)
    department_id: Mapped[int] = mapped_column(ForeignKey("departments.id"))
    due_date: Mapped[date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(16), default="open")  # open / passed / false
    note: Mapped[str] = mapped_column(Text, default="")
    checked_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    checked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    reminded_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class Visit(TimestampMixin, db.Model):
    """One in-person contact on a case: how "run at most once" is measured."""

    __tablename__ = "visits"
    __table_args__ = (UniqueConstraint("application_id", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[int] = mapped_column(ForeignKey("applications.id"))
    number: Mapped[int] = mapped_column()  # 1, 2, … within the case
    kind: Mapped[str] = mapped_column(String(16))  # intake / original_check / pickup
    staff_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    reason: Mapped[str] = mapped_column(Text, default="")  # required beyond the guide's count
    beyond_guide: Mapped[bool] = mapped_column(default=False)


class FollowUpTicket(TimestampMixin, db.Model):
    """差评整改: a rating of 1 or 2 is verified, rectified and the citizen called back."""

    __tablename__ = "follow_up_tickets"
    __table_args__ = (Index("ix_follow_up_tickets_status_due", "status", "due_date"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    rating_id: Mapped[int] = mapped_column(ForeignKey("ratings.id"), unique=True)
    application_id: Mapped[int] = mapped_column(ForeignKey("applications.id"))
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"))
    # verifying 待核实 → rectifying 整改中 → rectified 已整改 → revisited 已回访;
    # or verifying → appealed 申诉 → revoked 复核撤销
    status: Mapped[str] = mapped_column(String(16), default="verifying")
    due_date: Mapped[date] = mapped_column(Date)
    history: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)

    department: Mapped[Department | None] = relationship()


class StaffReminder(TimestampMixin, db.Model):
    """A reminder for a department's staff (or one reviewer): due dates, post-checks, flags."""

    __tablename__ = "staff_reminders"
    __table_args__ = (Index("ix_staff_reminders_department", "department_id", "read_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    application_id: Mapped[int | None] = mapped_column(ForeignKey("applications.id"))
    kind: Mapped[str] = mapped_column(String(32))
    body: Mapped[str] = mapped_column(Text)
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class JobClaim(db.Model):
    """A unit of scheduled work done once: the unique key makes a second worker's insert fail."""

    __tablename__ = "job_claims"
    __table_args__ = (UniqueConstraint("job", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    job: Mapped[str] = mapped_column(String(32))
    key: Mapped[str] = mapped_column(String(100))
    claimed_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
