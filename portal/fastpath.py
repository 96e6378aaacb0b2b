"""The fast path: a cached anonymous page, or a kept personal page, answered in front of Flask.

(Kept personal pages, below the anonymous ones: a logged-in reader's GET of a view marked
``@personal_page`` whose page portal/personal_pages.py kept for this very session, under the
generations the database holds now, is answered here too; ``FastPath.personal`` says how.)

A hit of the page cache (portal/caching.py) costs little inside a view, but the request around
it cost about 0.7 ms of CPU: the request context, nine before/after hooks (rate limits, the
request id, metrics, the read-only flag, compression, security headers …), the session opened
and signed again, the CSRF token, Babel's locale. This WSGI middleware sits in front of the app
(inside the ProxyFix, so it sees the client's scheme and host) and answers a GET or HEAD
itself when all of this holds:

- the client's session cookie is absent, invalid or expired (Flask would start a new session),
  or it is valid and holds nothing but what an anonymous session holds (no user id, no
  flashed message: ``ANONYMOUS_SESSION_KEYS``), and no kiosk cookie is sent;
- the page cache holds the page under the key the view would use (``caching.key_of``: the URL,
  the session's language, the 长辈模式 cookie, the city's day) in the current publish
  generation, read from the generation file or Redis on every request as the views do; a
  publish on any worker or node starts a new generation, and the old pages are never found.

Anything else (a miss, a logged-in reader, a POST, a Redis that does not answer) goes to Flask
unchanged, which renders and stores the page. So the fast path never decides what a page
shows; it only repeats what the slow path stored, with the same body and the same headers:
``caching.answer`` makes both (Cache-Control, ETag, Vary, gzip, 304), the security headers
come from ``portal.security_headers``, the request id and the session cookie are made as
portal/logging_setup.py and Flask make them, and the request metrics are counted.

The CSRF token. The header's 长辈模式 and language switches are POST forms, so every public
page carries a token, and CSRF stays on every POST (Flask-WTF checks it; nothing here changes
that). A cached page keeps no token: it is cut where the token goes, and the fast path signs a
token for the reader's own session, exactly as Flask-WTF would (``generate_csrf``: the
session's secret, signed with the same key and salt). A client without a valid session gets
a new one, as Flask would give it: a new random secret in a newly signed cookie. A whole
answer costs about 0.07 ms of CPU for a newcomer and 0.1 ms for a returning reader (whose
cookie is verified, then signed again as Flask does on every answer), against about 0.7 ms
through Flask; signing is half of it.

Rejected: one token for every anonymous reader (a secret everyone can fetch protects nothing,
and a secret kept through the login would leave the signed-in session without CSRF
protection); pages without a token and a script fetching one (the switches must work without
scripts, for the elderly readers' browsers and for screen readers); a double-submit cookie (it
would change how every form of the portal is checked).

Not done here: rate limits (the public pages have none; a default limit for every route,
RATELIMIT_DEFAULT or RATELIMIT_APPLICATION, turns the fast path off) and the log line of the
request (gunicorn's access log is written outside the app either way).

``PAGE_FAST_PATH = False`` in the configuration turns the fast path off (every request then
goes through Flask, hits included); the tests compare both ways.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime

from flask import Flask
from itsdangerous import BadSignature, URLSafeTimedSerializer
from itsdangerous.encoding import base64_encode, want_bytes
from werkzeug.exceptions import HTTPException
from werkzeug.http import dump_cookie, parse_accept_header, parse_cookie, parse_etags
from werkzeug.routing import RequestRedirect

from portal import VERIFIED_SESSION, personal_pages
from portal.caching import (
    ANONYMOUS_SESSION_KEYS,
    CACHEABLE_METHODS,
    PUBLIC_PATHS_PREFIX,
    CachedPage,
    answer,
    city_day,
    key_of,
)
from portal.kiosk.device import DEVICE_COOKIE
from portal.logging_setup import REQUEST_ID_HEADER
from portal.templating import ELDER_COOKIE
from services import metrics, request_ids
from services.cache import cache_for, key_in

log = logging.getLogger(__name__)

EXTENSION_KEY = "fast_path"
STATIC_PREFIX = "/static/"
STATUS_LINES = {200: "200 OK", 304: "304 NOT MODIFIED"}
CSRF_SALT = "wtf-csrf-token"  # Flask-WTF's


def _plain(value: object) -> bool:
    """A string, or a mapping of strings to strings and booleans (an anonymous session)."""
    if isinstance(value, str):
        return True
    return isinstance(value, dict) and all(
        isinstance(k, str) and isinstance(v, str | bool) for k, v in value.items()
    )


class QuickDumps:
    """``serializer.dumps`` without its set-up on every call: itsdangerous makes a new signer
    (deriving its key again) each time, and Flask's session serializer tags every value and
    tries zlib on every cookie. Here the signer is made once, and a plain payload (an
    anonymous session, a CSRF secret) is written as compact JSON, as the serializer writes it
    when zlib does not shorten it; anything else goes through the serializer. What is
    written is read back by the serializer's own ``loads`` (Flask, Flask-WTF)."""

    def __init__(self, serializer: URLSafeTimedSerializer) -> None:
        self.serializer = serializer
        self.signer = serializer.make_signer()

    def __call__(self, obj: object) -> str:
        if _plain(obj):
            payload = base64_encode(json.dumps(obj, separators=(",", ":")).encode())
        else:
            payload = want_bytes(self.serializer.dump_payload(obj))
        return self.signer.sign(payload).decode()


class Settings:
    """What the fast path reads from the app once, on its first request (the configuration
    is complete by then)."""

    def __init__(self, app: Flask) -> None:
        from portal import security_headers  # the package is loaded: no cycle at run time

        config = app.config
        face = app.session_interface
        self.sessions = face.get_signing_serializer(app)  # None without a SECRET_KEY
        self.cookie_name = face.get_cookie_name(app)
        self.cookie = {
            "domain": face.get_cookie_domain(app),
            "path": face.get_cookie_path(app),
            "secure": face.get_cookie_secure(app),
            "httponly": face.get_cookie_httponly(app),
            "samesite": face.get_cookie_samesite(app),
            "partitioned": face.get_cookie_partitioned(app),
        }
        self.lifetime = app.permanent_session_lifetime
        self.max_age = int(self.lifetime.total_seconds())
        self.refresh = bool(config["SESSION_REFRESH_EACH_REQUEST"])
        self.csrf_field = config.get("WTF_CSRF_FIELD_NAME") or "csrf_token"
        self.sign_session = QuickDumps(self.sessions) if self.sessions is not None else None
        self.sign_csrf = QuickDumps(
            URLSafeTimedSerializer(
                config.get("WTF_CSRF_SECRET_KEY") or app.secret_key, salt=CSRF_SALT
            )
        )
        self.security = list(security_headers(config))
        self.proxy_hops = int(config["PROXY_HOPS"])
        self.personal_endpoints = personal_pages.pages_of(app).endpoints
        # rate limits for every route would have to be counted by Flask-Limiter: no fast path
        self.usable = self.sessions is not None and not (
            config.get("RATELIMIT_DEFAULT") or config.get("RATELIMIT_APPLICATION")
        )


class FastPath:
    """WSGI middleware answering cached anonymous pages (see the module)."""

    def __init__(self, app: Flask, wsgi_app: Callable) -> None:
        self.app = app
        self.wsgi_app = wsgi_app
        self.settings: Settings | None = None
        self.served = 0  # answers given here (the tests count them)
        self._observers: dict[tuple[str, str], Callable[[float], None]] = {}
        app.extensions[EXTENSION_KEY] = self

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        started = time.perf_counter()
        if environ.get("REQUEST_METHOD") in CACHEABLE_METHODS and self.app.config.get(
            "PAGE_FAST_PATH", True
        ):
            try:
                found = self.answer(environ)
            except Exception:  # never worse than Flask: it answers instead, and logs its own
                log.exception("fast path: falling back to the app")
                found = None
            if found is not None:
                status, headers, body, endpoint = found
                start_response(STATUS_LINES[status], headers)
                self.served += 1
                self._observe(endpoint, environ["REQUEST_METHOD"], status, started)
                return [body] if environ["REQUEST_METHOD"] != "HEAD" else []
        return self.wsgi_app(environ, start_response)

    def answer(self, environ: dict) -> tuple[int, list[tuple[str, str]], bytes, str] | None:
        """The cached page for this request, or None: Flask answers."""
        app = self.app
        if not app.config.get("PAGE_CACHE", True):
            return None
        if environ.get("PATH_INFO", "").startswith(STATIC_PREFIX):
            return None
        settings = self.settings
        if settings is None:
            settings = self.settings = Settings(app)
        if not settings.usable:
            return None
        cookies = parse_cookie(environ.get("HTTP_COOKIE"))
        if DEVICE_COOKIE in cookies or personal_pages.REMEMBER_COOKIE in cookies:
            return None
        raw = cookies.get(settings.cookie_name)
        session, fresh = self.open_session(settings, raw, environ)
        if session is None:
            verified = environ.get(VERIFIED_SESSION)
            if verified is None or verified[0] != raw:
                return None
            return self.personal(settings, environ, cookies, verified[1])
        key = key_of(
            environ, session.get("locale"), cookies.get(ELDER_COOKIE), city_day(app.config)
        )
        store = cache_for(app)
        page = store.get(key_in(store.generation(), PUBLIC_PATHS_PREFIX, key), immutable=True)
        if not isinstance(page, CachedPage):
            return None

        modified = fresh
        if not session.get("_permanent"):
            session["_permanent"] = True  # as every request of the app does
            modified = True
        token = b""
        if page.has_slot:
            if settings.csrf_field not in session:
                # Flask-WTF's own way of making the secret
                secret = hashlib.sha1(os.urandom(64)).hexdigest()  # nosec B324
                session[settings.csrf_field] = secret
                modified = True
            token = settings.sign_csrf(session[settings.csrf_field]).encode()
        result = answer(
            page,
            token,
            session.get(settings.csrf_field, ""),
            parse_etags(environ.get("HTTP_IF_NONE_MATCH")),
            "gzip" in parse_accept_header(environ.get("HTTP_ACCEPT_ENCODING")),
        )
        headers = result.headers
        headers.extend(settings.security)
        headers.append((REQUEST_ID_HEADER, self.request_id(settings, environ)))
        if self.should_set_cookie(settings, environ, modified):
            headers.append(("Set-Cookie", self.cookie(settings, session)))
        return result.status, headers, result.body, page.endpoint

    def personal(
        self, settings: Settings, environ: dict, cookies: dict, data: dict
    ) -> tuple[int, list[tuple[str, str]], bytes, str] | None:
        """A kept personal page of this session (portal/personal_pages.py), or None: Flask
        answers. The session must be one the page was kept for, under the generations the
        database holds now, its user still there with the session's epoch."""
        app = self.app
        if environ.get("REQUEST_METHOD") != "GET" or not personal_pages.enabled(app):
            return None
        if self.endpoint_of(environ) not in settings.personal_endpoints:
            return None
        if "_flashes" in data or not personal_pages.protection_holds(data, environ):
            return None
        user = personal_pages.session_user(data)
        if user is None:
            return None
        pages = personal_pages.pages_of(app)
        token = pages.token_for(user[0])
        if token is None or not token.admits(user[1]):
            return None
        environ[personal_pages.TOKEN_READ] = (user[0], token)  # for Flask, on a miss
        key = personal_pages.key_of(
            environ,
            data,
            cookies.get(ELDER_COOKIE),
            city_day(app.config),
            cache_for(app).generation(),
            token,
        )
        page = pages.pages.get(key)
        if not isinstance(page, CachedPage):
            return None
        csrf = b""
        if page.has_slot:
            secret = data.get(settings.csrf_field)
            if not secret:
                return None
            csrf = settings.sign_csrf(secret).encode()
        headers = [("Content-Type", f"{page.mimetype}; charset=utf-8")]
        if page.compressible(csrf) and "gzip" in parse_accept_header(
            environ.get("HTTP_ACCEPT_ENCODING")
        ):
            body = page.gzipped(csrf)
            headers.append(("Content-Encoding", "gzip"))
        else:
            body = page.body(csrf)
        headers.append(("Content-Length", str(len(body))))
        vary = "Accept-Encoding, Cookie" if page.compressible(csrf) else "Cookie"
        headers.append(("Vary", vary))
        headers.append(("Cache-Control", personal_pages.PERSONAL_CACHE_CONTROL))
        headers.append(("Pragma", "no-cache"))
        headers.extend(settings.security)
        headers.append((REQUEST_ID_HEADER, self.request_id(settings, environ)))
        if self.should_set_cookie(settings, environ, False):
            headers.append(("Set-Cookie", self.cookie(settings, data)))
        return 200, headers, body, page.endpoint

    def endpoint_of(self, environ: dict) -> str | None:
        """The endpoint Flask would route this request to (None: none, or a redirect)."""
        try:
            adapter = self.app.url_map.bind_to_environ(
                environ, server_name=self.app.config.get("SERVER_NAME")
            )
            endpoint, _args = adapter.match(method="GET")
        except (HTTPException, RequestRedirect):
            return None
        return endpoint

    @staticmethod
    def open_session(
        settings: Settings, raw: str | None, environ: dict | None = None
    ) -> tuple[dict | None, bool]:
        """The anonymous session the cookie holds (fresh: a new one), or None when Flask must
        answer (a logged-in reader, a flashed message, anything unusual). A verified cookie
        that Flask must answer is handed to it in ``environ`` (``VERIFIED_SESSION``), so that
        the session is not verified twice: portal.PortalSessionInterface takes it from there."""
        if not raw:
            return {}, True
        try:
            data = settings.sessions.loads(raw, max_age=settings.max_age)
        except BadSignature:  # forged or expired: Flask, too, starts a new session
            return {}, True
        if not isinstance(data, dict):
            return None, False
        if "_user_id" in data or not ANONYMOUS_SESSION_KEYS.issuperset(data):
            if environ is not None:
                environ[VERIFIED_SESSION] = (raw, data)
            return None, False
        return data, not data

    @staticmethod
    def should_set_cookie(settings: Settings, environ: dict, modified: bool) -> bool:
        """portal.PortalSessionInterface's rule (the session here is always permanent)."""
        if environ.get("HTTP_X_REQUESTED_WITH") == "autosave":
            return modified
        return modified or settings.refresh

    @staticmethod
    def cookie(settings: Settings, session: dict) -> str:
        """The session cookie as Flask's ``save_session`` writes it."""
        value = settings.sign_session(session)
        expires = datetime.now(UTC) + settings.lifetime
        return dump_cookie(settings.cookie_name, value, expires=expires, **settings.cookie)

    @staticmethod
    def request_id(settings: Settings, environ: dict) -> str:
        """portal/logging_setup.py's ``incoming_request_id``."""
        offered = environ.get("HTTP_X_REQUEST_ID")
        if settings.proxy_hops and request_ids.acceptable(offered):
            return str(offered)
        return request_ids.new_request_id()

    def _observe(self, endpoint: str, method: str, status: int, started: float) -> None:
        """The request metrics portal/ops.py counts for the requests Flask answers."""
        observe = self._observers.get((endpoint, method))
        if observe is None:
            observe = metrics.REQUEST_SECONDS.labels(endpoint=endpoint, method=method).observe
            self._observers[(endpoint, method)] = observe
        observe(time.perf_counter() - started)
        metrics.RESPONSES.labels(status=f"{status // 100}xx").inc()
