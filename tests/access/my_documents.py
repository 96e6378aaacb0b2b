"""我的材料's other views (issue 15): one material type (?type=) and a later page (?after=).
No new routes: the same endpoint with its filter and cursor, for the every-page browser check
(both modes, axe-core, phone widths)."""

from __future__ import annotations

from sqlalchemy import select

from portal.extensions import db
from portal.models import User
from services import documents

CITIZEN = "13800000001"


def _holder() -> User:
    return db.session.scalar(select(User).where(User.phone == CITIZEN))


def _one_type() -> str:
    """The library of one of the material types the citizen holds."""
    material_type, _count = documents.library_for(_holder()).types[0]
    return f"/documents/?type={material_type.id}"


def _later_page() -> str:
    """The library after its first document (the demo citizen's fits on one page)."""
    cursor = documents.library_for(_holder(), page_size=1).next_cursor
    return f"/documents/?after={cursor}" if cursor else "/documents/"


EXTRA_PAGES = [
    ("documents.index (one material type)", "citizen", _one_type),
    ("documents.index (a later page)", "citizen", _later_page),
]
