"""Prometheus metrics (served at /metrics by portal/ops.py).

Under gunicorn each worker is a process: with ``PROMETHEUS_MULTIPROC_DIR`` set (gunicorn.conf.py
sets it to a fresh directory when the variable is not given), prometheus_client keeps each
process's values in files there and /metrics adds them up across the workers; without it each
process reports only its own counts (fine for ``flask run`` and the tests).
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram
from sqlalchemy import event
from sqlalchemy.orm import Session

from portal.models import Event

REQUEST_SECONDS = Histogram(
    "portal_request_seconds",
    "Time to answer a request, by endpoint (the Flask endpoint name, not the path).",
    ["endpoint", "method"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
)
RESPONSES = Counter(
    "portal_responses",
    "Responses sent, by status class (2xx, 3xx, 4xx, 5xx).",
    ["status"],
)
CASES_SUBMITTED = Counter(
    "portal_cases_submitted",
    "Cases submitted: 'submitted' audit events, counted once their transaction committed.",
)
TASKS_QUEUED = Counter("portal_tasks_queued", "Background tasks sent to the queue.", ["task"])
TASKS_FAILED = Counter(
    "portal_tasks_failed",
    "Background task attempts that raised (each is retried until its limit).",
    ["task"],
)
TASKS_DONE = Counter("portal_tasks_done", "Background tasks finished.", ["task"])
# the caches' own counts in this process (services/cache.py's local LRU, services/guide_cache.py),
# read when /metrics is asked; the hit rate is hits / (hits + misses). Reads that go to Redis
# are not counted by the cache module, so with REDIS_URL these cover the in-process part only.
CACHE_HITS = Gauge(
    "portal_cache_hits", "Cache hits in this process.", ["cache"], multiprocess_mode="livesum"
)
CACHE_MISSES = Gauge(
    "portal_cache_misses", "Cache misses in this process.", ["cache"], multiprocess_mode="livesum"
)


_SUBMITTED = "metrics_cases_submitted"


@event.listens_for(Session, "after_flush")
def _count_submissions(session: Session, flush_context) -> None:
    found = sum(1 for obj in session.new if isinstance(obj, Event) and obj.action == "submitted")
    if found:
        session.info[_SUBMITTED] = session.info.get(_SUBMITTED, 0) + found


@event.listens_for(Session, "after_commit")
def _submissions_committed(session: Session) -> None:
    found = session.info.pop(_SUBMITTED, 0)
    if found:
        CASES_SUBMITTED.inc(found)


@event.listens_for(Session, "after_transaction_end")
def _submissions_rolled_back(session: Session, transaction) -> None:
    if transaction.parent is None:
        session.info.pop(_SUBMITTED, None)
