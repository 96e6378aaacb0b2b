"""The id of the request (or background task) being served, for logs and audit events.

The web layer binds it for each request (portal/logging_setup.py: taken from a trusted
proxy's X-Request-ID or made here); a background task binds the id of the request that
queued it (portal/celery_app.py), so one id follows a citizen's click from nginx's log to
the audit event the notice task records a second later.
"""

from __future__ import annotations

import re
import secrets
from contextvars import ContextVar, Token

# what a request id may look like when it comes from outside: nginx's $request_id (32 hex),
# a UUID, or any other short token without spaces or quotes (it is logged and echoed)
ACCEPTED_RE = re.compile(r"[A-Za-z0-9._:-]{8,64}")

_current: ContextVar[str | None] = ContextVar("portal_request_id", default=None)


def new_request_id() -> str:
    return secrets.token_hex(16)


def acceptable(value: str | None) -> bool:
    return bool(value) and ACCEPTED_RE.fullmatch(value) is not None


def current() -> str | None:
    """The bound request id, or None outside any request or task."""
    return _current.get()


def bind(value: str | None) -> Token:
    return _current.set(value)


def reset(token: Token) -> None:
    _current.reset(token)
