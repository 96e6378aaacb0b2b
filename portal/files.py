"""Serving stored files (services/storage: UPLOAD_DIR or the S3 store, never static/): one
response for every download route — the library's documents, case materials, notices,
e-licences, a material type's blank form. The bytes are streamed through the portal, after its
access checks, with ``no-store``."""

from __future__ import annotations

import hashlib
import logging
import unicodedata
from urllib.parse import quote

from flask import Response, abort, request

from services import storage

log = logging.getLogger(__name__)
# what the browser may do with a served file: show it, nothing else
FILE_CSP = (
    "default-src 'none'; img-src 'self'; object-src 'self'; frame-ancestors 'none'; base-uri 'none'"
)


def _content_disposition(response: Response, name: str, *, as_attachment: bool) -> None:
    """inline / attachment with the name in ASCII and, when needed, RFC 5987 ``filename*``."""
    kind = "attachment" if as_attachment else "inline"
    try:
        name.encode("ascii")
    except UnicodeEncodeError:
        simple = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")
        response.headers.set(
            "Content-Disposition",
            kind,
            filename=simple or "document",
            **{"filename*": "UTF-8''" + quote(name, safe="!#$&+^`|~")},
        )
    else:
        response.headers.set("Content-Disposition", kind, filename=name)


def send_stored(
    key: str | None,
    *,
    content_type: str,
    name: str,
    as_attachment: bool,
    cache_control: str = "private, no-store",
) -> Response:
    """Stream the stored file ``key`` with its type, its name, no sniffing and a CSP that lets
    the browser only show it; 404 (and a log line) when the file is missing.

    A stored key's bytes never change (a new file gets a new key), so the key's digest is the
    ETag: a client that has the file (a PDF viewer asking again) gets a 304 without a read."""
    etag = hashlib.sha256((key or "").encode()).hexdigest()[:24]
    if key and request.if_none_match.contains(etag):
        response = Response(status=304)
        response.set_etag(etag)
        response.headers["Cache-Control"] = cache_control
        response.headers["Vary"] = "Cookie"
        return response
    try:
        stored = storage.open(key) if key else None
    except (storage.MissingFile, ValueError):
        stored = None
    if stored is None:
        log.error("no stored file at %s", key)
        abort(404)
    # the file (or the object's body) is opened only when the server starts sending
    response = Response(stored.chunks(), mimetype=content_type, direct_passthrough=True)
    response.headers["Content-Length"] = str(stored.size)
    response.set_etag(etag)
    _content_disposition(response, name, as_attachment=as_attachment)
    response.headers["Cache-Control"] = cache_control
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = FILE_CSP
    response.headers["Vary"] = "Cookie"
    return response


def notice_response(notice) -> Response:
    """A notice's PDF exactly as issued, shown in the browser; 404 while it is being rendered
    (the case page links to it only once it is there)."""
    from services.notices import download_name

    if notice.storage_key is None:
        abort(404)
    return send_stored(
        notice.storage_key,
        content_type="application/pdf",
        name=download_name(notice),
        as_attachment=False,
    )
