"""我的材料 through the test client: uploads, the IDOR matrix, file headers, the data-use log, /verify."""

import io
import re

import pytest
from sqlalchemy import func, select

from portal.extensions import db
from portal.models import (
    DataUseLog,
    Document,
    ELicence,
    MaterialType,
    User,
    VerificationFailure,
)
from services import storage
from tests import files
from tests.conftest import csrf_token, login
from tests.helpers import make_case


def first_document_of(phone: str, code: str = "M001"):
    def fn():
        return db.session.scalar(
            select(Document.id)
            .join(User, User.citizen_id == Document.owner_id)
            .join(MaterialType)
            .where(User.phone == phone, MaterialType.code == code)
            .order_by(Document.id)
            .limit(1)
        )

    return fn


def material_id(code: str):
    return lambda: db.session.scalar(select(MaterialType.id).where(MaterialType.code == code))


def committed_case(
    document_id: int,
    *,
    dept_code: str = "GA",
    status: str = "submitted",
    created_by: str | None = None,
    number: str = "ROUTE0001",
):
    """For ``query``: commit a case of ``dept_code`` whose first material is the document."""

    def fn():
        creator = (
            db.session.scalar(select(User).where(User.username == created_by))
            if created_by
            else None
        )
        case = make_case(
            db.session.get(Document, document_id),
            dept_code=dept_code,
            status=status,
            created_by=creator,
            number=number,
        )
        db.session.commit()
        return case.id

    return fn


def log_count():
    return db.session.scalar(select(func.count()).select_from(DataUseLog))


def main_part(html: str) -> str:
    return html[html.index("<main") : html.index("</main>")]


def post_multipart(client, path: str, fields: dict[str, str], file: tuple[bytes, str] | None):
    """Encode the form in memory: Werkzeug's test encoder spools bodies over 500 KB to a temporary
    file it never closes (a ResourceWarning, so an error here)."""
    boundary = "----portal-test-boundary-7f3a"
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
        for name, value in fields.items()
    ]
    if file is not None:
        data, filename = file
        parts.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{filename}"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n".encode()
            + data
            + b"\r\n"
        )
    body = b"".join(parts) + f"--{boundary}--\r\n".encode()
    return client.post(
        path,
        input_stream=io.BytesIO(body),
        content_length=len(body),
        content_type=f"multipart/form-data; boundary={boundary}",
    )


def upload(client, data: bytes, filename: str, *, code_id, **fields):
    token = csrf_token(client, "/documents/upload")
    form = {
        "csrf_token": token,
        "material_type": str(code_id),
        "issued_on": "",
        "valid_until": "",
        **fields,
    }
    return post_multipart(client, "/documents/upload", form, (data, filename))


# --- the list and the upload form --------------------------------------------------------


def test_the_library_lists_documents_licences_and_cases(client, query):
    doc_id = query(first_document_of("13800000001"))
    query(committed_case(doc_id, number="ROUTE0042"))
    login(client, "13800000001")
    html = client.get("/documents/").get_data(as_text=True)
    assert "居民身份证" in html and "户口簿" in html and "已核验原件" in html
    assert html.count("licence-number") == 2 and "/verify?number=" in html
    assert "ROUTE0042" in html and "有效" in html
    assert 'aria-current="page"' in html and "我的材料" in html


def test_an_empty_library_says_what_to_do(client):
    login(client, "13800000002")
    html = client.get("/documents/").get_data(as_text=True)
    assert "材料库还是空的" in html and "/documents/upload" in html


def test_upload_a_png_and_see_it_listed(client, query):
    login(client, "13800000002")
    response = upload(
        client,
        files.png(exif=True),
        "我的身份证.png",
        code_id=query(material_id("M001")),
        valid_until="2036-01-01",
    )
    assert response.status_code == 302 and response.headers["Location"].endswith("/documents/")
    html = client.get("/documents/").get_data(as_text=True)
    assert "我的身份证.png" in html and "未核验上传" in html and "2036-01-01" in html
    doc = query(
        lambda: db.session.scalar(
            select(Document)
            .join(User, User.citizen_id == Document.owner_id)
            .where(User.phone == "13800000002")
        )
    )
    assert doc.grade.value == "C" and doc.content_type == "image/png"
    assert (
        files.SECRET.encode()
        not in storage.path_for(
            client.application.config["UPLOAD_DIR"], doc.storage_key
        ).read_bytes()
    )


@pytest.mark.parametrize(
    "fields, data, field, words",
    [
        ({"material_type": ""}, files.png(), "material_type", "请选择材料类型"),
        ({"material_type": "abc"}, files.png(), "material_type", "请选择材料类型"),
        ({"material_type": "999999"}, files.png(), "material_type", "请选择材料类型"),
        ({"issued_on": "2024-13-45"}, files.png(), "issued_on", "年-月-日"),
        ({"valid_until": "not a date"}, files.png(), "valid_until", "年-月-日"),
        ({"valid_until": "2001-01-01"}, files.png(), "valid_until", "已过期"),
        ({}, b"", "file", "0 字节"),
        ({}, b"<html><script>alert(1)</script></html>", "file", "PDF、JPG 或 PNG"),
        ({}, b"%PDF-1.7\n" + bytes(range(256)) * 4, "file", "损坏"),
        ({}, files.pdf(password="pw"), "file", "加密"),
    ],
)
def test_bad_uploads_get_an_error_next_to_the_field_and_write_nothing(
    client, query, fields, data, field, words
):
    login(client, "13800000002")
    before = query(lambda: db.session.scalar(select(func.count()).select_from(Document)))
    form = {"material_type": query(material_id("M001")), **fields}
    code_id = form.pop("material_type")
    response = upload(client, data, "证明.pdf", code_id=code_id, **form)
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    error = re.search(rf'<p class="error" id="{field}-error">(.*?)</p>', html, re.S)
    assert error and words in error.group(1), html[:3000]
    assert 'id="error-summary"' in html and f'href="#{field}"' in html
    assert query(lambda: db.session.scalar(select(func.count()).select_from(Document))) == before


def test_no_file_chosen(client, query):
    login(client, "13800000002")
    token = csrf_token(client, "/documents/upload")
    response = client.post(
        "/documents/upload",
        data={"csrf_token": token, "material_type": "1"},
        content_type="multipart/form-data",
    )
    assert response.status_code == 422 and "请选择要上传的文件" in response.get_data(as_text=True)


def test_upload_without_csrf_is_refused(client, query):
    login(client, "13800000002")
    response = client.post(
        "/documents/upload",
        data={"material_type": "1", "file": (io.BytesIO(files.png()), "a.png")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 400


# --- the size limit with MAX_UPLOAD_MB=1 ---------------------------------------------------


@pytest.fixture(scope="module")
def small_app(database_factory):
    return database_factory("docs-1mb", seed=True, MAX_UPLOAD_MB=1)


def test_exactly_the_limit_is_accepted_and_one_byte_over_refused(small_app):
    client = small_app.test_client()
    login(client, "13800000002")
    with small_app.app_context():
        code_id = material_id("M002")()
    exact = files.pdf_of_size(1024 * 1024)
    assert upload(client, exact, "exact.pdf", code_id=code_id).status_code == 302
    over = upload(client, files.pdf_of_size(1024 * 1024 + 1), "over.pdf", code_id=code_id)
    assert over.status_code == 422 and "超过 1 MB" in over.get_data(as_text=True)
    with small_app.app_context():
        names = set(db.session.scalars(select(Document.original_filename)))
        db.session.remove()
    assert "exact.pdf" in names and "over.pdf" not in names


def test_a_request_far_over_the_limit_gets_413(small_app):
    client = small_app.test_client()
    login(client, "13800000002")
    token = csrf_token(client, "/documents/upload")
    response = post_multipart(
        client,
        "/documents/upload",
        {"csrf_token": token, "material_type": "1"},
        (b"%PDF-" + b"0" * (2 * 1024 * 1024), "huge.pdf"),
    )
    assert response.status_code == 413
    assert "文件太大" in response.get_data(as_text=True)


# --- viewing and downloading: the IDOR matrix ----------------------------------------------


def test_the_owner_views_inline_and_downloads_with_safe_headers(client, query):
    doc_id = query(first_document_of("13800000001"))
    before = query(log_count)
    login(client, "13800000001")
    view = client.get(f"/documents/{doc_id}/view")
    assert view.status_code == 200 and view.data.startswith(b"\x89PNG")
    assert view.headers["Content-Type"] == "image/png"
    assert view.headers["Content-Disposition"].startswith("inline;")
    assert (
        "filename*=UTF-8''%E5%B1%85%E6%B0%91%E8%BA%AB%E4%BB%BD%E8%AF%81.png"
        in view.headers["Content-Disposition"]
    )
    assert view.headers["X-Content-Type-Options"] == "nosniff"
    assert view.headers["Cache-Control"] == "private, no-store"
    assert "default-src 'none'" in view.headers["Content-Security-Policy"]
    download = client.get(f"/documents/{doc_id}/download")
    assert download.status_code == 200 and download.headers["Content-Disposition"].startswith(
        "attachment;"
    )
    assert int(download.headers["Content-Length"]) == len(download.data)
    assert query(log_count) == before  # the owner's own use is not logged


@pytest.mark.parametrize("who", ["13800000002", "reviewer02", "reviewer01", "counter01", "admin"])
def test_strangers_get_the_same_404_as_for_a_missing_document(client, query, who):
    doc_id = query(first_document_of("13800000001"))
    before = query(log_count)
    login(client, who)
    client.get("/")  # show the login's flash message here, not on the pages compared below
    missing = client.get("/documents/999999/view")
    for path in (f"/documents/{doc_id}/view", f"/documents/{doc_id}/download"):
        response = client.get(path)
        assert response.status_code == 404
        assert main_part(response.get_data(as_text=True)) == main_part(
            missing.get_data(as_text=True)
        )
    assert query(log_count) == before


def test_another_citizen_cannot_delete_and_nothing_changes(client, query):
    doc_id = query(first_document_of("13800000001"))
    key = query(lambda: db.session.get(Document, doc_id).storage_key)
    login(client, "13800000002")
    token = csrf_token(client, "/documents/")
    response = client.post(f"/documents/{doc_id}/delete", data={"csrf_token": token})
    assert response.status_code == 404
    assert query(lambda: db.session.get(Document, doc_id)) is not None
    assert storage.path_for(client.application.config["UPLOAD_DIR"], key).is_file()


def test_a_reviewer_of_the_cases_department_may_view_and_it_is_logged(client, query):
    doc_id = query(first_document_of("13800000001"))
    case_id = query(committed_case(doc_id, dept_code="GA"))
    login(client, "reviewer02")  # 人社: not their case
    assert client.get(f"/documents/{doc_id}/view").status_code == 404
    client.post("/auth/logout", data={"csrf_token": csrf_token(client, "/")})
    login(client, "reviewer01")  # 公安: the case is theirs
    assert client.get(f"/documents/{doc_id}/view").status_code == 200
    assert client.get(f"/documents/{doc_id}/download").status_code == 200
    rows = query(
        lambda: [
            (r.action, r.application_id, r.actor.username)
            for r in db.session.scalars(
                select(DataUseLog).where(DataUseLog.document_id == doc_id).order_by(DataUseLog.id)
            )
        ]
    )
    assert rows == [
        ("view_document", case_id, "reviewer01"),
        ("download_document", case_id, "reviewer01"),
    ]


def test_the_counter_serving_the_owner_may_view(client, query):
    doc_id = query(first_document_of("13800000001"))
    query(committed_case(doc_id, dept_code="RS", status="draft", created_by="counter01"))
    login(client, "counter01")
    assert (
        client.get(f"/documents/{doc_id}/view").status_code == 404
    )  # the owner is not being served
    token = csrf_token(client, "/counter/")
    assert (
        client.post(
            "/counter/lookup", data={"csrf_token": token, "lookup-query": "13800000001"}
        ).status_code
        == 302
    )
    assert client.get(f"/documents/{doc_id}/view").status_code == 200
    assert (
        query(
            lambda: db.session.scalar(
                select(func.count()).select_from(DataUseLog).where(DataUseLog.document_id == doc_id)
            )
        )
        == 1
    )


def test_a_missing_file_is_a_404_not_a_crash(client, query):
    login(client, "13800000002")
    upload(client, files.png(), "a.png", code_id=query(material_id("M002")))
    doc = query(
        lambda: db.session.scalar(
            select(Document)
            .join(User, User.citizen_id == Document.owner_id)
            .where(User.phone == "13800000002")
        )
    )
    storage.path_for(client.application.config["UPLOAD_DIR"], doc.storage_key).unlink()
    assert client.get(f"/documents/{doc.id}/view").status_code == 404


# --- deleting ----------------------------------------------------------------------------


def test_the_owner_deletes_an_unused_upload(client, query):
    login(client, "13800000002")
    upload(client, files.png(), "a.png", code_id=query(material_id("M002")))
    doc = query(
        lambda: db.session.scalar(
            select(Document)
            .join(User, User.citizen_id == Document.owner_id)
            .where(User.phone == "13800000002")
        )
    )
    path = storage.path_for(client.application.config["UPLOAD_DIR"], doc.storage_key)
    response = client.post(
        f"/documents/{doc.id}/delete", data={"csrf_token": csrf_token(client, "/documents/")}
    )
    assert response.status_code == 302
    assert "材料已删除" in client.get("/documents/").get_data(as_text=True)
    assert query(lambda: db.session.get(Document, doc.id)) is None and not path.exists()


def test_deleting_an_elicence_or_a_document_in_use_is_refused_with_the_reason(client, query):
    doc_id = query(first_document_of("13800000001"))
    query(committed_case(doc_id, number="ROUTE0777"))
    licence_doc = query(lambda: db.session.scalar(select(ELicence.document_id).limit(1)))
    login(client, "13800000001")
    token = csrf_token(client, "/documents/")
    client.post(f"/documents/{doc_id}/delete", data={"csrf_token": token})
    html = client.get("/documents/").get_data(as_text=True)
    assert "不能删除：ROUTE0777" in html
    client.post(f"/documents/{licence_doc}/delete", data={"csrf_token": token})
    assert "电子证照由发证部门管理，不能删除" in client.get("/documents/").get_data(as_text=True)
    assert query(lambda: db.session.get(Document, doc_id)) is not None
    assert query(lambda: db.session.get(Document, licence_doc)) is not None


# --- the data-use log page ---------------------------------------------------------------


def test_the_data_use_page_shows_department_and_a_masked_staff_id(client, query):
    doc_id = query(first_document_of("13800000001"))
    query(committed_case(doc_id, number="ROUTE0555"))
    login(client, "reviewer01")
    client.get(f"/documents/{doc_id}/view")
    client.post("/auth/logout", data={"csrf_token": csrf_token(client, "/")})
    login(client, "13800000001")
    html = main_part(client.get("/documents/data-use").get_data(as_text=True))
    assert "市公安局" in html and "re******01" in html and "reviewer01" not in html
    assert "查看材料" in html and "ROUTE0555" in html and "居民身份证" in html
    assert client.get("/documents/data-use?page=abc").status_code == 200
    assert client.get("/documents/data-use?page=-3").status_code == 200


def test_another_citizens_log_is_empty(client, query):
    doc_id = query(first_document_of("13800000001"))
    query(committed_case(doc_id))
    login(client, "reviewer01")
    client.get(f"/documents/{doc_id}/view")
    client.post("/auth/logout", data={"csrf_token": csrf_token(client, "/")})
    login(client, "13800000002")
    assert "暂无记录" in client.get("/documents/data-use").get_data(as_text=True)


# --- /verify -----------------------------------------------------------------------------


def licence_facts():
    lic = db.session.scalar(select(ELicence).order_by(ELicence.id).limit(1))
    return lic.number, lic.holder_code, lic.holder_name


def verify(client, number: str, code: str):
    token = csrf_token(client, "/verify")
    return client.post("/verify", data={"csrf_token": token, "number": number, "holder_code": code})


def test_the_qr_link_prefills_the_number(client, query):
    number, _, _ = query(licence_facts)
    html = client.get(f"/verify?number={number}").get_data(as_text=True)
    assert f'value="{number}"' in html
    html = client.get('/verify?number="><script>alert(1)</script>').get_data(as_text=True)
    assert "<script>alert(1)" not in html


def test_a_valid_licence_shows_only_the_masked_holder(client, query):
    number, code, name = query(licence_facts)
    response = verify(client, number, code)
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and "核验结果：" in html and ">有效<" in html
    assert f"{name[0]}*" in html and name not in html
    assert code not in html and code[6:14] not in html  # neither the id nor its birth date
    assert "/documents/" not in main_part(html)  # never the file
    assert response.headers["Cache-Control"] == "no-store"


def test_a_wrong_holder_code_answers_no_such_licence(client, query):
    number, _, _ = query(licence_facts)
    html = verify(client, number, "11010519491231002X").get_data(as_text=True)
    assert (
        "查无此证" in html
        and number not in main_part(html).split("核验结果")[1].split("</section>")[0]
    )


def test_bad_input_on_verify(client):
    response = verify(client, "", "123")
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert 'id="number-error"' in html


def test_verify_is_throttled(client, query):
    number, code, _ = query(licence_facts)
    client.application.config["VERIFY_MAX_FAILURES"] = 3
    try:
        for _ in range(3):
            assert verify(client, number, "11010519491231002X").status_code == 200
        response = verify(client, number, code)
        assert response.status_code == 429 and "核验次数过多" in response.get_data(as_text=True)
    finally:
        client.application.config["VERIFY_MAX_FAILURES"] = 10
    assert (
        query(lambda: db.session.scalar(select(func.count()).select_from(VerificationFailure))) == 3
    )
