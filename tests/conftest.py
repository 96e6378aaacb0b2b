"""Shared fixtures: one migrated, demo-seeded database per backend, a rolled-back
transaction per test, and helpers to log in as each demo account.

The backend is chosen by PORTAL_TEST_PG_ADMIN_URL: when set (by `make test`'s second run),
every database is created in that throwaway PostgreSQL server; otherwise SQLite files.

Migrating and seeding cost seconds, so each is done once per test session (per xdist worker)
into a template, and every database a test asks for is a copy of it: the SQLite file through
the backup API, ``CREATE DATABASE … TEMPLATE`` on PostgreSQL, plus a copy of the template's
upload directory (the seed stores files there). Passwords are hashed with a cheap method.

``PORTAL_TEST_REVERSE=1`` runs the test modules in reverse order (each module must pass in any
order, e.g. the browser modules, which each get their own live database).
"""

from __future__ import annotations

import atexit
import os
import re
import shutil
import sqlite3
import tempfile
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
from portal.limits import DEFAULT_RATE_LIMITS
from portal.personal_pages import pages_of
from services import numbering
from services.cache import default_generation_file, forget_everything
from tests.servers import clean_redis, redis_url, s3_store  # noqa: F401  (fixtures: real servers)

PG_ADMIN_URL = os.environ.get("PORTAL_TEST_PG_ADMIN_URL")
BACKEND = "postgresql" if PG_ADMIN_URL else "sqlite"
DEMO_PASSWORD = "Demo@2026"
TEST_SECRET = "test-secret-key-that-is-long-enough-0123456789"
# the page cache's generation files of this run's databases (make_app), removed at exit
GENERATIONS = Path(tempfile.mkdtemp(prefix="portal-test-generations-"))
atexit.register(shutil.rmtree, GENERATIONS, ignore_errors=True)


# Tests only: scrypt costs about 50 ms per hash, and the seed alone makes dozens of accounts.
# Login verifies any method werkzeug knows, so hashes made either way keep working.
TEST_PASSWORD_HASH_METHOD = "pbkdf2:sha256:1"
MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"


def _pg_admin_execute(sql: str) -> None:
    engine = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.exec_driver_sql(sql)
    finally:
        engine.dispose()


def _pg_url(name: str) -> str:
    return re.sub(r"/[^/]*$", f"/{name}", PG_ADMIN_URL)


def _sqlite_path(url: str) -> Path:
    return Path(url.removeprefix("sqlite:///"))


def new_database_url(tmp_dir: Path, label: str, template: str | None = None) -> str:
    """A brand-new database on the backend under test: empty, or a copy of ``template`` (the
    URL of a database nobody is connected to)."""
    if PG_ADMIN_URL:
        name = f"portal_{label}_{uuid.uuid4().hex[:8]}"
        source = f' TEMPLATE "{template.rsplit("/", 1)[1]}"' if template else ""
        _pg_admin_execute(f'CREATE DATABASE "{name}"{source}')
        return _pg_url(name)
    url = f"sqlite:///{tmp_dir / f'{label}-{uuid.uuid4().hex[:8]}.db'}"
    if template:
        # the backup API copies a consistent image, including what still sits in the WAL file
        with (
            sqlite3.connect(_sqlite_path(template)) as src,
            sqlite3.connect(_sqlite_path(url)) as dst,
        ):
            src.backup(dst)
        src.close()
        dst.close()
    return url


def make_app(url: str, upload_dir: Path, **extra) -> Flask:
    return create_app(
        {
            "DATABASE_URL": url,
            "SECRET_KEY": TEST_SECRET,
            "UPLOAD_DIR": str(upload_dir),
            # one per database as by default, but in this run's own directory, removed at its
            # end (the default is the system's temporary directory, where thousands of test
            # databases left a file each); apps on the same database share it
            "CACHE_GENERATION_FILE": str(GENERATIONS / default_generation_file(url).name),
            "TESTING": True,
            "PROPAGATE_EXCEPTIONS": True,
            "PASSWORD_HASH_METHOD": TEST_PASSWORD_HASH_METHOD,
            # the suite logs in and uploads far more often than a person: the limits are
            # lifted here and tests/portal/test_rate_limits.py lowers each one to test it
            "RATE_LIMITS": dict.fromkeys(DEFAULT_RATE_LIMITS, "100000 per minute"),
            **extra,
        }
    )


def migrate_and_seed(app: Flask, seed: bool = True) -> None:
    with app.app_context():
        upgrade(directory=str(MIGRATIONS))
        if seed:
            from seeds.demo import load_demo

            load_demo()
            db.session.commit()
        db.session.remove()


def dispose_app(app: Flask) -> None:
    """Close every connection the app holds (a PostgreSQL template must have none)."""
    with app.app_context():
        db.session.remove()
        for engine in db.engines.values():
            engine.dispose()
    numbering.dispose(app)  # the connections case numbers are drawn on (PostgreSQL)
    pages_of(app).close()  # the fast path's own connection (this thread's)


class DatabaseTemplates:
    """Two templates made on first use, once per session: migrated, and migrated + demo seed.

    The demo data is dated from today, so a session that runs past midnight may see
    yesterday's "next working day"; the same was true of the session-wide ``app`` before.
    """

    def __init__(self, root: Path) -> None:
        self.root = root
        self._made: dict[bool, tuple[str, Path]] = {}

    def template(self, seed: bool) -> tuple[str, Path]:
        if seed not in self._made:
            label = "template-seeded" if seed else "template-migrated"
            url = new_database_url(self.root, label)
            uploads = self.root / f"{label}-uploads"
            app = make_app(url, uploads)
            migrate_and_seed(app, seed=seed)
            dispose_app(app)
            self._made[seed] = (url, uploads)
        return self._made[seed]

    def copy(self, label: str, seed: bool) -> tuple[str, Path]:
        """A new database and upload directory holding what the template holds."""
        template_url, template_uploads = self.template(seed)
        url = new_database_url(self.root, label, template=template_url)
        uploads = self.root / f"uploads-{label}-{uuid.uuid4().hex[:6]}"
        shutil.copytree(template_uploads, uploads)
        return url, uploads


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """``PORTAL_TEST_REVERSE=1``: run the modules in reverse order (tests keep their order inside
    a module), to show that no module depends on what an earlier one left behind."""
    if os.environ.get("PORTAL_TEST_REVERSE") != "1":
        return
    modules: dict[Path, list[pytest.Item]] = {}
    for item in items:
        modules.setdefault(item.path, []).append(item)
    items[:] = [item for path in reversed(modules) for item in modules[path]]


@pytest.fixture(scope="session")
def backend() -> str:
    return BACKEND


@pytest.fixture(scope="session")
def database_templates(tmp_path_factory) -> DatabaseTemplates:
    return DatabaseTemplates(tmp_path_factory.mktemp("templates"))


@pytest.fixture(scope="session")
def database_factory(database_templates) -> Iterator:
    """Make fresh migrated databases (optionally demo-seeded) and apps bound to them: each a
    copy of a template, so a test may change it freely."""
    made: list[Flask] = []

    def factory(label: str = "fresh", seed: bool = False, **extra) -> Flask:
        url, uploads = database_templates.copy(label, seed)
        app = make_app(url, uploads, **extra)
        made.append(app)
        return app

    yield factory
    for app in made:
        dispose_app(app)


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
        # the rollback is invisible to the caches (services/cache.py): drop what they hold;
        # the kept personal pages too (the rollback takes their generations back, so a later
        # test could bump a scope to a number an earlier test's page was kept under)
        forget_everything(app)
        pages_of(app).pages.clear()


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
