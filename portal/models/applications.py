"""Cases (办件), how their materials were satisfied, the audit trail and ratings."""

from __future__ import annotations

import enum
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Date,
    ForeignKey,
    Index,
    String,
    Text,
    UniqueConstraint,
    column,
    nulls_first,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.extensions import db
from portal.models.accounts import Citizen, User, enum_column
from portal.models.base import TimestampMixin, UTCDateTime, utcnow
from portal.models.catalogue import Bundle, ItemVersion, MaterialRequirement
from portal.models.documents import Document


class Channel(enum.StrEnum):
    online = "online"
    counter = "counter"
    kiosk = "kiosk"


class SatisfiedBy(enum.StrEnum):
    elicence = "elicence"
    library = "library"
    upload = "upload"
    commitment = "commitment"
    shared = "shared"  # 信息免交: obtained by data sharing
    deferred = "deferred"  # missing under 容缺受理
    missing = "missing"


# the states in which a department still owes the citizen something: services.case_states'
# STAFF_OPEN_STATES, spelled out here for the reviewer queue's partial indexes (a test checks
# they agree); the queue's query names them in this very text so that SQLite uses the indexes
QUEUE_OPEN_STATES = (
    "submitted",
    "correction_required",
    "accepted",
    "accepted_pending_materials",
    "accepted_on_commitment",
    "in_review",
    "suspended",
    "approved",
    "certifying",
    "awaiting_pickup",
    "awaiting_post",
    "mailed",
)
QUEUE_OPEN_PREDICATE = "status IN (" + ", ".join(f"'{s}'" for s in QUEUE_OPEN_STATES) + ")"


class Application(TimestampMixin, db.Model):
    """办件: one application for one item version, online or at a counter."""

    __tablename__ = "applications"
    __table_args__ = (
        Index("ix_applications_applicant_status", "applicant_id", "status"),
        Index("ix_applications_department_status_due", "department_id", "status", "due_date"),
        # the citizen's own cases and those they handle as an agent (我的办件, the counter)
        Index("ix_applications_applicant_parent", "applicant_id", "parent_id"),
        Index("ix_applications_agent_parent", "agent_id", "parent_id"),
        # the reviewer queue's keyset pages (services/review.py), over the open cases only:
        # due first (those without a 承诺办结日 first, as SQLite orders NULL), newest first
        Index(
            "ix_applications_queue_due",
            "department_id",
            nulls_first(column("due_date")),  # SQLite's only order of NULL; PostgreSQL's too here
            "id",
            sqlite_where=text(QUEUE_OPEN_PREDICATE),
            postgresql_where=text(QUEUE_OPEN_PREDICATE),
        ),
        # the same for one state (?status=): migration 0023
        Index(
            "ix_applications_queue_state_due",
            "department_id",
            "status",
            nulls_first(column("due_date")),
            "id",
            sqlite_where=text(QUEUE_OPEN_PREDICATE),
            postgresql_where=text(QUEUE_OPEN_PREDICATE),
        ),
        Index(
            "ix_applications_queue_new",
            "department_id",
            "id",
            sqlite_where=text(QUEUE_OPEN_PREDICATE),
            postgresql_where=text(QUEUE_OPEN_PREDICATE),
        ),
        Index("ix_applications_department_status_id", "department_id", "status", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str | None] = mapped_column(String(32), unique=True)
    # a bundle's parent case (一件事) has no item version or department of its own
    item_version_id: Mapped[int | None] = mapped_column(ForeignKey("item_versions.id"), index=True)
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"))
    bundle_id: Mapped[int | None] = mapped_column(ForeignKey("bundles.id"))
    applicant_id: Mapped[int] = mapped_column(ForeignKey("citizens.id"))
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("citizens.id"))
    # 授权委托书 of an agent at a counter: a document in the applicant's library
    agent_authorisation_id: Mapped[int | None] = mapped_column(ForeignKey("documents.id"))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("applications.id"), index=True)
    channel: Mapped[Channel] = mapped_column(
        enum_column(Channel, "channel"), default=Channel.online
    )
    status: Mapped[str] = mapped_column(String(32), default="draft")
    form_data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    condition_answers: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    submit_token: Mapped[str | None] = mapped_column(String(64), unique=True)
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    accepted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    due_date: Mapped[date | None] = mapped_column(Date)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    visit_count: Mapped[int] = mapped_column(default=0)
    # the review workflow (services/workflow.py): the guide's 办理流程 step and who holds it
    current_step: Mapped[int] = mapped_column(default=0, server_default="0")
    step_started_on: Mapped[date | None] = mapped_column(Date)
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    correction_rounds: Mapped[int] = mapped_column(default=0, server_default="0")
    supply_deadline: Mapped[date | None] = mapped_column(
        Date
    )  # 容缺受理: missing materials by then
    deemed_accepted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())  # 视为受理
    overdue_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # 送达 (services/delivery.py): the method the applicant chose (online / pickup / post), the
    # address for post, the carrier and tracking number staff record, and when it was delivered
    delivery_method: Mapped[str | None] = mapped_column(String(16))
    delivery_address: Mapped[str] = mapped_column(Text, default="", server_default="")
    post_carrier: Mapped[str] = mapped_column(String(40), default="", server_default="")
    post_tracking: Mapped[str] = mapped_column(String(40), default="", server_default="")
    mailed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    materials_required: Mapped[int] = mapped_column(default=0)
    materials_reused: Mapped[int] = mapped_column(default=0)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)
    version: Mapped[int] = mapped_column(default=1)

    __mapper_args__ = {"version_id_col": version}

    item_version: Mapped[ItemVersion | None] = relationship()
    bundle: Mapped[Bundle | None] = relationship()
    children: Mapped[list[Application]] = relationship(order_by="Application.id")
    applicant: Mapped[Citizen] = relationship(foreign_keys=[applicant_id])
    agent: Mapped[Citizen | None] = relationship(foreign_keys=[agent_id])
    created_by: Mapped[User | None] = relationship(foreign_keys=[created_by_id])
    assignee: Mapped[User | None] = relationship(foreign_keys=[assignee_id])
    materials: Mapped[list[ApplicationMaterial]] = relationship(
        back_populates="application", cascade="all, delete-orphan"
    )

    @property
    def title(self) -> str:
        """What the citizen applied for: the item's name, or the life event's for a bundle."""
        if self.bundle is not None:
            return self.bundle.name
        return self.item_version.name if self.item_version else ""


class ApplicationMaterial(db.Model):
    """How one material requirement of a case was satisfied."""

    __tablename__ = "application_materials"
    __table_args__ = (UniqueConstraint("application_id", "requirement_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[int] = mapped_column(ForeignKey("applications.id", ondelete="CASCADE"))
    requirement_id: Mapped[int] = mapped_column(ForeignKey("material_requirements.id"))
    document_id: Mapped[int | None] = mapped_column(ForeignKey("documents.id"), index=True)
    satisfied_by: Mapped[SatisfiedBy] = mapped_column(
        enum_column(SatisfiedBy, "satisfied_by"), default=SatisfiedBy.missing
    )
    verdict: Mapped[str | None] = mapped_column(String(16))  # ok / correct / original_checked
    verdict_reason: Mapped[str] = mapped_column(Text, default="")

    application: Mapped[Application] = relationship(back_populates="materials")
    requirement: Mapped[MaterialRequirement] = relationship()
    document: Mapped[Document | None] = relationship()


class Event(db.Model):
    """Append-only audit trail; each row's hash covers the previous row's hash (a hash chain)."""

    __tablename__ = "events"
    __table_args__ = (Index("ix_events_application_id", "application_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[int | None] = mapped_column(ForeignKey("applications.id"))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    action: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64), unique=True)
    # the request (or background task) that recorded it: X-Request-ID, the log lines' id
    request_id: Mapped[str | None] = mapped_column(String(64))

    actor: Mapped[User | None] = relationship()


class Rating(TimestampMixin, db.Model):
    """好差评: one per case online, one per visit at a counter."""

    __tablename__ = "ratings"
    __table_args__ = (UniqueConstraint("application_id", "visit_no"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[int] = mapped_column(ForeignKey("applications.id"))
    citizen_id: Mapped[int] = mapped_column(ForeignKey("citizens.id"))
    visit_no: Mapped[int] = mapped_column(default=0)  # 0 = the online rating
    score: Mapped[int] = mapped_column()
    indicators: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    tags: Mapped[list[str]] = mapped_column(JSON, default=list)
    comment: Mapped[str] = mapped_column(Text, default="")
