"""Engine-level settings that make SQLite safe for concurrent writers.

Python's sqlite3 in its default mode begins transactions lazily and silently loses
conflicting updates; we switch the driver to autocommit and issue BEGIN ourselves:
IMMEDIATE for anything that may write (the default), DEFERRED only where the request
boundary has declared the work read-only (GET and HEAD requests).
"""

from __future__ import annotations

import contextvars
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import event
from sqlalchemy.engine import Engine

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
