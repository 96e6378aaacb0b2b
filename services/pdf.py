"""PDFs as one service: a Jinja template rendered to bytes by WeasyPrint.

The URL fetcher serves only the app's own static files, so a template can never make
WeasyPrint read the network or other files. Templates refer to static files by relative
paths (``img/seal.svg``) resolved against a base URL that only this fetcher understands.

What every PDF shares is made once per process (per thread: Pango is not thread-safe) and
kept: WeasyPrint's font configuration with the PDF font declared in it (services/fonts.py: a
subset of Noto Sans CJK SC, which makes a notice about 2.5 times cheaper and smaller than
the whole system font did) and the base stylesheet ``static/css/pdf.css``, parsed once and
given to every document as its user stylesheet — so a template does not link it, and
whatever a template links itself (``css/pdf-catalogue.css``) takes precedence over it.
"""

from __future__ import annotations

import hashlib
import logging
import mimetypes
import os
import threading
from dataclasses import dataclass
from pathlib import Path

from flask import current_app, render_template
from weasyprint import CSS, HTML
from weasyprint.text.fonts import FontConfiguration
from weasyprint.urls import URLFetcher, URLFetcherResponse

from services import fonts, storage

BASE_URL = "http://portal.static.invalid/"
FONTS_URL = "http://portal.fonts.invalid/"
BASE_STYLESHEET = "css/pdf.css"
PDF_STYLESHEETS = "pdf*.css"  # in static/css: the stylesheets of PDFs, part of the fingerprint
log = logging.getLogger(__name__)


class FolderFetcher(URLFetcher):
    """Answers only for files inside one folder, under one base URL; refuses every other URL."""

    def __init__(self, root: Path, base_url: str) -> None:
        super().__init__(allowed_protocols=("http", "data"), allow_redirects=False)
        self.root = root.resolve()
        self.base_url = base_url

    def fetch(self, url, headers=None):
        if url.startswith("data:"):  # inline images (QR codes) carry their own bytes
            return super().fetch(url, headers)
        if not url.startswith(self.base_url):
            raise ValueError(f"refused to fetch {url!r}: only the portal's static files")
        path = (self.root / url[len(self.base_url) :].split("?")[0]).resolve()
        if self.root not in path.parents or not path.is_file():
            raise ValueError(f"refused to fetch {url!r}: not a static file")
        mime = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        return URLFetcherResponse(url, body=path.read_bytes(), headers={"Content-Type": mime})


class StaticOnlyFetcher(FolderFetcher):
    """The fetcher of templates: the app's static files under ``BASE_URL``."""

    def __init__(self, static_root: Path) -> None:
        super().__init__(static_root, BASE_URL)


@dataclass(frozen=True)
class Renderer:
    """What every PDF of one app shares, made once per process and thread."""

    fetcher: StaticOnlyFetcher
    font_config: FontConfiguration
    stylesheets: tuple[CSS, ...]
    subset_fonts: tuple[fonts.SubsetFont, ...]  # empty: the system's Noto Sans CJK SC is used whole
    fingerprint: str  # changes with the PDF stylesheets and the font: part of derived names

    def write_pdf(self, html: str) -> bytes:
        document = HTML(string=html, url_fetcher=self.fetcher, base_url=BASE_URL)
        return document.write_pdf(
            pdf_variant="pdf/ua-1", stylesheets=list(self.stylesheets), font_config=self.font_config
        )


_renderers = threading.local()


def renderer() -> Renderer:
    """This thread's renderer for the current app (its static and instance folders). A
    process forked after one was made (a pre-forking server) makes its own: Pango's and
    fontconfig's state is not shared across a fork."""
    static = Path(current_app.static_folder).resolve()
    font_folder = Path(current_app.instance_path) / "fonts"
    sheets = tuple(sorted((static / "css").glob(PDF_STYLESHEETS)))
    key = (os.getpid(), static, font_folder, tuple(sheet.stat().st_mtime_ns for sheet in sheets))
    made = getattr(_renderers, "by_key", None)
    if made is None:
        made = _renderers.by_key = {}
    if key not in made:
        made[key] = _make_renderer(static, font_folder, sheets)
    return made[key]


def _make_renderer(static: Path, font_folder: Path, sheets: tuple[Path, ...]) -> Renderer:
    font_config = FontConfiguration()
    try:
        subset_fonts = tuple(fonts.prepare(font_folder))
    except (fonts.FontUnavailable, OSError) as error:
        log.warning("PDFs use the whole system font, which is slower: %s", error)
        subset_fonts = ()
    faces = "".join(
        f'@font-face {{ font-family: "{fonts.FAMILY}"; font-weight: {font.weight}; '
        f'src: url("{FONTS_URL}{font.path.name}"); }}\n'
        for font in subset_fonts
    )
    base = (static / BASE_STYLESHEET).read_text(encoding="utf-8")
    stylesheets = [CSS(string=base, base_url=BASE_URL, font_config=font_config)]
    if faces:
        fetcher = FolderFetcher(font_folder, FONTS_URL)
        stylesheets.insert(0, CSS(string=faces, url_fetcher=fetcher, font_config=font_config))
    fingerprint = hashlib.sha256(
        "|".join(
            [sheet.read_text(encoding="utf-8") for sheet in sheets]
            + [font.path.name for font in subset_fonts]
        ).encode()
    ).hexdigest()
    return Renderer(
        StaticOnlyFetcher(static), font_config, tuple(stylesheets), subset_fonts, fingerprint
    )


def render_pdf(template: str, **context) -> bytes:
    """Render ``templates/pdf/<template>`` to a tagged PDF (PDF/UA-1)."""
    return _write_pdf(render_template(f"pdf/{template}", **context))


def _write_pdf(html: str) -> bytes:
    return renderer().write_pdf(html)


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
    again is read from storage without rendering even its HTML (``read_derived_pdf``). The
    PDF stylesheets and the font count as part of the HTML: changing either makes new PDFs.
    """
    html = render_template(f"pdf/{template}", **context)
    digest = hashlib.sha256((renderer().fingerprint + html).encode("utf-8")).hexdigest()[:32]
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
