"""SMS codes that prove a person holds a phone (注册, 忘记密码, 更换手机号)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.extensions import db
from portal.models.base import TimestampMixin, UTCDateTime


class PhoneChallenge(TimestampMixin, db.Model):
    """One attempt to prove a phone: a registration waiting for its code, a password reset, a
    change of phone. The browser holds only a random token (in its session); the row keeps the
    token's SHA-256 and what the flow needs to finish (a pending registration's data)."""

    __tablename__ = "phone_challenges"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    purpose: Mapped[str] = mapped_column(String(16))  # register / reset / phone
    phone: Mapped[str] = mapped_column(String(20))  # where the codes go
    # reset / phone: the account concerned (reset: none when the phone has no account)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    # register: name, id_number, address, password_hash; cleared when the flow ends
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    codes: Mapped[list[SmsCode]] = relationship(
        back_populates="challenge", order_by="SmsCode.id", cascade="all, delete-orphan"
    )


class SmsCode(TimestampMixin, db.Model):
    """One 6-digit code sent (or, for a phone without an account, pretended to be sent).

    Only a keyed hash of the code is kept here; the SMS in the outbox carries the code itself.
    The rows also count codes per phone and per client address for the hourly limits."""

    __tablename__ = "sms_codes"
    __table_args__ = (
        Index("ix_sms_codes_phone_created", "phone", "created_at"),
        Index("ix_sms_codes_client_created", "client", "created_at"),
        Index("ix_sms_codes_challenge", "challenge_id", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    challenge_id: Mapped[int] = mapped_column(ForeignKey("phone_challenges.id"))
    phone: Mapped[str] = mapped_column(String(20))
    client: Mapped[str] = mapped_column(String(64))  # the requesting address (IPv6: its /64)
    code_hash: Mapped[str] = mapped_column(String(64))
    attempts: Mapped[int] = mapped_column(default=0)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    sent: Mapped[bool] = mapped_column(default=True)  # False: no account, nothing was sent

    challenge: Mapped[PhoneChallenge] = relationship(back_populates="codes")
