"""The library: states, grouping, who may open a document, deletion and the data-use log."""

from datetime import date, timedelta

import pytest
from sqlalchemy import event, func, select

from portal.extensions import db
from portal.models import (
    DataUseLog,
    Department,
    Document,
    DocumentStatus,
    ELicence,
    Event,
    Grade,
    MaterialType,
    User,
)
from services import case_access, clock, data_use, documents, storage
from services import counter as counter_desk
from services.errors import Conflict, NotFound, ValidationError
from tests import files
from tests.helpers import make_case

TODAY = date(2026, 6, 1)


def user(login: str) -> User:
    return db.session.scalar(select(User).where((User.phone == login) | (User.username == login)))


def material(code: str) -> MaterialType:
    return db.session.scalar(select(MaterialType).where(MaterialType.code == code))


def owned_document(owner: User, code: str = "M001") -> Document:
    return db.session.scalar(
        select(Document)
        .join(MaterialType)
        .where(Document.owner_id == owner.citizen_id, MaterialType.code == code)
        .limit(1)
    )


def department(code: str) -> Department:
    return db.session.scalar(select(Department).where(Department.code == code))


def upload(owner: User, code: str = "M001", **kwargs) -> Document:
    return documents.upload_document(
        owner, material_type_id=material(code).id, data=files.png(), filename="x.png", **kwargs
    )


# --- states and the library page's data --------------------------------------------------


@pytest.mark.parametrize(
    "valid_until, status, licence_status, expected",
    [
        (None, DocumentStatus.valid, None, "valid"),
        (TODAY + timedelta(days=31), DocumentStatus.valid, None, "valid"),
        (TODAY + timedelta(days=30), DocumentStatus.valid, None, "expiring"),
        (TODAY, DocumentStatus.valid, None, "expiring"),
        (TODAY - timedelta(days=1), DocumentStatus.valid, None, "expired"),
        (None, DocumentStatus.revoked, None, "revoked"),
        (None, DocumentStatus.valid, "cancelled", "revoked"),
        (None, DocumentStatus.valid, "expired", "expired"),
    ],
)
def test_document_state_is_computed(valid_until, status, licence_status, expected):
    doc = Document(valid_until=valid_until, status=status)
    licence = ELicence(status=licence_status) if licence_status else None
    assert documents.document_state(doc, licence, TODAY) == expected


def test_library_groups_by_type_with_licences_and_cases(app_ctx):
    owner = user("13800000001")
    library = documents.library_for(owner)
    names = [mt.name for mt, _ in library.groups]
    assert "居民身份证" in names and "户口簿" in names
    assert len(library.licences) == 2
    assert all(e.document.grade == Grade.A and e.licence.number for e in library.licences)
    assert all(not e.deletable for e in library.licences)
    card = owned_document(owner, "M001")
    case = make_case(card, status="accepted")
    entry = next(
        e
        for _, entries in documents.library_for(owner).groups
        for e in entries
        if e.document.id == card.id
    )
    assert [c.number for c in entry.cases] == [case.number] and not entry.deletable


def test_an_empty_library(app_ctx):
    library = documents.library_for(user("13800000002"))
    assert library.empty and library.licences == []


def test_the_library_loads_in_a_fixed_number_of_queries(app_ctx):
    owner = user("13800000001")
    statements: list[str] = []

    def count(conn, cursor, statement, *args):
        statements.append(statement)

    def queries() -> int:
        db.session.expire_all()
        statements.clear()
        event.listen(db.engine, "before_cursor_execute", count)
        try:
            library = documents.library_for(owner)
            for material_type, entries in library.groups:  # what the template touches
                for entry in entries:
                    _ = (material_type.name, entry.cases, entry.licence, entry.deletable)
        finally:
            event.remove(db.engine, "before_cursor_execute", count)
        return len(statements)

    few = queries()
    for n in range(12):
        doc = upload(owner, "M004" if n % 2 else "M007", issued_on=clock.local_today())
        make_case(doc, number=f"TESTQ{n:04d}")
    many = queries()
    assert few == many <= 5


# --- who may open a document -------------------------------------------------------------


def test_only_the_owner_and_staff_on_its_case_may_open_a_document(app_ctx):
    owner = user("13800000001")
    doc = owned_document(owner)
    police, hr, counter, admin, other = (
        user(x) for x in ("reviewer01", "reviewer02", "counter01", "admin", "13800000002")
    )
    assert case_access.document_access(owner, doc).kind == "owner"
    for stranger in (police, hr, counter, admin, other, None):
        assert not case_access.can_view(stranger, doc)
    draft = make_case(doc, status="draft", created_by=counter, number=None)
    assert not case_access.can_view(police, doc)  # a draft is not yet the department's case
    assert not case_access.can_view(counter, doc)  # the clerk is not serving the owner
    counter_desk.begin_context(
        counter, owner.citizen
    )  # the clerk serves the owner: their documents, newest case
    assert case_access.document_access(counter, doc) == case_access.Access("staff", draft.id)
    counter_desk.end_context(counter)
    assert not case_access.can_view(counter, doc)
    case = make_case(doc, status="submitted", number="TEST0002")
    assert case_access.document_access(police, doc) == case_access.Access("staff", case.id)
    assert not case_access.can_view(hr, doc) and not case_access.can_view(admin, doc)
    assert not case_access.can_view(other, doc)


def test_opening_logs_staff_use_but_not_the_owners(app_ctx):
    owner = user("13800000001")
    doc = owned_document(owner)
    case = make_case(doc)

    def log_rows() -> list[DataUseLog]:
        return list(
            db.session.scalars(select(DataUseLog).where(DataUseLog.citizen_id == owner.citizen_id))
        )

    documents.open_document(owner, doc.id)
    assert log_rows() == []
    police = user("reviewer01")
    documents.open_document(police, doc.id)
    documents.open_document(police, doc.id, download=True)
    rows = log_rows()
    assert [r.action for r in rows] == ["view_document", "download_document"]
    assert all(
        r.actor_id == police.id and r.actor_department_id == police.department_id for r in rows
    )
    assert all(r.application_id == case.id and r.document_id == doc.id for r in rows)
    with pytest.raises(NotFound):
        documents.open_document(user("reviewer02"), doc.id)
    with pytest.raises(NotFound):
        documents.open_document(police, 999999)
    assert len(log_rows()) == 2


# --- deleting ----------------------------------------------------------------------------


def test_the_owner_deletes_an_unused_document_and_the_file_goes_after_the_commit(app_ctx):
    owner = user("13800000002")
    doc = upload(owner)
    db.session.commit()
    path = storage.path_for(app_ctx.config["UPLOAD_DIR"], doc.storage_key)
    doc_id = doc.id
    documents.delete_document(owner, doc_id)
    assert path.is_file()  # not before the deletion is committed
    db.session.commit()
    assert not path.exists()
    assert db.session.get(Document, doc_id) is None


def test_a_rolled_back_deletion_keeps_the_file(app_ctx):
    owner = user("13800000002")
    doc = upload(owner)
    db.session.commit()
    path = storage.path_for(app_ctx.config["UPLOAD_DIR"], doc.storage_key)
    documents.delete_document(owner, doc.id)
    db.session.rollback()
    assert path.is_file() and db.session.get(Document, doc.id) is not None


def test_someone_elses_document_cannot_be_deleted(app_ctx):
    doc = owned_document(user("13800000001"))
    for who in ("13800000002", "reviewer01", "admin"):
        with pytest.raises(NotFound):
            documents.delete_document(user(who), doc.id)
    assert db.session.get(Document, doc.id) is not None


def test_an_elicence_cannot_be_deleted_by_its_holder(app_ctx):
    owner = user("13800000001")
    licence_doc = db.session.scalar(
        select(Document)
        .where(Document.owner_id == owner.citizen_id, Document.source == "elicence")
        .limit(1)
    )
    with pytest.raises(Conflict) as exc:
        documents.delete_document(owner, licence_doc.id)
    assert "电子证照" in exc.value.message


@pytest.mark.parametrize("status", ["submitted", "accepted", "correction", "draft"])
def test_a_document_an_open_case_uses_cannot_be_deleted(app_ctx, status):
    owner = user("13800000002")
    doc = upload(owner)
    case = make_case(doc, status=status, number=None if status == "draft" else "TEST0003")
    with pytest.raises(Conflict) as exc:
        documents.delete_document(owner, doc.id)
    expected = f"草稿：{case.item_version.name}" if status == "draft" else "TEST0003"
    assert expected in exc.value.message


def test_a_document_only_closed_cases_used_can_be_deleted_and_the_trail_keeps_it(app_ctx):
    owner = user("13800000002")
    doc = upload(owner)
    case = make_case(doc, status="completed")
    sha = doc.sha256
    documents.delete_document(owner, doc.id)
    db.session.flush()
    db.session.refresh(case.materials[0])
    assert case.materials[0].document_id is None
    trail = db.session.scalar(
        select(Event).where(Event.action == "document_deleted").order_by(Event.id.desc())
    )
    assert trail.details["sha256"] == sha and trail.details["applications"] == [case.id]


def test_deleting_keeps_the_data_use_log(app_ctx):
    owner = user("13800000002")
    doc = upload(owner)
    case = make_case(doc, status="completed")
    documents.open_document(user("reviewer01"), doc.id)
    documents.delete_document(owner, doc.id)
    db.session.flush()
    row = db.session.scalar(select(DataUseLog).where(DataUseLog.application_id == case.id))
    db.session.refresh(row)
    assert row.document_id is None and row.detail == "居民身份证"


# --- the data-use log --------------------------------------------------------------------


@pytest.mark.parametrize(
    "username, masked",
    [
        ("reviewer01", "re******01"),
        ("counter01", "co*****01"),
        ("abcd", "****"),
        ("", "**"),
        (None, "**"),
    ],
)
def test_staff_ids_are_masked(username, masked):
    assert data_use.mask_staff_id(username) == masked


def test_the_log_is_paginated_newest_first(app_ctx):
    owner = user("13800000002")
    police = user("reviewer01")
    ids = [
        data_use.record_use(
            police if n % 2 else None,
            owner.citizen_id,
            data_use.REVEAL_PERSONAL_DATA,
            reason=data_use.CASE_REVIEW,
        ).id
        for n in range(45)
    ]
    first = data_use.data_use_page(owner.citizen_id, 1)
    assert (first.total, first.pages, len(first.rows)) == (45, 3, 20)
    assert first.rows[0].id == ids[-1] and not first.has_prev and first.has_next
    last = data_use.data_use_page(owner.citizen_id, 99)
    assert last.page == 3 and len(last.rows) == 5 and last.rows[-1].id == ids[0]
    assert data_use.data_use_page(owner.citizen_id, -5).page == 1
    assert data_use.data_use_page(user("13800000003").citizen_id).total == 0
    with pytest.raises(ValueError):
        data_use.record_use(None, owner.citizen_id, "peek", reason=data_use.CASE_REUSE)
    with pytest.raises(ValueError):
        data_use.record_use(None, owner.citizen_id, data_use.REUSE_DOCUMENT, reason="because")


def test_record_use_counts_and_skips_the_owner(app_ctx):
    owner = user("13800000002")
    before = db.session.scalar(select(func.count()).select_from(DataUseLog))
    assert (
        data_use.record_use(owner, owner.citizen_id, data_use.VIEW_DOCUMENT, reason="case_review")
        is None
    )
    row = data_use.record_use(
        None, owner.citizen_id, data_use.REUSE_DOCUMENT, reason=data_use.CASE_REUSE
    )
    assert (row.actor_role, row.actor_department_id, row.reason) == ("system", None, "case_reuse")
    assert db.session.scalar(select(func.count()).select_from(DataUseLog)) == before + 1


# --- quota (issue 13 #9) ---------------------------------------------------------------------


def test_uploads_a_day_are_limited_and_deleting_does_not_reset_the_count(app_ctx):
    app_ctx.config["UPLOADS_PER_DAY"] = 3
    try:
        citizen = user("13800000002")
        first = [upload(citizen, today=TODAY) for _ in range(3)]
        with pytest.raises(ValidationError) as exc:
            upload(citizen, today=TODAY)
        assert "今天上传的文件已达 3 个" in exc.value.errors["file"]
        documents.delete_document(citizen, first[0].id)
        with pytest.raises(ValidationError):  # deleting one does not give a try back
            upload(citizen, today=TODAY)
        assert upload(citizen, today=TODAY + timedelta(days=1)).id  # a new day
        # another citizen's count is their own
        assert upload(user("13800000003"), today=TODAY).id
    finally:
        app_ctx.config["UPLOADS_PER_DAY"] = 60


def test_a_library_holds_at_most_its_quota(app_ctx):
    citizen = user("13800000002")
    held = db.session.scalar(
        select(func.count(Document.id)).where(Document.owner_id == citizen.citizen_id)
    )
    app_ctx.config["LIBRARY_MAX_DOCUMENTS"] = held + 1
    try:
        upload(citizen, today=TODAY)
        with pytest.raises(ValidationError) as exc:
            upload(citizen, today=TODAY)
        assert f"最多存放 {held + 1} 份" in exc.value.errors["file"]
    finally:
        app_ctx.config["LIBRARY_MAX_DOCUMENTS"] = 300
