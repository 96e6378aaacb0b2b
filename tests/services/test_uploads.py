"""Upload checks with real files: content decides the type, images lose metadata and payloads."""

import io
from pathlib import Path

import pytest
from PIL import Image
from sqlalchemy import event, func, select

from portal.extensions import db
from portal.models import Document, Grade, MaterialType, User
from services import documents, storage
from services.errors import ValidationError
from services.uploads import MAX_PIXELS, check_upload, safe_display_name, sniff_content_type
from tests import files

MB = 1024 * 1024


def upload_dir(app) -> Path:
    return Path(app.config["UPLOAD_DIR"])


def stored_files(app) -> set[Path]:
    return {p for p in upload_dir(app).rglob("*") if p.is_file()}


def citizen_user(phone: str = "13800000002") -> User:
    return db.session.scalar(select(User).where(User.phone == phone))


def material(code: str) -> MaterialType:
    return db.session.scalar(select(MaterialType).where(MaterialType.code == code))


# --- check_upload on its own -------------------------------------------------------------


def test_content_decides_the_type_not_the_name():
    assert sniff_content_type(files.png()) == "image/png"
    assert sniff_content_type(files.jpeg()) == "image/jpeg"
    assert sniff_content_type(files.pdf()) == "application/pdf"
    assert sniff_content_type(b"<html><body>hi</body></html>") is None
    checked = check_upload(files.png(), "scan.pdf", max_bytes=MB)
    assert checked.content_type == "image/png"
    assert checked.display_name == "scan.png"


def test_a_pdf_that_is_really_html_is_refused():
    html = b"<!doctype html><html><script>alert(1)</script></html>"
    with pytest.raises(ValidationError) as exc:
        check_upload(html, "证明.pdf", max_bytes=MB)
    assert "PDF、JPG 或 PNG" in exc.value.errors["file"]


def test_zero_bytes_is_refused():
    with pytest.raises(ValidationError) as exc:
        check_upload(b"", "empty.png", max_bytes=MB)
    assert "0 字节" in exc.value.errors["file"]


def test_exactly_the_limit_passes_and_one_byte_over_is_refused():
    exact = files.pdf_of_size(MB)
    assert len(exact) == MB
    assert check_upload(exact, "a.pdf", max_bytes=MB).data == exact
    over = files.pdf_of_size(MB + 1)
    with pytest.raises(ValidationError) as exc:
        check_upload(over, "a.pdf", max_bytes=MB)
    assert "超过 1 MB" in exc.value.errors["file"]


def test_png_metadata_is_removed():
    original = files.png(exif=True, text=True)
    assert files.SECRET.encode() in original
    with Image.open(io.BytesIO(original)) as before:
        assert before.getexif()
    checked = check_upload(original, "photo.png", max_bytes=MB)
    assert files.SECRET.encode() not in checked.data
    with Image.open(io.BytesIO(checked.data)) as after:
        assert not after.getexif()
        assert "exif" not in after.info and "Comment" not in after.info
        assert after.size == (64, 48)
        assert after.getpixel((1, 1)) == (10, 20, 30)


def test_png_with_an_appended_zip_keeps_only_the_image():
    payload = files.zip_payload()
    polyglot = files.png() + payload
    checked = check_upload(polyglot, "polyglot.png", max_bytes=MB)
    assert b"PK\x03\x04" not in checked.data and b"<script>" not in checked.data
    assert checked.data.endswith(b"IEND\xaeB`\x82")


def test_jpeg_is_reencoded_without_exif_or_a_script_after_eoi():
    original = files.jpeg(exif=True) + b"<script>alert(1)</script>"
    checked = check_upload(original, "id.jpg", max_bytes=MB)
    assert checked.content_type == "image/jpeg"
    assert b"<script>" not in checked.data and files.SECRET.encode() not in checked.data
    assert checked.data.endswith(b"\xff\xd9")
    with Image.open(io.BytesIO(checked.data)) as img:
        assert img.format == "JPEG" and not img.getexif()


@pytest.mark.parametrize("make", [files.png, files.jpeg])
def test_a_truncated_image_is_refused_even_after_weasyprint_relaxed_pillow(make):
    import weasyprint.images  # noqa: F401  (sets Pillow's LOAD_TRUNCATED_IMAGES = True)
    from PIL import ImageFile

    assert ImageFile.LOAD_TRUNCATED_IMAGES is True
    data = make(400, 300)
    with pytest.raises(ValidationError) as exc:
        check_upload(data[: len(data) // 2], "cut.img", max_bytes=MB)
    assert "损坏" in exc.value.errors["file"]
    assert ImageFile.LOAD_TRUNCATED_IMAGES is True  # WeasyPrint's own setting is left alone


@pytest.mark.parametrize("size", [(7000, 7000), (10000, 10000)])
def test_decompression_bombs_are_refused(size):
    buf = io.BytesIO()
    Image.new("1", size).save(buf, format="PNG")
    bomb = buf.getvalue()
    assert len(bomb) < MB and size[0] * size[1] > MAX_PIXELS
    with pytest.raises(ValidationError) as exc:
        check_upload(bomb, "bomb.png", max_bytes=MB)
    assert "尺寸过大" in exc.value.errors["file"]


def test_a_pdf_made_by_pypdf_is_kept_as_it_is():
    original = files.pdf(pages=2)
    checked = check_upload(original, "申请表.pdf", max_bytes=MB)
    assert checked.data == original and checked.content_type == "application/pdf"


def test_a_pdf_made_by_weasyprint_passes(app_ctx):
    from portal.models import ELicence
    from services.pdf import render_pdf

    licence = db.session.scalar(select(ELicence).limit(1))
    original = render_pdf("elicence.html", licence=licence, qr="")
    assert check_upload(original, "licence.pdf", max_bytes=5 * MB).content_type == "application/pdf"


@pytest.mark.parametrize(
    "data",
    [
        b"%PDF-1.7\n" + bytes(range(256)) * 20,
        b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF",
        files.pdf()[:300],
    ],
)
def test_a_corrupt_pdf_is_refused(data):
    with pytest.raises(ValidationError) as exc:
        check_upload(data, "broken.pdf", max_bytes=MB)
    assert "损坏" in exc.value.errors["file"]


def test_an_encrypted_pdf_is_refused():
    with pytest.raises(ValidationError) as exc:
        check_upload(files.pdf(password="secret"), "locked.pdf", max_bytes=MB)
    assert "加密" in exc.value.errors["file"]


def test_a_pdf_with_an_attachment_is_refused():
    from pypdf import PdfWriter

    writer = PdfWriter()
    writer.add_blank_page(width=595, height=842)
    writer.add_attachment("invoice.exe", b"MZ\x90\x00")
    buf = io.BytesIO()
    writer.write(buf)
    with pytest.raises(ValidationError) as exc:
        check_upload(buf.getvalue(), "attached.pdf", max_bytes=MB)
    assert "附件" in exc.value.errors["file"]


def test_a_pdf_with_an_ordinary_link_passes():
    from pypdf import PdfWriter
    from pypdf.annotations import Link

    writer = PdfWriter()
    writer.add_blank_page(width=595, height=842)
    writer.add_annotation(0, Link(rect=(10, 10, 200, 40), url="https://www.gov.cn/"))
    buf = io.BytesIO()
    writer.write(buf)
    assert (
        check_upload(buf.getvalue(), "linked.pdf", max_bytes=MB).content_type == "application/pdf"
    )


def test_a_pdf_with_javascript_is_refused():
    with pytest.raises(ValidationError) as exc:
        check_upload(files.pdf(javascript="app.alert('hi');"), "script.pdf", max_bytes=MB)
    assert "脚本" in exc.value.errors["file"]


@pytest.mark.parametrize("kind", sorted(files.ACTIVE_PDFS))
def test_active_content_anywhere_in_a_pdf_is_refused(kind):
    """Issue 13 #5: not only the open action: outlines, form fields, XFA, links, names, and
    objects no viewer entry point names are all walked."""
    data = files.active_pdf(kind)
    with pytest.raises(ValidationError) as exc:
        check_upload(data, "scan.pdf", max_bytes=MB)
    assert "不能上传" in exc.value.errors["file"] and "打印为 PDF" in exc.value.errors["file"]


@pytest.mark.parametrize("kind", sorted(files.BENIGN_PDFS))
def test_ordinary_pdf_features_pass(kind):
    data = files.benign_pdf(kind)
    checked = check_upload(data, "scan.pdf", max_bytes=MB)
    assert checked.data == data and checked.content_type == "application/pdf"


def test_a_pdf_past_the_walk_budget_is_refused(monkeypatch):
    monkeypatch.setattr("services.uploads.PDF_WALK_BUDGET", 3)
    with pytest.raises(ValidationError) as exc:
        check_upload(files.pdf(pages=3), "big.pdf", max_bytes=MB)
    assert "过于复杂" in exc.value.errors["file"]


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("../../etc/passwd\x07.png", "passwd.png"),
        ("..\\..\\windows\\system32\\身份证.png", "身份证.png"),
        ("a\u202egnp.exe", "agnp.png"),  # right-to-left override removed, suffix from the content
        ("   ", "材料.png"),
        ("....png", "材料.png"),
        ("x" * 300 + ".png", "x" * 95 + ".png"),
    ],
)
def test_display_names_are_made_safe(raw, expected):
    assert safe_display_name(raw, "image/png") == expected


# --- upload_document: the row and the file -----------------------------------------------


def test_upload_stores_a_grade_c_document_with_a_server_made_name(app_ctx):
    user = citizen_user()
    data = files.png(exif=True)
    doc = documents.upload_document(
        user, material_type_id=material("M001").id, data=data, filename="../../etc/passwd\x07.png"
    )
    assert doc.grade == Grade.C and doc.source == "upload"
    assert doc.original_filename == "passwd.png"
    assert storage.KEY_RE.fullmatch(doc.storage_key)
    path = storage.path_for(app_ctx.config["UPLOAD_DIR"], doc.storage_key)
    stored = path.read_bytes()
    assert upload_dir(app_ctx).resolve() in path.resolve().parents
    assert files.SECRET.encode() not in stored
    import hashlib

    assert doc.sha256 == hashlib.sha256(stored).hexdigest() and doc.size == len(stored)
    db.session.commit()
    assert path.is_file()


def test_refused_uploads_write_nothing(app_ctx):
    user = citizen_user()
    before_files = stored_files(app_ctx)
    before_rows = db.session.scalar(select(func.count()).select_from(Document))
    cases = [
        dict(material_type_id=None, data=files.png()),
        dict(material_type_id=999999, data=files.png()),
        dict(material_type_id=material("M001").id, data=b"<html></html>"),
        dict(material_type_id=material("M004").id, data=files.png()),  # photo: issue date needed
    ]
    for case in cases:
        with pytest.raises(ValidationError):
            documents.upload_document(user, filename="x.png", **case)
    assert stored_files(app_ctx) == before_files
    assert db.session.scalar(select(func.count()).select_from(Document)) == before_rows


def test_every_field_error_is_reported_at_once(app_ctx):
    from datetime import date

    with pytest.raises(ValidationError) as exc:
        documents.upload_document(
            citizen_user(),
            material_type_id=material("M002").id,
            data=b"",
            filename="x.png",
            issued_on=date(2099, 1, 1),
            own_expiry=date(2100, 1, 1),
            today=date(2026, 1, 1),
        )
    assert set(exc.value.errors) == {"issued_on", "valid_until", "file"}


@pytest.mark.parametrize(
    "code, issued, expiry, field, words",
    [
        ("M004", None, None, "issued_on", "请填写开具日期"),
        ("M004", "2025-01-01", None, "issued_on", "已过期"),  # photo: 6 months
        ("M001", "2020-01-01", "2025-12-31", "valid_until", "已过期"),
        ("M001", "2020-01-01", "2019-12-31", "valid_until", "早于开具日期"),
        ("M002", None, "2030-01-01", "valid_until", "不需要填写有效期"),
        ("M001", "2026-01-02", None, "issued_on", "不能晚于今天"),
    ],
)
def test_dates_are_checked_against_the_material_types_rule(
    app_ctx, code, issued, expiry, field, words
):
    from datetime import date

    with pytest.raises(ValidationError) as exc:
        documents.upload_document(
            citizen_user(),
            material_type_id=material(code).id,
            data=files.png(),
            filename="x.png",
            issued_on=date.fromisoformat(issued) if issued else None,
            own_expiry=date.fromisoformat(expiry) if expiry else None,
            today=date(2026, 1, 1),
        )
    assert words in exc.value.errors[field]


def test_validity_follows_the_material_type(app_ctx):
    from datetime import date

    photo = documents.upload_document(
        citizen_user(),
        material_type_id=material("M004").id,
        data=files.jpeg(),
        filename="photo.jpg",
        issued_on=date(2025, 12, 1),
        today=date(2026, 1, 1),
    )
    assert photo.valid_until == date(2026, 6, 1)
    card = documents.upload_document(
        citizen_user(),
        material_type_id=material("M001").id,
        data=files.png(),
        filename="id.png",
        issued_on=date(2020, 1, 1),
        own_expiry=date(2040, 1, 1),
        today=date(2026, 1, 1),
    )
    assert card.valid_until == date(2040, 1, 1)


def test_staff_cannot_upload_to_a_library(app_ctx):
    from services.errors import NotFound

    reviewer = db.session.scalar(select(User).where(User.username == "reviewer01"))
    with pytest.raises(NotFound):
        documents.upload_document(
            reviewer, material_type_id=material("M001").id, data=files.png(), filename="x.png"
        )


def test_a_failing_commit_leaves_no_file(app_ctx):
    doc = documents.upload_document(
        citizen_user(), material_type_id=material("M001").id, data=files.png(), filename="x.png"
    )
    path = storage.path_for(app_ctx.config["UPLOAD_DIR"], doc.storage_key)
    assert path.is_file()  # written and renamed into place before the commit
    session = db.session()

    def refuse(_session):
        raise RuntimeError("the database went away")

    event.listen(session, "before_commit", refuse)
    try:
        with pytest.raises(RuntimeError):
            db.session.commit()
    finally:
        event.remove(session, "before_commit", refuse)
    db.session.rollback()
    assert not path.exists()
    assert not list(path.parent.glob(f"{path.name}*"))


def test_a_rolled_back_upload_leaves_no_file(app_ctx):
    doc = documents.upload_document(
        citizen_user(), material_type_id=material("M001").id, data=files.png(), filename="x.png"
    )
    path = storage.path_for(app_ctx.config["UPLOAD_DIR"], doc.storage_key)
    db.session.rollback()
    assert not path.exists()


def test_files_cleanup_removes_crash_leftovers_and_keeps_documents(database_factory):
    """A crash after the rename but before the commit leaves a file no row names; a crash
    mid-write leaves a .part file. `flask files cleanup` removes both and keeps real documents."""
    import os
    import time

    from services import accounts, catalogue

    app = database_factory("cleanup", seed=False)
    with app.app_context():
        user = accounts.register_citizen(
            phone="13900000009",
            password="Qingshan2026!",
            name="赵六",
            id_number="11010519491231002X",
        )
        mt = catalogue.create_material_type(code="T001", name="测试材料")
        doc = documents.upload_document(
            user, material_type_id=mt.id, data=files.png(), filename="a.png"
        )
        form = storage.save(files.pdf(), ".pdf")
        mt.blank_form_key = form.key  # a blank form an admin published: a row names it too
        db.session.commit()
        kept = storage.path_for(app.config["UPLOAD_DIR"], doc.storage_key)
        blank_form = storage.path_for(app.config["UPLOAD_DIR"], form.key)
        db.session.remove()
    shard = upload_dir(app) / "ab"
    shard.mkdir(parents=True, exist_ok=True)
    part = shard / ("0" * 32 + ".png.part")
    orphan = shard / ("1" * 32 + ".png")
    part.write_bytes(b"half a file")
    orphan.write_bytes(files.png())
    old = time.time() - 7200
    for path in (part, orphan, kept, blank_form):
        os.utime(path, (old, old))
    result = app.test_cli_runner().invoke(args=["files", "cleanup"])
    assert result.exit_code == 0, result.output
    assert "removed 1 stray temporary files, 1 files no row refers to" in result.output
    assert not part.exists() and not orphan.exists()
    assert kept.is_file() and blank_form.is_file()
