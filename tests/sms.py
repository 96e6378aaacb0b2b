"""SMS codes in tests: read from the outbox, the table every SMS goes through (no backdoor)."""

from __future__ import annotations

import re

from sqlalchemy import select

from portal.extensions import db
from portal.models import OutboxMessage

CODE_RE = re.compile(r"验证码 (\d{6})")


def last_sms_code(phone: str) -> str:
    """The code in the latest SMS to ``phone`` (call inside an app context)."""
    bodies = db.session.scalars(
        select(OutboxMessage.body)
        .where(OutboxMessage.recipient == phone, OutboxMessage.channel == "sms")
        .order_by(OutboxMessage.id.desc())
    )
    for body in bodies:
        match = CODE_RE.search(body)
        if match:
            return match.group(1)
    raise AssertionError(f"no SMS code in the outbox for {phone}")


def sms_count(phone: str) -> int:
    return len(
        db.session.scalars(select(OutboxMessage.id).where(OutboxMessage.recipient == phone)).all()
    )


def code_in_outbox(app, phone: str) -> str:
    """``last_sms_code`` for a live portal's app (browser tests)."""
    with app.app_context():
        try:
            return last_sms_code(phone)
        finally:
            db.session.remove()


def confirm_registration(page, app, phone: str) -> None:
    """A browser on the code step of registration: type the code the SMS carried."""
    page.wait_for_url("**/auth/register/code")
    page.fill("#code", code_in_outbox(app, phone))
    page.click("main form[action$='/register/code'] button[type=submit]")
