"""The database settings the portal relies on, checked on a real file or server."""

import threading
import time

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import select, text

from portal.extensions import db
from portal.models import Department, ServiceItem
from services import catalogue


def test_migrations_reach_the_models_exactly(database_factory):
    """An empty database upgraded to head has exactly the schema the models declare."""
    app = database_factory("migrate", seed=False)
    with app.app_context(), db.engine.connect() as conn:
        diff = compare_metadata(
            MigrationContext.configure(conn, opts={"compare_type": True}), db.metadata
        )
    assert diff == []


def test_sqlite_pragmas(database_factory, backend):
    if backend != "sqlite":
        pytest.skip("SQLite only")
    app = database_factory("pragmas", seed=False)
    with app.app_context():
        assert db.session.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert db.session.execute(text("PRAGMA foreign_keys")).scalar() == 1
        assert db.session.execute(text("PRAGMA busy_timeout")).scalar() >= 1000


def test_concurrent_read_modify_write_loses_no_update(database_factory):
    """8 threads × 25 increments of one counter: every increment survives (WAL + BEGIN IMMEDIATE
    on SQLite, a row lock on PostgreSQL)."""
    app = database_factory("counter", seed=False)
    with app.app_context():
        dept = catalogue.create_department(code="T1", name="测试部门")
        item = ServiceItem(code="TESTCOUNTER1", department=dept, popularity=0)
        db.session.add(item)
        db.session.commit()
        item_id = item.id
        db.session.remove()

    threads, per_thread = 8, 25
    errors: list[BaseException] = []

    def worker():
        try:
            with app.app_context():
                for _ in range(per_thread):
                    row = db.session.scalar(
                        select(ServiceItem).where(ServiceItem.id == item_id).with_for_update()
                    )
                    row.popularity = row.popularity + 1
                    db.session.commit()
                db.session.remove()
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    pool = [threading.Thread(target=worker) for _ in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join(120)
    assert not errors, errors
    with app.app_context():
        assert db.session.get(ServiceItem, item_id).popularity == threads * per_thread
        db.session.remove()


def test_foreign_keys_are_enforced(database_factory):
    from sqlalchemy.exc import IntegrityError

    app = database_factory("fk", seed=False)
    with app.app_context():
        db.session.add(ServiceItem(code="ORPHAN000001", department_id=99999))
        with pytest.raises(IntegrityError):
            db.session.commit()
        db.session.rollback()
        assert db.session.scalar(select(Department.id)) is None
        db.session.remove()


def test_postgresql_connections_run_without_jit(database_factory, backend):
    """PostgreSQL's JIT spent 10 ms compiling a 0.2 ms look-up of 我的材料 at a million cases:
    the portal's connections turn it off unless POSTGRES_JIT is set."""
    if backend != "postgresql":
        pytest.skip("PostgreSQL only")
    app = database_factory("nojit", seed=False)
    with app.app_context():
        assert db.session.execute(text("SHOW jit")).scalar() == "off"


def _backend_pid() -> int:
    pid = db.session.execute(text("SELECT pg_backend_pid()")).scalar()
    db.session.remove()  # the connection goes back to the pool
    return pid


def test_a_pooled_connection_lost_while_idle_is_replaced_before_use(database_factory, backend):
    """A PostgreSQL connection can drop while it waits in the pool (a restart, a fail-over): one
    idle for DB_PING_AFTER_IDLE_SECONDS is tested first and replaced, the request never sees
    the lost one."""
    if backend != "postgresql":
        pytest.skip("PostgreSQL only: a SQLite file has no connection to lose")
    app = database_factory("ping-idle", seed=False, DB_PING_AFTER_IDLE_SECONDS=0)
    with app.app_context():
        victim, other = db.engine.connect(), db.engine.connect()
        lost = victim.execute(text("SELECT pg_backend_pid()")).scalar()
        victim.close()  # back in the pool, the first to be handed out again
        other.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": lost})
        for _ in range(100):  # the server ends it asynchronously
            gone = not other.execute(
                text("SELECT count(*) FROM pg_stat_activity WHERE pid = :pid"), {"pid": lost}
            ).scalar()
            if gone:
                break
            time.sleep(0.05)
        other.close()
        assert gone
        # the pool tested the lost one, found it dead and connected again
        assert _backend_pid() not in (lost, None)


def test_a_connection_given_back_a_moment_ago_is_not_tested_again(
    database_factory, backend, monkeypatch
):
    """Under load every request checks out a connection that was in use a moment before:
    testing each (pool_pre_ping) cost a round trip more on every request. Only a connection
    idle for DB_PING_AFTER_IDLE_SECONDS is tested; a SQLite file never is."""
    app = database_factory("ping-busy", seed=False, DB_PING_AFTER_IDLE_SECONDS=0.3)
    pings = []
    with app.app_context():
        dialect = db.engine.dialect
        real_ping = dialect.do_ping
        monkeypatch.setattr(dialect, "do_ping", lambda conn: pings.append(1) or real_ping(conn))
        for _ in range(5):
            db.session.execute(text("SELECT 1"))
            db.session.remove()
        assert pings == []
        time.sleep(0.4)
        db.session.execute(text("SELECT 1"))
        db.session.remove()
        assert len(pings) == (1 if backend == "postgresql" else 0)
        assert not db.engine.pool._pre_ping  # nor is every checkout tested by the pool
