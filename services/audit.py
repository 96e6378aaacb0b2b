"""The tamper-evident audit trail: every event's hash covers the previous one's."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, text

from portal.extensions import db
from portal.models import Event, User
from portal.models.base import utcnow
from services import request_ids

GENESIS = "0" * 64
# an arbitrary constant naming the PostgreSQL advisory lock that serialises appends
_CHAIN_LOCK = 7_160_716


def canonical_payload(event: Event) -> str:
    """What an event's hash covers. The request id is covered when the event has one (events
    recorded before request ids existed keep their hashes)."""
    payload = {
        "application_id": event.application_id,
        "actor_id": event.actor_id,
        "action": event.action,
        "created_at": event.created_at.isoformat(),
        "details": event.details,
    }
    if event.request_id:
        payload["request_id"] = event.request_id
    return json.dumps(
        payload,
        ensure_ascii=False,
        sort_keys=True,
        separators=(",", ":"),
        default=str,
    )


def compute_hash(prev_hash: str, event: Event) -> str:
    return hashlib.sha256((prev_hash + canonical_payload(event)).encode()).hexdigest()


_BUFFER = "audit_deferred_events"


def record_event(
    action: str,
    *,
    actor: User | None,
    application_id: int | None = None,
    details: dict[str, Any] | None = None,
) -> Event:
    """Append an event to the chain. Appends are serialised so the chain never forks.

    Inside ``deferred_events()`` the event is kept and appended when the block ends."""
    session = db.session
    event = Event(
        application_id=application_id,
        actor_id=actor.id if actor is not None else None,
        action=action,
        created_at=utcnow(),
        details=json.loads(json.dumps(details or {}, ensure_ascii=False, default=str)),
        request_id=request_ids.current(),
    )
    buffer = session.info.get(_BUFFER)
    if buffer is not None:
        buffer.append(event)
        return event
    _append([event])
    return event


_REFUSED = "audit_refusal_recorded"
_REFUSALS = "audit_refusals"


def record_refusal(
    action: str,
    *,
    actor: User | None,
    application_id: int | None = None,
    details: dict[str, Any] | None = None,
) -> Event:
    """An event that must outlive the refused action it reports (``counter_access_refused``).

    It is written now, with the current transaction; the request boundary (portal/transaction.py)
    rolls the refused action back, records the event again (``replay_refusals``) and commits it
    on its own. Services never commit: this is how a refusal is kept."""
    event = record_event(action, actor=actor, application_id=application_id, details=details)
    db.session.info[_REFUSED] = True  # for the request's whole life, replays included
    db.session.info.setdefault(_REFUSALS, []).append(
        (action, actor.id if actor is not None else None, application_id, event.details)
    )
    return event


def refusal_recorded(session) -> bool:
    """True when this request (this session) has recorded a refusal event at all."""
    return bool(session.info.get(_REFUSED))


def pending_refusals(session) -> bool:
    """True when refusal events were recorded since the last commit."""
    return bool(session.info.get(_REFUSALS))


def replay_refusals() -> None:
    """After a rollback: record the refusal events again, in the new transaction."""
    for action, actor_id, application_id, details in db.session.info.pop(_REFUSALS, []):
        actor = db.session.get(User, actor_id) if actor_id is not None else None
        record_refusal(action, actor=actor, application_id=application_id, details=details)


def forget_refusals(session) -> None:
    """The refusal events are committed: nothing left to replay."""
    session.info.pop(_REFUSALS, None)


# built once: every change of a case appends to the chain
_LOCK_CHAIN = text("SELECT pg_advisory_xact_lock(:k)")
_CHAIN_HEAD = select(Event.hash).order_by(Event.id.desc()).limit(1)


def _append(events: list[Event]) -> None:
    session = db.session
    if session.get_bind().dialect.name == "postgresql":
        session.execute(_LOCK_CHAIN, {"k": _CHAIN_LOCK})
    prev = session.scalar(_CHAIN_HEAD) or GENESIS
    for event in events:
        event.prev_hash = prev
        event.hash = prev = compute_hash(prev, event)
        session.add(event)
        session.flush()  # one at a time, so that ids follow the chain


def record_many(
    action: str, *, actor: User | None, items: list[tuple[int | None, dict[str, Any]]]
) -> None:
    """Append many events of one kind (a calendar import's due-date moves: thousands at once)
    with one INSERT statement each instead of an ORM flush each; the chain is the same."""
    session = db.session
    if session.info.get(_BUFFER) is not None or not items:
        for application_id, details in items:
            record_event(action, actor=actor, application_id=application_id, details=details)
        return
    session.flush()  # nothing of the ORM's may be inserted after these, out of chain order
    if session.get_bind().dialect.name == "postgresql":
        session.execute(_LOCK_CHAIN, {"k": _CHAIN_LOCK})
    prev = session.scalar(_CHAIN_HEAD) or GENESIS
    insert_one = Event.__table__.insert()  # compiled once; one row per statement keeps id order
    for application_id, details in items:
        event = Event(
            application_id=application_id,
            actor_id=actor.id if actor is not None else None,
            action=action,
            created_at=utcnow(),
            details=json.loads(json.dumps(details, ensure_ascii=False, default=str)),
        )
        event.prev_hash = prev
        event.hash = prev = compute_hash(prev, event)
        session.execute(
            insert_one,
            {
                "application_id": event.application_id,
                "actor_id": event.actor_id,
                "action": event.action,
                "created_at": event.created_at,
                "details": event.details,
                "prev_hash": event.prev_hash,
                "hash": event.hash,
            },
        )


@contextmanager
def deferred_events() -> Iterator[None]:
    """Collect the events of a block and append them, in order, when it ends.

    The chain's lock is then held only for the appends, not while the block renders PDFs or
    issues licences between its events. Blocks nest; the outermost one appends."""
    session = db.session
    if session.info.get(_BUFFER) is not None:
        yield
        return
    session.info[_BUFFER] = []
    try:
        yield
    except BaseException:
        session.info.pop(_BUFFER, None)  # the transaction is rolled back: nothing to append
        raise
    events = session.info.pop(_BUFFER)
    if events:
        _append(events)


@dataclass
class ChainReport:
    checked: int
    broken_at: int | None  # id of the first event whose link does not hold
    reason: str = ""


def verify_chain(batch: int = 5000) -> ChainReport:
    """Recompute the whole chain in id order and name the first broken link."""
    prev = GENESIS
    checked = 0
    last_id = 0
    while True:
        rows = db.session.scalars(
            select(Event).where(Event.id > last_id).order_by(Event.id).limit(batch)
        ).all()
        if not rows:
            return ChainReport(checked=checked, broken_at=None)
        for event in rows:
            if event.prev_hash != prev:
                return ChainReport(checked, event.id, "prev_hash does not match the previous event")
            if compute_hash(prev, event) != event.hash:
                return ChainReport(checked, event.id, "hash does not match the event's content")
            prev = event.hash
            checked += 1
            last_id = event.id
        db.session.expunge_all()
