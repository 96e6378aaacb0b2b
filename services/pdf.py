"""PDFs as one service: a Jinja template rendered to bytes by WeasyPrint.

The URL fetcher serves only the app's own static files, so a template can never make
WeasyPrint read the network or other files. Templates refer to static files by relative
paths (``css/pdf.css``) resolved against a base URL that only this fetcher understands.
"""

from __future__ import annotations

import hashlib
import mimetypes
from dataclasses import dataclass
from pathlib import Path

from flask import current_app, render_template
from weasyprint import HTML
from weasyprint.urls import URLFetcher, URLFetcherResponse

from services import storage

BASE_URL = "http://portal.static.invalid/"


class StaticOnlyFetcher(URLFetcher):
    """Answers only for files inside static/; refuses every other URL."""

    def __init__(self, static_root: Path) -> None:
        super().__init__(allowed_protocols=("http", "data"), allow_redirects=False)
        self.static_root = static_root.resolve()

    def fetch(self, url, headers=None):
        if url.startswith("data:"):  # inline images (QR codes) carry their own bytes
            return super().fetch(url, headers)
        if not url.startswith(BASE_URL):
            raise ValueError(f"refused to fetch {url!r}: only the portal's static files")
        path = (self.static_root / url[len(BASE_URL) :].split("?")[0]).resolve()
        if self.static_root not in path.parents or not path.is_file():
            raise ValueError(f"refused to fetch {url!r}: not a static file")
        mime = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        return URLFetcherResponse(url, body=path.read_bytes(), headers={"Content-Type": mime})


def render_pdf(template: str, **context) -> bytes:
    """Render ``templates/pdf/<template>`` to a tagged PDF (PDF/UA-1)."""
    return _write_pdf(render_template(f"pdf/{template}", **context))


def _write_pdf(html: str) -> bytes:
    fetcher = StaticOnlyFetcher(Path(current_app.static_folder))
    return HTML(string=html, url_fetcher=fetcher, base_url=BASE_URL).write_pdf(
        pdf_variant="pdf/ua-1"
    )


@dataclass(frozen=True)
class DerivedPdf:
    name: str  # the stored file's name: the template and the digest of its HTML
    data: bytes

    @property
    def etag(self) -> str:
        return self.name.rsplit("-", 1)[-1].removesuffix(".pdf")


def derived_pdf(template: str, **context) -> DerivedPdf:
    """``render_pdf`` for public documents that many people fetch (guides, checklists).

    The HTML is rendered (milliseconds) and hashed; the PDF (WeasyPrint: most of a second
    of CPU) is made only the first time that exact HTML is seen and then read from storage
    (services/storage.save_derived). Any change that shows in the document (a new version,
    a department renamed, another language) changes the hash, so nothing is ever stale. The
    views remember the name per publish generation (services/cache.py), so a PDF asked for
    again is read from storage without rendering even its HTML (``read_derived_pdf``).
    """
    html = render_template(f"pdf/{template}", **context)
    digest = hashlib.sha256(html.encode("utf-8")).hexdigest()[:32]
    name = f"{Path(template).stem}-{digest}.pdf"
    cached = storage.read_derived(name)
    if cached is not None:
        return DerivedPdf(name, cached)
    pdf = _write_pdf(html)
    storage.save_derived(name, pdf)
    return DerivedPdf(name, pdf)


def read_derived_pdf(name: str) -> DerivedPdf | None:
    """A PDF ``derived_pdf`` made earlier, from storage (None: gone, e.g. cleaned up)."""
    data = storage.read_derived(name)
    return DerivedPdf(name, data) if data is not None else None


def render_pdf_once(template: str, **context) -> bytes:
    """The bytes of ``derived_pdf``."""
    return derived_pdf(template, **context).data
