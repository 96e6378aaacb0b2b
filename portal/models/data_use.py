"""Who used a citizen's data (我的数据使用记录), and failed e-licence verifications (throttling)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.extensions import db
from portal.models.accounts import Department, User
from portal.models.applications import Application
from portal.models.base import UTCDateTime, utcnow


class DataUseLog(db.Model):
    """One use of a citizen's document or personal data by staff or by the system (actor None).

    The citizen reads these rows; a deleted document leaves its rows (document_id set to
    NULL by the database), and ``detail`` keeps what the document was.
    """

    __tablename__ = "data_use_logs"
    __table_args__ = (Index("ix_data_use_logs_citizen_created", "citizen_id", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    citizen_id: Mapped[int] = mapped_column(ForeignKey("citizens.id"))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    actor_department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"))
    # the role the actor used the data in, as it was then: reviewer / counter / admin / agent /
    # system (services.data_use.actor_role)
    actor_role: Mapped[str] = mapped_column(String(16), default="system", server_default="system")
    action: Mapped[str] = mapped_column(String(32))
    document_id: Mapped[int | None] = mapped_column(ForeignKey("documents.id", ondelete="SET NULL"))
    application_id: Mapped[int | None] = mapped_column(ForeignKey("applications.id"))
    detail: Mapped[str] = mapped_column(String(200), default="")
    reason: Mapped[str] = mapped_column(String(200), default="", server_default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    actor: Mapped[User | None] = relationship()
    actor_department: Mapped[Department | None] = relationship()
    application: Mapped[Application | None] = relationship()


class VerificationFailure(db.Model):
    """A public e-licence check that found nothing, kept to throttle guessing of holder codes."""

    __tablename__ = "verification_failures"
    __table_args__ = (
        Index("ix_verification_failures_addr_created", "remote_addr", "created_at"),
        Index("ix_verification_failures_number_created", "number", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(64))
    remote_addr: Mapped[str] = mapped_column(String(64), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
