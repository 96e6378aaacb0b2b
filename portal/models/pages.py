"""Generations of the scopes of personal pages (migration 0025)."""

from __future__ import annotations

from sqlalchemy import BigInteger, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from portal.extensions import db


class PageGeneration(db.Model):
    """How many times the data of one scope of personal pages has changed: a cached page is
    keyed by the generations of the scopes it shows, so any write makes it miss.

    ``scope`` is ``'c:<citizen id>'``, ``'u:<user id>'``, ``'d:<department id>'`` or ``'g'``
    (services/page_scopes.py builds them). Written only by the database's triggers on the
    tables those pages read (migration 0025; services.page_scopes.WATCHED lists them), so
    every write counts, also a bulk UPDATE, a job or a raw insert. A scope's generation is
    the SUM of its rows (none: 0): on PostgreSQL a write appends a row rather than waiting
    for the lock of a shared one, and ``flask jobs run`` folds them
    (services/page_scopes.py, ``compact_page_generations``); SQLite keeps one row a scope.

    SQLite drops a table's triggers with the table: a migration that rebuilds a watched table
    (op.batch_alter_table) must create them again (0025's ``create_triggers``), and one that
    rebuilds ``applications`` must drop the triggers that read it first (``drop_triggers``).
    """

    __tablename__ = "page_generations"
    __table_args__ = (Index("ix_page_generations_scope", "scope", "generation"),)

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer(), "sqlite"), primary_key=True
    )
    scope: Mapped[str] = mapped_column(String(40))
    generation: Mapped[int] = mapped_column(BigInteger)
