"""Departments (实施主体): created, renamed, deactivated, deleted when nothing refers to them."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, or_, select

from portal.extensions import db
from portal.models import Department, ItemVersion, ServiceItem, User
from services.catalogue.checks import SHORT_CODE_RE, Checks
from services.catalogue.common import clean_text, record_action
from services.errors import Conflict
from services.guide_cache import clear_guide_cache


def _check_department(
    checks: Checks, *, name: str, phone: str, address: str, hours: str
) -> dict[str, str]:
    return {
        "name": checks.text("name", name, _l("部门名称"), max_len=100, required=True),
        "phone": checks.phone("phone", phone, _l("咨询电话")) if clean_text(phone) else "",
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
    checks = Checks()
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
    record_action("department_created", actor, department_id=dept.id, code=code)
    return dept


def update_department(
    dept: Department, *, name: str, phone: str, address: str, hours: str, actor: User
) -> Department:
    checks = Checks()
    values = _check_department(checks, name=name, phone=phone, address=address, hours=hours)
    checks.done()
    for key, value in values.items():
        setattr(dept, key, value)
    db.session.flush()
    record_action("department_updated", actor, department_id=dept.id, code=dept.code)
    clear_guide_cache()  # cached guides show this name; drop them
    return dept


def set_department_active(dept: Department, *, active: bool, actor: User) -> Department:
    """Deactivate (no new items may name it) or reactivate a department."""
    dept.active = bool(active)
    db.session.flush()
    record_action(
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
    record_action("department_deleted", actor, department_id=dept_id, code=code)


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


def list_active_departments(include_id: int | None = None) -> list[Department]:
    """Departments an item may name: the active ones, plus its current one if inactive."""
    stmt = select(Department).order_by(Department.code)
    cond = Department.active.is_(True)
    if include_id is not None:
        cond = or_(cond, Department.id == include_id)
    return list(db.session.scalars(stmt.where(cond)))
