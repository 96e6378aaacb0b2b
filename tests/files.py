"""Real files made on the spot for the upload tests: PDFs, PNGs and JPEGs, good and bad."""

from __future__ import annotations

import io
import zipfile

from PIL import Image
from PIL.PngImagePlugin import PngInfo
from pypdf import PdfWriter
from pypdf.generic import DictionaryObject, NameObject, TextStringObject

SECRET = "SecretCamera-GPS-31.2304N-121.4737E"


def png(width: int = 64, height: int = 48, *, exif: bool = False, text: bool = False) -> bytes:
    img = Image.new("RGB", (width, height), (200, 220, 240))
    img.putpixel((1, 1), (10, 20, 30))
    buf = io.BytesIO()
    kwargs: dict = {}
    if exif:
        meta = Image.Exif()
        meta[0x010F] = SECRET  # Make
        meta[0x010E] = SECRET  # ImageDescription
        kwargs["exif"] = meta.tobytes()
    if text:
        info = PngInfo()
        info.add_text("Comment", SECRET)
        kwargs["pnginfo"] = info
    img.save(buf, format="PNG", **kwargs)
    return buf.getvalue()


def jpeg(width: int = 64, height: int = 48, *, exif: bool = False) -> bytes:
    img = Image.new("RGB", (width, height), (240, 200, 200))
    buf = io.BytesIO()
    kwargs: dict = {}
    if exif:
        meta = Image.Exif()
        meta[0x010F] = SECRET
        kwargs["exif"] = meta.tobytes()
    img.save(buf, format="JPEG", quality=85, **kwargs)
    return buf.getvalue()


def zip_payload() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("evil.html", "<html><script>alert(document.cookie)</script></html>")
    return buf.getvalue()


def pdf(
    *, pages: int = 1, password: str | None = None, javascript: str | None = None, padding: int = 0
) -> bytes:
    writer = PdfWriter()
    for _ in range(pages):
        writer.add_blank_page(width=595, height=842)
    if padding:
        writer.add_metadata({"/Subject": "x" * padding})
    if javascript:  # an action run when the document opens
        action = DictionaryObject(
            {
                NameObject("/S"): NameObject("/JavaScript"),
                NameObject("/JS"): TextStringObject(javascript),
            }
        )
        writer._root_object[NameObject("/OpenAction")] = writer._add_object(action)
    if password:
        writer.encrypt(password)
    buf = io.BytesIO()
    writer.write(buf)
    return buf.getvalue()


def pdf_of_size(size: int) -> bytes:
    """A valid PDF of exactly ``size`` bytes (padded through a metadata string)."""
    padding = 1
    for _ in range(5):
        data = pdf(padding=padding)
        if len(data) == size:
            return data
        padding += size - len(data)
    raise AssertionError(f"could not make a PDF of {size} bytes")
