"""The citizen's document library (材料库): adding, listing, opening and deleting documents.

Who may open a document is decided in services/case_access.py (``document_access``): the
owner, an agent the owner authorised, and staff handling a case that uses the document. Anyone
else is told the document does not exist (NotFound), never that it belongs to someone else.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from dateutil.relativedelta import relativedelta
from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import Row, and_, bindparam, func, or_, select, update

from portal.extensions import db
from portal.models import (
    Application,
    ApplicationMaterial,
    Citizen,
    Document,
    DocumentStatus,
    ELicence,
    Grade,
    IntakeKey,
    ItemVersion,
    MaterialType,
    Role,
    User,
)
from portal.models.base import utcnow
from services import case_access, clock, data_use, storage
from services.audit import record_event
from services.case_access import can_view as can_view  # re-exported: may this user open it?
from services.case_access import document_access
from services.case_states import CLOSED_STATES
from services.errors import Conflict, NotFound, ValidationError
from services.numbering import next_in_sequence
from services.uploads import SUFFIX, check_upload

CONTENT_SUFFIX = SUFFIX
EXPIRING_WITHIN_DAYS = 30
# a case in one of these states no longer needs its documents; every other state does,
# drafts included (the citizen is still putting the application together)
CLOSED_STATUSES = frozenset(CLOSED_STATES)
EARLIEST_ISSUE_DATE = date(1900, 1, 1)


def _not_found() -> NotFound:
    # the same words as any missing page: nothing tells a stranger the document exists
    return NotFound(str(_l("没有找到您要的页面，可能链接有误或内容已下线。")))


def max_upload_bytes() -> int:
    return int(current_app.config["MAX_UPLOAD_MB"]) * 1024 * 1024


def valid_until_for(
    material_type: MaterialType, issued_on: date | None, own_expiry: date | None = None
) -> date | None:
    """A document's end of validity by its type's rule (photo: months after issue, id: its own)."""
    if material_type.validity_kind == "months" and issued_on and material_type.validity_months:
        return issued_on + relativedelta(months=material_type.validity_months)
    if material_type.validity_kind == "own_expiry":
        return own_expiry
    return None


def add_document(
    *,
    owner: Citizen,
    material_type: MaterialType,
    data: bytes,
    content_type: str,
    filename: str,
    grade: Grade,
    source: str,
    issued_on: date | None = None,
    own_expiry: date | None = None,
    verified_by: User | None = None,
    title: str | None = None,
) -> Document:
    """Store a checked file and its library row. The file is in place before the caller
    commits, and is removed again if the transaction does not commit."""
    suffix = CONTENT_SUFFIX[content_type]
    stored = storage.save(data, suffix)  # gone on rollback, final after the commit
    doc = Document(
        owner=owner,
        material_type=material_type,
        title=title or material_type.name,
        grade=grade,
        source=source,
        storage_key=stored.key,
        original_filename=filename[:200],
        content_type=content_type,
        size=stored.size,
        sha256=stored.sha256,
        issued_on=issued_on,
        valid_until=valid_until_for(material_type, issued_on, own_expiry),
        verified_by_id=verified_by.id if verified_by else None,
        verified_at=utcnow() if verified_by else None,
    )
    db.session.add(doc)
    try:
        db.session.flush()
    except Exception:
        storage.backend().discard(stored.key)
        raise
    return doc


def list_material_types() -> list[MaterialType]:
    """The shared material catalogue, for the upload form's choice."""
    return list(
        db.session.scalars(select(MaterialType).order_by(MaterialType.category, MaterialType.code))
    )


def _citizen_of(user: User) -> Citizen:
    if user.role != Role.citizen or user.citizen is None:
        raise _not_found()
    return user.citizen


def check_dates(
    material_type: MaterialType, issued_on: date | None, own_expiry: date | None, today: date
) -> date | None:
    """The document's end of validity, or ValidationError naming the date field that is wrong."""
    errors: dict[str, str] = {}
    if issued_on is not None and issued_on > today:
        errors["issued_on"] = str(_l("开具日期不能晚于今天"))
    elif issued_on is not None and issued_on < EARLIEST_ISSUE_DATE:
        errors["issued_on"] = str(_l("开具日期不正确"))
    if material_type.validity_kind == "months" and issued_on is None and "issued_on" not in errors:
        errors["issued_on"] = str(
            _l(
                "该材料开具后 %(n)d 个月内有效，请填写开具日期",
                n=material_type.validity_months or 0,
            )
        )
    if own_expiry is not None:
        if material_type.validity_kind != "own_expiry":
            errors["valid_until"] = str(_l("该材料不需要填写有效期，请留空"))
        elif issued_on is not None and own_expiry < issued_on:
            errors["valid_until"] = str(_l("有效期不能早于开具日期"))
        elif own_expiry < today:
            errors["valid_until"] = str(_l("该材料已过期，请上传在有效期内的材料"))
    if errors:
        raise ValidationError(errors)
    valid_until = valid_until_for(material_type, issued_on, own_expiry)
    if material_type.validity_kind == "months" and valid_until is not None and valid_until < today:
        raise ValidationError(
            {
                "issued_on": str(
                    _l(
                        "该材料开具已超过 %(n)d 个月，已过期，请上传新开具的材料",
                        n=material_type.validity_months or 0,
                    )
                )
            }
        )
    return valid_until


def upload_document(
    user: User,
    *,
    material_type_id: int | None,
    data: bytes,
    filename: str | None,
    issued_on: date | None = None,
    own_expiry: date | None = None,
    today: date | None = None,
    owner: Citizen | None = None,
    intake: IntakeKey | None = None,
) -> Document:
    """A citizen adds a file to their library (grade C: uploaded, not yet checked).

    An authorised agent (亲友代办) may upload into the principal's library (``owner``); a
    counter clerk scans paper materials into the library of the citizen being served, or of
    the applicant of an offline intake of theirs being sent (``intake``)."""
    source = "upload"
    if user.role == Role.counter:
        if not case_access.may_upload_for(user, owner, intake):
            raise _not_found()
        source = "counter"
    else:
        own = _citizen_of(user)
        if owner is not None and not case_access.may_upload_for(user, owner):
            raise _not_found()
        owner = owner or own
    today = today or clock.local_today()
    material_type = db.session.get(MaterialType, material_type_id) if material_type_id else None
    errors: dict[str, str] = {}
    if material_type is None:
        errors["material_type"] = str(_l("请选择材料类型"))
    else:
        try:
            check_dates(material_type, issued_on, own_expiry, today)
        except ValidationError as exc:
            errors.update(exc.errors)
    try:
        checked = check_upload(data, filename, max_bytes=max_upload_bytes(), field="file")
    except ValidationError as exc:
        errors.update(exc.errors)
    if errors:
        raise ValidationError(errors)
    if source == "upload":
        _check_quota(owner, today)
    return add_document(
        owner=owner,
        material_type=material_type,
        data=checked.data,
        content_type=checked.content_type,
        filename=checked.display_name,
        grade=Grade.C,
        source=source,
        issued_on=issued_on,
        own_expiry=own_expiry,
    )


def _check_quota(owner: Citizen, today: date) -> None:
    """A library is for one person's papers: at most UPLOADS_PER_DAY uploads a day into it
    (counted by a per-day counter, so deleting and uploading again does not reset it) and
    at most LIBRARY_MAX_DOCUMENTS documents in it. Staff scans at the counter do not count."""
    per_day = int(current_app.config["UPLOADS_PER_DAY"])
    if next_in_sequence(f"upload-{owner.id}", today) > per_day:
        raise ValidationError(
            {
                "file": str(
                    _l("今天上传的文件已达 %(n)d 个，请明天再传；急需办理请到窗口", n=per_day)
                )
            }
        )
    most = int(current_app.config["LIBRARY_MAX_DOCUMENTS"])
    held = db.session.scalar(select(func.count(Document.id)).where(Document.owner_id == owner.id))
    if held >= most:
        raise ValidationError(
            {"file": str(_l("材料库最多存放 %(n)d 份材料，请先删除不再需要的材料", n=most))}
        )


def document_state(
    document: Document, licence: ELicence | None = None, today: date | None = None
) -> str:
    """valid 有效 / expiring 即将过期 / expired 已过期 / revoked 已撤销: computed, never stored."""
    today = today or clock.local_today()
    if document.status == DocumentStatus.revoked or (
        licence is not None and licence.status == "cancelled"
    ):
        return "revoked"
    valid_until = document.valid_until
    if (licence is not None and licence.status == "expired") or (
        valid_until is not None and valid_until < today
    ):
        return "expired"
    if valid_until is not None and valid_until <= today + timedelta(days=EXPIRING_WITHIN_DAYS):
        return "expiring"
    return "valid"


@dataclass(frozen=True)
class CaseUse:
    application_id: int
    number: str | None  # None while a draft
    status: str
    item_name: str

    @property
    def is_open(self) -> bool:
        return self.status not in CLOSED_STATUSES


@dataclass
class LibraryEntry:
    document: Document
    state: str
    licence: ELicence | None
    cases: list[CaseUse] = field(default_factory=list)

    @property
    def deletable(self) -> bool:
        return (
            self.licence is None
            and self.document.source != "elicence"
            and not any(c.is_open for c in self.cases)
        )


# 我的材料 shows this many documents a page (a library may hold 300: all at once was a 166 KiB
# page for 100), grouped by material type as the whole library is
LIBRARY_PAGE = 20


@dataclass
class Library:
    groups: list[tuple[Row, list[LibraryEntry]]]  # this page's documents by type (id, code, name)
    licences: list[LibraryEntry]  # every e-licence (on the first page of the whole library)
    # every material type the library holds, with its number of documents (the type filter,
    # and each group's heading)
    types: list[tuple[Row, int]] = field(default_factory=list)
    next_cursor: str | None = None  # ?after= of the next page; None on the last

    @property
    def empty(self) -> bool:
        return not self.types

    @property
    def counts(self) -> dict[int, int]:
        return {mt.id: n for mt, n in self.types}


# the statements 我的材料 runs on every visit, built once (building a select costs about as
# much as SQLAlchemy's work to run it); each takes its values as bound parameters
_CASE_USES = (
    select(
        ApplicationMaterial.document_id,
        Application.id,
        Application.number,
        Application.status,
        ItemVersion.name,
    )
    .join(Application, Application.id == ApplicationMaterial.application_id)
    .join(ItemVersion, ItemVersion.id == Application.item_version_id)
    .where(ApplicationMaterial.document_id.in_(bindparam("documents", expanding=True)))
    .order_by(Application.id.desc())
)
_LIBRARY_TYPES = (
    select(
        MaterialType.id,
        MaterialType.code,
        MaterialType.name,
        func.count(Document.id).label("documents"),
    )
    .join(Document, Document.material_type_id == MaterialType.id)
    .where(Document.owner_id == bindparam("owner"))
    .group_by(MaterialType.id, MaterialType.code, MaterialType.name)
    .order_by(MaterialType.code)
)
_LIBRARY_DOCUMENTS = (
    select(Document)
    .join(MaterialType, MaterialType.id == Document.material_type_id)
    .where(Document.owner_id == bindparam("owner"))
)
_LIBRARY_LICENCES = (
    select(ELicence, Document)
    .join(Document, Document.id == ELicence.document_id)
    .where(ELicence.holder_id == bindparam("owner"))
    .order_by(Document.created_at.desc(), Document.id.desc())
)


def _case_uses(document_ids: list[int]) -> dict[int, list[CaseUse]]:
    """The cases that used each of these documents, newest first, each case once."""
    rows = db.session.execute(_CASE_USES, {"documents": document_ids})
    uses: dict[int, list[CaseUse]] = defaultdict(list)
    for document_id, app_id, number, status, item_name in rows:
        if all(u.application_id != app_id for u in uses[document_id]):
            uses[document_id].append(CaseUse(app_id, number, status, item_name))
    return uses


def _library_cursor(material_type: Row, document: Document) -> str:
    moment = document.created_at.astimezone(UTC).strftime("%Y%m%d%H%M%S%f")
    return f"{material_type.code}.{moment}.{document.id}"


def _parse_library_cursor(raw: str) -> tuple[str, datetime, int] | None:
    code, _dot, rest = (raw or "").rpartition(".")
    code, _dot, moment = code.rpartition(".")
    if not (0 < len(code) <= 16 and rest.isascii() and rest.isdigit() and len(rest) <= 10):
        return None
    if not (len(moment) == 20 and moment.isascii() and moment.isdigit()):
        return None
    try:
        return code, datetime.strptime(moment, "%Y%m%d%H%M%S%f").replace(tzinfo=UTC), int(rest)
    except ValueError:
        return None


def library_for(
    user: User,
    today: date | None = None,
    *,
    material_type_id: int | None = None,
    after: str = "",
    page_size: int = LIBRARY_PAGE,
) -> Library:
    """A page of the citizen's documents (of one material type if asked), grouped by type in
    the order of the types' codes, the newest first within a type, each with its state, its
    e-licence and the cases that used it; every type held with its count; on the first page
    of the whole library, every e-licence. Four queries, whatever the size of the library; the next page starts after the last
    document's (type code, created_at, id), never at an OFFSET."""
    if user.role != Role.citizen or user.citizen_id is None:
        raise _not_found()
    owner_id = user.citizen_id
    today = today or clock.local_today()
    owner = {"owner": owner_id}
    types = [(row, row.documents) for row in db.session.execute(_LIBRARY_TYPES, owner)]
    if not types:
        return Library(groups=[], licences=[])
    stmt = _LIBRARY_DOCUMENTS
    if material_type_id is not None:
        stmt = stmt.where(Document.material_type_id == material_type_id)
    if (key := _parse_library_cursor(after)) is not None:
        code, moment, document_id = key
        stmt = stmt.where(
            or_(
                MaterialType.code > code,
                and_(
                    MaterialType.code == code,
                    or_(
                        Document.created_at < moment,
                        and_(Document.created_at == moment, Document.id < document_id),
                    ),
                ),
            )
        )
    docs = list(
        db.session.scalars(
            stmt.order_by(MaterialType.code, Document.created_at.desc(), Document.id.desc()).limit(
                page_size + 1
            ),
            owner,
        )
    )
    more = len(docs) > page_size
    docs = docs[:page_size]
    # the e-licences with their documents (few; the first page lists them all)
    licensed = db.session.execute(_LIBRARY_LICENCES, owner).all()
    licences = {document.id: licence for licence, document in licensed}
    uses = _case_uses([d.id for d in docs]) if docs else {}
    by_type = {mt.id: mt for mt, _n in types}
    grouped: dict[int, list[LibraryEntry]] = defaultdict(list)
    for doc in docs:
        licence = licences.get(doc.id)
        grouped[doc.material_type_id].append(
            LibraryEntry(doc, document_state(doc, licence, today), licence, uses.get(doc.id, []))
        )
    licence_entries = []
    if material_type_id is None and key is None:  # the first page of the whole library
        licence_entries = [
            LibraryEntry(document, document_state(document, licence, today), licence)
            for licence, document in licensed
        ]
    return Library(
        groups=[(by_type[type_id], entries) for type_id, entries in grouped.items()],
        licences=licence_entries,
        types=types,
        next_cursor=_library_cursor(by_type[docs[-1].material_type_id], docs[-1]) if more else None,
    )


# --- who may open a document -------------------------------------------------------------


# why each kind of user who is not the owner opens a document (data_use.REASONS)
_USE_REASONS = {
    Role.reviewer: data_use.CASE_REVIEW,
    Role.counter: data_use.COUNTER_SERVICE,
    Role.citizen: data_use.AUTHORISED_AGENT,
}


def open_document(user: User, document_id: int, *, download: bool = False) -> Document:
    """The document ``user`` asked to view or download; a staff member's or an agent's use is
    logged for the owner (data_use.record_use). Raises NotFound for anyone without access,
    exactly as for a missing document."""
    document = db.session.get(Document, document_id)
    if document is None or document.storage_key is None:
        raise _not_found()
    access = document_access(user, document)
    if access is None:
        raise _not_found()
    if access.logged:
        data_use.record_use(
            user,
            document.owner_id,
            data_use.DOWNLOAD_DOCUMENT if download else data_use.VIEW_DOCUMENT,
            application_id=access.application_id,
            document=document,
            reason=_USE_REASONS[user.role],
        )
    return document


def delete_document(user: User, document_id: int) -> None:
    """The owner removes a document no open case uses. The row goes now; the file once the
    deletion has committed. Closed cases keep a record of it in the audit trail."""
    owner = _citizen_of(user)
    document = db.session.get(Document, document_id)
    if document is None or document.owner_id != owner.id:
        raise _not_found()
    is_licence = (
        document.source == "elicence"
        or db.session.scalar(select(ELicence.id).where(ELicence.document_id == document.id))
        is not None
    )
    if is_licence:
        raise Conflict(str(_l("电子证照由发证部门管理，不能删除")))
    uses = _case_uses([document.id]).get(document.id, [])
    blocking = [u for u in uses if u.is_open]
    if blocking:
        names = "、".join(
            u.number if u.number else str(_l("草稿：%(item)s", item=u.item_name)) for u in blocking
        )
        raise Conflict(str(_l("该材料正被以下办件使用，不能删除：%(cases)s", cases=names)))
    if uses:
        db.session.execute(
            update(ApplicationMaterial)
            .where(ApplicationMaterial.document_id == document.id)
            .values(document_id=None)
            .execution_options(synchronize_session=False)
        )
    record_event(
        "document_deleted",
        actor=user,
        details={
            "document_id": document.id,
            "owner_id": owner.id,
            "material_type": document.material_type_id,
            "sha256": document.sha256,
            "applications": [u.application_id for u in uses],
        },
    )
    key = document.storage_key
    db.session.delete(document)
    db.session.flush()
    if key:
        storage.delete_after_commit(key)
