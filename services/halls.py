"""Service halls (政务服务大厅) for admins: the hall itself, its numbered windows, its queue
categories (the ticket letter and the departments each serves), and who works there.

Every change is checked here (a window number or a category letter is used once per hall,
the categories a window calls belong to its hall, the departments exist) and writes an
audit event naming the admin. The appointment capacity of a hall is services/capacity.py.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select

from portal.extensions import db
from portal.models import (
    AppointmentSlot,
    CounterWindow,
    Department,
    QueueCategory,
    Role,
    ServiceHall,
    User,
)
from services import audit
from services.catalogue.checks import Checks
from services.errors import NotFound

HALL_CODE_RE = re.compile(r"[A-Z0-9]{2,16}")
LETTER_RE = re.compile(r"[A-Z]")
MAX_WINDOW = 999


def _record(action: str, actor: User, hall: ServiceHall, **details) -> None:
    audit.record_event(
        f"hall.{action}", actor=actor, details={"hall": hall.id, "code": hall.code, **details}
    )


# ---- halls -----------------------------------------------------------------------------------


@dataclass
class HallRow:
    hall: ServiceHall
    windows: int
    categories: int
    staff: int


def list_halls() -> list[HallRow]:
    """Every hall with its counts, in four queries."""
    halls = list(db.session.scalars(select(ServiceHall).order_by(ServiceHall.id)))

    def counts(column) -> dict[int, int]:
        return dict(db.session.execute(select(column, func.count()).group_by(column)).all())

    windows = counts(CounterWindow.hall_id)
    categories = counts(QueueCategory.hall_id)
    staff = counts(User.hall_id)
    return [
        HallRow(h, windows.get(h.id, 0), categories.get(h.id, 0), staff.get(h.id, 0)) for h in halls
    ]


def operations_counts() -> dict[str, int]:
    """For the admin home: halls in service and staff accounts in use."""
    return {
        "halls": db.session.scalar(
            select(func.count()).select_from(ServiceHall).where(ServiceHall.active.is_(True))
        ),
        "staff": db.session.scalar(
            select(func.count())
            .select_from(User)
            .where(User.role != Role.citizen, User.active.is_(True))
        ),
    }


def get_hall(hall_id: int) -> ServiceHall:
    hall = db.session.get(ServiceHall, hall_id)
    if hall is None:
        raise NotFound(str(_l("服务大厅不存在")))
    return hall


def _hall_values(checks: Checks, values: dict) -> dict:
    return {
        "name": checks.text("name", values.get("name"), _l("大厅名称"), max_len=100, required=True),
        "address": checks.text("address", values.get("address"), _l("地址"), max_len=200),
        "hours": checks.text("hours", values.get("hours"), _l("办公时间"), max_len=200),
        "phone": checks.text("phone", values.get("phone"), _l("咨询电话"), max_len=40),
    }


def create_hall(actor: User, *, code: str, **values) -> ServiceHall:
    checks = Checks()
    code = (code or "").strip().upper()
    if not HALL_CODE_RE.fullmatch(code):
        checks.fail("code", _l("大厅编码只能是 2 至 16 位字母或数字"))
    elif db.session.scalar(select(ServiceHall.id).where(ServiceHall.code == code)):
        checks.fail("code", _l("大厅编码 %(code)s 已被使用", code=code))
    clean = _hall_values(checks, values)
    checks.done()
    hall = ServiceHall(code=code, active=True, **clean)
    db.session.add(hall)
    db.session.flush()
    _record("created", actor, hall, name=hall.name)
    return hall


def update_hall(actor: User, hall: ServiceHall, **values) -> ServiceHall:
    checks = Checks()
    clean = _hall_values(checks, values)
    checks.done()
    changed = {k: v for k, v in clean.items() if getattr(hall, k) != v}
    for key, value in changed.items():
        setattr(hall, key, value)
    db.session.flush()
    _record("updated", actor, hall, changed=sorted(changed))
    return hall


def set_hall_active(actor: User, hall: ServiceHall, active: bool) -> ServiceHall:
    """A closed hall takes no bookings and is not offered for booking (bookings made stay)."""
    hall.active = bool(active)
    db.session.flush()
    _record("opened" if active else "closed", actor, hall)
    return hall


def hall_staff(hall: ServiceHall) -> list[User]:
    """The staff accounts whose hall this is (``User.hall_id``), read-only here."""
    return list(
        db.session.scalars(select(User).where(User.hall_id == hall.id).order_by(User.username))
    )


# ---- queue categories ------------------------------------------------------------------------


def get_category(hall: ServiceHall, category_id: int) -> QueueCategory:
    category = db.session.get(QueueCategory, category_id)
    if category is None or category.hall_id != hall.id:
        raise NotFound(str(_l("服务类别不存在")))
    return category


def department_choices() -> list[Department]:
    return list(db.session.scalars(select(Department).order_by(Department.code)))


def _department_ids(checks: Checks, ids: list[int] | None) -> list[int]:
    ids = sorted({int(i) for i in ids or []})
    if ids:
        known = set(db.session.scalars(select(Department.id).where(Department.id.in_(ids))))
        if known != set(ids):
            checks.fail("department_ids", _l("请从列表中选择部门"))
    return ids


def create_category(
    actor: User,
    hall: ServiceHall,
    *,
    code: str,
    name: str,
    department_ids: list[int] | None = None,
    open: bool = True,
) -> QueueCategory:
    checks = Checks()
    code = (code or "").strip().upper()
    if not LETTER_RE.fullmatch(code):
        checks.fail("code", _l("取号字母只能是一个英文字母 A 至 Z"))
    elif db.session.scalar(
        select(QueueCategory.id).where(QueueCategory.hall_id == hall.id, QueueCategory.code == code)
    ):
        checks.fail("code", _l("本大厅已有字母为 %(code)s 的服务类别", code=code))
    name = checks.text("name", name, _l("类别名称"), max_len=50, required=True)
    ids = _department_ids(checks, department_ids)
    checks.done()
    category = QueueCategory(
        hall_id=hall.id, code=code, name=name, department_ids=ids, open=bool(open)
    )
    db.session.add(category)
    db.session.flush()
    _record("category_created", actor, hall, category=category.id, letter=code)
    return category


def update_category(
    actor: User,
    category: QueueCategory,
    *,
    name: str,
    department_ids: list[int] | None,
    open: bool,
) -> QueueCategory:
    """Name, departments, open or closed; the letter stays (tickets and windows carry it)."""
    checks = Checks()
    name = checks.text("name", name, _l("类别名称"), max_len=50, required=True)
    ids = _department_ids(checks, department_ids)
    checks.done()
    category.name, category.department_ids, category.open = name, ids, bool(open)
    db.session.flush()
    _record(
        "category_updated",
        actor,
        category.hall,
        category=category.id,
        letter=category.code,
        open=category.open,
    )
    return category


# ---- windows ---------------------------------------------------------------------------------


def get_window(hall: ServiceHall, window_id: int) -> CounterWindow:
    window = db.session.get(CounterWindow, window_id)
    if window is None or window.hall_id != hall.id:
        raise NotFound(str(_l("窗口不存在")))
    return window


def _window_values(
    checks: Checks,
    hall: ServiceHall,
    number: int | None,
    name: str,
    category_codes: list[str] | None,
    window_id: int | None = None,
) -> dict:
    if number is None or not 1 <= number <= MAX_WINDOW:
        checks.fail("number", _l("窗口号请填写 1 至 %(n)d 的整数", n=MAX_WINDOW))
    else:
        taken = select(CounterWindow.id).where(
            CounterWindow.hall_id == hall.id, CounterWindow.number == number
        )
        if window_id is not None:
            taken = taken.where(CounterWindow.id != window_id)
        if db.session.scalar(taken):
            checks.fail("number", _l("本大厅已有 %(n)d 号窗口", n=number))
    letters = {c.code for c in hall.categories}
    codes = sorted({str(c).upper() for c in category_codes or []})
    if not codes:
        checks.fail("category_codes", _l("请至少选择一个服务类别"))
    elif not set(codes) <= letters:
        checks.fail("category_codes", _l("请从本大厅的服务类别中选择"))
    return {
        "number": number,
        "name": checks.text("name", name, _l("窗口名称"), max_len=50),
        "category_codes": codes,
    }


def create_window(
    actor: User,
    hall: ServiceHall,
    *,
    number: int | None,
    name: str = "",
    category_codes: list[str] | None = None,
) -> CounterWindow:
    checks = Checks()
    values = _window_values(checks, hall, number, name, category_codes)
    checks.done()
    window = CounterWindow(hall_id=hall.id, active=True, **values)
    if not window.name:
        window.name = str(_l("%(n)d 号窗口", n=window.number))
    db.session.add(window)
    db.session.flush()
    _record("window_created", actor, hall, window=window.id, number=window.number)
    return window


def update_window(
    actor: User,
    window: CounterWindow,
    *,
    number: int | None,
    name: str,
    category_codes: list[str] | None,
    active: bool,
) -> CounterWindow:
    """A closed window is not offered at the desk; a clerk sitting at it is asked to leave."""
    checks = Checks()
    values = _window_values(checks, window.hall, number, name, category_codes, window.id)
    checks.done()
    for key, value in values.items():
        setattr(window, key, value)
    if not window.name:
        window.name = str(_l("%(n)d 号窗口", n=window.number))
    window.active = bool(active)
    if not window.active:
        window.staff_id = None
    db.session.flush()
    _record(
        "window_updated",
        actor,
        window.hall,
        window=window.id,
        number=window.number,
        active=window.active,
    )
    return window


def slots_ahead(hall: ServiceHall, first_day) -> dict[int, int]:
    """{category id: bookable slots from ``first_day``} for the hall page."""
    return dict(
        db.session.execute(
            select(AppointmentSlot.category_id, func.count())
            .where(
                AppointmentSlot.hall_id == hall.id,
                AppointmentSlot.day >= first_day,
                AppointmentSlot.active.is_(True),
            )
            .group_by(AppointmentSlot.category_id)
        ).all()
    )
