"""The reviewer queue's counts of open cases per department and state (migration 0021)."""

from __future__ import annotations

from sqlalchemy import Index, String
from sqlalchemy.orm import Mapped, mapped_column

from portal.extensions import db


class QueueCount(db.Model):
    """Open cases of a department in one state: the queue's tabs read these few rows instead
    of counting a department's open cases (tens of thousands at a million cases) per request.

    Written only by the database's triggers on ``applications`` (migration 0021), so every
    change is counted, also a bulk UPDATE or a raw insert. On SQLite (one writer at a time)
    each (department, state) has one row, updated in place. On PostgreSQL a change adds a row
    of +1/-1 (``n``) instead, so that concurrent transactions never wait for, or deadlock on,
    a shared counter row; the count is the sum of a department's rows, and `flask jobs run`
    folds them back into one per state (services/review.py, compact_queue_counts).

    SQLite drops a table's triggers with the table: a migration that rebuilds ``applications``
    (op.batch_alter_table) must create them again (0021's ``create_triggers``).
    """

    __tablename__ = "queue_counts"
    __table_args__ = (Index("ix_queue_counts_department", "department_id", "status", "n"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    department_id: Mapped[int]
    status: Mapped[str] = mapped_column(String(32))
    n: Mapped[int]
