"""Publishing the catalogue: departments, material types, items and their versioned guides."""

from __future__ import annotations

import re
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import select

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
from services.errors import Conflict, ValidationError
from services.guide_cache import clear_guide_cache
from services.search import build_search_text

ITEM_CODE_RE = re.compile(r"^[0-9A-Za-z]{12}$")
ITEM_TYPES = ("licensing", "confirmation", "benefit", "public_service", "other")
UNITS = ("working", "natural")
NECESSITIES = ("required", "optional", "deferrable", "shared")

# guide fields copied from one version to the next, and compared field by field
GUIDE_FIELDS = (
    "name", "item_type", "audience", "department_id", "legal_basis", "conditions",
    "legal_limit", "legal_limit_unit", "promised_limit", "promised_limit_unit", "case_type",
    "steps", "visits", "visits_reason", "online_depth", "location", "hours", "phone",
    "complaint_phone", "fees", "result_name", "result_type", "result_licence_type_code",
    "faqs", "keywords", "synonyms", "questions", "condition_questions", "commitment_text",
    "auto_rules", "kiosk_enabled",
)
REQUIREMENT_FIELDS = (
    "material_type_id", "position", "original", "form", "copies", "necessity", "condition",
    "notes", "acceptance_standard", "commitment_allowed",
)


def create_department(*, code: str, name: str, phone: str = "", address: str = "",
                      hours: str = "") -> Department:
    code = (code or "").strip().upper()
    if not re.fullmatch(r"[A-Z0-9]{1,16}", code):
        raise ValidationError({"code": str(_l("部门编码只能是 1 至 16 位字母或数字"))})
    if db.session.scalar(select(Department.id).where(Department.code == code)):
        raise ValidationError({"code": str(_l("部门编码已存在"))})
    dept = Department(code=code, name=name.strip(), phone=phone, address=address, hours=hours)
    db.session.add(dept)
    db.session.flush()
    return dept


def create_material_type(*, code: str, name: str, category: str = "", description: str = "",
                         source: str = "self", licence_type_code: str | None = None,
                         validity_kind: str = "none", validity_months: int | None = None) -> MaterialType:
    if db.session.scalar(select(MaterialType.id).where(MaterialType.code == code)):
        raise ValidationError({"code": str(_l("材料编码已存在"))})
    if source not in ("self", "issued"):
        raise ValidationError({"source": "source must be self or issued"})
    if validity_kind not in ("none", "own_expiry", "months"):
        raise ValidationError({"validity_kind": "unknown validity rule"})
    if validity_kind == "months" and not (validity_months and validity_months > 0):
        raise ValidationError({"validity_months": str(_l("请填写有效月数"))})
    mt = MaterialType(
        code=code, name=name, category=category, description=description, source=source,
        licence_type_code=licence_type_code or None, validity_kind=validity_kind,
        validity_months=validity_months if validity_kind == "months" else None,
    )
    db.session.add(mt)
    db.session.flush()
    return mt


def get_or_create_theme(name: str, audience: str = "person", position: int = 0) -> Theme:
    theme = db.session.scalar(select(Theme).where(Theme.name == name))
    if theme is None:
        theme = Theme(name=name, audience=audience, position=position)
        db.session.add(theme)
        db.session.flush()
    return theme


def create_item(*, code: str, department: Department, actor: User | None, guide: dict[str, Any],
                requirements: list[dict[str, Any]], themes: list[Theme]) -> ItemVersion:
    """Create an item with its first draft version."""
    if not ITEM_CODE_RE.match(code or ""):
        raise ValidationError({"code": str(_l("事项编码为 12 位字母或数字"))})
    if db.session.scalar(select(ServiceItem.id).where(ServiceItem.code == code)):
        raise ValidationError({"code": str(_l("事项编码已存在"))})
    item = ServiceItem(code=code, department=department)
    db.session.add(item)
    db.session.flush()
    version = ItemVersion(item=item, number=1, status=VersionStatus.draft,
                          department_id=department.id, created_by_id=actor.id if actor else None,
                          **{k: v for k, v in guide.items() if k != "department_id"})
    version.themes = list(themes)
    version.requirements = [MaterialRequirement(**r) for r in requirements]
    db.session.add(version)
    db.session.flush()
    return version


def publish_errors(version: ItemVersion) -> dict[str, str]:
    """Every reason the version cannot be published, keyed by the field at fault."""
    errors: dict[str, str] = {}
    required = {"name": _l("事项名称"), "legal_basis": _l("设定依据"), "conditions": _l("受理条件"),
                "location": _l("办理地点"), "hours": _l("办理时间"), "phone": _l("咨询电话")}
    for field, label in required.items():
        if not str(getattr(version, field) or "").strip():
            errors[field] = str(_l("%(field)s不能为空", field=label))
    for field, label in (("legal_limit", _l("法定办结时限")), ("promised_limit", _l("承诺办结时限"))):
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
        "legal_limit" not in errors and "promised_limit" not in errors
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


def _in_natural_days(value: int, unit: str) -> float:
    """Compare limits across units conservatively: a working day is at least one natural day."""
    return float(value) if unit == "natural" else float(value) * 7 / 5


def publish_version(version: ItemVersion, actor: User | None) -> ItemVersion:
    """Publish a draft (or reviewed) version; the previous published one is archived."""
    if version.status not in (VersionStatus.draft, VersionStatus.in_review):
        raise Conflict(str(_l("只有草稿或待审核的版本可以发布")))
    errors = publish_errors(version)
    if errors:
        raise ValidationError(errors)
    item = version.item
    if item.published_version is not None and item.published_version is not version:
        item.published_version.status = VersionStatus.archived
    version.status = VersionStatus.published
    version.published_at = utcnow()
    version.search_text = build_search_text(item.code, version.name, version.keywords, version.synonyms)
    item.published_version = version
    item.department_id = version.department_id
    db.session.flush()
    clear_guide_cache()  # cached guides are keyed by version; drop them so memory follows the catalogue
    return version


def create_bundle(*, code: str, name: str, description: str, theme: Theme | None,
                  items: list[ServiceItem]) -> Bundle:
    """一件事: a life event of two or more distinct items."""
    if len({item.id for item in items}) < 2:
        raise ValidationError({"items": str(_l("一件事至少包含两个不同的事项"))})
    if db.session.scalar(select(Bundle.id).where(Bundle.code == code)):
        raise ValidationError({"code": str(_l("一件事编码已存在"))})
    bundle = Bundle(code=code, name=name, description=description, theme=theme)
    bundle.entries = [BundleItem(item=item, position=i) for i, item in enumerate(items)]
    db.session.add(bundle)
    db.session.flush()
    return bundle
