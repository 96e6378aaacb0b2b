"""Background tasks (services/tasks.py, portal/celery_app.py) against a real Redis and a real
Celery worker process: a notice issued by the workflow is rendered by the worker once; a worker
killed with SIGKILL in the middle of rendering leaves the task to another worker, which renders
the notice exactly once; the case page says 通知书生成中 until then and links the PDF after.
Tasks are sent only after the commit. Rate limits counted in Redis are shared by two app
instances (two nodes)."""

from __future__ import annotations

import contextlib
import hashlib
import os
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
import redis
from sqlalchemy import func, select, update
from sqlalchemy.orm.attributes import set_committed_value
from werkzeug.wrappers import Response

from portal.celery_app import NOTICE_SWEEP_SECONDS, resend_pending_notices
from portal.extensions import db
from portal.limits import limiter_of
from portal.models import Event, Notice, OutboxMessage
from portal.transaction import _deliver_outbox
from services import audit, notices, storage, workflow
from tests.conftest import TEST_PASSWORD_HASH_METHOD, TEST_SECRET, login, make_app
from tests.workflow_cases import RESIDENCE_PERMIT, submit_case, user

ROOT = Path(__file__).resolve().parents[2]
WAIT_SECONDS = 180  # the longest wait for a worker on a busy machine (not a timing assertion)
PENDING_TEXT = "通知书生成中"


def _wait_for(predicate, what: str, proc: subprocess.Popen | None = None, log: Path | None = None):
    deadline = time.monotonic() + WAIT_SECONDS
    while not predicate():
        if proc is not None and proc.poll() is not None:
            raise AssertionError(
                f"worker exited ({proc.returncode}) waiting for {what}:\n{_tail(log)}"
            )
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what}:\n{_tail(log)}")
        time.sleep(0.2)


def _tail(log: Path | None) -> str:
    if log is None or not log.exists():
        return ""
    return "\n".join(log.read_text(errors="replace").splitlines()[-30:])


def start_worker(app, tmp_path: Path, name: str, **extra_env) -> tuple[subprocess.Popen, Path]:
    """A real Celery worker (prefork, one child) serving ``app``'s database, files and broker."""
    env = {
        **os.environ,
        "DATABASE_URL": str(app.config["DATABASE_URL"]),
        "UPLOAD_DIR": str(app.config["UPLOAD_DIR"]),
        "SECRET_KEY": TEST_SECRET,
        "CELERY_BROKER_URL": str(app.config["CELERY_BROKER_URL"]),
        "TASK_VISIBILITY_TIMEOUT_SECONDS": str(app.config["TASK_VISIBILITY_TIMEOUT_SECONDS"]),
        "PASSWORD_HASH_METHOD": TEST_PASSWORD_HASH_METHOD,
        "PUBLIC_BASE_URL": str(app.config["PUBLIC_BASE_URL"]),
        "LOG_FORMAT": "text",
        **{k: str(v) for k, v in extra_env.items()},
    }
    log = tmp_path / f"{name}.log"
    cmd = [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "portal.worker",
        "worker",
        "--pool=prefork",  # as in production: the task runs in a child process
        "--concurrency=1",
        "--without-heartbeat",
        "--without-gossip",
        "--without-mingle",
        "-Q",
        "portal",
        "-n",
        f"{name}@127.0.0.1",
        "--loglevel=INFO",
    ]
    with open(log, "wb") as out:
        proc = subprocess.Popen(  # noqa: S603
            cmd, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    return proc, log


def kill_all(proc: subprocess.Popen) -> None:
    """SIGKILL the worker and its pool's child: the whole process group, as a machine dies."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(10)


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(15)
    kill_all(proc)


@pytest.fixture
def queued_app(database_factory, clean_redis):
    """A demo-seeded app whose tasks go to Redis (nothing rolled back: a worker must see it)."""
    return database_factory(
        "tasks", seed=True, CELERY_BROKER_URL=clean_redis, TASK_VISIBILITY_TIMEOUT_SECONDS=2
    )


def _accepted_case(app) -> int:
    """A 居住证申领 submitted and accepted (committed): the 受理通知书 is issued, not rendered."""
    with app.app_context():
        case = submit_case("13800000002", RESIDENCE_PERMIT, {"basis": "work", "agent": "no"})
        db.session.commit()
        workflow.perform(user("reviewer01"), case.id, "accept", case.version)
        db.session.commit()
        case_id = case.id
        db.session.remove()
    return case_id


def _acceptance_notices(app, case_id: int) -> list[Notice]:
    with app.app_context():
        found = [n for n in notices.notices_of(case_id) if n.kind == "acceptance"]
        for n in found:
            db.session.expunge(n)
        db.session.remove()
    return found


def _queue_length(url: str) -> int:
    client = redis.Redis.from_url(url)
    try:
        return client.llen("portal")
    finally:
        client.close()


def test_a_task_is_sent_after_the_commit_and_never_after_a_rollback(queued_app):
    url = queued_app.config["CELERY_BROKER_URL"]
    with queued_app.app_context():
        case = submit_case("13800000002", RESIDENCE_PERMIT, {"basis": "work", "agent": "no"})
        db.session.commit()
        workflow.perform(user("reviewer01"), case.id, "accept", case.version)
        [notice] = [n for n in notices.notices_of(case.id) if n.kind == "acceptance"]
        assert notice.storage_key is None and notice.render_context is not None
        assert _queue_length(url) == 0  # not before the commit
        db.session.rollback()
        assert _queue_length(url) == 0  # nor after a rollback
        db.session.refresh(case)
        workflow.perform(user("reviewer01"), case.id, "accept", case.version)
        db.session.commit()
        assert _queue_length(url) == 1
        db.session.remove()


def test_the_outbox_is_left_to_a_worker_after_the_commit(queued_app):
    """A request that wrote messages hands their delivery to a task instead of sending them
    itself (portal/transaction.py); the rows stay pending for the worker."""
    url = queued_app.config["CELERY_BROKER_URL"]
    with queued_app.test_request_context():
        db.session.add(
            OutboxMessage(channel="sms", recipient="13800000002", subject="测试", body="测试")
        )
        db.session.info["outbox_pending"] = True
        db.session.commit()
        _deliver_outbox(Response("ok"))
        assert _queue_length(url) == 1
        pending = db.session.scalar(
            select(func.count(OutboxMessage.id)).where(OutboxMessage.status == "pending")
        )
        assert pending >= 1
        db.session.remove()


def test_with_a_worker_a_request_writes_its_messages_pending_for_it(queued_app):
    """Rows are written claimed only by a request that sends them itself: with a worker they
    are pending (the worker claims them), and the request hands it a task."""
    from portal.transaction import run_view
    from services import messages

    url = queued_app.config["CELERY_BROKER_URL"]
    written = []
    with queued_app.test_request_context():
        citizen = user("13800000002").citizen
        run_view(lambda: written.append(messages.notify(citizen, "licence", item="身份证")) or "ok")
        row = db.session.scalar(
            select(OutboxMessage).where(OutboxMessage.message_id == written[0].id)
        )
        assert (row.status, row.attempts, row.claimed_at) == ("pending", 0, None)
        assert _queue_length(url) == 1
        db.session.remove()


def test_the_scheduled_sweep_sends_a_lost_render_task_again(queued_app):
    """The broker lost a notice's task (or no worker came back): beat's run_jobs task sends it
    again once the notice has waited NOTICE_SWEEP_SECONDS; a fresh notice is left alone."""
    url = queued_app.config["CELERY_BROKER_URL"]
    case_id = _accepted_case(queued_app)
    redis.Redis.from_url(url).delete("portal")  # the task is lost
    with queued_app.app_context():
        assert resend_pending_notices() == 0  # issued just now: its task may be on its way
        assert _queue_length(url) == 0
        [notice] = [n for n in notices.notices_of(case_id) if n.kind == "acceptance"]
        db.session.execute(
            update(Notice)
            .where(Notice.id == notice.id)
            .values(issued_at=notice.issued_at - timedelta(seconds=NOTICE_SWEEP_SECONDS + 1))
        )
        db.session.commit()
        assert resend_pending_notices() == 1
        assert _queue_length(url) == 1
        db.session.remove()


def test_rendering_twice_attaches_one_file(queued_app):
    case_id = _accepted_case(queued_app)
    with queued_app.app_context():
        [notice] = [n for n in notices.notices_of(case_id) if n.kind == "acceptance"]
        assert notices.render_notice(notice.id) is True
        db.session.commit()
        assert notices.render_notice(notice.id) is False  # a second delivery changes nothing
        db.session.rollback()
        db.session.refresh(notice)
        assert hashlib.sha256(storage.read(notice.storage_key)).hexdigest() == notice.sha256
        rendered = db.session.scalars(
            select(Event).where(Event.application_id == case_id, Event.action == "notice_rendered")
        ).all()
        assert [e.details["sha256"] for e in rendered] == [notice.sha256]
        db.session.remove()


def test_a_render_that_loses_the_race_attaches_nothing(queued_app):
    """Two workers render one notice at once: the second's conditional UPDATE finds the file
    attached and changes nothing (its own file goes with its rollback)."""
    case_id = _accepted_case(queued_app)
    with queued_app.app_context():
        [stale] = [n for n in notices.notices_of(case_id) if n.kind == "acceptance"]
        notice_id = stale.id
        db.session.commit()  # (SQLite: no lock held while the other worker writes)
        with queued_app.app_context():  # the other worker: its own session, renders first
            assert notices.render_notice(notice_id) is True
            db.session.commit()
            db.session.remove()
        # this worker read the notice as pending just before the other attached it
        set_committed_value(stale, "storage_key", None)
        assert notices.render_notice(notice_id) is False
        db.session.rollback()
        [notice] = [n for n in notices.notices_of(case_id) if n.kind == "acceptance"]
        rendered = db.session.scalar(
            select(func.count(Event.id)).where(
                Event.application_id == case_id, Event.action == "notice_rendered"
            )
        )
        assert rendered == 1
        assert hashlib.sha256(storage.read(notice.storage_key)).hexdigest() == notice.sha256
        db.session.remove()


@pytest.mark.slow
def test_a_worker_killed_mid_render_leaves_exactly_one_notice(queued_app, tmp_path):
    case_id = _accepted_case(queued_app)
    client = queued_app.test_client()
    assert login(client, "13800000002").status_code == 302
    page = client.get(f"/cases/{case_id}").get_data(as_text=True)
    assert PENDING_TEXT in page and "下载通知书原件" not in page

    # the first worker stores the PDF, then waits before attaching it: killed right there
    first, first_log = start_worker(queued_app, tmp_path, "first", NOTICE_RENDER_DELAY_MS=600_000)
    try:
        _wait_for(
            lambda: "before attaching it" in first_log.read_text(errors="replace"),
            "the first worker to store the notice",
            first,
            first_log,
        )
        # the task is delivered but not acknowledged: Redis still holds it for another worker
        broker = redis.Redis.from_url(queued_app.config["CELERY_BROKER_URL"])
        assert broker.hlen("unacked") == 1
        broker.close()
        kill_all(first)
    finally:
        stop(first)
    [notice] = _acceptance_notices(queued_app, case_id)
    assert notice.storage_key is None  # killed before the attach
    assert PENDING_TEXT in client.get(f"/cases/{case_id}").get_data(as_text=True)

    # the task was never acknowledged: Redis hands it to the next worker
    second, second_log = start_worker(queued_app, tmp_path, "second")
    try:
        _wait_for(
            lambda: _acceptance_notices(queued_app, case_id)[0].storage_key is not None,
            "the second worker to render the notice",
            second,
            second_log,
        )
    finally:
        stop(second)

    with queued_app.app_context():
        found = [n for n in notices.notices_of(case_id) if n.kind == "acceptance"]
        assert len(found) == 1
        notice = found[0]
        data = storage.read(notice.storage_key)
        assert hashlib.sha256(data).hexdigest() == notice.sha256 and data.startswith(b"%PDF")
        rendered = db.session.scalars(
            select(Event).where(Event.application_id == case_id, Event.action == "notice_rendered")
        ).all()
        assert [e.details["sha256"] for e in rendered] == [notice.sha256]
        accepted = db.session.scalar(
            select(Event).where(Event.application_id == case_id, Event.action == "accepted")
        )
        assert rendered[0].request_id and accepted.request_id is None  # a task's own id
        assert audit.verify_chain().broken_at is None
        # the first worker's file, stored but never attached, is an orphan: cleanup removes it
        assert storage.cleanup(older_than_seconds=0).orphans >= 1
        assert storage.read(notice.storage_key) == data
        assert (
            db.session.scalar(select(func.count(Notice.id)).where(Notice.application_id == case_id))
            == 1
        )
        db.session.remove()

    page = client.get(f"/cases/{case_id}").get_data(as_text=True)
    assert PENDING_TEXT not in page and "下载通知书原件" in page
    pdf = client.get(f"/cases/{case_id}/notices/{notice.id}")
    assert pdf.status_code == 200 and hashlib.sha256(pdf.data).hexdigest() == notice.sha256


def test_two_nodes_share_one_rate_limit_in_redis(database_factory, clean_redis):
    """Two app instances (two nodes) on one database and one Redis: three verifications on
    one and the fourth on the other is refused. With memory:// each would allow three."""
    first = database_factory(
        "limits", REDIS_URL=clean_redis, RATE_LIMITS={"verify": "3 per minute"}
    )
    second = make_app(
        first.config["DATABASE_URL"],
        Path(first.config["UPLOAD_DIR"]),
        REDIS_URL=clean_redis,
        RATE_LIMITS={"verify": "3 per minute"},
    )
    limiter_of(first).reset()
    a, b = first.test_client(), second.test_client()
    statuses = [c.get("/notices/verify?code=XX").status_code for c in (a, b, a, b)]
    assert statuses[:3] != [429] * 3 and 429 not in statuses[:3]
    assert statuses[3] == 429
