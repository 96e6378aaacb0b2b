"""Celery for the slow work, when a broker is configured (``CELERY_BROKER_URL``, a Redis URL).

The web app only sends tasks (services/tasks.py, after the commit); a worker process runs them
inside the same Flask app (portal/worker.py builds it from the environment)::

    celery -A portal.worker worker --loglevel=INFO --concurrency=2
    celery -A portal.worker beat --loglevel=INFO     # exactly one per deployment

Tasks:

- ``portal.render_notice(notice_id)``: render a notice's PDF and attach it once
  (services/notices.render_notice);
- ``portal.deliver_outbox()``: send the SMS outbox (services/messages.deliver_pending); the web
  app sends it after a commit that wrote messages;
- ``portal.run_jobs()``: the scheduled jobs (services/jobs.run_jobs: reminders, flags, deadlines,
  appointment slots, the outbox), then a sweep that sends again the render task of any notice
  still without its PDF after ``NOTICE_SWEEP_SECONDS``. Beat runs it every minute; it replaces
  the cron line of `flask jobs run` (which stays for a portal without a broker).

Delivery is at least once: a task is acknowledged after it ran (``acks_late``), so a worker
killed mid-task leaves it in Redis, which hands it to another worker after
``TASK_VISIBILITY_TIMEOUT_SECONDS``; a task that raises is retried with a back-off. Every task
is safe to run twice (see services/tasks.py). Each task commits its own work, runs with the
request id of the request that sent it (log lines and audit events), and counts into
``portal_tasks_done`` / ``portal_tasks_failed``.
"""

from __future__ import annotations

import logging
from typing import Any

from celery import Celery, Task
from flask import Flask

from portal.extensions import db
from services import jobs, messages, metrics, notices, request_ids, tasks

log = logging.getLogger(__name__)

NOTICE_SWEEP_SECONDS = 120
MAX_RETRIES = 5


def broker_url(config) -> str:
    """The broker tasks go through: ``CELERY_BROKER_URL`` (usually the same Redis as
    ``REDIS_URL``, another database number). REDIS_URL alone shares limits and caches between
    nodes but keeps the slow work in-process, so a deployment without workers still works."""
    return str(config.get("CELERY_BROKER_URL") or "")


class CeleryQueue:
    """services.tasks' queue on a Celery app: send by name, no result kept."""

    def __init__(self, celery: Celery) -> None:
        self.celery = celery

    def send(self, name: str, args: tuple, kwargs: dict[str, Any]) -> None:
        self.celery.send_task(name, args=list(args), kwargs=kwargs)


def make_celery(app: Flask) -> Celery:
    """A Celery app whose tasks run inside ``app`` (one app context per task)."""
    visibility = int(app.config["TASK_VISIBILITY_TIMEOUT_SECONDS"])
    celery = Celery("portal", broker=broker_url(app.config), set_as_current=False)
    celery.conf.update(
        task_acks_late=True,  # a task killed mid-run is not lost …
        task_reject_on_worker_lost=True,  # … and is given to another worker
        worker_prefetch_multiplier=1,
        task_ignore_result=True,
        task_default_queue="portal",
        broker_connection_retry_on_startup=True,
        broker_transport_options={
            "visibility_timeout": visibility,
            # look for abandoned tasks often enough for the timeout to mean what it says
            "unacked_restore_interval": max(1, min(10, visibility // 2)),
            "unacked_restore_throttle": 1,
        },
        worker_hijack_root_logger=False,
        timezone="UTC",
        beat_schedule={
            "scheduled-jobs": {"task": tasks.RUN_JOBS, "schedule": 60.0},
        },
    )

    class AppTask(Task):
        """Runs in an app context with the sender's request id; the session is removed after."""

        abstract = True

        def __call__(self, *args: Any, **kwargs: Any) -> Any:
            request_id = kwargs.pop("request_id", None) or request_ids.new_request_id()
            with app.app_context():
                token = request_ids.bind(request_id)
                try:
                    result = self.run(*args, **kwargs)
                    metrics.TASKS_DONE.labels(task=self.name).inc()
                    return result
                except Exception:
                    db.session.rollback()
                    metrics.TASKS_FAILED.labels(task=self.name).inc()
                    log.exception("task %s failed", self.name)
                    raise
                finally:
                    db.session.remove()
                    request_ids.reset(token)

    retry = {
        "shared": False,  # this app's tasks only (tests build several apps in one process)
        "bind": True,
        "base": AppTask,
        "autoretry_for": (Exception,),
        "retry_backoff": True,
        "retry_backoff_max": 60,
        "max_retries": MAX_RETRIES,
    }

    @celery.task(name=tasks.RENDER_NOTICE, **retry)
    def render_notice(self, notice_id: int) -> bool:
        attached = notices.render_notice(notice_id)
        if attached:
            db.session.commit()
        else:  # already attached (a second delivery) or attached meanwhile by another worker
            db.session.rollback()
        return attached

    @celery.task(name=tasks.DELIVER_OUTBOX, **retry)
    def deliver_outbox(self) -> int:
        return messages.deliver_pending(limit=100)  # commits each row on its own

    @celery.task(name=tasks.RUN_JOBS, **retry)
    def run_jobs(self) -> str:
        report = jobs.run_jobs()
        resent = resend_pending_notices()
        db.session.commit()
        return f"{report}; render tasks sent again: {resent}"

    return celery


def resend_pending_notices() -> int:
    """Send again the render task of every notice still without its PDF after
    NOTICE_SWEEP_SECONDS (the broker lost it, or its worker died and none took it over)."""
    pending = notices.pending_notice_ids(older_than_seconds=NOTICE_SWEEP_SECONDS)
    for notice_id in pending:
        tasks.send(tasks.RENDER_NOTICE, notice_id)
    return len(pending)


def register_task_queue(app: Flask) -> None:
    """With a broker configured, slow work goes to Celery workers (services/tasks.py);
    without one nothing is registered and it is done in-process."""
    if not broker_url(app.config):
        return
    celery = make_celery(app)
    app.extensions["celery"] = celery
    app.extensions[tasks.EXTENSION] = CeleryQueue(celery)
