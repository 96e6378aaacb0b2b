"""The reviewer queue's other views (issue 15): a state's newest cases on a second page, and a
deadline filter. No new routes: these are the same endpoint with its filters, for the
every-page browser check (both modes, axe-core, phone widths)."""

from __future__ import annotations

from sqlalchemy import select

from portal.extensions import db
from portal.models import User
from services import review


def _second_page() -> str:
    """The queue's second page of 已提交 cases, newest first (the first page when there is
    only one)."""
    reviewer = db.session.scalar(select(User).where(User.username == "reviewer01"))
    page = review.queue(reviewer, status="submitted", sort="new", page_size=1)
    after = f"&after={page.next_cursor}" if page.next_cursor else ""
    return f"/review/?status=submitted&sort=new{after}"


EXTRA_PAGES = [
    ("review.queue (submitted, newest first, a later page)", "reviewer", _second_page),
    ("review.queue (overdue)", "reviewer", "/review/?due=overdue"),
]
