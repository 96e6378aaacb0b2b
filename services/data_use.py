"""我的数据使用记录: every time staff or the system uses a citizen's documents or personal data,
a row the citizen can read (who, when, what, for which case). The owner's own use is not logged.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import joinedload

from portal.extensions import db
from portal.models import DataUseLog, Document, Role, User

VIEW_DOCUMENT = "view_document"
DOWNLOAD_DOCUMENT = "download_document"
REUSE_DOCUMENT = "reuse_document"
REVEAL_PERSONAL_DATA = "reveal_personal_data"
ACTIONS = (VIEW_DOCUMENT, DOWNLOAD_DOCUMENT, REUSE_DOCUMENT, REVEAL_PERSONAL_DATA)
# why the data was used (labels: services.document_vocabulary.DATA_USE_REASON_LABELS)
CASE_REVIEW = "case_review"
COUNTER_SERVICE = "counter_service"
AUTHORISED_AGENT = "authorised_agent"
CASE_REUSE = "case_reuse"
REASONS = (CASE_REVIEW, COUNTER_SERVICE, AUTHORISED_AGENT, CASE_REUSE)
PER_PAGE = 20


SYSTEM = "system"
AGENT = "agent"


def actor_role(actor: User | None, citizen_id: int) -> str | None:
    """The role ``actor`` uses citizen ``citizen_id``'s data in, or None for the owner's own use
    (not logged): reviewer / counter / admin, agent (a citizen acting for them), or system."""
    if actor is None:
        return SYSTEM
    if actor.role == Role.citizen:
        return None if actor.citizen_id == citizen_id else AGENT
    return actor.role.value


def record_use(
    actor: User | None,
    citizen_id: int,
    action: str,
    *,
    reason: str,
    application_id: int | None = None,
    document: Document | None = None,
) -> DataUseLog | None:
    """The one recorder of 我的数据使用记录: ``actor`` (None: the system) used citizen
    ``citizen_id``'s data — who, in which role and department, which case, which document,
    when and why. Flushed into the caller's transaction, so the row is committed with the
    access itself. The owner's own use is not logged (returns None)."""
    if action not in ACTIONS:
        raise ValueError(f"unknown data-use action {action!r}")
    if reason not in REASONS:
        raise ValueError(f"unknown data-use reason {reason!r}")
    role = actor_role(actor, citizen_id)
    if role is None:
        return None
    row = DataUseLog(
        citizen_id=citizen_id,
        actor_id=actor.id if actor is not None else None,
        actor_role=role,
        actor_department_id=actor.department_id if actor is not None else None,
        action=action,
        document_id=document.id if document is not None else None,
        application_id=application_id,
        detail=(document.title if document is not None else "")[:200],
        reason=reason,
    )
    db.session.add(row)
    db.session.flush()
    return row


def mask_staff_id(username: str | None) -> str:
    """reviewer01 → re******01: enough for the citizen to tell staff apart, not to name them."""
    name = username or ""
    if len(name) <= 4:
        return "*" * max(len(name), 2)
    return name[:2] + "*" * (len(name) - 4) + name[-2:]


@dataclass(frozen=True)
class DataUsePage:
    rows: list[DataUseLog]
    page: int
    pages: int
    total: int

    @property
    def has_prev(self) -> bool:
        return self.page > 1

    @property
    def has_next(self) -> bool:
        return self.page < self.pages


def data_use_page(citizen_id: int, page: int = 1, per_page: int = PER_PAGE) -> DataUsePage:
    """One page of a citizen's data-use log, newest first (two queries)."""
    total = (
        db.session.scalar(
            select(func.count()).select_from(DataUseLog).where(DataUseLog.citizen_id == citizen_id)
        )
        or 0
    )
    pages = max(1, -(-total // per_page))
    page = min(max(1, page), pages)
    rows = list(
        db.session.scalars(
            select(DataUseLog)
            .options(
                joinedload(DataUseLog.actor),
                joinedload(DataUseLog.actor_department),
                joinedload(DataUseLog.application),
            )
            .where(DataUseLog.citizen_id == citizen_id)
            .order_by(DataUseLog.created_at.desc(), DataUseLog.id.desc())
            .limit(per_page)
            .offset((page - 1) * per_page)
        )
    )
    return DataUsePage(rows=rows, page=page, pages=pages, total=total)
