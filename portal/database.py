"""Engine-level settings that make SQLite safe for concurrent writers.

Python's sqlite3 in its default mode begins transactions lazily and silently loses
conflicting updates; we switch the driver to autocommit and issue BEGIN ourselves:
IMMEDIATE for anything that may write (the default), DEFERRED only where the request
boundary has declared the work read-only (GET and HEAD requests).
"""

from __future__ import annotations

import contextvars
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DisconnectionError

_begin_mode: contextvars.ContextVar[str] = contextvars.ContextVar(
    "sqlite_begin", default="IMMEDIATE"
)
_busy_timeout_ms = 15000


def configure_sqlite(busy_timeout_ms: int) -> None:
    global _busy_timeout_ms
    _busy_timeout_ms = busy_timeout_ms


def set_read_only(read_only: bool) -> contextvars.Token:
    """Declare the current context's transactions read-only (SQLite may then defer locking)."""
    return _begin_mode.set("DEFERRED" if read_only else "IMMEDIATE")


def reset_read_only(token: contextvars.Token) -> None:
    _begin_mode.reset(token)


@contextmanager
def writing() -> Iterator[None]:
    """Within a read-only context, make the transactions begun here take the write lock up front."""
    token = _begin_mode.set("IMMEDIATE")
    try:
        yield
    finally:
        _begin_mode.reset(token)


@event.listens_for(Engine, "connect")
def _on_connect(dbapi_connection, connection_record) -> None:
    if isinstance(dbapi_connection, sqlite3.Connection):
        dbapi_connection.isolation_level = None  # we issue BEGIN ourselves
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {int(_busy_timeout_ms)}")
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.close()


@event.listens_for(Engine, "begin")
def _on_begin(conn) -> None:
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql(f"BEGIN {_begin_mode.get()}")


# ConnectionRecord.info key: when the connection was last given back to the pool
_IDLE_SINCE = "portal_idle_since"


def ping_when_idle(engine: Engine, idle_seconds: float) -> None:
    """Test a pooled connection before use when it has been idle ``idle_seconds`` or longer.

    A server's connection can drop while it waits in the pool (a restart, a fail-over, a
    firewall's idle timeout): such a one is found by a ping (``SELECT 1``) and replaced before
    the request uses it (the pool connects again, up to three times). A connection given back
    a moment ago, as under load, is used as it is: ``pool_pre_ping`` would test every
    checkout, one round trip more on every request (a tenth of a submission's time). A
    connection that drops while busy fails its request; SQLAlchemy then replaces every pooled
    connection older than the failure, so the next requests get fresh ones."""

    @event.listens_for(engine, "checkin")
    def _checked_in(dbapi_connection, record) -> None:
        record.info[_IDLE_SINCE] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _checked_out(dbapi_connection, record, proxy) -> None:
        since = record.info.pop(_IDLE_SINCE, None)
        if since is None or time.monotonic() - since < idle_seconds:
            return  # new, or back in the pool only a moment ago
        try:
            engine.dialect.do_ping(dbapi_connection)
        except engine.dialect.loaded_dbapi.Error as exc:
            raise DisconnectionError(f"a pooled connection was lost: {exc}") from exc
