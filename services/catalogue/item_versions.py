"""Publishing the catalogue: departments, material types, items and their versioned guides.

Every function flushes and never commits. Admin actions pass the acting admin and leave an
audit event; seeds and bulk loads pass no actor and leave none.

A guide (办事指南) is edited only as a draft. Published and archived versions are immutable:
editing one means ``create_draft_from`` it, and publishing the new draft archives the old one.
Drafts carry ``lock_version``; every edit names the number it was based on, so two admins
editing the same draft cannot silently overwrite each other.
"""

from __future__ import annotations

import copy
import json
import math
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import load_only, selectinload

from portal.extensions import db
from portal.models import (
    Bundle,
    BundleItem,
    Department,
    ItemVersion,
    MaterialRequirement,
    MaterialType,
    ServiceItem,
    Theme,
    User,
    VersionStatus,
)
from portal.models.base import utcnow
from services import audit, storage, uploads
from services.documents import CONTENT_SUFFIX
from services.errors import Conflict, NotFound, ValidationError
from services.guide_cache import clear_guide_cache
from services.search import build_search_text

ITEM_CODE_RE = re.compile(r"^[0-9A-Za-z]{12}$")
SHORT_CODE_RE = re.compile(r"^[A-Z0-9]{1,16}$")
LICENCE_CODE_RE = re.compile(r"^[0-9A-Za-z]{1,40}$")
KEY_RE = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
PHONE_RE = re.compile(r"^[0-9+\-() ,、转]{3,40}$")

ITEM_TYPES = ("licensing", "confirmation", "benefit", "public_service", "other")
AUDIENCES = ("person", "organisation")
UNITS = ("working", "natural")
CASE_TYPES = ("instant", "promised")
STEP_ROLES = ("counter", "reviewer")
ONLINE_DEPTHS = (1, 2, 3, 4)
RESULT_TYPES = ("licence", "approval", "other")
NECESSITIES = ("required", "optional", "deferrable", "shared")
MEDIA = ("paper", "electronic")
SOURCES = ("self", "issued")
VALIDITY_KINDS = ("none", "own_expiry", "months")
QUESTION_TYPES = (
    "text",
    "number",
    "date",
    "select",
    "multiselect",
    "checkbox",
    "id_number",
    "phone",
    "address",
    "money",
)
CHOICE_TYPES = ("select", "multiselect")
PREFILL_FIELDS = ("name", "id_number", "phone", "address", "birth_date")
FILE_KINDS = ("blank_form", "example")
OPEN_STATUSES = (VersionStatus.draft, VersionStatus.in_review)

MAX_LIMIT_DAYS = 3650
MAX_VISITS = 10
MAX_ROWS = 50
LONG_TEXT = 5000

# guide fields copied from one version to the next, and compared field by field
GUIDE_FIELDS = (
    "name",
    "item_type",
    "audience",
    "department_id",
    "legal_basis",
    "conditions",
    "legal_limit",
    "legal_limit_unit",
    "promised_limit",
    "promised_limit_unit",
    "case_type",
    "steps",
    "visits",
    "visits_reason",
    "online_depth",
    "location",
    "hours",
    "phone",
    "complaint_phone",
    "fees",
    "result_name",
    "result_type",
    "result_licence_type_code",
    "faqs",
    "keywords",
    "synonyms",
    "questions",
    "condition_questions",
    "commitment_text",
    "auto_rules",
    "kiosk_enabled",
)
REQUIREMENT_FIELDS = (
    "material_type_id",
    "position",
    "original",
    "form",
    "copies",
    "necessity",
    "condition",
    "notes",
    "acceptance_standard",
    "commitment_allowed",
)

# the words the admin pages, the diff and the errors use for each code value
STATUS_LABELS = {
    VersionStatus.draft: _l("草稿"),
    VersionStatus.in_review: _l("待审核"),
    VersionStatus.published: _l("已发布"),
    VersionStatus.archived: _l("已归档"),
}
ITEM_TYPE_LABELS = {
    "licensing": _l("行政许可"),
    "confirmation": _l("行政确认"),
    "benefit": _l("行政给付"),
    "public_service": _l("公共服务"),
    "other": _l("其他"),
}
AUDIENCE_LABELS = {"person": _l("自然人"), "organisation": _l("法人")}
UNIT_LABELS = {"working": _l("工作日"), "natural": _l("自然日")}
CASE_TYPE_LABELS = {"instant": _l("即办件"), "promised": _l("承诺件")}
STEP_ROLE_LABELS = {"counter": _l("窗口受理人员"), "reviewer": _l("审批人员")}
ONLINE_DEPTH_LABELS = {1: _l("事项公开"), 2: _l("在线预审"), 3: _l("在线办理"), 4: _l("全程网办")}
RESULT_TYPE_LABELS = {"licence": _l("证照"), "approval": _l("批文"), "other": _l("其他")}
NECESSITY_LABELS = {
    "required": _l("必要"),
    "optional": _l("非必要"),
    "deferrable": _l("容缺后补"),
    "shared": _l("信息免交"),
}
MEDIUM_LABELS = {"paper": _l("纸质"), "electronic": _l("电子")}
SOURCE_LABELS = {"self": _l("申请人自备"), "issued": _l("政府部门核发")}
VALIDITY_LABELS = {
    "none": _l("长期有效"),
    "own_expiry": _l("以证件自身的有效期为准"),
    "months": _l("签发后若干个月内有效"),
}
QUESTION_TYPE_LABELS = {
    "text": _l("文字"),
    "number": _l("数字"),
    "date": _l("日期"),
    "select": _l("单选"),
    "multiselect": _l("多选"),
    "checkbox": _l("勾选确认"),
    "id_number": _l("身份证号"),
    "phone": _l("手机号"),
    "address": _l("地址"),
    "money": _l("金额"),
}
PREFILL_LABELS = {
    "name": _l("姓名"),
    "id_number": _l("身份证号"),
    "phone": _l("手机号"),
    "address": _l("常住地址"),
    "birth_date": _l("出生日期"),
}
FILE_KIND_LABELS = {"blank_form": _l("空白表格"), "example": _l("示例样表")}
FIELD_LABELS = {
    "name": _l("事项名称"),
    "item_type": _l("事项类型"),
    "audience": _l("服务对象"),
    "themes": _l("主题分类"),
    "department_id": _l("实施主体"),
    "legal_basis": _l("设定依据"),
    "conditions": _l("受理条件"),
    "legal_limit": _l("法定办结时限"),
    "legal_limit_unit": _l("法定办结时限单位"),
    "promised_limit": _l("承诺办结时限"),
    "promised_limit_unit": _l("承诺办结时限单位"),
    "case_type": _l("办件类型"),
    "steps": _l("办理流程"),
    "visits": _l("到办事现场次数"),
    "visits_reason": _l("到现场的原因"),
    "online_depth": _l("网上办理深度"),
    "location": _l("办理地点"),
    "hours": _l("办理时间"),
    "phone": _l("咨询电话"),
    "complaint_phone": _l("监督投诉电话"),
    "fees": _l("收费"),
    "result_name": _l("审批结果名称"),
    "result_type": _l("审批结果类型"),
    "result_licence_type_code": _l("审批结果的电子证照类型"),
    "faqs": _l("常见问题"),
    "keywords": _l("检索关键词"),
    "synonyms": _l("同义词"),
    "questions": _l("申请表问题"),
    "condition_questions": _l("情形问题"),
    "commitment_text": _l("告知承诺书"),
    "auto_rules": _l("自动审批规则"),
    "kiosk_enabled": _l("可在自助终端办理"),
}


# ---------------------------------------------------------------------------- helpers


def _audit(action: str, actor: User | None, **details: Any) -> None:
    """Record an admin's action; seeds and bulk loads (no actor) leave no trail."""
    if actor is not None:
        audit.record_event(f"catalogue.{action}", actor=actor, details=details)


def _clean_text(value: Any) -> str:
    """Strip, and drop control characters other than newlines and tabs (PostgreSQL refuses NUL)."""
    text = "" if value is None else str(value)
    text = text.replace("\r\n", "\n")
    return "".join(ch for ch in text if ch in "\n\t" or unicodedata.category(ch) != "Cc").strip()


class _Checks:
    """Collects every field error of one call, so the admin sees them all at once."""

    def __init__(self) -> None:
        self.errors: dict[str, str] = {}

    def fail(self, field: str, message: Any) -> None:
        self.errors.setdefault(field, str(message))

    def done(self) -> None:
        if self.errors:
            raise ValidationError(self.errors)

    def text(
        self, field: str, value: Any, label: Any, *, max_len: int, required: bool = False
    ) -> str:
        text = _clean_text(value)
        if required and not text:
            self.fail(field, _l("请填写%(field)s", field=label))
        elif len(text) > max_len:
            self.fail(field, _l("%(field)s最多 %(n)d 个字", field=label, n=max_len))
        return text

    def choice(self, field: str, value: Any, allowed: Iterable, label: Any) -> Any:
        if value not in tuple(allowed):
            self.fail(field, _l("请从列表中选择%(field)s", field=label))
        return value

    def integer(
        self,
        field: str,
        value: Any,
        label: Any,
        *,
        minimum: int,
        maximum: int,
        required: bool = False,
    ) -> int | None:
        if value is None or value == "":
            if required:
                self.fail(field, _l("请填写%(field)s", field=label))
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            try:
                value = int(str(value).strip())
            except ValueError:
                self.fail(field, _l("%(field)s须为整数", field=label))
                return None
        if value < minimum:
            if minimum == 0:
                self.fail(field, _l("%(field)s不能为负数", field=label))
            else:
                self.fail(field, _l("%(field)s不能小于 %(n)d", field=label, n=minimum))
        elif value > maximum:
            self.fail(field, _l("%(field)s不能超过 %(n)d", field=label, n=maximum))
        return value

    def phone(self, field: str, value: Any, label: Any, *, required: bool = False) -> str:
        text = self.text(field, value, label, max_len=40, required=required)
        if text and field not in self.errors and not PHONE_RE.fullmatch(text):
            self.fail(field, _l("%(field)s只能包含数字、空格、括号和连字符", field=label))
        return text


@dataclass(frozen=True)
class Upload:
    """A file an admin sent: its bytes and the name it had on their computer."""

    data: bytes
    filename: str


T = TypeVar("T")


@dataclass
class Page(Generic[T]):
    rows: list[T]
    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.total / self.per_page))

    @property
    def has_prev(self) -> bool:
        return self.page > 1

    @property
    def has_next(self) -> bool:
        return self.page < self.pages


def paginate_query(stmt: Select, page: int, per_page: int, options: tuple = ()) -> Page:
    """One count and one page of rows; a page past the end shows the last page."""
    total = db.session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery())) or 0
    page = min(max(1, page), max(1, math.ceil(total / per_page)))
    rows = db.session.scalars(
        stmt.options(*options).limit(per_page).offset((page - 1) * per_page)
    ).all()
    return Page(rows=list(rows), total=total, page=page, per_page=per_page)


def _like(text: str) -> str:
    return _clean_text(text)[:100]


# ---------------------------------------------------------------------------- departments


def _check_department(
    checks: _Checks, *, name: str, phone: str, address: str, hours: str
) -> dict[str, str]:
    return {
        "name": checks.text("name", name, _l("部门名称"), max_len=100, required=True),
        "phone": checks.phone("phone", phone, _l("咨询电话")) if _clean_text(phone) else "",
        "address": checks.text("address", address, _l("办公地址"), max_len=200),
        "hours": checks.text("hours", hours, _l("办公时间"), max_len=200),
    }


def create_department(
    *,
    code: str,
    name: str,
    phone: str = "",
    address: str = "",
    hours: str = "",
    actor: User | None = None,
) -> Department:
    checks = _Checks()
    code = (code or "").strip().upper()
    if not SHORT_CODE_RE.fullmatch(code):
        checks.fail("code", _l("部门编码只能是 1 至 16 位字母或数字"))
    elif db.session.scalar(select(Department.id).where(Department.code == code)):
        checks.fail("code", _l("部门编码已存在"))
    values = _check_department(checks, name=name, phone=phone, address=address, hours=hours)
    checks.done()
    dept = Department(code=code, **values)
    db.session.add(dept)
    db.session.flush()
    _audit("department_created", actor, department_id=dept.id, code=code)
    return dept


def update_department(
    dept: Department, *, name: str, phone: str, address: str, hours: str, actor: User
) -> Department:
    checks = _Checks()
    values = _check_department(checks, name=name, phone=phone, address=address, hours=hours)
    checks.done()
    for key, value in values.items():
        setattr(dept, key, value)
    db.session.flush()
    _audit("department_updated", actor, department_id=dept.id, code=dept.code)
    clear_guide_cache()  # cached guides show this name; drop them
    return dept


def set_department_active(dept: Department, *, active: bool, actor: User) -> Department:
    """Deactivate (no new items may name it) or reactivate a department."""
    dept.active = bool(active)
    db.session.flush()
    _audit(
        "department_activated" if active else "department_deactivated",
        actor,
        department_id=dept.id,
        code=dept.code,
    )
    return dept


def delete_department(dept: Department, *, actor: User) -> None:
    """Delete a department nothing refers to; one with published items can only be deactivated."""
    published = db.session.scalar(
        select(func.count())
        .select_from(ServiceItem)
        .where(ServiceItem.department_id == dept.id, ServiceItem.published_version_id.is_not(None))
    )
    if published:
        raise Conflict(
            str(
                _l(
                    "%(name)s有 %(n)d 个已发布的事项，不能删除；如不再使用，请停用该部门",
                    name=dept.name,
                    n=published,
                )
            )
        )
    used = (
        db.session.scalar(
            select(ServiceItem.id).where(ServiceItem.department_id == dept.id).limit(1)
        )
        or db.session.scalar(
            select(ItemVersion.id).where(ItemVersion.department_id == dept.id).limit(1)
        )
        or db.session.scalar(select(User.id).where(User.department_id == dept.id).limit(1))
    )
    if used:
        raise Conflict(
            str(
                _l(
                    "%(name)s还有事项、历史版本或工作人员，不能删除；如不再使用，请停用该部门",
                    name=dept.name,
                )
            )
        )
    code, dept_id = dept.code, dept.id
    db.session.delete(dept)
    db.session.flush()
    _audit("department_deleted", actor, department_id=dept_id, code=code)


def list_departments() -> list[tuple[Department, int, int]]:
    """Every department with its number of items and of published items (one query)."""
    published = func.count(ServiceItem.published_version_id)
    rows = db.session.execute(
        select(Department, func.count(ServiceItem.id), published)
        .outerjoin(ServiceItem, ServiceItem.department_id == Department.id)
        .group_by(Department.id)
        .order_by(Department.active.desc(), Department.code)
    ).all()
    return [(dept, items, pub) for dept, items, pub in rows]


# ---------------------------------------------------------------------------- material types


def _check_upload(checks: _Checks, field: str, upload: Upload | None) -> tuple[bytes, str] | None:
    """A blank form or example passes the same content checks as a citizen's upload
    (PDF, PNG or JPEG by its bytes, size limit, PDFs that open, re-encoded images)."""
    if upload is None:
        return None
    limit = int(current_app.config["MAX_UPLOAD_MB"]) * 1024 * 1024
    try:
        checked = uploads.check_upload(
            upload.data, getattr(upload, "filename", None), max_bytes=limit, field=field
        )
    except ValidationError as exc:
        for message in exc.errors.values():
            checks.fail(field, message)
        return None
    return checked.data, CONTENT_SUFFIX[checked.content_type]


def _check_material_type(
    checks: _Checks,
    *,
    name: str,
    category: str,
    description: str,
    source: str,
    licence_type_code: str | None,
    validity_kind: str,
    validity_months: int | None,
) -> dict[str, Any]:
    values: dict[str, Any] = {
        "name": checks.text("name", name, _l("材料名称"), max_len=100, required=True),
        "category": checks.text("category", category, _l("材料分类"), max_len=40),
        "description": checks.text("description", description, _l("材料说明"), max_len=2000),
        "source": checks.choice("source", source, SOURCES, _l("来源渠道")),
        "validity_kind": checks.choice(
            "validity_kind", validity_kind, VALIDITY_KINDS, _l("有效期规则")
        ),
    }
    code = _clean_text(licence_type_code)
    if source == "issued" and not code:
        checks.fail("licence_type_code", _l("政府部门核发的材料须填写电子证照类型代码"))
    elif code and not LICENCE_CODE_RE.fullmatch(code):
        checks.fail("licence_type_code", _l("电子证照类型代码只能是 1 至 40 位字母或数字"))
    values["licence_type_code"] = code or None
    months = None
    if validity_kind == "months":
        months = checks.integer(
            "validity_months",
            validity_months,
            _l("有效月数"),
            minimum=1,
            maximum=120,
            required=True,
        )
        if validity_months in (None, "") and "validity_months" in checks.errors:
            checks.errors["validity_months"] = str(_l("请填写有效月数"))
    values["validity_months"] = months
    return values


def _store_uploads(mt: MaterialType, uploads: dict[str, tuple[bytes, str] | None]) -> None:
    """Point the type at its new files; the files replaced go only once the commit succeeds."""
    upload_dir = current_app.config["UPLOAD_DIR"]
    for kind, checked in uploads.items():
        if checked is None:
            continue
        data, suffix = checked
        stored = storage.save_bytes(upload_dir, data, suffix)
        storage.track_new_file(db.session, upload_dir, stored.key)
        old = getattr(mt, f"{kind}_key")
        setattr(mt, f"{kind}_key", stored.key)
        if old:
            storage.delete_after_commit(db.session, upload_dir, old)


def create_material_type(
    *,
    code: str,
    name: str,
    category: str = "",
    description: str = "",
    source: str = "self",
    licence_type_code: str | None = None,
    validity_kind: str = "none",
    validity_months: int | None = None,
    blank_form: Upload | None = None,
    example: Upload | None = None,
    actor: User | None = None,
) -> MaterialType:
    checks = _Checks()
    code = (code or "").strip().upper()
    if not SHORT_CODE_RE.fullmatch(code):
        checks.fail("code", _l("材料编码只能是 1 至 16 位字母或数字"))
    elif db.session.scalar(select(MaterialType.id).where(MaterialType.code == code)):
        checks.fail("code", _l("材料编码已存在"))
    values = _check_material_type(
        checks,
        name=name,
        category=category,
        description=description,
        source=source,
        licence_type_code=licence_type_code,
        validity_kind=validity_kind,
        validity_months=validity_months,
    )
    uploads = {
        "blank_form": _check_upload(checks, "blank_form", blank_form),
        "example": _check_upload(checks, "example", example),
    }
    checks.done()
    mt = MaterialType(code=code, **values)
    db.session.add(mt)
    _store_uploads(mt, uploads)
    db.session.flush()
    _audit("material_type_created", actor, material_type_id=mt.id, code=code)
    return mt


def update_material_type(
    mt: MaterialType,
    *,
    name: str,
    category: str,
    description: str,
    source: str,
    licence_type_code: str | None,
    validity_kind: str,
    validity_months: int | None,
    blank_form: Upload | None = None,
    example: Upload | None = None,
    actor: User,
) -> MaterialType:
    checks = _Checks()
    values = _check_material_type(
        checks,
        name=name,
        category=category,
        description=description,
        source=source,
        licence_type_code=licence_type_code,
        validity_kind=validity_kind,
        validity_months=validity_months,
    )
    uploads = {
        "blank_form": _check_upload(checks, "blank_form", blank_form),
        "example": _check_upload(checks, "example", example),
    }
    checks.done()
    for key, value in values.items():
        setattr(mt, key, value)
    _store_uploads(mt, uploads)
    db.session.flush()
    _audit(
        "material_type_updated",
        actor,
        material_type_id=mt.id,
        code=mt.code,
        files=[kind for kind, checked in uploads.items() if checked],
    )
    clear_guide_cache()  # cached guides show this name; drop them
    return mt


def list_material_types(query: str = "", page: int = 1, per_page: int = 25) -> Page[MaterialType]:
    stmt = select(MaterialType).order_by(MaterialType.code)
    text = _like(query)
    if text:
        stmt = stmt.where(
            or_(
                MaterialType.name.icontains(text, autoescape=True),
                MaterialType.code.icontains(text, autoescape=True),
            )
        )
    return paginate_query(stmt, page, per_page)


def get_material_file(material_type_id: int, kind: str) -> tuple[MaterialType, str]:
    """The material type and the storage key of its blank form or example; NotFound otherwise."""
    mt = db.session.get(MaterialType, material_type_id)
    key = getattr(mt, f"{kind}_key", None) if mt is not None and kind in FILE_KINDS else None
    if mt is None or not key:
        raise NotFound(str(_l("没有找到这个文件")))
    return mt, key


# ---------------------------------------------------------------------------- themes


def get_or_create_theme(name: str, audience: str = "person", position: int = 0) -> Theme:
    theme = db.session.scalar(select(Theme).where(Theme.name == name))
    if theme is None:
        theme = Theme(name=name, audience=audience, position=position)
        db.session.add(theme)
        db.session.flush()
    return theme


def list_themes() -> list[Theme]:
    return list(db.session.scalars(select(Theme).order_by(Theme.position, Theme.id)))


# ---------------------------------------------------------------------------- guide checks


def _in_natural_days(value: int, unit: str) -> float:
    """Compare limits across units conservatively: a working day is at least one natural day."""
    return float(value) if unit == "natural" else float(value) * 7 / 5


def _check_rows(
    checks: _Checks, field: str, rows: Any, columns: dict[str, tuple[Any, int, bool]]
) -> list[dict[str, Any]]:
    """Rows of short texts: ``columns`` maps a key to (label, max length, required)."""
    if not isinstance(rows, list):
        checks.fail(field, _l("%(field)s格式不正确", field=FIELD_LABELS[field]))
        return []
    if len(rows) > MAX_ROWS:
        checks.fail(field, _l("%(field)s最多 %(n)d 行", field=FIELD_LABELS[field], n=MAX_ROWS))
    cleaned = []
    for i, row in enumerate(rows):
        row = row if isinstance(row, dict) else {}
        cleaned.append(
            {
                key: checks.text(
                    f"{field}-{i}-{key}", row.get(key), label, max_len=max_len, required=required
                )
                for key, (label, max_len, required) in columns.items()
            }
        )
    return cleaned


def _check_steps(checks: _Checks, rows: Any) -> list[dict[str, Any]]:
    cleaned = _check_rows(checks, "steps", rows, {"name": (_l("环节名称"), 100, True)})
    for i, (row, raw) in enumerate(
        zip(cleaned, rows if isinstance(rows, list) else [], strict=False)
    ):
        raw = raw if isinstance(raw, dict) else {}
        row["role"] = checks.choice(f"steps-{i}-role", raw.get("role"), STEP_ROLES, _l("办理人员"))
        row["limit"] = checks.integer(
            f"steps-{i}-limit", raw.get("limit"), _l("环节时限"), minimum=0, maximum=MAX_LIMIT_DAYS
        )
    return cleaned


def _check_words(checks: _Checks, field: str, words: Any) -> list[str]:
    """Keywords or synonyms: short phrases, de-duplicated, in the order given."""
    if not isinstance(words, list):
        checks.fail(field, _l("%(field)s格式不正确", field=FIELD_LABELS[field]))
        return []
    cleaned: list[str] = []
    for word in words:
        text = _clean_text(word)
        if not text or text in cleaned:
            continue
        if len(text) > 40:
            checks.fail(field, _l("每个%(field)s最多 40 个字", field=FIELD_LABELS[field]))
        cleaned.append(text)
    if len(cleaned) > MAX_ROWS:
        checks.fail(field, _l("%(field)s最多 %(n)d 个", field=FIELD_LABELS[field], n=MAX_ROWS))
    return cleaned


def _check_options(checks: _Checks, field: str, options: Any) -> list[list[str]]:
    """[[value, label], …] with distinct non-empty values."""
    cleaned: list[list[str]] = []
    seen: set[str] = set()
    for pair in options or []:
        if not isinstance(pair, list | tuple) or len(pair) != 2:
            checks.fail(field, _l("选项格式不正确"))
            continue
        value, label = _clean_text(pair[0]), _clean_text(pair[1]) or _clean_text(pair[0])
        if not value or len(value) > 40 or len(label) > 100:
            checks.fail(field, _l("选项的值最多 40 个字，显示文字最多 100 个字"))
        elif value in seen:
            checks.fail(field, _l("选项“%(value)s”重复了", value=value))
        seen.add(value)
        cleaned.append([value, label])
    return cleaned


def _check_form(
    checks: _Checks, questions: Any, condition_questions: Any
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The application form: its questions and its 情形 questions, with distinct keys."""
    keys: set[str] = set()

    def key_of(field: str, raw: Any) -> str:
        key = _clean_text(raw)
        if not KEY_RE.fullmatch(key):
            checks.fail(field, _l("字段名以小写字母开头，只含小写字母、数字和下划线，最多 40 位"))
        elif key in keys:
            checks.fail(field, _l("字段名“%(key)s”重复了", key=key))
        keys.add(key)
        return key

    out_questions: list[dict[str, Any]] = []
    for i, raw in enumerate(questions if isinstance(questions, list) else []):
        raw = raw if isinstance(raw, dict) else {}
        p = f"questions-{i}-"
        q: dict[str, Any] = {
            "key": key_of(p + "key", raw.get("key")),
            "label": checks.text(
                p + "label", raw.get("label"), _l("问题"), max_len=200, required=True
            ),
            "type": checks.choice(p + "type", raw.get("type"), QUESTION_TYPES, _l("类型")),
            "required": bool(raw.get("required")),
            "prefill": raw.get("prefill") or None,
            "help": checks.text(p + "help", raw.get("help"), _l("填写说明"), max_len=300),
        }
        if q["prefill"] is not None:
            checks.choice(p + "prefill", q["prefill"], PREFILL_FIELDS, _l("自动填入"))
        if q["type"] in CHOICE_TYPES:
            q["options"] = _check_options(checks, p + "options", raw.get("options"))
            if not q["options"]:
                checks.fail(p + "options", _l("单选或多选的问题至少要有一个选项"))
        for key, label in (("min", _l("最小值")), ("max", _l("最大值"))):
            value = checks.integer(p + key, raw.get(key), label, minimum=-(10**12), maximum=10**12)
            if value is not None:
                q[key] = value
        if "min" in q and "max" in q and q["min"] > q["max"]:
            checks.fail(p + "max", _l("最大值不能小于最小值"))
        max_length = checks.integer(
            p + "max_length", raw.get("max_length"), _l("最多字数"), minimum=1, maximum=LONG_TEXT
        )
        if max_length is not None:
            q["max_length"] = max_length
        out_questions.append(q)
    if len(out_questions) > MAX_ROWS:
        checks.fail(
            "questions", _l("%(field)s最多 %(n)d 行", field=FIELD_LABELS["questions"], n=MAX_ROWS)
        )

    out_conditions: list[dict[str, Any]] = []
    for i, raw in enumerate(condition_questions if isinstance(condition_questions, list) else []):
        raw = raw if isinstance(raw, dict) else {}
        p = f"condition_questions-{i}-"
        cq = {
            "key": key_of(p + "key", raw.get("key")),
            "label": checks.text(
                p + "label", raw.get("label"), _l("情形问题"), max_len=200, required=True
            ),
            "options": _check_options(checks, p + "options", raw.get("options")),
        }
        if not cq["options"]:
            checks.fail(p + "options", _l("情形问题至少要有一个选项"))
        out_conditions.append(cq)
    if len(out_conditions) > MAX_ROWS:
        checks.fail(
            "condition_questions",
            _l("%(field)s最多 %(n)d 行", field=FIELD_LABELS["condition_questions"], n=MAX_ROWS),
        )
    return out_questions, out_conditions


def _check_guide(
    checks: _Checks, guide: dict[str, Any], current: ItemVersion | None = None
) -> dict[str, Any]:
    """Validate and normalise the guide fields given (a draft may still be incomplete:
    completeness is checked at publishing, by ``publish_errors``)."""
    unknown = set(guide) - set(GUIDE_FIELDS)
    if unknown:
        raise ValueError(f"not guide fields: {sorted(unknown)}")
    g, out = guide, {}
    label = FIELD_LABELS
    if "name" in g:
        out["name"] = checks.text("name", g["name"], label["name"], max_len=200, required=True)
    for field in ("legal_basis", "conditions", "location", "visits_reason", "commitment_text"):
        if field in g:
            out[field] = checks.text(field, g[field], label[field], max_len=LONG_TEXT)
    for field in ("hours", "result_name"):
        if field in g:
            out[field] = checks.text(field, g[field], label[field], max_len=200)
    for field in ("phone", "complaint_phone"):
        if field in g:
            out[field] = (
                checks.phone(field, g[field], label[field]) if _clean_text(g[field]) else ""
            )
    for field, allowed in (
        ("item_type", ITEM_TYPES),
        ("audience", AUDIENCES),
        ("legal_limit_unit", UNITS),
        ("promised_limit_unit", UNITS),
        ("case_type", CASE_TYPES),
        ("result_type", RESULT_TYPES),
        ("online_depth", ONLINE_DEPTHS),
    ):
        if field in g:
            out[field] = checks.choice(field, g[field], allowed, label[field])
    for field in ("legal_limit", "promised_limit"):
        if field in g:
            out[field] = checks.integer(
                field, g[field], label[field], minimum=0, maximum=MAX_LIMIT_DAYS
            )
    if "visits" in g:
        out["visits"] = checks.integer(
            "visits", g["visits"], label["visits"], minimum=0, maximum=MAX_VISITS, required=True
        )
    if "department_id" in g:
        dept = (
            db.session.get(Department, g["department_id"])
            if isinstance(g["department_id"], int)
            else None
        )
        unchanged = current is not None and current.department_id == g["department_id"]
        if dept is None or not (dept.active or unchanged):
            checks.fail("department_id", _l("请选择一个在用的实施主体"))
        out["department_id"] = g["department_id"]
    if "result_licence_type_code" in g:
        code = _clean_text(g["result_licence_type_code"])
        if code and not LICENCE_CODE_RE.fullmatch(code):
            checks.fail(
                "result_licence_type_code", _l("电子证照类型代码只能是 1 至 40 位字母或数字")
            )
        out["result_licence_type_code"] = code or None
    if "steps" in g:
        out["steps"] = _check_steps(checks, g["steps"])
    if "fees" in g:
        out["fees"] = _check_rows(
            checks,
            "fees",
            g["fees"],
            {
                "name": (_l("收费项目"), 100, True),
                "standard": (_l("收费标准"), 500, False),
                "basis": (_l("收费依据"), 500, False),
            },
        )
    if "faqs" in g:
        out["faqs"] = _check_rows(
            checks, "faqs", g["faqs"], {"q": (_l("问题"), 300, True), "a": (_l("解答"), 2000, True)}
        )
    for field in ("keywords", "synonyms"):
        if field in g:
            out[field] = _check_words(checks, field, g[field])
    if "questions" in g or "condition_questions" in g:
        questions, conditions = _check_form(
            checks,
            g.get("questions", current.questions if current else []),
            g.get("condition_questions", current.condition_questions if current else []),
        )
        if "questions" in g:
            out["questions"] = questions
        if "condition_questions" in g:
            out["condition_questions"] = conditions
    if "auto_rules" in g:
        out["auto_rules"] = list(g["auto_rules"] or [])
    if "kiosk_enabled" in g:
        out["kiosk_enabled"] = bool(g["kiosk_enabled"])

    def merged(field: str) -> Any:
        return out[field] if field in out else getattr(current, field, None)

    legal, promised = merged("legal_limit"), merged("promised_limit")
    legal_unit, promised_unit = merged("legal_limit_unit"), merged("promised_limit_unit")
    if (
        isinstance(legal, int)
        and isinstance(promised, int)
        and legal_unit in UNITS
        and promised_unit in UNITS
        and "legal_limit" not in checks.errors
        and "promised_limit" not in checks.errors
        and _in_natural_days(promised, promised_unit) > _in_natural_days(legal, legal_unit)
    ):
        checks.fail("promised_limit", _l("承诺办结时限不能超过法定办结时限"))
    return out


def _lock_draft(version: ItemVersion, expected_lock: int | None) -> None:
    """Refuse changes to anything but a draft, and changes based on a stale copy of it
    (callers check their input next and ``_touch`` the draft once they change it).

    The row is re-read under a row lock (PostgreSQL; SQLite writers are serialised anyway),
    so of two admins saving at once the second sees the first one's number and is refused.
    """
    db.session.refresh(version, attribute_names=["status", "lock_version"], with_for_update=True)
    ensure_editable(version)
    if expected_lock is not None and expected_lock != version.lock_version:
        raise Conflict(
            str(
                _l(
                    "该草稿已被其他管理员修改。请重新打开页面，在最新内容上修改（您这次的修改没有保存）"
                )
            )
        )


def _touch(version: ItemVersion) -> None:
    """Mark a checked change: the next edit must be based on this state."""
    version.lock_version += 1


def ensure_editable(version: ItemVersion) -> None:
    """Only drafts are edited; a published or archived version is never changed in place."""
    if version.status != VersionStatus.draft:
        if version.status == VersionStatus.in_review:
            raise Conflict(str(_l("该版本正在审核，不能修改；如需修改，请先退回草稿")))
        raise Conflict(str(_l("已发布或已归档的版本不能直接修改；请在事项页面创建新版本后修改")))


# ---------------------------------------------------------------------------- items and drafts


def create_item(
    *,
    code: str,
    department: Department | None,
    actor: User | None,
    guide: dict[str, Any],
    requirements: list[dict[str, Any]],
    themes: list[Theme],
) -> ItemVersion:
    """Create an item with its first draft version."""
    checks = _Checks()
    code = (code or "").strip().upper()
    if not ITEM_CODE_RE.match(code):
        checks.fail("code", _l("事项编码为 12 位字母或数字"))
    elif db.session.scalar(select(ServiceItem.id).where(ServiceItem.code == code)):
        checks.fail("code", _l("事项编码已存在"))
    if department is None or not department.active:
        checks.fail("department_id", _l("请选择一个在用的实施主体"))
    if not _clean_text(guide.get("name")):
        checks.fail("name", _l("请填写%(field)s", field=FIELD_LABELS["name"]))
    cleaned = _check_guide(checks, {k: v for k, v in guide.items() if k != "department_id"})
    checks.done()
    item = ServiceItem(code=code, department=department)
    db.session.add(item)
    db.session.flush()
    version = ItemVersion(
        item=item,
        number=1,
        status=VersionStatus.draft,
        department_id=department.id,
        created_by_id=actor.id if actor else None,
        **cleaned,
    )
    version.themes = list(themes)
    version.requirements = [MaterialRequirement(**r) for r in requirements]
    db.session.add(version)
    db.session.flush()
    _audit("item_created", actor, item_id=item.id, code=code, version_id=version.id)
    return version


def update_draft(
    version: ItemVersion,
    *,
    guide: dict[str, Any],
    theme_ids: list[int] | None,
    expected_lock: int | None,
    actor: User,
) -> ItemVersion:
    """Save guide fields (and the themes) of a draft."""
    _lock_draft(version, expected_lock)
    checks = _Checks()
    cleaned = _check_guide(checks, guide, current=version)
    themes = None
    if theme_ids is not None:
        themes = list(db.session.scalars(select(Theme).where(Theme.id.in_(theme_ids))))
        if len(themes) != len(set(theme_ids)):
            checks.fail("themes", _l("请从列表中选择%(field)s", field=FIELD_LABELS["themes"]))
    checks.done()
    _touch(version)
    for key, value in cleaned.items():
        setattr(version, key, value)
    if themes is not None:
        version.themes = sorted(themes, key=lambda t: (t.position, t.id))
    db.session.flush()
    _audit(
        "draft_updated",
        actor,
        item_id=version.item_id,
        version_id=version.id,
        fields=sorted(cleaned),
    )
    return version


def update_application_form(
    version: ItemVersion,
    *,
    questions: list[dict[str, Any]],
    condition_questions: list[dict[str, Any]],
    expected_lock: int | None,
    actor: User,
) -> ItemVersion:
    """Save the questions of a draft's application form and its 情形 questions."""
    _lock_draft(version, expected_lock)
    checks = _Checks()
    questions, conditions = _check_form(checks, questions, condition_questions)
    options = {cq["key"]: {value for value, _ in cq["options"]} for cq in conditions}
    for n, req in enumerate(version.requirements, start=1):
        cond = req.condition or {}
        if cond and cond.get("equals") not in options.get(cond.get("question"), set()):
            checks.fail(
                "condition_questions",
                _l(
                    "第 %(n)d 项材料的适用情形用到了“%(key)s = %(value)s”，请先修改该材料再删改这个情形",
                    n=n,
                    key=cond.get("question"),
                    value=cond.get("equals"),
                ),
            )
    checks.done()
    _touch(version)
    version.questions = questions
    version.condition_questions = conditions
    db.session.flush()
    _audit(
        "form_updated",
        actor,
        item_id=version.item_id,
        version_id=version.id,
        questions=len(questions),
        condition_questions=len(conditions),
    )
    return version


def _check_requirement(version: ItemVersion, values: dict[str, Any]) -> dict[str, Any]:
    checks = _Checks()
    type_id = values.get("material_type_id")
    if not isinstance(type_id, int) or db.session.get(MaterialType, type_id) is None:
        checks.fail("material_type_id", _l("请从材料目录中选择材料类型"))
    out: dict[str, Any] = {
        "material_type_id": type_id,
        "original": bool(values.get("original")),
        "form": checks.choice("form", values.get("form"), MEDIA, _l("材料形式")),
        "copies": checks.integer(
            "copies", values.get("copies"), _l("份数"), minimum=1, maximum=99, required=True
        ),
        "necessity": checks.choice(
            "necessity", values.get("necessity"), NECESSITIES, _l("材料必要性")
        ),
        "notes": checks.text("notes", values.get("notes"), _l("填报须知"), max_len=2000),
        "acceptance_standard": checks.text(
            "acceptance_standard", values.get("acceptance_standard"), _l("受理标准"), max_len=2000
        ),
        "commitment_allowed": bool(values.get("commitment_allowed")),
        "condition": None,
    }
    cond = values.get("condition")
    if cond:
        options = {
            cq["key"]: {value for value, _ in cq.get("options", [])}
            for cq in version.condition_questions or []
        }
        if not isinstance(cond, dict) or cond.get("equals") not in options.get(
            cond.get("question"), set()
        ):
            checks.fail("condition", _l("请从本事项的情形问题中选择适用情形"))
        else:
            out["condition"] = {"question": cond["question"], "equals": cond["equals"]}
    checks.done()
    return out


def _renumber(version: ItemVersion) -> None:
    for i, req in enumerate(sorted(version.requirements, key=lambda r: (r.position, r.id or 0))):
        req.position = i


def add_requirement(
    version: ItemVersion, *, values: dict[str, Any], expected_lock: int | None, actor: User
) -> MaterialRequirement:
    _lock_draft(version, expected_lock)
    cleaned = _check_requirement(version, values)
    _touch(version)
    position = max((r.position for r in version.requirements), default=-1) + 1
    req = MaterialRequirement(position=position, **cleaned)
    version.requirements.append(req)
    db.session.flush()
    _audit(
        "requirement_added",
        actor,
        item_id=version.item_id,
        version_id=version.id,
        requirement_id=req.id,
        material_type_id=req.material_type_id,
    )
    return req


def update_requirement(
    requirement: MaterialRequirement,
    *,
    values: dict[str, Any],
    expected_lock: int | None,
    actor: User,
) -> MaterialRequirement:
    version = requirement.version
    _lock_draft(version, expected_lock)
    cleaned = _check_requirement(version, values)
    _touch(version)
    for key, value in cleaned.items():
        setattr(requirement, key, value)
    db.session.flush()
    _audit(
        "requirement_updated",
        actor,
        item_id=version.item_id,
        version_id=version.id,
        requirement_id=requirement.id,
    )
    return requirement


def remove_requirement(
    requirement: MaterialRequirement, *, expected_lock: int | None, actor: User
) -> None:
    version = requirement.version
    _lock_draft(version, expected_lock)
    _touch(version)
    req_id = requirement.id
    version.requirements.remove(requirement)
    db.session.flush()
    _renumber(version)
    db.session.flush()
    _audit(
        "requirement_removed",
        actor,
        item_id=version.item_id,
        version_id=version.id,
        requirement_id=req_id,
    )


def move_requirement(
    requirement: MaterialRequirement, *, offset: int, expected_lock: int | None, actor: User
) -> None:
    """Move a material one place up (offset −1) or down (+1) in the list."""
    version = requirement.version
    _lock_draft(version, expected_lock)
    if offset not in (-1, 1):
        raise ValidationError({"offset": str(_l("只能上移或下移一位"))})
    _touch(version)
    ordered = sorted(version.requirements, key=lambda r: (r.position, r.id))
    i = ordered.index(requirement)
    j = i + offset
    if 0 <= j < len(ordered):
        ordered[i], ordered[j] = ordered[j], ordered[i]
        for position, req in enumerate(ordered):
            req.position = position
    db.session.flush()
    _audit(
        "requirement_moved",
        actor,
        item_id=version.item_id,
        version_id=version.id,
        requirement_id=requirement.id,
        offset=offset,
    )


def publish_errors(version: ItemVersion) -> dict[str, str]:
    """Every reason the version cannot be published, keyed by the field at fault."""
    errors: dict[str, str] = {}
    required = {
        "name": _l("事项名称"),
        "legal_basis": _l("设定依据"),
        "conditions": _l("受理条件"),
        "location": _l("办理地点"),
        "hours": _l("办理时间"),
        "phone": _l("咨询电话"),
    }
    for field, label in required.items():
        if not str(getattr(version, field) or "").strip():
            errors[field] = str(_l("%(field)s不能为空", field=label))
    for field, label in (
        ("legal_limit", _l("法定办结时限")),
        ("promised_limit", _l("承诺办结时限")),
    ):
        value = getattr(version, field)
        if value is None:
            errors[field] = str(_l("%(field)s不能为空", field=label))
        elif value < 0:
            errors[field] = str(_l("%(field)s不能为负数", field=label))
    if version.item_type not in ITEM_TYPES:
        errors["item_type"] = str(_l("事项类型不正确"))
    if version.legal_limit_unit not in UNITS or version.promised_limit_unit not in UNITS:
        errors["promised_limit_unit"] = str(_l("时限单位只能是工作日或自然日"))
    elif (
        "legal_limit" not in errors
        and "promised_limit" not in errors
        and _in_natural_days(version.promised_limit, version.promised_limit_unit)
        > _in_natural_days(version.legal_limit, version.legal_limit_unit)
    ):
        errors["promised_limit"] = str(_l("承诺办结时限不能超过法定办结时限"))
    if version.visits is None or version.visits < 0:
        errors["visits"] = str(_l("到办事现场次数不能为负数"))
    elif version.visits > 0 and not (version.visits_reason or "").strip():
        errors["visits_reason"] = str(_l("到办事现场次数大于 0 时必须说明原因"))
    if not version.steps:
        errors["steps"] = str(_l("请至少填写一个办理环节"))
    known_types = set(db.session.scalars(select(MaterialType.id)))
    condition_keys = {q.get("key") for q in version.condition_questions or []}
    for i, req in enumerate(version.requirements, start=1):
        if req.material_type_id not in known_types:
            errors[f"requirements-{i}"] = str(_l("第 %(n)d 项材料没有对应的材料类型", n=i))
        elif req.necessity not in NECESSITIES:
            errors[f"requirements-{i}"] = str(_l("第 %(n)d 项材料的必要性不正确", n=i))
        elif req.condition and req.condition.get("question") not in condition_keys:
            errors[f"requirements-{i}"] = str(_l("第 %(n)d 项材料的情形条件指向不存在的问题", n=i))
    return errors


def submit_for_review(
    version: ItemVersion, *, expected_lock: int | None, actor: User
) -> ItemVersion:
    """Draft → 待审核. A draft that could not be published is not sent for review."""
    _lock_draft(version, expected_lock)
    errors = publish_errors(version)
    if errors:
        raise ValidationError(errors)
    _touch(version)
    version.status = VersionStatus.in_review
    db.session.flush()
    _audit("version_submitted", actor, item_id=version.item_id, version_id=version.id)
    return version


def return_to_draft(version: ItemVersion, *, expected_lock: int | None, actor: User) -> ItemVersion:
    """待审核 → draft, so that it can be corrected."""
    db.session.refresh(version, attribute_names=["status", "lock_version"], with_for_update=True)
    if version.status != VersionStatus.in_review:
        raise Conflict(str(_l("只有待审核的版本可以退回修改")))
    if expected_lock is not None and expected_lock != version.lock_version:
        raise Conflict(str(_l("该版本已被其他管理员处理，请刷新页面后重试")))
    version.status = VersionStatus.draft
    version.lock_version += 1
    db.session.flush()
    _audit("version_returned", actor, item_id=version.item_id, version_id=version.id)
    return version


def publish_version(
    version: ItemVersion,
    actor: User | None,
    expected_lock: int | None = None,
    require_review: bool = False,
) -> ItemVersion:
    """Publish a draft (or reviewed) version; the previous published one is archived.

    Admins publish only what was submitted for review (``require_review``); seeds and bulk
    loads publish their drafts directly.
    """
    if version.id is not None:
        db.session.refresh(
            version, attribute_names=["status", "lock_version"], with_for_update=True
        )
    if version.status not in (VersionStatus.draft, VersionStatus.in_review):
        raise Conflict(str(_l("只有草稿或待审核的版本可以发布")))
    if require_review and version.status != VersionStatus.in_review:
        raise Conflict(str(_l("请先提交审核，审核通过后再发布")))
    if expected_lock is not None and expected_lock != version.lock_version:
        raise Conflict(str(_l("该版本已被其他管理员处理，请刷新页面后重试")))
    errors = publish_errors(version)
    if errors:
        raise ValidationError(errors)
    item = version.item
    previous = item.published_version
    if previous is not None and previous is not version:
        previous.status = VersionStatus.archived
    version.status = VersionStatus.published
    version.lock_version += 1
    version.published_at = utcnow()
    version.search_text = build_search_text(
        item.code, version.name, version.keywords, version.synonyms
    )
    item.published_version = version
    item.department_id = version.department_id
    db.session.flush()
    clear_guide_cache()  # cached guides are keyed by version; drop them so memory follows the catalogue
    _audit(
        "version_published",
        actor,
        item_id=item.id,
        version_id=version.id,
        number=version.number,
        archived_version_id=previous.id if previous else None,
    )
    return version


def archive_item(item: ServiceItem, *, actor: User) -> ServiceItem:
    """Withdraw an item from the public catalogue: its published version becomes archived."""
    db.session.refresh(item, attribute_names=["published_version_id"], with_for_update=True)
    version = item.published_version
    if version is None:
        raise Conflict(str(_l("该事项没有已发布的版本，无需下线")))
    version.status = VersionStatus.archived
    item.published_version = None
    db.session.flush()
    _audit("item_archived", actor, item_id=item.id, code=item.code, version_id=version.id)
    clear_guide_cache()  # cached guides show this name; drop them
    return item


def create_draft_from(version: ItemVersion, actor: User | None) -> ItemVersion:
    """A new draft copied from ``version`` (guide fields, themes, requirements): the only way
    to change what a published or archived version says. An item has one open draft at most."""
    item = db.session.scalar(
        select(ServiceItem)
        .where(ServiceItem.id == version.item_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    open_version = db.session.scalar(
        select(ItemVersion)
        .where(ItemVersion.item_id == item.id, ItemVersion.status.in_(OPEN_STATUSES))
        .limit(1)
    )
    if open_version is not None:
        raise Conflict(
            str(
                _l(
                    "该事项已有一个未发布的版本（第 %(n)d 版），请在它上面修改",
                    n=open_version.number,
                )
            )
        )
    number = (
        db.session.scalar(
            select(func.max(ItemVersion.number)).where(ItemVersion.item_id == item.id)
        )
        or 0
    ) + 1
    draft = ItemVersion(
        item=item,
        number=number,
        status=VersionStatus.draft,
        created_by_id=actor.id if actor else None,
        **{field: copy.deepcopy(getattr(version, field)) for field in GUIDE_FIELDS},
    )
    draft.themes = list(version.themes)
    draft.requirements = [
        MaterialRequirement(**{f: copy.deepcopy(getattr(req, f)) for f in REQUIREMENT_FIELDS})
        for req in version.requirements
    ]
    db.session.add(draft)
    db.session.flush()
    _audit(
        "draft_created",
        actor,
        item_id=item.id,
        version_id=draft.id,
        number=number,
        copied_from=version.id,
    )
    return draft


def discard_draft(version: ItemVersion, *, expected_lock: int | None, actor: User) -> ServiceItem:
    """Throw away a draft made from an earlier version (an item's first version stays)."""
    _lock_draft(version, expected_lock)
    item = version.item
    if len(item.versions) < 2:
        raise Conflict(str(_l("这是该事项唯一的版本，不能删除")))
    version_id, number = version.id, version.number
    db.session.delete(version)
    db.session.flush()
    db.session.expire(item, ["versions"])
    _audit("draft_discarded", actor, item_id=item.id, version_id=version_id, number=number)
    return item


# ---------------------------------------------------------------------------- reading


def count_catalogue() -> dict[str, int]:
    """The numbers on the admin home page."""

    def count(stmt) -> int:
        return db.session.scalar(stmt) or 0

    by_status = dict(
        db.session.execute(
            select(ItemVersion.status, func.count()).group_by(ItemVersion.status)
        ).all()
    )
    return {
        "departments": count(select(func.count()).select_from(Department)),
        "material_types": count(select(func.count()).select_from(MaterialType)),
        "items": count(select(func.count()).select_from(ServiceItem)),
        "published_items": count(
            select(func.count())
            .select_from(ServiceItem)
            .where(ServiceItem.published_version_id.is_not(None))
        ),
        "drafts": by_status.get(VersionStatus.draft, 0),
        "in_review": by_status.get(VersionStatus.in_review, 0),
        "bundles": count(select(func.count()).select_from(Bundle)),
    }


def list_versions_in_review(limit: int = 20) -> list[ItemVersion]:
    return list(
        db.session.scalars(
            select(ItemVersion)
            .where(ItemVersion.status == VersionStatus.in_review)
            .options(selectinload(ItemVersion.item))
            .order_by(ItemVersion.id)
            .limit(limit)
        )
    )


def list_items(query: str = "", page: int = 1, per_page: int = 20) -> Page[ServiceItem]:
    """Items by code, found by code or by the name of any of their versions."""
    stmt = select(ServiceItem).order_by(ServiceItem.code)
    text = _like(query)
    if text:
        named = select(ItemVersion.id).where(
            ItemVersion.item_id == ServiceItem.id, ItemVersion.name.icontains(text, autoescape=True)
        )
        stmt = stmt.where(or_(ServiceItem.code.icontains(text, autoescape=True), named.exists()))
    options = (
        selectinload(ServiceItem.department),
        selectinload(ServiceItem.versions).load_only(
            ItemVersion.id,
            ItemVersion.item_id,
            ItemVersion.number,
            ItemVersion.status,
            ItemVersion.name,
        ),
    )
    return paginate_query(stmt, page, per_page, options)


def load_item(item_id: int) -> ServiceItem:
    item = db.session.scalar(
        select(ServiceItem)
        .where(ServiceItem.id == item_id)
        .options(
            selectinload(ServiceItem.department),
            selectinload(ServiceItem.versions).options(
                load_only(
                    ItemVersion.id,
                    ItemVersion.item_id,
                    ItemVersion.number,
                    ItemVersion.status,
                    ItemVersion.name,
                    ItemVersion.created_at,
                    ItemVersion.published_at,
                    ItemVersion.lock_version,
                ),
            ),
        )
    )
    if item is None:
        raise NotFound(str(_l("没有找到这个事项")))
    return item


def load_version(version_id: int) -> ItemVersion:
    version = db.session.scalar(
        select(ItemVersion)
        .where(ItemVersion.id == version_id)
        .options(
            selectinload(ItemVersion.item)
            .selectinload(ServiceItem.versions)
            .load_only(ItemVersion.id, ItemVersion.item_id, ItemVersion.number, ItemVersion.status),
            selectinload(ItemVersion.department),
            selectinload(ItemVersion.themes),
            selectinload(ItemVersion.requirements).selectinload(MaterialRequirement.material_type),
        )
    )
    if version is None:
        raise NotFound(str(_l("没有找到这个版本")))
    return version


def load_requirement(version: ItemVersion, requirement_id: int) -> MaterialRequirement:
    for req in version.requirements:
        if req.id == requirement_id:
            return req
    raise NotFound(str(_l("没有找到这项材料")))


def list_active_departments(include_id: int | None = None) -> list[Department]:
    """Departments an item may name: the active ones, plus its current one if inactive."""
    stmt = select(Department).order_by(Department.code)
    cond = Department.active.is_(True)
    if include_id is not None:
        cond = or_(cond, Department.id == include_id)
    return list(db.session.scalars(stmt.where(cond)))


def list_all_material_types() -> list[MaterialType]:
    return list(
        db.session.scalars(
            select(MaterialType)
            .options(load_only(MaterialType.id, MaterialType.code, MaterialType.name))
            .order_by(MaterialType.code)
        )
    )


# ---------------------------------------------------------------------------- diff


def _empty() -> str:
    return str(_l("（空）"))


def _label(labels: dict, value: Any) -> str:
    return str(labels.get(value, value)) if value not in (None, "") else _empty()


def _describe(field: str, value: Any, departments: dict[int, str]) -> str:
    """A guide field's value in words, as an admin reads it in the diff."""
    labels = {
        "item_type": ITEM_TYPE_LABELS,
        "audience": AUDIENCE_LABELS,
        "legal_limit_unit": UNIT_LABELS,
        "promised_limit_unit": UNIT_LABELS,
        "case_type": CASE_TYPE_LABELS,
        "online_depth": ONLINE_DEPTH_LABELS,
        "result_type": RESULT_TYPE_LABELS,
    }
    if field in labels:
        return _label(labels[field], value)
    if field == "department_id":
        return departments.get(value, str(value))
    if field == "kiosk_enabled":
        return str(_l("是")) if value else str(_l("否"))
    if field == "steps":
        return (
            "\n".join(
                str(
                    _l(
                        "%(n)d. %(name)s（%(role)s，%(limit)s）",
                        n=i,
                        name=s.get("name", ""),
                        role=_label(STEP_ROLE_LABELS, s.get("role")),
                        limit=_l("%(d)s 日", d=s["limit"])
                        if s.get("limit") is not None
                        else _l("不限"),
                    )
                )
                for i, s in enumerate(value or [], start=1)
            )
            or _empty()
        )
    if field == "fees":
        return "\n".join(
            "；".join(
                p for p in (f.get("name", ""), f.get("standard", ""), f.get("basis", "")) if p
            )
            for f in value or []
        ) or str(_l("不收费"))
    if field == "faqs":
        return (
            "\n".join(
                str(_l("问：%(q)s 答：%(a)s", q=f.get("q", ""), a=f.get("a", "")))
                for f in value or []
            )
            or _empty()
        )
    if field in ("keywords", "synonyms"):
        return "、".join(value or []) or _empty()
    if field == "questions":
        return (
            "\n".join(
                "{key} {label}（{kind}{req}）{opts}".format(
                    key=q.get("key", ""),
                    label=q.get("label", ""),
                    kind=_label(QUESTION_TYPE_LABELS, q.get("type")),
                    req="，" + str(_l("必填")) if q.get("required") else "",
                    opts=" / ".join(str(o[1]) for o in q.get("options", []) or []),
                )
                for q in value or []
            )
            or _empty()
        )
    if field == "condition_questions":
        return (
            "\n".join(
                "{key} {label}：{opts}".format(
                    key=q.get("key", ""),
                    label=q.get("label", ""),
                    opts=" / ".join(str(o[1]) for o in q.get("options", [])),
                )
                for q in value or []
            )
            or _empty()
        )
    if field == "auto_rules":
        return json.dumps(value, ensure_ascii=False) if value else _empty()
    if value is None or value == "":
        return _empty()
    return str(value)


def _describe_requirement(req: MaterialRequirement, conditions: dict[str, dict]) -> str:
    parts = [
        str(_l("原件")) if req.original else str(_l("复印件")),
        _label(MEDIUM_LABELS, req.form),
        str(_l("%(n)d 份", n=req.copies or 0)),
        _label(NECESSITY_LABELS, req.necessity),
    ]
    if req.condition:
        question = conditions.get(req.condition.get("question"), {})
        answer = dict((o[0], o[1]) for o in question.get("options", [])).get(
            req.condition.get("equals"), req.condition.get("equals")
        )
        parts.append(
            str(
                _l(
                    "适用情形：%(q)s＝%(a)s",
                    q=question.get("label", req.condition.get("question")),
                    a=answer,
                )
            )
        )
    if req.notes:
        parts.append(str(_l("填报须知：%(text)s", text=req.notes)))
    if req.acceptance_standard:
        parts.append(str(_l("受理标准：%(text)s", text=req.acceptance_standard)))
    if req.commitment_allowed:
        parts.append(str(_l("可用告知承诺代替")))
    return "；".join(parts)


def _keyed_requirements(version: ItemVersion) -> dict[tuple[int, int], MaterialRequirement]:
    """Requirements keyed by (material type, n-th occurrence) so the same type can repeat."""
    seen: dict[int, int] = {}
    keyed = {}
    for req in sorted(version.requirements, key=lambda r: r.position):
        n = seen.get(req.material_type_id, 0)
        seen[req.material_type_id] = n + 1
        keyed[(req.material_type_id, n)] = req
    return keyed


def diff_versions(old: ItemVersion, new: ItemVersion) -> list[tuple[str, str, str]]:
    """What changed from ``old`` to ``new``, field by field: (field label, old, new)."""
    if old.item_id != new.item_id:
        raise ValidationError({"b": str(_l("只能比较同一事项的两个版本"))})
    departments = dict(
        db.session.execute(
            select(Department.id, Department.name).where(
                Department.id.in_({old.department_id, new.department_id})
            )
        ).all()
    )
    changes: list[tuple[str, str, str]] = []
    for field in GUIDE_FIELDS:
        before = _describe(field, getattr(old, field), departments)
        after = _describe(field, getattr(new, field), departments)
        if before != after:
            changes.append((str(FIELD_LABELS[field]), before, after))
        if field == "audience":
            before = "、".join(t.name for t in old.themes) or _empty()
            after = "、".join(t.name for t in new.themes) or _empty()
            if before != after:
                changes.append((str(FIELD_LABELS["themes"]), before, after))
    old_reqs, new_reqs = _keyed_requirements(old), _keyed_requirements(new)
    old_conds = {q.get("key"): q for q in old.condition_questions or []}
    new_conds = {q.get("key"): q for q in new.condition_questions or []}
    names = dict(
        db.session.execute(
            select(MaterialType.id, MaterialType.name).where(
                MaterialType.id.in_({k[0] for k in (*old_reqs, *new_reqs)})
            )
        ).all()
    )

    def label_of(key: tuple[int, int]) -> str:
        name = names.get(key[0], str(key[0]))
        return str(_l("申请材料：%(name)s", name=name)) + (f" ({key[1] + 1})" if key[1] else "")

    for key in [*old_reqs, *(k for k in new_reqs if k not in old_reqs)]:
        before = _describe_requirement(old_reqs[key], old_conds) if key in old_reqs else _empty()
        after = _describe_requirement(new_reqs[key], new_conds) if key in new_reqs else _empty()
        if before != after:
            changes.append((label_of(key), before, after))
    common_old = [k for k in old_reqs if k in new_reqs]
    common_new = [k for k in new_reqs if k in old_reqs]
    if common_old != common_new:
        changes.append(
            (
                str(_l("申请材料顺序")),
                "、".join(label_of(k) for k in common_old),
                "、".join(label_of(k) for k in common_new),
            )
        )
    return changes


# ---------------------------------------------------------------------------- bundles


def find_items_by_code(codes: Iterable[str]) -> list[ServiceItem]:
    """The items named by ``codes``, in that order; unknown codes are a field error."""
    wanted: list[str] = []
    for code in codes:
        code = _clean_text(code).upper()
        if code and code not in wanted:
            wanted.append(code)
    found = (
        {
            item.code: item
            for item in db.session.scalars(select(ServiceItem).where(ServiceItem.code.in_(wanted)))
        }
        if wanted
        else {}
    )
    missing = [code[:20] for code in wanted if code not in found]
    if missing:
        raise ValidationError(
            {"items": str(_l("没有找到这些事项编码：%(codes)s", codes="、".join(missing[:10])))}
        )
    return [found[code] for code in wanted]


def _check_bundle(
    checks: _Checks,
    bundle: Bundle | None,
    *,
    code: str,
    name: str,
    description: str,
    items: list[ServiceItem],
) -> dict[str, Any]:
    code = (code or "").strip().upper()
    if not SHORT_CODE_RE.fullmatch(code):
        checks.fail("code", _l("一件事编码只能是 1 至 16 位字母或数字"))
    else:
        other = db.session.scalar(select(Bundle.id).where(Bundle.code == code))
        if other is not None and (bundle is None or other != bundle.id):
            checks.fail("code", _l("一件事编码已存在"))
    if len({item.id for item in items}) < 2:
        checks.fail("items", _l("一件事至少包含两个不同的事项"))
    return {
        "code": code,
        "name": checks.text("name", name, _l("一件事名称"), max_len=100, required=True),
        "description": checks.text("description", description, _l("一件事说明"), max_len=LONG_TEXT),
    }


def create_bundle(
    *,
    code: str,
    name: str,
    description: str,
    theme: Theme | None,
    items: list[ServiceItem],
    actor: User | None = None,
    published: bool = True,
) -> Bundle:
    """一件事: a life event of two or more distinct items."""
    checks = _Checks()
    values = _check_bundle(checks, None, code=code, name=name, description=description, items=items)
    checks.done()
    bundle = Bundle(theme=theme, published=published, **values)
    bundle.entries = [BundleItem(item=item, position=i) for i, item in enumerate(items)]
    db.session.add(bundle)
    db.session.flush()
    _audit(
        "bundle_created",
        actor,
        bundle_id=bundle.id,
        code=bundle.code,
        items=[item.code for item in items],
    )
    return bundle


def update_bundle(
    bundle: Bundle,
    *,
    code: str,
    name: str,
    description: str,
    theme: Theme | None,
    items: list[ServiceItem],
    actor: User,
) -> Bundle:
    checks = _Checks()
    values = _check_bundle(
        checks, bundle, code=code, name=name, description=description, items=items
    )
    unpublished = [item.code for item in items if item.published_version_id is None]
    if bundle.published and unpublished:
        checks.fail(
            "items",
            _l("这些事项尚未发布，不能加入已上线的一件事：%(codes)s", codes="、".join(unpublished)),
        )
    checks.done()
    for key, value in values.items():
        setattr(bundle, key, value)
    bundle.theme = theme
    bundle.entries.clear()
    db.session.flush()
    bundle.entries.extend(BundleItem(item=item, position=i) for i, item in enumerate(items))
    db.session.flush()
    _audit(
        "bundle_updated",
        actor,
        bundle_id=bundle.id,
        code=bundle.code,
        items=[item.code for item in items],
    )
    return bundle


def set_bundle_published(bundle: Bundle, *, published: bool, actor: User) -> Bundle:
    """Show or hide a bundle; it is shown only when every item in it is published."""
    if published:
        unpublished = [e.item.code for e in bundle.entries if e.item.published_version_id is None]
        if unpublished:
            raise Conflict(
                str(
                    _l(
                        "这些事项尚未发布，一件事暂不能上线：%(codes)s",
                        codes="、".join(unpublished),
                    )
                )
            )
    bundle.published = bool(published)
    db.session.flush()
    _audit(
        "bundle_published" if published else "bundle_unpublished",
        actor,
        bundle_id=bundle.id,
        code=bundle.code,
    )
    return bundle


def list_bundles() -> list[Bundle]:
    return list(
        db.session.scalars(
            select(Bundle)
            .options(
                selectinload(Bundle.theme),
                selectinload(Bundle.entries)
                .selectinload(BundleItem.item)
                .selectinload(ServiceItem.department),
            )
            .order_by(Bundle.code)
        )
    )


def load_bundle(bundle_id: int) -> Bundle:
    bundle = db.session.scalar(
        select(Bundle)
        .where(Bundle.id == bundle_id)
        .options(
            selectinload(Bundle.theme),
            selectinload(Bundle.entries)
            .selectinload(BundleItem.item)
            .selectinload(ServiceItem.published_version)
            .load_only(ItemVersion.id, ItemVersion.name),
        )
    )
    if bundle is None:
        raise NotFound(str(_l("没有找到这个一件事")))
    return bundle
