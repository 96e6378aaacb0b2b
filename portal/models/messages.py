"""The in-portal message centre and the outbox for SMS and e-mail."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.extensions import db
from portal.models.base import TimestampMixin, UTCDateTime


class Message(TimestampMixin, db.Model):
    """A notice in a citizen's message centre (站内消息)."""

    __tablename__ = "messages"
    __table_args__ = (Index("ix_messages_citizen_created", "citizen_id", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    citizen_id: Mapped[int] = mapped_column(ForeignKey("citizens.id"))
    application_id: Mapped[int | None] = mapped_column(ForeignKey("applications.id"))
    kind: Mapped[str] = mapped_column(String(32))
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text, default="")
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class OutboxMessage(TimestampMixin, db.Model):
    """An SMS or e-mail to send after the commit; a delivery job claims pending rows."""

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_status_id", "status", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    message_id: Mapped[int | None] = mapped_column(ForeignKey("messages.id"))
    channel: Mapped[str] = mapped_column(String(8))  # sms / email
    recipient: Mapped[str] = mapped_column(String(200))
    subject: Mapped[str] = mapped_column(String(200), default="")
    body: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(
        String(16), default="pending"
    )  # pending/sending/sent/failed
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str] = mapped_column(Text, default="")
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # when a delivery claimed it (status sending): a claim older than
    # services.messages.CLAIM_TIMEOUT is a delivery that died, and the row is pending again
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # the message written with it: both inserted by one flush (services/messages.notify)
    message: Mapped[Message | None] = relationship()


class Authorisation(TimestampMixin, db.Model):
    """亲友代办: a principal lets another registered citizen apply in their name for a period."""

    __tablename__ = "authorisations"
    __table_args__ = (Index("ix_authorisations_agent", "agent_id", "principal_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    principal_id: Mapped[int] = mapped_column(ForeignKey("citizens.id"), index=True)
    agent_id: Mapped[int] = mapped_column(ForeignKey("citizens.id"))
    valid_from: Mapped[date] = mapped_column(Date)
    valid_until: Mapped[date] = mapped_column(Date)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
