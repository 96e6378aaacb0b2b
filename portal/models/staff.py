"""Staff accounts: the roles a person holds, recovery codes and wrong second-factor codes."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.extensions import db
from portal.models.accounts import Role, User, enum_column
from portal.models.base import TimestampMixin, UTCDateTime


class StaffRole(db.Model):
    """One role a staff member holds (窗口, 审批, 管理); ``User.role`` is the one they act in."""

    __tablename__ = "staff_roles"
    __table_args__ = (Index("ix_staff_roles_role", "role"),)

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    role: Mapped[Role] = mapped_column(enum_column(Role, "staff_role"), primary_key=True)

    user: Mapped[User] = relationship(back_populates="role_grants")


class RecoveryCode(TimestampMixin, db.Model):
    """A one-time code for when the authenticator app is lost; stored hashed, used once."""

    __tablename__ = "recovery_codes"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    code_hash: Mapped[str] = mapped_column(String(256))
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class SecondFactorFailure(TimestampMixin, db.Model):
    """A wrong second-factor code, kept to throttle guessing per account and per client."""

    __tablename__ = "second_factor_failures"
    __table_args__ = (
        Index("ix_second_factor_failures_user_created", "user_id", "created_at"),
        Index("ix_second_factor_failures_addr_created", "remote_addr", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    remote_addr: Mapped[str] = mapped_column(String(64), default="")
