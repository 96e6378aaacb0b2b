"""Background tasks: slow work (rendering notice PDFs, sending the SMS outbox, the scheduled
jobs) handed to a Celery worker after the database commit, or done in-process without one.

Two modes, chosen by the configuration:

- **queued** (``CELERY_BROKER_URL`` set, a Redis URL): portal/celery_app.py installs a queue
  on the app. A service asks for a task with ``enqueue_after_commit``; the task is sent only
  once the session's transaction has committed (a rolled-back request sends nothing, and the
  worker never looks for a row that is not there yet). A task that cannot be sent is logged
  and picked up by the scheduled sweep (``portal.celery_app``'s beat schedule).
- **in-process** (the embedded default, and the test suite): no queue; the service does the
  work itself, in the caller's transaction, exactly as before there were workers.

Each task is written to be run twice without harm (a worker killed mid-task is given the
task again): a notice is attached once by a conditional UPDATE (services/notices.py), an
outbox row is claimed once (services/messages.py), a job's unit of work once (services/jobs.py).

This module knows nothing of Celery: the queue is anything with ``send(name, args, kwargs)``.
"""

from __future__ import annotations

import logging
from typing import Any, Protocol

from flask import current_app, has_app_context
from sqlalchemy import event
from sqlalchemy.orm import Session

from services import metrics, request_ids

log = logging.getLogger(__name__)

EXTENSION = "portal_task_queue"
_PENDING = "tasks_to_send_after_commit"

# the task names the worker knows (portal/celery_app.py registers one function for each)
RENDER_NOTICE = "portal.render_notice"
DELIVER_OUTBOX = "portal.deliver_outbox"
RUN_JOBS = "portal.run_jobs"


class TaskQueue(Protocol):
    def send(self, name: str, args: tuple, kwargs: dict[str, Any]) -> None: ...


def task_queue() -> TaskQueue | None:
    """The app's queue, or None when tasks run in-process."""
    if not has_app_context():
        return None
    return current_app.extensions.get(EXTENSION)


def queued() -> bool:
    """True when slow work goes to a worker (CELERY_BROKER_URL is set)."""
    return task_queue() is not None


def send(name: str, *args: Any) -> None:
    """Send a task now (the caller has committed what it needs). Carries the request id."""
    queue = task_queue()
    if queue is None:
        raise RuntimeError("no task queue: the work is done in-process")
    queue.send(name, args, {"request_id": request_ids.current()})
    metrics.TASKS_QUEUED.labels(task=name).inc()


def enqueue_after_commit(session: Session, name: str, *args: Any) -> None:
    """Send the task once ``session``'s current transaction has committed; never if it does
    not commit."""
    session.info.setdefault(_PENDING, []).append((name, args, request_ids.current()))


@event.listens_for(Session, "after_commit")
def _send_after_commit(session: Session) -> None:
    pending = session.info.pop(_PENDING, None)
    if not pending:
        return
    queue = task_queue()
    for name, args, request_id in pending:
        if queue is None:  # the app lost its queue (a test swapping configurations)
            log.error("task %s%r not sent: no queue", name, args)
            continue
        try:
            queue.send(name, args, {"request_id": request_id})
            metrics.TASKS_QUEUED.labels(task=name).inc()
        except Exception:  # the broker is down: the sweep sends it again later
            metrics.TASKS_FAILED.labels(task=name).inc()
            log.exception("task %s%r could not be queued; the sweep will retry", name, args)


@event.listens_for(Session, "after_transaction_end")
def _drop_unsent(session: Session, transaction) -> None:
    if transaction.parent is None:  # the outermost transaction ended without a commit
        session.info.pop(_PENDING, None)
