"""Generations of the scopes of personal pages (migration 0025)."""

from __future__ import annotations

from sqlalchemy import BigInteger, String
from sqlalchemy.orm import Mapped, mapped_column

from portal.extensions import db


class PageGeneration(db.Model):
    """How many times the data of one scope of personal pages has changed: a cached page is
    keyed by the generations of the scopes it shows, so any write makes it miss.

    ``scope`` is ``'c:<citizen id>'``, ``'u:<user id>'``, ``'d:<department id>'`` or ``'g'``
    (services/page_scopes.py builds them). Written only by the database's triggers on the
    tables those pages read (migration 0025; services.page_scopes.WATCHED lists them), so
    every write counts, also a bulk UPDATE, a job or a raw insert. No row until the first
    write: a missing row is generation 0.

    SQLite drops a table's triggers with the table: a migration that rebuilds a watched table
    (op.batch_alter_table) must create them again (0025's ``create_triggers``), and one that
    rebuilds ``applications`` must drop the triggers that read it first (``drop_triggers``).
    """

    __tablename__ = "page_generations"

    scope: Mapped[str] = mapped_column(String(40), primary_key=True)
    generation: Mapped[int] = mapped_column(BigInteger)
