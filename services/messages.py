"""Notifying citizens: a message in the portal's message centre, and an SMS in the outbox.

The outbox is written in the same transaction as the change it reports, and delivered
only after the commit, by a pluggable sender (the default writes to the log). A delivery
claims each row with a conditional UPDATE, so several workers never send one twice.

A request delivers only the rows it wrote itself, right after its commit. When no worker sends
them (no task queue), the transaction boundary says so before the view runs
(``DELIVER_AFTER_COMMIT``) and the request's rows are inserted already claimed by it (status
sending, ``claimed_at``): the claim is committed with the change, so the request then sends
them and records the outcome in one statement, instead of claiming them in a transaction of
their own. A row that is claimed but never sent (the process died after the commit) is pending
again after CLAIM_TIMEOUT, as any abandoned claim; a row whose sending failed is pending for
``flask jobs run`` (or the worker), which sends whatever is pending. Requests do not sweep each
other's rows: 64 citizens pressing 提交 at once used to race for the same 20 oldest rows.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Sequence
from datetime import timedelta
from typing import NamedTuple, Protocol

from flask import current_app
from flask_babel import force_locale
from flask_babel import lazy_gettext as _l
from sqlalchemy import bindparam, event, func, select, update
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.orm import object_session

from portal.extensions import db
from portal.models import Application, Citizen, Message, OutboxMessage, User
from portal.models.base import utcnow
from services.identity import mask_phone

log = logging.getLogger(__name__)

# session.info keys: set by the transaction boundary when the request itself delivers its rows
# after its commit (portal/transaction.py); the rows it inserted, claimed by it
DELIVER_AFTER_COMMIT = "outbox_deliver_after_commit"
OWN_OUTBOX = "outbox_own_rows"
# a claim whose outcome is not recorded after this long was abandoned (far longer than any
# gateway call takes): services/jobs.py's delivery makes the row pending again
CLAIM_TIMEOUT = timedelta(minutes=10)

TEMPLATES = {
    "submitted": (_l("申请已提交"), _l("您的办件 %(number)s（%(item)s）已提交，我们会尽快预审。")),
    "correction": (
        _l("请补正材料"),
        _l("您的办件 %(number)s（%(item)s）需要补正，请查看一次性告知书，按清单一次补齐。"),
    ),
    "accepted": (
        _l("申请已受理"),
        _l("您的办件 %(number)s（%(item)s）已受理，承诺 %(due)s 前办结。"),
    ),
    "decided": (_l("审批已有结果"), _l("您的办件 %(number)s（%(item)s）已作出决定，请查看详情。")),
    "licence": (
        _l("电子证照已发放"),
        _l("您的%(item)s电子证照已发放到“我的材料”，以后办事可直接使用。"),
    ),
    "reminder": (_l("办件提醒"), _l("您的办件 %(number)s（%(item)s）%(what)s")),
    # 预约 (services/appointments.py): what, code, hall, when
    "appointment_booked": (
        _l("预约成功"),
        _l("您已预约 %(when)s 到%(hall)s办理“%(what)s”，预约号 %(code)s。到场后凭预约号取号。"),
    ),
    "appointment_rescheduled": (
        _l("预约已改期"),
        _l("您办理“%(what)s”的预约（预约号 %(code)s）已改到 %(when)s，地点%(hall)s。"),
    ),
    "appointment_cancelled": (
        _l("预约已取消"),
        _l("您 %(when)s 在%(hall)s办理“%(what)s”的预约（预约号 %(code)s）已取消。"),
    ),
    "appointment_reminder": (
        _l("预约提醒"),
        _l(
            "提醒：您预约了 %(when)s 到%(hall)s办理“%(what)s”，预约号 %(code)s。请按页面提示带齐材料。"
        ),
    ),
    # the hall's capacity changed under a booking (services/capacity.py): also ``reason``
    "appointment_slot_removed": (
        _l("预约时段调整"),
        _l(
            "%(hall)s调整了预约时段。您 %(when)s 办理“%(what)s”的预约（预约号 %(code)s）仍然保留，"
            "工作人员会与您联系确认；如需换时间，可在“我的预约”中改约。"
        ),
    ),
    "appointment_hall_closed": (
        _l("预约时段暂停服务"),
        _l(
            "%(hall)s %(when)s 暂停服务（%(reason)s）。您办理“%(what)s”的预约（预约号 %(code)s）"
            "需要改约，请在“我的预约”中选择其他时间，工作人员也会与您联系。"
        ),
    ),
}


class Claimed(NamedTuple):
    """An outbox row claimed for sending: what the sender needs and the attempts so far."""

    id: int
    channel: str
    recipient: str
    subject: str
    body: str
    attempts: int


class Sender(Protocol):
    def send(self, channel: str, recipient: str, subject: str, body: str) -> None: ...


class LogSender:
    """The default sender: writes each message to the log instead of a gateway.

    In development the whole message is written (that is how a developer reads an SMS code).
    In production the log is not a place for citizens' data: the phone is masked and the text
    left out (the message centre and the outbox keep it)."""

    def send(self, channel: str, recipient: str, subject: str, body: str) -> None:
        if current_app.config.get("PORTAL_ENV") == "production":
            log.info("outbox %s to %s: %d characters", channel, mask_phone(recipient), len(body))
        else:
            log.info("outbox %s to %s: %s %s", channel, recipient, subject, body)


def get_sender() -> Sender:
    target = current_app.config.get("MESSAGE_SENDER", "services.messages:LogSender")
    module, _, name = target.partition(":")
    return getattr(importlib.import_module(module), name)()


_CHINESE: dict[str, tuple[str, str]] = {}


def _chinese(kind: str) -> tuple[str, str]:
    """A kind's title and body template as the message centre and the SMS keep them (in
    Chinese, whatever the language of the request), looked up once per process."""
    found = _CHINESE.get(kind)
    if found is None:
        title_l, body_l = TEMPLATES[kind]
        with force_locale("zh_CN"):
            found = _CHINESE[kind] = (str(title_l), str(body_l))
    return found


def notify(
    citizen: Citizen, kind: str, *, application: Application | None = None, **params
) -> Message:
    """A message in the centre plus an SMS for the citizen, written with the current change."""
    title, body_template = _chinese(kind)
    if application is not None:
        params.setdefault("number", application.number or "")
        params.setdefault("item", application.title)
    body = body_template % params
    message = Message(
        citizen_id=citizen.id,
        application_id=application.id if application else None,
        kind=kind,
        title=title,
        body=body,
    )
    db.session.add(message)
    if citizen.phone:
        db.session.add(
            OutboxMessage(
                message=message,
                channel="sms",
                recipient=citizen.phone,
                subject=title,
                body=body,
            )
        )
    db.session.info["outbox_pending"] = True
    db.session.flush()
    return message


@event.listens_for(OutboxMessage, "before_insert")
def _claim_own(mapper, connection, row: OutboxMessage) -> None:
    """A row of a request that delivers its own rows is inserted claimed by that request,
    whoever wrote it (notify, the SMS codes)."""
    session = object_session(row)
    if session is None or not session.info.get(DELIVER_AFTER_COMMIT):
        return
    if row.status in (None, "pending"):
        row.status, row.attempts, row.claimed_at = "sending", (row.attempts or 0) + 1, utcnow()


@event.listens_for(OutboxMessage, "after_insert")
def _remember_own(mapper, connection, row: OutboxMessage) -> None:
    session = object_session(row)
    if session is not None and row.status == "sending":
        claim = Claimed(row.id, row.channel, row.recipient, row.subject, row.body, row.attempts)
        session.info.setdefault(OWN_OUTBOX, []).append((row, claim))


def deliver_own(session, sender: Sender | None = None) -> int:
    """After the commit: send the rows this session inserted claimed (``_claim_own``) and
    record the outcome. A row whose insert was rolled back (the request's, or a savepoint's)
    is no longer persistent and is not sent."""
    own = session.info.pop(OWN_OUTBOX, None) or []
    claimed = [claim for row, claim in own if sa_inspect(row).persistent]
    return _send_claimed(claimed, sender or get_sender()) if claimed else 0


def release_own(session) -> None:
    """The request will not send its rows after all (a refusal, 4xx, was committed with
    them): they are pending for `flask jobs run`, their claim undone. Committed."""
    own = session.info.pop(OWN_OUTBOX, None) or []
    ids = [claim.id for row, claim in own if sa_inspect(row).persistent]
    if not ids:
        return
    session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id.in_(ids), OutboxMessage.status == "sending")
        .values(status="pending", attempts=OutboxMessage.attempts - 1, claimed_at=None)
        .execution_options(synchronize_session=False)
    )
    session.commit()


def deliver_pending(sender: Sender | None = None, limit: int = 100) -> int:
    """Send the oldest ``limit`` pending outbox rows, one at a time, each claimed once (the
    jobs runner, the worker), after returning abandoned claims to pending
    (``release_abandoned_claims``); returns how many were sent. Each claim is committed before
    the sending, and the outcome after."""
    sender = sender or get_sender()
    release_abandoned_claims()
    pending = list(
        db.session.scalars(
            select(OutboxMessage.id)
            .where(OutboxMessage.status == "pending")
            .order_by(OutboxMessage.id)
            .limit(limit)
        )
    )
    db.session.commit()
    return sum(_deliver([outbox_id], sender) for outbox_id in pending)


def release_abandoned_claims() -> int:
    """Rows claimed longer ago than CLAIM_TIMEOUT (or claimed before claims were timed) whose
    outcome was never recorded: the process sending them died (a restart, a killed worker).
    They are pending again, so the next delivery sends them: a message may then go out twice
    (if it had left before the process died), never not at all. Committed."""
    released = db.session.execute(
        update(OutboxMessage)
        .where(
            OutboxMessage.status == "sending",
            (OutboxMessage.claimed_at < utcnow() - CLAIM_TIMEOUT)
            | OutboxMessage.claimed_at.is_(None),
        )
        .values(status="pending")
        .execution_options(synchronize_session=False)
    ).rowcount
    db.session.commit()
    if released:
        log.warning("outbox: %d abandoned claims returned to pending", released)
    return released


def _deliver(ids: list[int], sender: Sender) -> int:
    """Claim those of ``ids`` still pending (one UPDATE … RETURNING, committed), send them,
    then record each outcome (committed): two statements for any number of rows."""
    claimed = db.session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id.in_(ids), OutboxMessage.status == "pending")
        .values(status="sending", attempts=OutboxMessage.attempts + 1, claimed_at=utcnow())
        .returning(
            OutboxMessage.id,
            OutboxMessage.channel,
            OutboxMessage.recipient,
            OutboxMessage.subject,
            OutboxMessage.body,
            OutboxMessage.attempts,
        )
        .execution_options(synchronize_session=False)
    ).all()
    db.session.commit()
    return _send_claimed(claimed, sender) if claimed else 0


# built once: every request that sends a message runs it
_outbox = OutboxMessage.__table__
_RECORD_SENT = (
    update(_outbox)
    .where(_outbox.c.id.in_(bindparam("sent", expanding=True)))
    .values(status="sent", sent_at=bindparam("at"))
)


def _send_claimed(claimed: Sequence[Claimed], sender: Sender) -> int:
    """Send claimed rows, then record each outcome (committed)."""
    sent: list[int] = []
    for row in claimed:
        try:
            sender.send(row.channel, row.recipient, row.subject, row.body)
        except Exception as exc:  # a gateway failure is recorded and retried later
            db.session.execute(
                update(OutboxMessage)
                .where(OutboxMessage.id == row.id)
                .values(
                    status="pending" if row.attempts < 5 else "failed",
                    last_error=str(exc)[:500],
                )
                .execution_options(synchronize_session=False)
            )
        else:
            sent.append(row.id)
    if sent:
        db.session.execute(_RECORD_SENT, {"sent": sent, "at": utcnow()})
    db.session.commit()
    return len(sent)


def list_messages(user: User, limit: int = 100) -> list[Message]:
    return list(
        db.session.scalars(
            select(Message)
            .where(Message.citizen_id == user.citizen_id)
            .order_by(Message.created_at.desc(), Message.id.desc())
            .limit(limit)
        )
    )


def unread_count(user: User) -> int:
    return (
        db.session.scalar(
            select(func.count())
            .select_from(Message)
            .where(Message.citizen_id == user.citizen_id, Message.read_at.is_(None))
        )
        or 0
    )


def mark_all_read(user: User) -> None:
    db.session.execute(
        update(Message)
        .where(Message.citizen_id == user.citizen_id, Message.read_at.is_(None))
        .values(read_at=utcnow())
    )
