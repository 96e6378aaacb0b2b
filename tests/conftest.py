"""Shared fixtures: one migrated, demo-seeded database per backend, a rolled-back
transaction per test, and helpers to log in as each demo account.

The backend is chosen by PORTAL_TEST_PG_ADMIN_URL: when set (by `make test`'s second run),
every database is created in that throwaway PostgreSQL server; otherwise SQLite files.
"""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import Flask
from flask_migrate import upgrade
from sqlalchemy import event

from portal import create_app
from portal.extensions import db

PG_ADMIN_URL = os.environ.get("PORTAL_TEST_PG_ADMIN_URL")
BACKEND = "postgresql" if PG_ADMIN_URL else "sqlite"
DEMO_PASSWORD = "Demo@2026"
TEST_SECRET = "test-secret-key-that-is-long-enough-0123456789"


def new_database_url(tmp_dir: Path, label: str) -> str:
    """A brand-new empty database on the backend under test."""
    if PG_ADMIN_URL:
        name = f"portal_{label}_{uuid.uuid4().hex[:8]}"
        engine = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
        engine.dispose()
        return re.sub(r"/[^/]*$", f"/{name}", PG_ADMIN_URL)
    return f"sqlite:///{tmp_dir / f'{label}-{uuid.uuid4().hex[:8]}.db'}"


def make_app(url: str, upload_dir: Path, **extra) -> Flask:
    return create_app(
        {
            "DATABASE_URL": url,
            "SECRET_KEY": TEST_SECRET,
            "UPLOAD_DIR": str(upload_dir),
            "TESTING": True,
            "PROPAGATE_EXCEPTIONS": True,
            **extra,
        }
    )


def migrate_and_seed(app: Flask, seed: bool = True) -> None:
    with app.app_context():
        upgrade(directory=str(Path(__file__).resolve().parent.parent / "migrations"))
        if seed:
            from seeds.demo import load_demo

            load_demo()
            db.session.commit()
        db.session.remove()


@pytest.fixture(scope="session")
def backend() -> str:
    return BACKEND


@pytest.fixture(scope="session")
def database_factory(tmp_path_factory) -> Iterator:
    """Make fresh migrated databases (optionally demo-seeded) and apps bound to them."""
    root = tmp_path_factory.mktemp("dbs")
    made: list[Flask] = []

    def factory(label: str = "fresh", seed: bool = False, **extra) -> Flask:
        url = new_database_url(root, label)
        app = make_app(url, root / f"uploads-{label}-{uuid.uuid4().hex[:6]}", **extra)
        migrate_and_seed(app, seed=seed)
        made.append(app)
        return app

    yield factory
    for app in made:
        with app.app_context():
            db.session.remove()
            for engine in db.engines.values():
                engine.dispose()


@pytest.fixture(scope="session")
def app(database_factory) -> Flask:
    """The demo-seeded app that route and service tests share (each test rolls back)."""
    return database_factory("main", seed=True)


@pytest.fixture
def tx(app: Flask) -> Iterator[None]:
    """Run the test inside one outer transaction that is rolled back afterwards.

    The app's engine is swapped for a connection holding that transaction, and sessions
    join it with savepoints, so the code under test may commit as it does in production.
    No app context stays pushed: each test-client request gets its own, as in production
    (a shared one would leak ``g`` — the logged-in user, the CSRF token — between requests).
    """
    with app.app_context():
        engines = db._app_engines[app]
        engine = engines[None]
        connection = engine.connect()
        outer = connection.begin()
        engines[None] = connection
        db.session.remove()
        db.session.configure(join_transaction_mode="create_savepoint")
    try:
        yield
    finally:
        with app.app_context():
            db.session.remove()
            outer.rollback()
            connection.close()
            engines[None] = engine


@pytest.fixture
def app_ctx(app: Flask, tx) -> Iterator[Flask]:
    with app.test_request_context():
        yield app


@pytest.fixture
def client(app: Flask, tx):
    return app.test_client()


@pytest.fixture
def query(app: Flask, tx):
    """Run ``fn()`` against the test's database in a fresh app context (for route tests)."""

    def run(fn):
        with app.app_context():
            try:
                return fn()
            finally:
                db.session.remove()

    return run


def csrf_token(client, path: str = "/auth/login") -> str:
    page = client.get(path).get_data(as_text=True)
    match = re.search(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"', page)
    assert match, f"no CSRF token on {path}"
    return match.group(1)


def login(client, login_name: str, password: str = DEMO_PASSWORD):
    token = csrf_token(client)
    return client.post(
        "/auth/login", data={"login": login_name, "password": password, "csrf_token": token}
    )


@pytest.fixture
def login_as(client):
    def do(who: str):
        response = login(client, who)
        assert response.status_code == 302, response.get_data(as_text=True)[:500]
        return client

    return do


# Transaction control is not a query: BEGIN, SAVEPOINT (the `tx` fixture's), RELEASE, ROLLBACK …
_TX_CONTROL = re.compile(r"^\s*(BEGIN|COMMIT|ROLLBACK|SAVEPOINT|RELEASE)\b", re.IGNORECASE)


@contextmanager
def counting_queries(target: Flask) -> Iterator[list[str]]:
    """Record every SQL statement ``target`` sends (transaction control excepted).

    It listens on what the app's sessions use: its engine, or the test's connection while
    the `tx` fixture has swapped it in.
    """
    bind = db._app_engines[target][None]
    statements: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany) -> None:
        if not _TX_CONTROL.match(statement):
            statements.append(statement)

    event.listen(bind, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(bind, "before_cursor_execute", record)


class QueryCounter:
    """``with count_queries as statements:`` counts on the shared app;
    ``with count_queries(other_app) as statements:`` on another one (e.g. a scale database)."""

    def __init__(self, app: Flask) -> None:
        self.app = app
        self._open: list = []

    def __call__(self, target: Flask | None = None):
        return counting_queries(target or self.app)

    def __enter__(self) -> list[str]:
        manager = counting_queries(self.app)
        self._open.append(manager)
        return manager.__enter__()

    def __exit__(self, *exc):
        return self._open.pop().__exit__(*exc)


@pytest.fixture
def count_queries(app: Flask) -> QueryCounter:
    """A SQL statement counter: ``with count_queries as statements: client.get(...)`` then
    ``len(statements)``; see QueryCounter."""
    return QueryCounter(app)
