"""The shared material catalogue (材料目录): types with their blank forms and examples."""

from __future__ import annotations

from typing import Any

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import or_, select
from sqlalchemy.orm import load_only

from portal.extensions import db
from portal.models import MaterialType, User
from services import storage, uploads
from services.catalogue.checks import LICENCE_CODE_RE, SHORT_CODE_RE, Checks
from services.catalogue.common import (
    Page,
    Upload,
    clean_text,
    like_text,
    paginate_query,
    record_action,
)
from services.catalogue.vocabulary import FILE_KINDS, SOURCES, VALIDITY_KINDS
from services.errors import NotFound, ValidationError
from services.guide_cache import clear_guide_cache


def _check_upload(checks: Checks, field: str, upload: Upload | None) -> tuple[bytes, str] | None:
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
    return checked.data, uploads.SUFFIX[checked.content_type]


def _check_material_type(
    checks: Checks,
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
    code = clean_text(licence_type_code)
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
    for kind, checked in uploads.items():
        if checked is None:
            continue
        data, suffix = checked
        stored = storage.save(data, suffix)  # gone on rollback, final after the commit
        old = getattr(mt, f"{kind}_key")
        setattr(mt, f"{kind}_key", stored.key)
        if old:
            storage.delete_after_commit(old)


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
    checks = Checks()
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
    record_action("material_type_created", actor, material_type_id=mt.id, code=code)
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
    checks = Checks()
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
    record_action(
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
    text = like_text(query)
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


def list_all_material_types() -> list[MaterialType]:
    return list(
        db.session.scalars(
            select(MaterialType)
            .options(load_only(MaterialType.id, MaterialType.code, MaterialType.name))
            .order_by(MaterialType.code)
        )
    )
