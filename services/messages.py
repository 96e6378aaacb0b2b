"""Notifying citizens: a message in the portal's message centre, and an SMS in the outbox.

The outbox is written in the same transaction as the change it reports, and delivered
only after the commit, by a pluggable sender (the default writes to the log). A delivery
claims each row with a conditional UPDATE, so several workers never send one twice.

A request delivers only the rows it wrote itself (``OWN_OUTBOX``, kept by an ``after_insert``
hook), right after its commit; a row whose sending failed stays pending for ``flask jobs run``
(or the worker), which sends whatever is pending. Requests do not sweep each other's rows: 64
citizens pressing 提交 at once used to race for the same 20 oldest rows.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Collection
from datetime import timedelta
from typing import Protocol

from flask import current_app
from flask_babel import force_locale
from flask_babel import lazy_gettext as _l
from sqlalchemy import event, func, select, update
from sqlalchemy.orm import object_session

from portal.extensions import db
from portal.models import Application, Citizen, Message, OutboxMessage, User
from portal.models.base import utcnow
from services.identity import mask_phone

log = logging.getLogger(__name__)

# session.info key: ids of the outbox rows this session (one request) inserted
OWN_OUTBOX = "outbox_own_ids"
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


def notify(
    citizen: Citizen, kind: str, *, application: Application | None = None, **params
) -> Message:
    """A message in the centre plus an SMS for the citizen, written with the current change."""
    title_l, body_l = TEMPLATES[kind]
    if application is not None:
        params.setdefault("number", application.number or "")
        params.setdefault("item", application.title)
    with force_locale("zh_CN"):
        title, body = str(title_l), str(body_l) % params
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


@event.listens_for(OutboxMessage, "after_insert")
def _remember_own(mapper, connection, row: OutboxMessage) -> None:
    """Every outbox row a session inserts, whoever wrote it (notify, the SMS codes)."""
    session = object_session(row)
    if session is not None:
        session.info.setdefault(OWN_OUTBOX, []).append(row.id)


def deliver_pending(
    sender: Sender | None = None, limit: int = 100, *, ids: Collection[int] | None = None
) -> int:
    """Send pending outbox rows, each claimed once; returns how many were sent.

    Without ``ids``: the oldest ``limit`` pending rows, one at a time (the jobs runner, the
    worker), after returning abandoned claims to pending (``release_abandoned_claims``). With
    ``ids`` (a request's own rows, after its commit): those still pending, claimed together.
    Either way each claim is committed before the sending, and the outcome after."""
    sender = sender or get_sender()
    if ids is not None:
        return _deliver(sorted(set(ids)), sender) if ids else 0
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
    if not claimed:
        return 0
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
        db.session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id.in_(sent))
            .values(status="sent", sent_at=utcnow())
            .execution_options(synchronize_session=False)
        )
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
