"""What the operations team and the load balancer ask the portal: is the process alive
(``/healthz``), can it serve (``/readyz``), and how is it doing (``/metrics``).

- ``/healthz``: liveness. Answers 200 while the process can answer at all; it touches no
  database, so a slow database does not make the orchestrator restart healthy workers.
- ``/readyz``: readiness. The database answers, its schema is at the migrations' head, Redis
  and the task broker answer (when ``REDIS_URL`` / ``CELERY_BROKER_URL`` are set) and the
  storage backend answers; 200 or 503 with a JSON
  body naming each check, so nginx or the orchestrator sends no traffic to a node that would
  fail it.
- ``/metrics``: Prometheus text format, only with ``Authorization: Bearer <METRICS_TOKEN>``
  (refused while no token is configured). Request latency by endpoint, responses by status
  class, cases submitted, background tasks queued, done and failed, and the caches'
  hits and misses in this process. Under gunicorn with ``PROMETHEUS_MULTIPROC_DIR`` the values
  are summed over the workers (services/metrics.py).

None of the three sets a session cookie, and none is rate-limited (portal/limits.py).
"""

from __future__ import annotations

import hmac
import os
import time

from alembic.script import ScriptDirectory
from flask import Blueprint, Flask, Response, current_app, g, jsonify, request
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    generate_latest,
    multiprocess,
)
from sqlalchemy import text

from portal.config import PROJECT_ROOT
from portal.extensions import db
from portal.transaction import attempt
from services import metrics, storage

bp = Blueprint("ops", __name__)
ENDPOINTS = ("ops.healthz", "ops.readyz", "ops.metrics")
CHECK_TIMEOUT_SECONDS = 2.0


@bp.route("/healthz")
def healthz():
    """Liveness: the process answers."""
    return jsonify(status="ok")


def _migrations_head() -> set[str]:
    heads = current_app.extensions.get("portal_migration_heads")
    if heads is None:
        script = ScriptDirectory(str(PROJECT_ROOT / "migrations"))
        heads = set(script.get_heads())
        current_app.extensions["portal_migration_heads"] = heads
    return heads


def _check_database() -> dict[str, str]:
    try:
        with attempt():
            db.session.execute(text("SELECT 1"))
            versions = set(db.session.scalars(text("SELECT version_num FROM alembic_version")))
    except Exception:  # any failure to answer means not ready
        return {"database": "unavailable", "migrations": "unknown"}
    head = _migrations_head()
    return {"database": "ok", "migrations": "ok" if versions == head else "not at head"}


def _redis_client(url: str):
    import redis  # noqa: PLC0415  (only when REDIS_URL is set)

    clients = current_app.extensions.setdefault("portal_ops_redis", {})
    if url not in clients:
        clients[url] = redis.Redis.from_url(
            url, socket_connect_timeout=CHECK_TIMEOUT_SECONDS, socket_timeout=CHECK_TIMEOUT_SECONDS
        )
    return clients[url]


def _check_redis() -> dict[str, str]:
    """Redis (limits, caches) and the task broker, when configured."""
    checks = {}
    for name, key in (("redis", "REDIS_URL"), ("broker", "CELERY_BROKER_URL")):
        url = current_app.config.get(key)
        if not url:
            continue
        try:
            _redis_client(url).ping()
            checks[name] = "ok"
        except Exception:  # connection refused, timeout, authentication …
            checks[name] = "unavailable"
    return checks


def _check_storage() -> dict[str, str]:
    """The storage backend answers: the local directory is writable, or the S3 bucket answers."""
    try:
        storage.backend().check()
    except Exception:  # missing folder, refused connection, wrong keys, no bucket …
        return {"storage": "unavailable"}
    return {"storage": "ok"}


@bp.route("/readyz")
def readyz():
    """Readiness: every dependency answers; 503 names the ones that do not."""
    checks = {**_check_database(), **_check_redis(), **_check_storage()}
    ready = all(value == "ok" for value in checks.values())
    failed = sorted(name for name, value in checks.items() if value != "ok")
    body = {"status": "ok" if ready else "unavailable", "checks": checks}
    if failed:
        body["failed"] = failed
    return jsonify(body), 200 if ready else 503


def _token_accepted() -> bool:
    expected = str(current_app.config.get("METRICS_TOKEN") or "")
    given = request.headers.get("Authorization", "")
    scheme, _, token = given.partition(" ")
    return (
        bool(expected)
        and scheme.lower() == "bearer"
        and hmac.compare_digest(token.strip().encode(), expected.encode())
    )


def _registry():
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return registry
    return REGISTRY


@bp.route("/metrics", endpoint="metrics")
def metrics_page():
    """Prometheus metrics, for a scraper holding METRICS_TOKEN."""
    if not current_app.config.get("METRICS_TOKEN"):
        return jsonify(error="metrics are off: set METRICS_TOKEN"), 403
    if not _token_accepted():
        response = jsonify(error="a bearer token is required")
        response.status_code = 401
        response.headers["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    _publish_cache_counts()
    return Response(generate_latest(_registry()), mimetype=CONTENT_TYPE_LATEST)


def _publish_cache_counts() -> None:
    """The caches' hit and miss counts in this process, where their modules keep them."""
    found = {
        "pages": getattr(current_app.extensions.get("portal_cache"), "local", None),
        "guide": current_app.extensions.get("guide_cache"),
    }
    for name, cache in found.items():
        if cache is not None and hasattr(cache, "hits"):
            metrics.CACHE_HITS.labels(cache=name).set(cache.hits)
            metrics.CACHE_MISSES.labels(cache=name).set(cache.misses)


def register_ops(app: Flask) -> None:
    """The blueprint, and request timing for the latency histogram."""
    app.register_blueprint(bp)

    @app.before_request
    def _start_timer() -> None:
        g._metrics_started = time.perf_counter()

    @app.after_request
    def _observe(response: Response) -> Response:
        started = g.pop("_metrics_started", None)
        if started is not None:
            metrics.REQUEST_SECONDS.labels(
                endpoint=request.endpoint or "none", method=request.method
            ).observe(time.perf_counter() - started)
            metrics.RESPONSES.labels(status=f"{response.status_code // 100}xx").inc()
        return response
