"""The PDFs' font (services/fonts.py, services/pdf.py): notices, licences and guides are set in
a subset of Noto Sans CJK SC made once per instance, which keeps a notice cheap to render
and small; a character outside the subset still prints, from the whole system font; the text
of every PDF extracts as it was written; and the renderer is made once per process and
thread."""

from __future__ import annotations

import io
import os
import re
import threading
import unicodedata
from pathlib import Path

import pikepdf
import pytest
from fontTools.pens.boundsPen import BoundsPen
from fontTools.ttLib import TTFont
from sqlalchemy import select

from portal.extensions import db
from portal.models import ELicence
from services import fonts, notices, pdf, storage, workflow
from tests.helpers import pdf_text
from tests.workflow_cases import RESIDENCE_PERMIT, submit_case, user

# Not in GB2312, so not in the subset: characters of real names (刘䶮, 王堃, 张喆).
RARE = "䶮堃喆"


def printed_glyphs(data: bytes) -> dict[str, list[tuple[str, bool]]]:
    """Each character a PDF's fonts map → [(the font's name, whether its glyph has an
    outline)]: a character drawn as an empty box has a glyph with no outline (or none)."""
    found: dict[str, list[tuple[str, bool]]] = {}
    document = pikepdf.open(io.BytesIO(data))
    for obj in document.objects:
        if not (isinstance(obj, pikepdf.Dictionary) and obj.get("/Subtype") == "/Type0"):
            continue
        descriptor = obj.DescendantFonts[0].FontDescriptor
        program = descriptor.get("/FontFile3") or descriptor.get("/FontFile2")
        font = TTFont(io.BytesIO(program.read_bytes()))
        order, glyph_set = font.getGlyphOrder(), font.getGlyphSet()
        to_unicode = obj.ToUnicode.read_bytes().decode("latin-1")
        for block in re.findall(r"beginbfchar(.*?)endbfchar", to_unicode, re.S):
            for glyph, text in re.findall(r"<([0-9A-Fa-f]+)>\s*<([0-9A-Fa-f]+)>", block):
                gid = int(glyph, 16)
                outlined = False
                if 0 < gid < len(order):
                    pen = BoundsPen(glyph_set)
                    glyph_set[order[gid]].draw(pen)
                    outlined = pen.bounds is not None
                char = bytes.fromhex(text).decode("utf-16-be")
                found.setdefault(char, []).append((str(descriptor.FontName), outlined))
    return found


def boxes(data: bytes) -> set[str]:
    """The characters a PDF draws without an outline (whitespace aside)."""
    return {
        char
        for char, uses in printed_glyphs(data).items()
        if not char.isspace() and not all(outlined for _, outlined in uses)
    }


def font_names(data: bytes) -> set[str]:
    """The embedded fonts, without WeasyPrint's subset tag (ABCDEF+Portal-Sans → Portal-Sans)."""
    document = pikepdf.open(io.BytesIO(data))
    return {
        str(obj.FontName).split("+", 1)[-1]
        for obj in document.objects
        if isinstance(obj, pikepdf.Dictionary) and obj.get("/Type") == "/FontDescriptor"
    }


def a_licence() -> ELicence:
    return db.session.scalar(select(ELicence).order_by(ELicence.id).limit(1))


# --- the subset ------------------------------------------------------------------------------


def test_the_subset_holds_gb2312_and_every_character_the_templates_print(tmp_path):
    made = fonts.prepare(tmp_path)
    assert [font.weight for font in made] == [400, 700]
    printed = fonts.printed_characters()
    assert {ord(ch) for ch in "受理通知书核验电子证照专用章一次性告知单☐"} <= printed
    for font, weight_class in zip(made, (400, 700), strict=True):
        assert font.path.parent == tmp_path and font.path.name.startswith("portal-sans-")
        with TTFont(font.path, lazy=True) as subset:
            cmap = subset.getBestCmap()
            assert subset["OS/2"].usWeightClass == weight_class
        assert fonts.gb2312() - set(cmap) == set()  # the font has them all
        wide = {p for p in printed if unicodedata.east_asian_width(chr(p)) in "WF"}
        assert wide - set(cmap) == set()  # the templates' Chinese (☐ is not: it is DejaVu's)
        assert not {ord(ch) for ch in RARE} & set(cmap)


def test_the_subset_is_made_once_and_again_only_when_its_characters_change(tmp_path, monkeypatch):
    first = fonts.prepare(tmp_path)
    made: list[Path] = []
    real = fonts.subset_font
    monkeypatch.setattr(fonts, "subset_font", lambda *a: made.append(a[0]) or real(*a))
    assert fonts.prepare(tmp_path) == first and made == []  # already there: nothing made
    more = fonts.charset() | {ord("䶮")}
    monkeypatch.setattr(fonts, "charset", lambda root=None: more)
    second = fonts.prepare(tmp_path)
    assert len(made) == 2 and {f.path for f in second}.isdisjoint({f.path for f in first})
    assert sorted(tmp_path.glob("*.otf")) == sorted(f.path for f in second)  # old ones gone


# --- documents -------------------------------------------------------------------------------


def test_a_notice_is_set_in_the_subset_alone_and_its_text_extracts(app_ctx):
    case = submit_case("13800000002", RESIDENCE_PERMIT, {"basis": "work", "agent": "no"})
    workflow.perform(user("reviewer01"), case.id, "accept", case.version)
    [notice] = [n for n in notices.notices_of(case.id) if n.kind == "acceptance"]
    data = storage.read(notice.storage_key)
    # The whole Noto Sans CJK SC (a third of a notice's time, 300 KB a file) is not embedded:
    # not for the text, not for the seal's.
    assert font_names(data) == {"Portal-Sans", "Portal-Sans-Bold"}
    assert boxes(data) == set()
    text = pdf_text(data)
    assert "受理通知书" in text and notice.number in text and case.applicant.name in text
    assert f"{notice.number}-{notice.check_code}" in text


@pytest.mark.parametrize("template", ["guide", "checklist"])
def test_the_guide_and_the_checklist_are_set_in_the_subset(client, template):
    data = client.get(f"/items/330100GA0001/{template}.pdf").data
    assert {"Portal-Sans", "Portal-Sans-Bold"} <= font_names(data)
    assert font_names(data) - {"Portal-Sans", "Portal-Sans-Bold"} <= {"DejaVu-Sans"}  # ☐
    assert boxes(data) == set()
    text = pdf_text(data)
    assert "居住证申领" in text and ("办事指南" in text or "一次性告知单" in text)


def test_a_character_outside_the_subset_prints_from_the_system_font(app_ctx):
    licence = a_licence()
    licence.holder_name = "刘" + RARE
    data = pdf.render_pdf("elicence.html", licence=licence, qr="")
    assert "刘" + RARE in pdf_text(data)
    glyphs = printed_glyphs(data)
    assert [name.split("+")[-1] for name, _ in glyphs["刘"]] == ["Portal-Sans"]
    for char in RARE:
        assert [name.split("+")[-1] for name, _ in glyphs[char]] == ["Noto-Sans-CJK-SC"]
    assert boxes(data) == set()


def test_a_character_no_font_has_is_seen_as_a_box(app_ctx):
    """The check above would see an empty box: a Tangut character, which no installed font
    draws, is reported."""
    licence = a_licence()
    licence.holder_name = "刘\U00017000"
    data = pdf.render_pdf("elicence.html", licence=licence, qr="")
    assert "\U00017000" in boxes(data)


def test_without_the_subset_pdfs_are_made_with_the_whole_system_font(app_ctx, monkeypatch):
    def unavailable(folder, root=None):
        raise fonts.FontUnavailable("no subsetter here")

    monkeypatch.setattr(fonts, "prepare", unavailable)
    monkeypatch.setattr(pdf, "_renderers", threading.local())
    data = pdf.render_pdf("elicence.html", licence=a_licence(), qr="")
    assert font_names(data) == {"Noto-Sans-CJK-SC", "Noto-Sans-CJK-SC-Bold"}
    assert boxes(data) == set() and a_licence().holder_name in pdf_text(data)


# --- the renderer ----------------------------------------------------------------------------


def test_the_renderer_is_made_once_per_thread(app_ctx):
    first = pdf.renderer()
    assert pdf.renderer() is first
    assert {font.weight for font in first.subset_fonts} == {400, 700}
    licence = a_licence()
    others: list[pdf.Renderer] = []
    texts: list[str] = []

    def render_in_a_thread() -> None:  # no database here: the licence is loaded already
        with app_ctx.test_request_context():
            others.append(pdf.renderer())
            texts.append(pdf_text(pdf.render_pdf("elicence.html", licence=licence, qr="")))

    threads = [threading.Thread(target=render_in_a_thread) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len({id(r) for r in others}) == 2 and first not in others
    assert len(texts) == 2 and all(licence.number in text for text in texts)


def test_a_forked_process_makes_its_own_renderer(app_ctx):
    """A pre-forking server's worker must not use the Pango state its parent made."""
    parent = pdf.renderer()
    licence = a_licence()
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: no database here, the licence is loaded already
        answer = b"error"
        try:
            own = pdf.renderer() is not parent
            text = pdf_text(pdf.render_pdf("elicence.html", licence=licence, qr=""))
            answer = b"own" if own and licence.number in text else b"shared"
        finally:
            os.write(write_end, answer)
            os._exit(0)
    os.close(write_end)
    answer = os.read(read_end, 16)
    os.close(read_end)
    os.waitpid(pid, 0)
    assert answer == b"own"
    assert pdf.renderer() is parent  # and the parent keeps its own


def test_a_derived_pdf_is_named_after_the_stylesheet_and_font_too(app_ctx, monkeypatch):
    licence = a_licence()

    def name() -> str:
        return pdf.derived_pdf("elicence.html", licence=licence, qr="").name

    before = name()
    assert name() == before
    real = pdf.renderer()
    other = pdf.Renderer(
        real.fetcher, real.font_config, real.stylesheets, real.subset_fonts, "another font"
    )
    monkeypatch.setattr(pdf, "renderer", lambda: other)
    assert name() != before


def test_the_source_is_the_installed_noto_sans_cjk_sc_and_nothing_else(monkeypatch):
    regular, bold = fonts.source_font(400), fonts.source_font(700)
    assert regular != bold and all(path.is_file() for path, _ in (regular, bold))
    with TTFont(regular[0], fontNumber=regular[1], lazy=True) as font:
        assert font["name"].getDebugName(1) == "Noto Sans CJK SC"
    monkeypatch.setattr(fonts, "SOURCE_FAMILY", "No Such Font SC")
    with pytest.raises(fonts.FontUnavailable, match="No Such Font SC"):
        fonts.source_font(400)  # not whatever fontconfig offers instead


def test_the_fingerprint_follows_every_pdf_stylesheet(app_ctx, tmp_path):
    css = tmp_path / "css"
    css.mkdir()
    (css / "pdf.css").write_text("body { font-size: 11pt; }")
    (css / "pdf-catalogue.css").write_text(".key-box { border: 2px solid #000; }")
    fonts_folder = Path(app_ctx.instance_path) / "fonts"

    def fingerprint() -> str:
        sheets = tuple(sorted(css.glob(pdf.PDF_STYLESHEETS)))
        return pdf._make_renderer(tmp_path, fonts_folder, sheets).fingerprint

    first = fingerprint()
    (css / "pdf-catalogue.css").write_text(".key-box { border: 3px solid #000; }")
    second = fingerprint()
    (css / "pdf.css").write_text("body { font-size: 12pt; }")
    assert len({first, second, fingerprint()}) == 3
