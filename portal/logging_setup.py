"""Logs a city's log pipeline can read: one JSON object per line, each carrying the request id.

Every request gets an id: the one a trusted proxy sent in ``X-Request-ID`` (nginx's
``$request_id``; trusted only behind ``PROXY_HOPS`` proxies, and only if it looks like an id),
or a new one. It is echoed in the response's ``X-Request-ID`` header, written on every log
line of the request, carried into the background tasks the request queues
(portal/celery_app.py) and stored on the audit events it records (services/audit.py), so one
id leads from nginx's access log to the case's history.

``LOG_FORMAT=json`` (the default in production) writes JSON lines to stderr; ``text`` keeps
the usual one-line format, with the request id. gunicorn's own and access logs use the same
format through ``GunicornLogger`` (gunicorn.conf.py); the access log leaves out query strings,
which may hold a search for a person's name.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from datetime import UTC, datetime

from flask import Flask, g, request
from gunicorn.glogging import Logger as _GunicornBaseLogger

from services import request_ids

REQUEST_ID_HEADER = "X-Request-ID"
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"


class RequestIdFilter(logging.Filter):
    """Puts the bound request id (or "-") on every record as ``record.request_id``."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not getattr(record, "request_id", None):
            record.request_id = request_ids.current() or "-"
        return True


def _request_id_of(record: logging.LogRecord) -> str | None:
    value = getattr(record, "request_id", None) or request_ids.current()
    return None if value in (None, "-") else value


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (UTC, ISO 8601), level, logger, message, request_id,
    and the exception's traceback when there is one."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": _request_id_of(record),
        }
        for key in ("access", "task", "task_id"):
            if hasattr(record, key):
                entry[key] = getattr(record, key)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


def log_format(app_config: dict) -> str:
    chosen = str(app_config.get("LOG_FORMAT") or "").lower()
    if chosen in ("json", "text"):
        return chosen
    return "json" if app_config.get("PORTAL_ENV") == "production" else "text"


def make_handler(fmt: str, stream=None) -> logging.Handler:
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else logging.Formatter(TEXT_FORMAT))
    handler.addFilter(RequestIdFilter())
    return handler


def configure_logging(fmt: str, level: int = logging.INFO) -> None:
    """The root logger writes ``fmt`` lines to stderr (once per process: a second call replaces
    the handler it made rather than adding another)."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, "_portal_handler", False):
            root.removeHandler(handler)
    handler = make_handler(fmt)
    handler._portal_handler = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(level)


def incoming_request_id(trusted_proxies: int) -> str:
    """The proxy's id when one is trusted and it looks like an id, else a new one. Without a
    trusted proxy a client could choose the id its requests are logged under."""
    offered = request.headers.get(REQUEST_ID_HEADER)
    if trusted_proxies and request_ids.acceptable(offered):
        return str(offered)
    return request_ids.new_request_id()


def register_request_ids(app: Flask) -> None:
    """Bind a request id for each request and echo it in the response."""

    def _bind_request_id() -> None:
        g.request_id = incoming_request_id(int(app.config["PROXY_HOPS"]))
        g._request_id_token = request_ids.bind(g.request_id)

    # first of all, so that a request refused by CSRF or a rate limit is logged with its id too
    app.before_request_funcs.setdefault(None, []).insert(0, _bind_request_id)

    @app.after_request
    def _echo_request_id(response):
        request_id = g.get("request_id")
        if request_id:
            response.headers[REQUEST_ID_HEADER] = request_id
        return response

    @app.teardown_request
    def _unbind_request_id(exc: BaseException | None) -> None:
        token = g.pop("_request_id_token", None)
        if token is not None:
            request_ids.reset(token)

    if app.config["PORTAL_ENV"] == "production" or app.config.get("LOG_FORMAT"):
        configure_logging(log_format(app.config))


class GunicornLogger(_GunicornBaseLogger):
    """gunicorn's error and access logs in the portal's format (gunicorn.conf.py names it).

    An access line holds the method, the path without its query string, the status, the
    size, the time taken, the peer's address (nginx, when it is in front) and the request id
    the portal answered with."""

    def setup(self, cfg) -> None:
        super().setup(cfg)
        fmt = log_format(
            {"LOG_FORMAT": os.environ.get("LOG_FORMAT"), "PORTAL_ENV": os.environ.get("PORTAL_ENV")}
        )
        for log in (self.error_log, self.access_log):
            for handler in log.handlers:
                handler.addFilter(RequestIdFilter())
                handler.setFormatter(
                    JsonFormatter() if fmt == "json" else logging.Formatter(TEXT_FORMAT)
                )

    def access(self, resp, req, environ, request_time) -> None:
        if not (self.cfg.accesslog or self.cfg.logconfig or self.cfg.syslog):
            return
        request_id = next(
            (v for k, v in resp.headers if k.lower() == REQUEST_ID_HEADER.lower()), "-"
        )
        method, path = environ.get("REQUEST_METHOD"), environ.get("PATH_INFO")
        status = str(resp.status).split()[0]
        duration_ms = round(request_time.total_seconds() * 1000, 1)
        try:
            self.access_log.info(
                "%s %s %s %sms",
                method,
                path,
                status,
                duration_ms,
                extra={
                    "request_id": request_id,
                    "access": {
                        "method": method,
                        "path": path,  # never the query string
                        "status": int(status) if status.isdigit() else status,
                        "bytes": getattr(resp, "sent", None),
                        "duration_ms": duration_ms,
                        "peer": environ.get("REMOTE_ADDR"),
                    },
                },
            )
        except Exception:  # a log line must never fail the request
            self.error_log.exception("access log line failed")
