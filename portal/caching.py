"""Who may keep a copy of a response, and the page cache of the public catalogue.

On the shared computers of a hall (kiosks, counters) the back button, the browser cache or a
proxy must never show the previous person's data. So every response is ``no-store`` by default;
a view opts out with ``@public_page`` when what it shows is the same for every anonymous reader
(the catalogue, a guide, the home page). Even those are ``no-store`` for a logged-in reader,
whose name is in the header, and vary on the cookie (长辈模式 and the language live there).
Static files and responses that set their own ``Cache-Control`` are left alone.

``@cached_page`` (implies ``@public_page``) keeps the whole anonymous response of a view in the
portal's cache (services/cache.py) under the catalogue's publish generation, the path with its
query, the language, 长辈模式 and the host. A publish, unpublish or edit of anything the
catalogue shows starts a new generation after its commit, on every worker and node, so no
page is served stale. Never cached: a logged-in reader, a session holding anything but the
language and the CSRF secret (flashed messages, a logout's clean-up), a kiosk browser, any
answer but a 200.

The page's CSRF token is never kept: the cached body holds a slot that each request fills with
its own session's token (the header's 长辈模式 and language switches are forms). The ETag is
the cached body's digest and the session's CSRF secret's, so a revisit in the same session is
a 304, and the copy the browser keeps (``private, no-cache``: revalidated every time, never
in a shared cache) carries a token that is still valid.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps

from flask import Flask, Response, current_app, g, request, session
from flask_babel import get_locale
from flask_wtf.csrf import generate_csrf

from portal.kiosk.device import DEVICE_COOKIE
from portal.templating import ELDER_COOKIE
from services import cache, clock

PUBLIC_ATTRIBUTE = "public_page"
CSRF_SLOT = b"__portal-csrf-slot__"
PUBLIC_PAGE_CACHE_CONTROL = "private, no-cache"
# what an anonymous visitor's session may hold for the page to come from the cache
ANONYMOUS_SESSION_KEYS = frozenset({"_permanent", "csrf_token", "locale", "_fresh", "_id"})
PUBLIC_PATHS_PREFIX = "page"


def public_page(view: Callable) -> Callable:
    """Mark a view whose anonymous response may be cached (it shows nothing personal)."""
    setattr(view, PUBLIC_ATTRIBUTE, True)
    return view


def is_public(app: Flask, endpoint: str | None) -> bool:
    view = app.view_functions.get(endpoint or "")
    return endpoint == "static" or bool(getattr(view, PUBLIC_ATTRIBUTE, False))


@dataclass(frozen=True)
class CachedPage:
    body: bytes  # with CSRF_SLOT where the token goes
    mimetype: str
    digest: str
    has_slot: bool


def page_key() -> str | None:
    """The cache key of this request's page, or None when it must be rendered for the reader."""
    if request.method != "GET" or not current_app.config.get("PAGE_CACHE", True):
        return None
    if session.get("_user_id") is not None or not ANONYMOUS_SESSION_KEYS.issuperset(session):
        return None
    if DEVICE_COOKIE in request.cookies:  # a kiosk: its idle reset is part of every page
        return None
    elder = request.cookies.get(ELDER_COOKIE) == "1"
    # the local day too: a guide shows its item's figures of the last 12 months, which change
    # each day (portal/statistics/public.py), whatever the publish generation
    day = clock.local_today().isoformat()
    parts = (request.host_url, request.full_path, str(get_locale()), elder, day)
    return hashlib.sha256(repr(parts).encode()).hexdigest()[:32]


def _store(response: Response) -> CachedPage | None:
    if response.status_code != 200 or response.direct_passthrough or response.is_streamed:
        return None
    if response.mimetype != "text/html" or "Set-Cookie" in response.headers:
        return None
    body = response.get_data()
    token = g.get("csrf_token")
    has_slot = bool(token) and token.encode() in body
    if has_slot:
        body = body.replace(token.encode(), CSRF_SLOT)
    digest = hashlib.sha256(body).hexdigest()[:20]
    return CachedPage(body, response.mimetype, digest, has_slot)


def serve(page: CachedPage) -> Response:
    """The cached page for this reader: their CSRF token filled in, or a 304."""
    etag = page.digest
    token = b""
    if page.has_slot:
        token = generate_csrf().encode()
        secret = str(session.get("csrf_token", ""))
        etag += "-" + hashlib.sha256(secret.encode()).hexdigest()[:10]
    if request.if_none_match.contains_weak(etag):  # weak: the gzipped copy's ETag is
        response = Response(status=304)
    else:
        body = page.body.replace(CSRF_SLOT, token) if page.has_slot else page.body
        response = Response(body, mimetype=page.mimetype)
    response.set_etag(etag)
    response.headers["Cache-Control"] = PUBLIC_PAGE_CACHE_CONTROL
    response.vary.add("Cookie")
    return response


def cached_page(view: Callable) -> Callable:
    """``@public_page`` whose anonymous 200s are kept in the page cache (see the module)."""

    @wraps(view)
    def wrapper(*args, **kwargs):
        key = page_key()
        if key is None:
            return view(*args, **kwargs)
        cache.generation()  # read before the view's first query (see services/cache.py)
        page = cache.get_scoped(PUBLIC_PATHS_PREFIX, key)
        if page is None:
            response = current_app.make_response(view(*args, **kwargs))
            page = _store(response)
            if page is None:
                return response
            cache.set_scoped(page, PUBLIC_PATHS_PREFIX, key)
        return serve(page)

    return public_page(wrapper)


def register_cache_policy(app: Flask) -> None:
    @app.before_request
    def _read_generation_first() -> None:
        """A public page reads the publish generation before any query: read after, a
        publish committed in between would let it keep old rows under the new generation."""
        if (
            request.method == "GET"
            and request.endpoint != "static"
            and is_public(app, request.endpoint)
        ):
            cache.generation()

    @app.after_request
    def _cache_policy(response: Response) -> Response:
        if "Cache-Control" in response.headers:
            return response
        if request.endpoint == "static":
            return response
        # the session's user id, not current_user: after the commit its row is expired, and
        # asking whether it is active would cost every page a query
        if is_public(app, request.endpoint) and session.get("_user_id") is None:
            response.vary.add("Cookie")
            return response
        response.headers["Cache-Control"] = "no-store"
        response.headers.setdefault("Pragma", "no-cache")
        return response
