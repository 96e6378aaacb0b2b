"""gunicorn settings for the portal: ``gunicorn -c gunicorn.conf.py 'portal:create_app()'``.

Every value can be set from the environment (the Dockerfile and compose.yaml do):

- GUNICORN_BIND (0.0.0.0:8000), GUNICORN_WORKERS (2 × CPUs + 1, at most 8: WeasyPrint's
  rendering is CPU-bound, and each worker holds ~150 MB), GUNICORN_THREADS (1),
- GUNICORN_TIMEOUT (60 s: a 20 MB upload over a slow line, or a guide PDF rendered on a cold
  cache), GUNICORN_GRACEFUL_TIMEOUT (30 s), GUNICORN_KEEPALIVE (5 s, behind nginx),
- GUNICORN_MAX_REQUESTS (1000) and GUNICORN_MAX_REQUESTS_JITTER (100): each worker is replaced
  after about that many requests, so WeasyPrint's and Pango's slowly growing memory is given
  back; the jitter keeps the workers from restarting all at once,
- FORWARDED_ALLOW_IPS: the proxies whose X-Forwarded-Proto gunicorn believes (nginx's address;
  127.0.0.1 by default). The client's address for rate limits and logs is taken by the portal
  itself from X-Forwarded-For, trusting PROXY_HOPS proxies (portal/__init__.py: ProxyFix).
- LOG_FORMAT (json in production): the access log is one line per request with the path but
  never the query string (a search may hold a person's name or 身份证号), the status, the
  size, the time taken and the request id (portal/logging_setup.GunicornLogger).

Metrics: with several workers, prometheus_client must share values through files. When
PROMETHEUS_MULTIPROC_DIR is not set a fresh directory is made for this server, and a dead
worker's live gauges are dropped (``child_exit``).
"""

from __future__ import annotations

import multiprocessing
import os
import shutil
import tempfile


def _int(name: str, default: int) -> int:
    value = os.environ.get(name, "").strip()
    return int(value) if value else default


def _default_workers() -> int:
    return min(2 * multiprocessing.cpu_count() + 1, 8)


bind = os.environ.get("GUNICORN_BIND", "0.0.0.0:8000")  # nosec B104: inside its container
workers = _int("GUNICORN_WORKERS", _default_workers())
threads = _int("GUNICORN_THREADS", 1)
worker_class = "sync"
timeout = _int("GUNICORN_TIMEOUT", 60)
graceful_timeout = _int("GUNICORN_GRACEFUL_TIMEOUT", 30)
keepalive = _int("GUNICORN_KEEPALIVE", 5)
max_requests = _int("GUNICORN_MAX_REQUESTS", 1000)
max_requests_jitter = _int("GUNICORN_MAX_REQUESTS_JITTER", 100)
# uploads of up to MAX_UPLOAD_MB are spooled by Werkzeug; nginx buffers the body first
limit_request_line = 8190
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")
proxy_allow_ips = forwarded_allow_ips
preload_app = False  # each worker builds its own app (database pools are not shared across fork)

accesslog = os.environ.get("GUNICORN_ACCESS_LOG", "-")
errorlog = "-"
loglevel = os.environ.get("GUNICORN_LOG_LEVEL", "info")
logger_class = "portal.logging_setup.GunicornLogger"

_made_metrics_dir: str | None = None
if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    _made_metrics_dir = tempfile.mkdtemp(prefix="portal-metrics-")
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = _made_metrics_dir


def child_exit(server, worker) -> None:
    from prometheus_client import multiprocess  # noqa: PLC0415  (only under gunicorn)

    multiprocess.mark_process_dead(worker.pid)


def on_exit(server) -> None:
    if _made_metrics_dir:
        shutil.rmtree(_made_metrics_dir, ignore_errors=True)
