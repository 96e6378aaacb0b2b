"""Static files with a content hash in the URL, cached for a year, and gzip where it pays.

``url_for('static', filename='css/portal.css')`` gives ``/static/v-<hash>/css/portal.css``:
the hash is the file's content digest, so a new release changes the URL and a browser may keep
the file for a year (``public, max-age=31536000, immutable``). The plain ``/static/…`` address
(and a hash that is not the file's: an old page after a release) still answers, revalidated
each time (``no-cache``). A relative reference inside a stylesheet (``../img/x.svg``) lands
under the same hash prefix and is served too, revalidated.

Compression: a response of a text type (HTML, CSS, JavaScript, SVG, JSON) over
COMPRESS_MIN_BYTES goes out gzipped when the client accepts it; static files are compressed
once per content and kept in memory; nothing already encoded, streamed or binary (PDFs,
images) is touched. A compressed page's ETag is weak (the bytes differ from the plain ones).
"""

from __future__ import annotations

import gzip
import hashlib
import threading
from pathlib import Path

from flask import Flask, Response, request
from werkzeug.security import safe_join

IMMUTABLE = "public, max-age=31536000, immutable"
COMPRESS_MIN_BYTES = 1024
COMPRESSIBLE = frozenset(
    {
        "text/html",
        "text/css",
        "text/plain",
        "text/csv",
        "text/javascript",
        "application/javascript",
        "application/json",
        "image/svg+xml",
    }
)
FINGERPRINT_RULE = "/static/v-<fp>/<path:filename>"


class StaticFiles:
    """Digests and gzipped copies of the static files, computed once per content."""

    def __init__(self, root: str, check_changes: bool) -> None:
        self.root = root
        self.check_changes = check_changes
        self._digests: dict[str, tuple[int, str] | None] = {}
        self._gzipped: dict[tuple[str, str], bytes | None] = {}
        self._lock = threading.Lock()

    def _path(self, filename: str) -> Path | None:
        joined = safe_join(self.root, filename)
        path = Path(joined) if joined else None
        return path if path is not None and path.is_file() else None

    def fingerprint(self, filename: str) -> str | None:
        """The first 12 hex digits of the file's SHA-256 (None: no such file)."""
        known = self._digests.get(filename, False)
        if known is not False and not self.check_changes:
            return known[1] if known else None
        path = self._path(filename)
        if path is None:
            self._digests[filename] = None
            return None
        mtime = path.stat().st_mtime_ns
        if known and known[0] == mtime:
            return known[1]
        digest = hashlib.sha256(path.read_bytes()).hexdigest()[:12]
        with self._lock:
            self._digests[filename] = (mtime, digest)
        return digest

    def gzipped(self, filename: str) -> bytes | None:
        """The file gzipped (None when it is small or does not shrink)."""
        digest = self.fingerprint(filename)
        path = self._path(filename)
        if digest is None or path is None:
            return None
        key = (filename, digest)
        if key not in self._gzipped:
            data = path.read_bytes()
            packed = gzip.compress(data, 9, mtime=0) if len(data) >= COMPRESS_MIN_BYTES else None
            with self._lock:
                self._gzipped[key] = packed if packed and len(packed) < len(data) else None
        return self._gzipped[key]


def accepts_gzip() -> bool:
    return "gzip" in request.accept_encodings


def compress(response: Response) -> Response:
    """Gzip a text response over COMPRESS_MIN_BYTES for a client that accepts it."""
    if (
        response.status_code != 200
        or response.direct_passthrough
        or response.is_streamed
        or (response.content_length or 0) < COMPRESS_MIN_BYTES
        or "Content-Encoding" in response.headers
        or response.mimetype not in COMPRESSIBLE
    ):
        return response
    response.vary.add("Accept-Encoding")
    if not accepts_gzip():
        return response
    data = response.get_data()
    response.set_data(gzip.compress(data, 6, mtime=0))
    response.headers["Content-Encoding"] = "gzip"
    etag, weak = response.get_etag()
    if etag and not weak:
        response.set_etag(etag, weak=True)
    return response


def register_assets(app: Flask) -> StaticFiles:
    files = StaticFiles(app.static_folder or "", check_changes=bool(app.debug))
    app.extensions["static_files"] = files
    send = app.send_static_file

    def static(filename: str, fp: str | None = None) -> Response:
        response = send(filename)
        if response.status_code in (200, 304):
            current = fp is not None and fp == files.fingerprint(filename)
            response.headers["Cache-Control"] = IMMUTABLE if current else "no-cache"
        if response.status_code == 200 and response.mimetype in COMPRESSIBLE:
            response.vary.add("Accept-Encoding")
            packed = files.gzipped(filename) if accepts_gzip() else None
            if packed is not None:
                response.close()
                response.direct_passthrough = False
                response.set_data(packed)
                response.headers["Content-Encoding"] = "gzip"
                etag, _ = response.get_etag()
                if etag:
                    response.set_etag(etag, weak=True)
        return response

    app.add_url_rule(FINGERPRINT_RULE, endpoint="static")
    app.view_functions["static"] = static

    @app.url_defaults
    def _fingerprint(endpoint: str, values: dict) -> None:
        if endpoint == "static" and "fp" not in values and values.get("filename"):
            digest = files.fingerprint(values["filename"])
            if digest:
                values["fp"] = digest

    @app.after_request
    def _compress(response: Response) -> Response:
        if request.endpoint == "static":
            return response
        return compress(response)

    return files
