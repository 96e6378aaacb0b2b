"""Who may keep a copy of a response, and the page cache of the public catalogue.

On the shared computers of a hall (kiosks, counters) the back button, the browser cache or a
proxy must never show the previous person's data. So every response is ``no-store`` by default;
a view opts out with ``@public_page`` when what it shows is the same for every anonymous reader
(the catalogue, a guide, the home page). Even those are ``no-store`` for a logged-in reader,
whose name is in the header, and vary on the cookie (长辈模式 and the language live there).
Static files and responses that set their own ``Cache-Control`` are left alone.

``@cached_page`` (implies ``@public_page``) keeps the whole anonymous response of a view in the
portal's cache (services/cache.py) under the catalogue's publish generation, the URL (scheme,
host, path and query), the session's chosen language, the 长辈模式 cookie and the city's day
(a guide shows its item's figures of the last 12 months). A publish, unpublish or edit of
anything the catalogue shows starts a new generation after its commit, on every worker and
node, so no page is served stale. Never cached: a logged-in reader, a session holding anything
but the language and the CSRF secret (flashed messages, a logout's clean-up), a kiosk browser,
any answer but a 200.

The page's CSRF token is never kept: the cached body is kept split where the token goes, and
each request joins the parts with its own session's token (the header's 长辈模式 and language
switches are forms). The parts are also kept deflated with room for a token between them, so
a gzipped answer costs a CRC over the page instead of compressing it again (``CachedPage``). The
ETag is the cached body's digest and the session's CSRF secret's, so a revisit in the same
session is a 304, and the copy the browser keeps (``private, no-cache``: revalidated every
time, never in a shared cache) carries a token that is still valid.

Most hits never reach Flask: portal/fastpath.py answers them in front of the app with the same
key, body and headers; what it does not answer (a miss, a logged-in reader, …) comes here.
"""

from __future__ import annotations

import gzip
import hashlib
import struct
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache, wraps
from zoneinfo import ZoneInfo

from flask import Flask, Response, current_app, g, request, session
from flask_wtf.csrf import generate_csrf
from werkzeug.datastructures import ETags

from portal.assets import COMPRESS_MIN_BYTES, COMPRESSIBLE, accepts_gzip
from portal.kiosk.device import DEVICE_COOKIE
from portal.templating import ELDER_COOKIE
from services import cache, clock

PUBLIC_ATTRIBUTE = "public_page"
CSRF_SLOT = b"__portal-csrf-slot__"
PUBLIC_PAGE_CACHE_CONTROL = "private, no-cache"
# what an anonymous visitor's session may hold for the page to come from the cache
ANONYMOUS_SESSION_KEYS = frozenset({"_permanent", "csrf_token", "locale", "_fresh", "_id"})
# the cache's key prefix; a new version whenever CachedPage changes (Redis keeps old pickles)
PUBLIC_PATHS_PREFIX = "page:v3"
CACHEABLE_METHODS = frozenset({"GET", "HEAD"})
# a gzip member's header: no name, no time, "unknown" system (as gzip.compress(mtime=0))
GZIP_HEADER = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"


def public_page(view: Callable) -> Callable:
    """Mark a view whose anonymous response may be cached (it shows nothing personal)."""
    setattr(view, PUBLIC_ATTRIBUTE, True)
    return view


def is_public(app: Flask, endpoint: str | None) -> bool:
    view = app.view_functions.get(endpoint or "")
    return endpoint == "static" or bool(getattr(view, PUBLIC_ATTRIBUTE, False))


def _deflate_parts(parts: tuple[bytes, ...], slot_length: int) -> tuple[bytes, ...]:
    """Each part raw-deflated as one stream would hold it with a slot of ``slot_length`` bytes
    between the parts, each ending on a byte boundary (a sync flush), without the slots.

    The compressor is given a slot of 0xFF bytes, whose output is left out: the reader's token
    goes there as a stored block of the same length, so the distances of later references
    back past it still hold. No reference can point into it: 0xFF never occurs in UTF-8 text,
    so no match starts or ends inside the slot."""
    packer = zlib.compressobj(6, zlib.DEFLATED, -zlib.MAX_WBITS)
    packed = []
    for part in parts[:-1]:
        packed.append(packer.compress(part) + packer.flush(zlib.Z_SYNC_FLUSH))
        packer.compress(b"\xff" * slot_length)
        packer.flush(zlib.Z_SYNC_FLUSH)
    packed.append(packer.compress(parts[-1]) + packer.flush(zlib.Z_FINISH))
    return tuple(packed)


def _stored_block(data: bytes) -> bytes:
    """``data`` as one uncompressed, not final deflate block (RFC 1951, 3.2.4)."""
    return b"\x00" + struct.pack("<HH", len(data), len(data) ^ 0xFFFF) + data


@dataclass(frozen=True)
class CachedPage:
    """A cached 200: the body split where the reader's CSRF token goes (one part: no token)."""

    parts: tuple[bytes, ...]
    deflated: tuple[bytes, ...]  # the same parts deflated (see _deflate_parts)
    slot_length: int  # the length of token the deflated parts leave room for
    mimetype: str
    digest: str
    endpoint: str  # for the request metrics of an answer that never reaches Flask

    @classmethod
    def of(cls, body: bytes, token: str | None, mimetype: str, endpoint: str) -> CachedPage:
        parts = tuple(body.split(token.encode())) if token else (body,)
        digest = hashlib.sha256(CSRF_SLOT.join(parts)).hexdigest()[:20]
        slot = len(token.encode()) if token else 0
        return cls(parts, _deflate_parts(parts, slot), slot, mimetype, digest, endpoint)

    @property
    def has_slot(self) -> bool:
        return len(self.parts) > 1

    def size(self, token: bytes) -> int:
        return sum(map(len, self.parts)) + len(token) * (len(self.parts) - 1)

    def compressible(self, token: bytes) -> bool:
        """Whether portal/assets.py's ``compress`` would gzip this page."""
        return self.mimetype in COMPRESSIBLE and self.size(token) >= COMPRESS_MIN_BYTES

    def body(self, token: bytes) -> bytes:
        return token.join(self.parts)

    def gzipped(self, token: bytes) -> bytes:
        """The page with ``token`` in it as one gzip member, without compressing it again
        (a token of another length than the stored one's: compressed as a whole)."""
        if self.has_slot and len(token) != self.slot_length:
            return gzip.compress(self.body(token), 6, mtime=0)
        crc = 0
        chunks = [GZIP_HEADER]
        for i, part in enumerate(self.parts):
            if i:
                crc = zlib.crc32(token, crc)
                chunks.append(_stored_block(token))
            crc = zlib.crc32(part, crc)
            chunks.append(self.deflated[i])
        chunks.append(struct.pack("<II", crc, self.size(token) & 0xFFFFFFFF))
        return b"".join(chunks)

    def etag(self, csrf_secret: object) -> str:
        """The body's digest, and the CSRF secret's when the page carries a token (a page
        confirmed by a 304 must hold a token of the reader's session)."""
        if not self.has_slot:
            return self.digest
        return self.digest + "-" + hashlib.sha256(str(csrf_secret).encode()).hexdigest()[:10]


@dataclass(frozen=True)
class PageAnswer:
    """What a cached page answers one reader: status, headers (in Flask's order) and body."""

    status: int
    headers: list[tuple[str, str]]
    body: bytes


def answer(
    page: CachedPage, token: bytes, csrf_secret: object, if_none_match: ETags, gzip_ok: bool
) -> PageAnswer:
    """The cached page for this reader: their token in it, gzipped when the client takes it
    (as portal/assets.py would), or a 304 when their copy is current. The session's cookie,
    ``Vary: Cookie`` included, and the security headers are the caller's."""
    etag = page.etag(csrf_secret)
    if if_none_match.contains_weak(etag):  # weak: the gzipped copy's ETag is
        headers = [
            ("ETag", f'"{etag}"'),
            ("Cache-Control", PUBLIC_PAGE_CACHE_CONTROL),
            ("Vary", "Cookie"),
        ]
        return PageAnswer(304, headers, b"")
    vary = "Cookie"
    if page.compressible(token):
        vary = "Cookie, Accept-Encoding"
    if gzip_ok and vary != "Cookie":
        body, quoted = page.gzipped(token), f'W/"{etag}"'
    else:
        body, quoted, gzip_ok = page.body(token), f'"{etag}"', False
    headers = [
        ("Content-Type", f"{page.mimetype}; charset=utf-8"),
        ("Content-Length", str(len(body))),
        ("ETag", quoted),
        ("Cache-Control", PUBLIC_PAGE_CACHE_CONTROL),
        ("Vary", vary),
    ]
    if gzip_ok:
        headers.append(("Content-Encoding", "gzip"))
    return PageAnswer(200, headers, body)


@lru_cache(maxsize=8)
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def city_day(config) -> str:
    """Today in the city (services/clock.py's ``local_today``), from the app's configuration
    rather than ``current_app``: the fast path has no app context."""
    zone = _zone(config.get("PORTAL_TZ") or clock.DEFAULT_ZONE)
    return datetime.now(UTC).astimezone(zone).date().isoformat()


def key_of(environ: dict, locale: object, elder: object, day: str) -> str:
    """The cache key of an anonymous page: the URL as the client asked it, the session's
    chosen language (an anonymous reader's language follows from it alone), the 长辈模式
    cookie and the city's day. The same function for portal/fastpath.py and the views."""
    parts = (
        environ.get("wsgi.url_scheme"),
        environ.get("HTTP_HOST") or f"{environ.get('SERVER_NAME')}:{environ.get('SERVER_PORT')}",
        environ.get("SCRIPT_NAME", ""),
        environ.get("PATH_INFO", ""),
        environ.get("QUERY_STRING", ""),
        locale,
        elder,
        day,
    )
    return hashlib.sha256(repr(parts).encode()).hexdigest()[:32]


def page_key() -> str | None:
    """The cache key of this request's page, or None when it must be rendered for the reader."""
    if request.method not in CACHEABLE_METHODS or not current_app.config.get("PAGE_CACHE", True):
        return None
    if session.get("_user_id") is not None or not ANONYMOUS_SESSION_KEYS.issuperset(session):
        return None
    if DEVICE_COOKIE in request.cookies:  # a kiosk: its idle reset is part of every page
        return None
    return key_of(
        request.environ,
        session.get("locale"),
        request.cookies.get(ELDER_COOKIE),
        city_day(current_app.config),
    )


def _store(response: Response) -> CachedPage | None:
    if response.status_code != 200 or response.direct_passthrough or response.is_streamed:
        return None
    if response.mimetype != "text/html" or "Set-Cookie" in response.headers:
        return None
    body = response.get_data()
    token = g.get("csrf_token")
    if not (token and token.encode() in body):
        token = None
    return CachedPage.of(body, token, response.mimetype, request.endpoint or "")


def serve(page: CachedPage) -> Response:
    """The cached page for this reader: their CSRF token filled in, or a 304."""
    token = generate_csrf().encode() if page.has_slot else b""
    result = answer(
        page, token, session.get("csrf_token", ""), request.if_none_match, accepts_gzip()
    )
    response = Response(result.body, status=result.status)
    response.headers.clear()
    response.headers.extend(result.headers)
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
            request.method in CACHEABLE_METHODS
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
