"""Every number the portal hands out, in one place: cases (办件编号), bundles (一件事),
notices (文书编号), e-licences (证照编号) and queue tickets.

Sequential numbers come from a per-day counter row (``DailyCounter``) bumped by one
conditional UPDATE, so concurrent submissions on SQLite and PostgreSQL never share a number.
"""

from __future__ import annotations

import secrets
from datetime import date

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError

from portal.extensions import db
from portal.models import Channel, DailyCounter

CASE_PREFIXES = {Channel.online: "WB", Channel.counter: "CK", Channel.kiosk: "ZZ"}
BUNDLE_PREFIX = "YJ"


def next_in_sequence(name: str, day: date) -> int:
    """The next value of a per-day counter; safe under concurrent submissions on both databases."""
    stmt = (
        update(DailyCounter)
        .where(DailyCounter.name == name, DailyCounter.day == day)
        .values(value=DailyCounter.value + 1)
        .returning(DailyCounter.value)
    )
    value = db.session.execute(stmt).scalar()
    if value is None:
        try:
            with db.session.begin_nested():
                db.session.add(DailyCounter(name=name, day=day, value=1))
            return 1
        except IntegrityError:
            value = db.session.execute(stmt).scalar()
    return int(value)


def new_case_number(channel: Channel, day: date) -> str:
    """E.g. WB20261124000123: a channel prefix, the date and a daily sequence."""
    return f"{CASE_PREFIXES[channel]}{day:%Y%m%d}{next_in_sequence('case', day):06d}"


def new_bundle_number(day: date) -> str:
    """E.g. YJ20261124000124: a life event (一件事) shares the cases' daily sequence."""
    return f"{BUNDLE_PREFIX}{day:%Y%m%d}{next_in_sequence('case', day):06d}"


def new_notice_number(department_code: str, prefix: str, day: date) -> str:
    """E.g. GASL202611240001: the department, the notice kind's prefix, the date and a daily
    sequence per kind (services/notices.KINDS gives each kind its prefix)."""
    return f"{department_code}{prefix}{day:%Y%m%d}{next_in_sequence(f'notice-{prefix}', day):04d}"


def new_licence_number(department_code: str, issued_on: date) -> str:
    """E.g. GA20261124A1B2C3D4: the issuing department, the date and a random part."""
    return f"{department_code}{issued_on:%Y%m%d}{secrets.token_hex(4).upper()}"


def next_ticket_number(category_id: int, day: date) -> int:
    """A queue ticket's number within its category for the day (the code adds the letter)."""
    return next_in_sequence(f"ticket-{category_id}", day)
