"""Checking an uploaded file before it goes into the library.

Only PDF, JPEG and PNG are accepted, recognised by their content (magic bytes), never by
the file name or the type the browser claims. A PDF must open and may not be encrypted or
carry scripts, launch actions or embedded files. Images are decoded and encoded again, so
that what is stored holds only pixels: no EXIF or other metadata, and nothing appended
after the image (a ZIP, HTML or a script hidden behind a PNG's IEND or a JPEG's EOI).
"""

from __future__ import annotations

import io
import logging
import threading
import unicodedata
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import PurePosixPath

import pikepdf
from flask_babel import lazy_gettext as _l
from PIL import Image, ImageFile, ImageOps, UnidentifiedImageError

from services.errors import ValidationError

PDF = "application/pdf"
JPEG = "image/jpeg"
PNG = "image/png"
SUFFIX = {PDF: ".pdf", JPEG: ".jpg", PNG: ".png"}
MAGIC = ((b"%PDF-", PDF), (b"\xff\xd8\xff", JPEG), (b"\x89PNG\r\n\x1a\n", PNG))
# a scan of an A4 page at 600 dpi is about 35 million pixels; far larger means a bomb
MAX_PIXELS = 40_000_000
MAX_PDF_PAGES = 500
DISPLAY_NAME_MAX = 100
# objects (indirect and nested) a PDF check looks at before it gives up: a 500-page scan has a
# few thousand
PDF_WALK_BUDGET = 200_000
# links back up the page tree: the parent is walked anyway
PDF_SKIP_KEYS = frozenset({"/Parent", "/P"})
# PDF features that run or carry something other than the page content
ACTIVE_PDF_KEYS = frozenset(
    {
        "/JavaScript",
        "/JS",
        "/Launch",
        "/EmbeddedFiles",
        "/EmbeddedFile",
        "/EF",
        "/RichMedia",
        "/RichMediaContent",
        "/XFA",
    }
)
ACTIVE_PDF_ACTIONS = frozenset(
    {
        "/JavaScript",
        "/Launch",
        "/ImportData",
        "/SubmitForm",
        "/GoToE",
        "/RichMediaExecute",
        "/Rendition",
        "/Movie",
        "/Sound",
    }
)
ACTIVE_PDF_SUBTYPES = frozenset(
    {"/FileAttachment", "/RichMedia", "/Screen", "/Movie", "/Sound", "/3D"}
)
CUT_OFF = "unable to find trailer dictionary"
SAFE_URI_SCHEMES = ("http://", "https://", "mailto:")

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CheckedFile:
    """A file that passed the checks: the bytes to store, their type and a safe display name."""

    data: bytes
    content_type: str
    display_name: str


def sniff_content_type(data: bytes) -> str | None:
    """The type the bytes say they are, or None for anything but PDF, JPEG and PNG."""
    for magic, content_type in MAGIC:
        if data.startswith(magic):
            return content_type
    return None


def safe_display_name(filename: str | None, content_type: str) -> str:
    """A name to show and to offer on download: no folders, no control characters, and the
    suffix of what the file really is. The stored name is always made by the server."""
    name = (filename or "").replace("\\", "/")
    name = PurePosixPath(name).name if "/" in name else name
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C")  # Cc, Cf, Co, Cs, Cn
    name = " ".join(name.split())
    stem = PurePosixPath(name).stem if name not in ("", ".", "..") else ""
    stem = stem.strip(" .")[: DISPLAY_NAME_MAX - 5].strip(" .") or str(_l("材料"))
    return stem + SUFFIX[content_type]


def check_upload(
    data: bytes, filename: str | None, *, max_bytes: int, field: str = "file"
) -> CheckedFile:
    """Check an uploaded file; raises ValidationError({field: message}) when it is refused."""
    if not data:
        raise ValidationError({field: str(_l("文件是空的（0 字节），请重新选择文件"))})
    if len(data) > max_bytes:
        raise ValidationError(
            {field: str(_l("文件超过 %(mb)s MB，请压缩后重新上传", mb=_format_mb(max_bytes)))}
        )
    content_type = sniff_content_type(data)
    if content_type is None:
        raise ValidationError(
            {field: str(_l("只能上传 PDF、JPG 或 PNG 文件（按文件内容识别，改扩展名无效）"))}
        )
    stored = (
        _check_pdf(data, field)
        if content_type == PDF
        else _reencode_image(data, content_type, field)
    )
    if len(stored) > max_bytes:  # re-encoding can, rarely, make an image larger
        raise ValidationError(
            {field: str(_l("文件超过 %(mb)s MB，请压缩后重新上传", mb=_format_mb(max_bytes)))}
        )
    return CheckedFile(
        data=stored,
        content_type=content_type,
        display_name=safe_display_name(filename, content_type),
    )


def _format_mb(max_bytes: int) -> str:
    mb = max_bytes / (1024 * 1024)
    return f"{mb:g}"


def _corrupt_pdf(field: str) -> ValidationError:
    return ValidationError({field: str(_l("PDF 文件已损坏，无法打开，请重新导出或扫描后上传"))})


def _check_pdf(data: bytes, field: str) -> bytes:
    try:
        with pikepdf.open(io.BytesIO(data)) as pdf:
            pages = len(pdf.pages)
            # qpdf repairs small damage as viewers do; a file cut off before its trailer (an
            # interrupted upload or copy) is refused: what it lacks may be any page
            if pages == 0 or any(CUT_OFF in w for w in pdf.get_warnings()):
                raise _corrupt_pdf(field)
            if pages > MAX_PDF_PAGES:
                raise ValidationError(
                    {field: str(_l("PDF 页数过多（最多 %(n)d 页）", n=MAX_PDF_PAGES))}
                )
            active = active_pdf_content(pdf)
    except pikepdf.PasswordError:
        raise ValidationError(
            {field: str(_l("PDF 文件已加密或设置了密码，请去掉密码后再上传"))}
        ) from None
    except ValidationError:
        raise
    except (pikepdf.PdfError, ValueError, KeyError, TypeError, RecursionError, OSError):
        log.info("refused a PDF that does not open", exc_info=True)
        raise _corrupt_pdf(field) from None
    if active == "too_complex":
        raise ValidationError(
            {field: str(_l("PDF 文件结构过于复杂，请用“打印为 PDF”另存后再上传"))}
        )
    if active:
        log.info("refused a PDF with active content: %s", active)
        raise ValidationError(
            {
                field: str(
                    _l(
                        "PDF 文件含有脚本、可填写的动态表单、附件或可运行的链接，不能上传；"
                        "请用“打印为 PDF”另存为普通 PDF 后再上传"
                    )
                )
            }
        )
    return data


def active_pdf_content(pdf: pikepdf.Pdf) -> str | None:
    """What in the PDF could run or carry something other than the page content (a short
    description for the log), "too_complex" past the walk's budget, or None.

    Every object of the file is looked at, wherever it hangs (the catalogue's names and open
    action, outlines, annotations and links, AcroForm fields and their additional actions, XFA
    packets, embedded files), together with the dictionaries and arrays nested in it. Each
    indirect object is visited once, so the walk ends after at most PDF_WALK_BUDGET steps.
    """
    budget = PDF_WALK_BUDGET
    pending: list = [pdf.trailer, *pdf.objects]
    while pending:
        budget -= 1
        if budget < 0:
            return "too_complex"
        obj = pending.pop()
        if isinstance(obj, pikepdf.Stream):
            obj = obj.stream_dict
        if isinstance(obj, pikepdf.Dictionary):
            if found := _active_dictionary(obj):
                return found
            children = (obj[key] for key in obj if key not in PDF_SKIP_KEYS)
        elif isinstance(obj, pikepdf.Array):
            children = iter(obj)
        else:
            continue
        # indirect children are in pdf.objects already: only the direct ones are walked here
        pending.extend(
            child
            for child in children
            if isinstance(child, pikepdf.Dictionary | pikepdf.Array | pikepdf.Stream)
            and not child.is_indirect
        )
    return None


def _active_dictionary(obj: pikepdf.Dictionary) -> str | None:
    keys = set(obj.keys())
    if found := keys & ACTIVE_PDF_KEYS:
        return f"key {sorted(found)[0]}"
    action = str(obj.get("/S", ""))
    if action in ACTIVE_PDF_ACTIONS:
        return f"action {action}"
    kind = str(obj.get("/Type", "")), str(obj.get("/Subtype", ""))
    if kind[0] == "/EmbeddedFile" or kind[1] in ACTIVE_PDF_SUBTYPES:
        return f"object {kind}"
    if "/URI" in keys:
        uri = str(obj.get("/URI", "")).strip().lower()
        if not uri.startswith(SAFE_URI_SCHEMES):
            return f"link {uri[:30]!r}"
    return None


_truncation_lock = threading.Lock()


@contextmanager
def _truncated_images_refused() -> Iterator[None]:
    """Make Pillow refuse a truncated image while we decode one.

    WeasyPrint sets Pillow's process-wide ImageFile.LOAD_TRUNCATED_IMAGES to True when it is
    imported, which would let a cut-off upload through as a half-grey picture. The flag is
    global, so we switch it off only around our own decoding; a WeasyPrint render in another
    thread at that instant would at worst refuse a truncated raster image, and the portal's
    PDFs contain none.
    """
    with _truncation_lock:
        previous = ImageFile.LOAD_TRUNCATED_IMAGES
        ImageFile.LOAD_TRUNCATED_IMAGES = False
        try:
            yield
        finally:
            ImageFile.LOAD_TRUNCATED_IMAGES = previous


def _reencode_image(data: bytes, content_type: str, field: str) -> bytes:
    expected = "PNG" if content_type == PNG else "JPEG"
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data), formats=[expected]) as img:
                width, height = img.size
                if width * height > MAX_PIXELS:
                    raise ValidationError({field: str(_l("图片尺寸过大，请缩小后再上传"))})
                with _truncated_images_refused():
                    img.load()
                pixels = ImageOps.exif_transpose(img)  # keep the orientation the EXIF stated
    except ValidationError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ValidationError({field: str(_l("图片尺寸过大，请缩小后再上传"))}) from None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, EOFError):
        log.info("refused an image that does not decode", exc_info=True)
        raise ValidationError(
            {field: str(_l("图片文件已损坏，无法打开，请重新拍照或扫描后上传"))}
        ) from None
    out = io.BytesIO()
    if content_type == PNG:
        if pixels.mode not in ("1", "L", "LA", "RGB", "RGBA"):
            pixels = pixels.convert(
                "RGBA" if "transparency" in pixels.info or "A" in pixels.mode else "RGB"
            )
        pixels.info.clear()  # no text chunks, ICC profile, EXIF or other ancillary data
        pixels.save(out, format="PNG", optimize=True)
    else:
        if pixels.mode not in ("L", "RGB"):
            pixels = pixels.convert("RGB")
        pixels.info.clear()
        pixels.save(out, format="JPEG", quality=90, optimize=True)
    return out.getvalue()
