"""Departments, people and accounts."""

from __future__ import annotations

import enum
from datetime import date, datetime
from typing import TYPE_CHECKING

from flask_login import UserMixin
from sqlalchemy import BigInteger, Boolean, Date, Enum, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.extensions import db
from portal.models.base import TimestampMixin, UTCDateTime

if TYPE_CHECKING:
    from portal.models.staff import StaffRole


class Role(enum.StrEnum):
    citizen = "citizen"
    counter = "counter"
    reviewer = "reviewer"
    admin = "admin"


def enum_column(enum_cls: type[enum.Enum], name: str) -> Enum:
    """A portable enum column stored as its string values (no native PG enum to migrate)."""
    return Enum(
        enum_cls,
        name=name,
        native_enum=False,
        create_constraint=True,
        values_callable=lambda e: [m.value for m in e],
        length=32,
    )


class Department(TimestampMixin, db.Model):
    """实施主体: a department that owns service items and employs reviewers."""

    __tablename__ = "departments"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(16), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    phone: Mapped[str] = mapped_column(String(40), default="")
    address: Mapped[str] = mapped_column(String(200), default="")
    hours: Mapped[str] = mapped_column(String(200), default="")
    active: Mapped[bool] = mapped_column(Boolean, default=True)

    def __repr__(self) -> str:
        return f"<Department {self.code}>"


class Citizen(TimestampMixin, db.Model):
    """A natural person (自然人) known to the portal, with or without an online account."""

    __tablename__ = "citizens"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(50))
    id_number: Mapped[str] = mapped_column(String(18), unique=True)
    phone: Mapped[str | None] = mapped_column(String(20), unique=True)
    address: Mapped[str] = mapped_column(String(200), default="")
    birth_date: Mapped[date] = mapped_column(Date)
    gender: Mapped[str] = mapped_column(String(1), default="")  # "M" / "F" from the id number
    commitment_barred: Mapped[bool] = mapped_column(Boolean, default=False)

    user: Mapped[User | None] = relationship(back_populates="citizen", uselist=False)

    def __repr__(self) -> str:
        return f"<Citizen {self.id}>"


class User(UserMixin, TimestampMixin, db.Model):
    """A login: a citizen (by phone) or a staff member (by account name)."""

    __tablename__ = "users"
    __table_args__ = (Index("ix_users_role_department", "role", "department_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    role: Mapped[Role] = mapped_column(enum_column(Role, "role"))
    username: Mapped[str | None] = mapped_column(String(40), unique=True)
    phone: Mapped[str | None] = mapped_column(String(20), unique=True)
    display_name: Mapped[str] = mapped_column(String(50))
    password_hash: Mapped[str] = mapped_column(String(256))
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"))
    # counter staff: the service hall they work in
    hall_id: Mapped[int | None] = mapped_column(ForeignKey("service_halls.id"))
    citizen_id: Mapped[int | None] = mapped_column(ForeignKey("citizens.id"), unique=True)
    elder_mode: Mapped[bool] = mapped_column(Boolean, default=False)
    locale: Mapped[str | None] = mapped_column(String(10))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # bumped at logout and password change so that old sessions stop working
    session_epoch: Mapped[int] = mapped_column(default=0)
    # staff (services/staff.py, services/two_factor.py): an initial password set by an admin must
    # be changed at first login; the TOTP secret counts once enrolment is confirmed; the last
    # accepted time step, so that one code is never accepted twice
    must_change_password: Mapped[bool] = mapped_column(Boolean, default=False)
    totp_secret: Mapped[str | None] = mapped_column(String(64))
    totp_enrolled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    totp_last_step: Mapped[int | None] = mapped_column(BigInteger)
    # set only by the demo seed: logs in without a second factor; refused in production
    second_factor_exempt: Mapped[bool] = mapped_column(Boolean, default=False)

    department: Mapped[Department | None] = relationship()
    citizen: Mapped[Citizen | None] = relationship(back_populates="user")
    # the roles a staff member holds; ``role`` is the one they act in now
    role_grants: Mapped[list[StaffRole]] = relationship(
        back_populates="user", cascade="all, delete-orphan", order_by="StaffRole.role"
    )

    @property
    def is_active(self) -> bool:  # type: ignore[override]
        return self.active

    def get_id(self) -> str:
        return f"{self.id}:{self.session_epoch}"

    @property
    def is_staff(self) -> bool:
        return self.role != Role.citizen

    @property
    def roles_held(self) -> list[Role]:
        """The staff roles this person holds, in the order of ``Role``."""
        held = {grant.role for grant in self.role_grants}
        return [role for role in Role if role in held]

    @property
    def second_factor_enrolled(self) -> bool:
        return self.totp_enrolled_at is not None

    def __repr__(self) -> str:
        return f"<User {self.id} {self.role}>"


class LoginFailure(TimestampMixin, db.Model):
    """A failed login, kept to throttle guessing (429 after too many)."""

    __tablename__ = "login_failures"
    __table_args__ = (Index("ix_login_failures_login_created", "login", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    login: Mapped[str] = mapped_column(String(40))
    remote_addr: Mapped[str] = mapped_column(String(64), default="")
