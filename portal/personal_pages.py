"""Personal pages kept rendered until what they show changes.

A logged-in page costs several times a public one before it shows a row: the session, the
user, the role checks, the transaction, the frame. 我的办件, a case page, 我的材料, the reviewer
queue and the counter workstation are read far more often than what they show changes (a
citizen comes back to the case page to see whether anything moved; a reviewer's queue is
reloaded between cases). So a view marked ``@personal_page`` keeps its rendered 200 in a
per-process cache, and the next request of the same session answers it, in front of Flask
(portal/fastpath.py) or, with the fast path off, without running the view.

Never stale: the key holds the **generations** of the scopes the page's data belongs to, read
from the database on every request, and the database bumps them itself. Triggers on every
table these pages read (migration 0025, services/page_scopes.py) bump ``c:<citizen>`` for a
citizen's cases, materials, documents, licences, notices, ratings, visits and authorisations,
``u:<user>`` for a user's own row, roles and counter desk, ``d:<department>`` for the cases,
corrections and reminders of a department's queue, and ``g`` for the working-day calendar.
Any write, through the ORM, a job, bulk SQL or a hand-typed statement, changes the key of
every page that showed the old row; an old entry is never found again, and falls out of the
cache. A test records the tables each page's SQL reads and fails if one is not watched.

The key is also: the URL (scheme, host, path, query), the whole session (its user id and
session epoch, its CSRF secret, language, chosen role, revealed counter data: a page is never
shared by two sessions, let alone two people), the 长辈模式 cookie, the city's day (deadlines
and 超期 are counted in days), the catalogue's publish generation (names of items and
materials) and the code's version. The generations are read in the same query that checks
that the session's user still exists, is active and still has the session's epoch (a
logout everywhere or a password change ends the session at once, as it does in Flask).

What is never kept: anything but a GET's 200 ``text/html`` answer, a page rendered while the
session changed (a flashed message shown, a first CSRF secret, Flask-Login marking the session
not fresh) or that set a cookie, a kiosk, a remember-me cookie, and a page whose view says so
(``skip()``: the counter while a citizen is being served, whose data belongs to another scope).
What is kept stays in the worker's memory (PERSONAL_CACHE_SIZE entries, PERSONAL_CACHE_SECONDS
at most), never in Redis: on several machines each worker keeps its own, and all of them read
the same generations from the database.

Like the public pages (portal/caching.py), a kept page holds no CSRF token: it is cut where
the token goes and each answer signs one for the reader's session. Personal pages stay
``no-store``.

``PERSONAL_PAGE_CACHE = False`` turns it off (every request renders); the tests compare both.
"""

from __future__ import annotations

import contextlib
import hashlib
import threading
from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps

from flask import Flask, Response, current_app, g, request, session
from flask_wtf.csrf import generate_csrf
from sqlalchemy import Engine, text

from portal.caching import CachedPage, _store, city_day
from portal.extensions import db
from portal.kiosk.device import DEVICE_COOKIE
from portal.templating import ELDER_COOKIE
from services import cache
from services.cache import LRUCache

PERSONAL_ATTRIBUTE = "personal_page"
EXTENSION_KEY = "personal_pages"
REMEMBER_COOKIE = "remember_token"  # Flask-Login's: never issued here, but never bypassed
PERSONAL_CACHE_CONTROL = "no-store"
# a new version whenever what a page is made of changes in a way its data does not show
KEY_VERSION = "personal:v1"
DEFAULT_SIZE = 512
DEFAULT_SECONDS = 600
_SKIP = "personal_page_skip"
_KEY = "personal_page_key"  # g: (this request's key, the session's digest when it was made)
# the environ key of the token the fast path read for a page it did not hold: (user id, token),
# so that Flask does not read it again (read earlier is as good: before the view's queries)
TOKEN_READ = "portal.personal_token"

# the session's user, and the generations of every scope a page of theirs can show
TOKEN_SQL = text(
    "SELECT users.session_epoch, users.active,"
    " (SELECT sum(generation) FROM page_generations"
    "  WHERE scope = 'u:' || CAST(users.id AS VARCHAR(20))),"
    " (SELECT sum(generation) FROM page_generations"
    "  WHERE scope = 'c:' || CAST(users.citizen_id AS VARCHAR(20))),"
    " (SELECT sum(generation) FROM page_generations"
    "  WHERE scope = 'd:' || CAST(users.department_id AS VARCHAR(20))),"
    " (SELECT sum(generation) FROM page_generations WHERE scope = 'g')"
    " FROM users WHERE users.id = :user_id"
)


@dataclass(frozen=True)
class Token:
    """What a page of this user is keyed by, and whether their session still holds."""

    epoch: int
    active: bool
    generations: tuple

    def admits(self, epoch: int) -> bool:
        return self.active and self.epoch == epoch


def session_user(data: dict) -> tuple[int, int] | None:
    """(user id, session epoch) of a logged-in session (portal/auth/routes.py's load_user)."""
    raw = data.get("_user_id")
    if not isinstance(raw, str):
        return None
    try:
        pk, epoch = (int(part) for part in raw.split(":", 1))
    except ValueError:
        return None
    return pk, epoch


def read_token(connection, user_id: int) -> Token | None:
    return _token(connection.execute(TOKEN_SQL, {"user_id": user_id}).first())


def _token(row) -> Token | None:
    if row is None:
        return None
    return Token(int(row[0]), bool(row[1]), tuple(int(v or 0) for v in row[2:]))


def session_digest(data: dict) -> str:
    """The whole session, as both Flask and the fast path decode it from the cookie."""
    return hashlib.sha256(repr(sorted(data.items())).encode()).hexdigest()


def flask_login_identifier(environ: dict) -> str:
    """Flask-Login's ``_create_identifier`` (session protection), from the WSGI environ."""
    address = environ.get("HTTP_X_FORWARDED_FOR", environ.get("REMOTE_ADDR"))
    if address is not None:
        address = address.encode("utf-8").split(b",")[0].strip()
    agent = environ.get("HTTP_USER_AGENT")
    if agent is not None:
        agent = agent.encode("utf-8")
    return hashlib.sha512(f"{address}|{agent}".encode()).hexdigest()


def protection_holds(data: dict, environ: dict) -> bool:
    """Whether Flask-Login's basic session protection would leave this session as it is."""
    return data.get("_fresh") is False or data.get("_id") == flask_login_identifier(environ)


def key_of(environ: dict, data: dict, elder: object, day: str, catalogue: str, token: Token) -> str:
    parts = (
        KEY_VERSION,
        environ.get("wsgi.url_scheme"),
        environ.get("HTTP_HOST") or f"{environ.get('SERVER_NAME')}:{environ.get('SERVER_PORT')}",
        environ.get("SCRIPT_NAME", ""),
        environ.get("PATH_INFO", ""),
        environ.get("QUERY_STRING", ""),
        session_digest(data),
        elder,
        day,
        catalogue,
        token.epoch,
        token.generations,
    )
    return hashlib.sha256(repr(parts).encode()).hexdigest()


class PersonalPages:
    """One app's kept personal pages (per process) and what the fast path needs to find them."""

    def __init__(self, app: Flask) -> None:
        config = app.config
        self.app = app
        self.pages = LRUCache(
            int(config.get("PERSONAL_CACHE_SIZE", DEFAULT_SIZE)),
            float(config.get("PERSONAL_CACHE_SECONDS", DEFAULT_SECONDS)),
        )
        self._bound = None  # the app's engine, and TOKEN_SQL compiled for its driver
        self._sql = ""
        self._positional = False
        self._local = threading.local()  # each thread's own driver connection

    @property
    def endpoints(self) -> frozenset[str]:
        return frozenset(
            name
            for name, view in self.app.view_functions.items()
            if getattr(view, PERSONAL_ATTRIBUTE, False)
        )

    def token_for(self, user_id: int) -> Token | None:
        """Outside Flask (the fast path): one statement, through the driver on a connection
        this thread keeps for it, in autocommit (SQLAlchemy's connection, its events, the
        pool's checkout and PostgreSQL's pre-ping and rollback cost more than the query). A
        connection that fails is dropped and the error raised: the fast path then leaves the
        request to Flask, and the next one opens a new connection."""
        with self.app.app_context():
            bind = db.engine
        if not isinstance(bind, Engine):  # the tests' connection, holding their transaction
            return read_token(bind, user_id)
        if bind is not self._bound:
            compiled = TOKEN_SQL.compile(dialect=bind.dialect)
            self._sql, self._positional = str(compiled), bool(compiled.positional)
            self._bound = bind
        params = (user_id,) if self._positional else {"user_id": user_id}
        local = self._local
        if getattr(local, "bind", None) is not bind:
            self._drop()
            raw = bind.raw_connection()  # set up as the pool sets up each of its connections
            driver = raw.driver_connection
            raw.detach()  # this thread's from now on: never handed to a request
            local.driver, local.bind = driver, bind
            if bind.dialect.name == "postgresql":
                local.driver.autocommit = True
            # pysqlite opens no transaction for a SELECT: each read sees the latest commit
        try:
            cursor = local.driver.cursor()
            try:
                cursor.execute(self._sql, params)
                row = cursor.fetchone()
            finally:
                cursor.close()
        except Exception:
            self._drop()
            raise
        return _token(row)

    def close(self) -> None:
        """Close this thread's connection (a worker's exit closes its own)."""
        self._drop()

    def _drop(self) -> None:
        driver = getattr(self._local, "driver", None)
        self._local.driver = self._local.bind = None
        if driver is not None:
            with contextlib.suppress(Exception):  # a broken connection is thrown away
                driver.close()


def pages_of(app: Flask) -> PersonalPages:
    pages = app.extensions.get(EXTENSION_KEY)
    if pages is None:
        pages = app.extensions[EXTENSION_KEY] = PersonalPages(app)
    return pages


def enabled(app: Flask) -> bool:
    return bool(app.config.get("PERSONAL_PAGE_CACHE", True)) and bool(
        app.config.get("PAGE_CACHE", True)
    )


def skip() -> None:
    """This answer shows what the page's scopes do not cover: render it, never keep it."""
    g.setdefault(_SKIP, True)


def _request_key() -> tuple[str, str] | None:
    """This request's key, or None when the page must be rendered and not kept. Reads the
    generations first, before the view's own queries (see the module)."""
    if request.method != "GET" or not enabled(current_app):
        return None
    if DEVICE_COOKIE in request.cookies or REMEMBER_COOKIE in request.cookies:
        return None
    data = dict(session)
    if "_flashes" in data or not protection_holds(data, request.environ):
        return None
    user = session_user(data)
    if user is None:
        return None
    handed = request.environ.pop(TOKEN_READ, None)
    if handed is not None and handed[0] == user[0]:
        token = handed[1]
    else:
        token = read_token(db.session.connection(), user[0])
    if token is None or not token.admits(user[1]):
        return None
    key = key_of(
        request.environ,
        data,
        request.cookies.get(ELDER_COOKIE),
        city_day(current_app.config),
        cache.generation(),
        token,
    )
    return key, session_digest(data)


def serve(page: CachedPage) -> Response:
    """A kept page for this reader, their CSRF token in it (compressed by portal/assets.py)."""
    token = generate_csrf() if page.has_slot else ""
    response = Response(page.body(token.encode()), mimetype=page.mimetype)
    return response


def personal_page(view: Callable) -> Callable:
    """Keep this view's logged-in 200s until the data of the reader's scopes changes."""

    @wraps(view)
    def wrapper(*args, **kwargs):
        found = g.pop(_KEY, None)
        if found is None:
            return view(*args, **kwargs)
        key, before = found
        pages = pages_of(current_app)
        page = pages.pages.get(key)
        if page is not None:
            return serve(page)
        response = current_app.make_response(view(*args, **kwargs))
        # a session the request changed (a flashed message shown, Flask-Login marking it not
        # fresh, a first CSRF secret) is not the one the key was made of
        if g.get(_SKIP) or session_digest(dict(session)) != before:
            return response
        kept = _store(response)
        if kept is not None:
            pages.pages.put(key, kept)
        return response

    setattr(wrapper, PERSONAL_ATTRIBUTE, True)
    return wrapper


def register_personal_pages(app: Flask) -> None:
    @app.before_request
    def _read_generations_first() -> None:
        """The generations are read before anything of the user is (the user loader, the role
        checks of the blueprint run after the app's hooks): read after, a change committed in
        between would be kept under the new generation with the old rows."""
        view = app.view_functions.get(request.endpoint or "")
        if view is not None and getattr(view, PERSONAL_ATTRIBUTE, False):
            found = _request_key()
            if found is not None:
                g.setdefault(_KEY, found)
