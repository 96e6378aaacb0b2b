"""Every number the portal hands out, in one place: cases (办件编号), bundles (一件事),
notices (文书编号), e-licences (证照编号) and queue tickets.

Sequential numbers come from a per-day counter row (``DailyCounter``) bumped by one
conditional UPDATE, so concurrent submissions on SQLite and PostgreSQL never share a number.

A case number on PostgreSQL is drawn in a transaction of its own (``_drawn_alone``): the
counter row is locked for that one statement only, not until the submission commits, so
submissions do not wait for each other's (64 citizens pressing 提交 at once waited there for a
third of their time). The price is a gap in the day's sequence when a submission fails after
its number was drawn; numbers stay unique and increasing. SQLite takes its one write lock for
the whole transaction anyway, so there the number is drawn in the submission's transaction.
"""

from __future__ import annotations

import secrets
import threading
from datetime import date

from flask import current_app
from sqlalchemy import bindparam, create_engine, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from portal import database
from portal.extensions import db
from portal.models import Channel, DailyCounter

# app.extensions key of the engine numbers are drawn alone on (``_sequence_engine``)
_SEQUENCE_ENGINE = "portal_sequence_engine"
_creating = threading.Lock()

CASE_PREFIXES = {Channel.online: "WB", Channel.counter: "CK", Channel.kiosk: "ZZ"}
BUNDLE_PREFIX = "YJ"


# one per-day counter bumped by one, returning its new value (none when the day has no row
# yet); built once, as it runs on every submission, notice and ticket
_counters = DailyCounter.__table__
_BUMP = (
    update(_counters)
    .where(_counters.c.name == bindparam("counter"), _counters.c.day == bindparam("on_day"))
    .values(value=_counters.c.value + 1)
    .returning(_counters.c.value)
)


def _bump(executor, name: str, day: date) -> int | None:
    """``_BUMP`` on a session or a connection: the counter's new value, None without a row."""
    return executor.execute(_BUMP, {"counter": name, "on_day": day}).scalar()


def next_in_sequence(name: str, day: date) -> int:
    """The next value of a per-day counter, in the caller's transaction (a rollback takes it
    back); safe under concurrent submissions on both databases."""
    value = _bump(db.session, name, day)
    if value is None:
        try:
            with db.session.begin_nested():
                db.session.add(DailyCounter(name=name, day=day, value=1))
            return 1
        except IntegrityError:
            value = _bump(db.session, name, day)
    return int(value)


def _sequence_engine(bind: Engine) -> Engine:
    """The engine numbers drawn alone use: a small pool of its own, in autocommit. Not the
    app's pool: a request holds one of those while it draws, and with as many threads as that
    pool has connections all waiting for one draft's row lock, the thread holding the lock
    would wait for a connection forever (fifty concurrent submissions of one draft did). Here
    a connection is held for one statement, which waits for nothing but that statement."""
    engine = current_app.extensions.get(_SEQUENCE_ENGINE)
    if engine is None:
        with _creating:
            engine = current_app.extensions.get(_SEQUENCE_ENGINE)
            if engine is None:
                options = current_app.config.get("SQLALCHEMY_ENGINE_OPTIONS", {})
                engine = create_engine(
                    bind.url,
                    isolation_level="AUTOCOMMIT",
                    pool_size=1,
                    max_overflow=4,
                    connect_args=options.get("connect_args", {}),
                )
                database.ping_when_idle(
                    engine, float(current_app.config["DB_PING_AFTER_IDLE_SECONDS"])
                )
                current_app.extensions[_SEQUENCE_ENGINE] = engine
    return engine


def dispose(app) -> None:
    """Close the connections numbers were drawn on (a test's database is then dropped)."""
    engine = app.extensions.pop(_SEQUENCE_ENGINE, None)
    if engine is not None:
        engine.dispose()


def _drawn_alone(name: str, day: date) -> int:
    """The next value of a per-day counter, committed at once on a connection of its own
    (PostgreSQL, see the module's docstring); in the caller's transaction on SQLite, or when
    the caller's session is bound to a connection it holds rather than the pool."""
    bind = db.session.get_bind()
    if bind.dialect.name == "sqlite" or not isinstance(bind, Engine):
        return next_in_sequence(name, day)
    with _sequence_engine(bind).connect() as conn:
        value = _bump(conn, name, day)
        if value is None:
            created = conn.execute(
                pg_insert(DailyCounter)
                .values(name=name, day=day, value=1)
                .on_conflict_do_nothing(index_elements=["name", "day"])
                .returning(DailyCounter.value)
            ).scalar()
            value = created if created is not None else _bump(conn, name, day)
    return int(value)


def new_case_number(channel: Channel, day: date) -> str:
    """E.g. WB20261124000123: a channel prefix, the date and a daily sequence."""
    return f"{CASE_PREFIXES[channel]}{day:%Y%m%d}{_drawn_alone('case', day):06d}"


def new_bundle_number(day: date) -> str:
    """E.g. YJ20261124000124: a life event (一件事) shares the cases' daily sequence."""
    return f"{BUNDLE_PREFIX}{day:%Y%m%d}{_drawn_alone('case', day):06d}"


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
