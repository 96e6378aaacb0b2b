"""Helpers every part of the catalogue uses: the admin's audit trail, text cleaning, paging."""

from __future__ import annotations

import math
import unicodedata
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from sqlalchemy import Select, func, select

from portal.extensions import db
from portal.models import User
from services import audit


def record_action(action: str, actor: User | None, **details: Any) -> None:
    """Record an admin's action; seeds and bulk loads (no actor) leave no trail."""
    if actor is not None:
        audit.record_event(f"catalogue.{action}", actor=actor, details=details)


def clean_text(value: Any) -> str:
    """Strip, and drop control characters other than newlines and tabs (PostgreSQL refuses NUL)."""
    text = "" if value is None else str(value)
    text = text.replace("\r\n", "\n")
    return "".join(ch for ch in text if ch in "\n\t" or unicodedata.category(ch) != "Cc").strip()


@dataclass(frozen=True)
class Upload:
    """A file an admin sent: its bytes and the name it had on their computer."""

    data: bytes
    filename: str


T = TypeVar("T")


@dataclass
class Page(Generic[T]):
    rows: list[T]
    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.total / self.per_page))

    @property
    def has_prev(self) -> bool:
        return self.page > 1

    @property
    def has_next(self) -> bool:
        return self.page < self.pages


def paginate_query(stmt: Select, page: int, per_page: int, options: tuple = ()) -> Page:
    """One count and one page of rows; a page past the end shows the last page."""
    total = db.session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery())) or 0
    page = min(max(1, page), max(1, math.ceil(total / per_page)))
    rows = db.session.scalars(
        stmt.options(*options).limit(per_page).offset((page - 1) * per_page)
    ).all()
    return Page(rows=list(rows), total=total, page=page, per_page=per_page)


def like_text(text: str) -> str:
    return clean_text(text)[:100]
