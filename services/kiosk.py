"""The self-service kiosk (自助终端): case checks, help requests and kiosk applications.

A case check needs the case number and the applicant's 身份证号; a wrong pair answers exactly
like an unknown number, and failed checks are throttled per terminal address and per number
(the e-licence check's VerificationFailure records)."""

from __future__ import annotations

import hmac
import re
from dataclasses import dataclass
from datetime import timedelta

from flask_babel import lazy_gettext as _l
from sqlalchemy import case, func, select
from sqlalchemy.orm import contains_eager

from portal.extensions import db
from portal.models import (
    Application,
    Channel,
    Citizen,
    ItemVersion,
    Role,
    ServiceHall,
    ServiceItem,
    StaffReminder,
    User,
    VerificationFailure,
)
from portal.models.base import utcnow
from services import applications, audit
from services.errors import NotAuthorized, NotFound, TooManyAttempts, ValidationError
from services.identity import mask_name

HELP_KIND = "kiosk_help"
TERMINAL_MAX = 40
UNNAMED_TERMINAL = _l("未设置位置的自助终端")
# the kiosk page a citizen called from, as the clerk reads it
KIOSK_PAGES = {
    "kiosk.start": _l("首页"),
    "kiosk.guides": _l("办事指南"),
    "kiosk.case_status": _l("办件查询"),
    "kiosk.items": _l("自助申请"),
    "kiosk.apply_item": _l("自助申请"),
}
CASE_NUMBER_RE = re.compile(r"[A-Z]{2,8}\d{6,24}")
ID_NUMBER_RE = re.compile(r"\d{17}[\dX]")


@dataclass(frozen=True)
class CaseStatus:
    """What the kiosk may show of a case: its number (masked), item, status, and the applicant masked."""

    number: str
    item: str
    status: str
    applicant: str


def _mask_number(number: str) -> str:
    return number[:4] + "*" * max(len(number) - 8, 0) + number[-4:] if len(number) > 8 else number


def check_case(
    number: str | None,
    id_number: str | None,
    *,
    remote_addr: str = "",
    max_failures: int = 10,
    window_minutes: int = 15,
) -> CaseStatus | None:
    """The status of a case whose number and applicant's 身份证号 match, else None.

    None means "no such pair": it does not tell whether the number exists. Misses are
    recorded (the caller commits them) and too many are refused for a while."""
    number = re.sub(r"\s", "", number or "").upper()
    code = re.sub(r"\s", "", id_number or "").upper()
    errors: dict[str, str] = {}
    if not number:
        errors["number"] = str(_l("请填写办件编号"))
    elif not CASE_NUMBER_RE.fullmatch(number):
        errors["number"] = str(_l("办件编号由字母和数字组成，请核对回执"))
    if not code:
        errors["id_number"] = str(_l("请填写身份证号"))
    elif not ID_NUMBER_RE.fullmatch(code):
        errors["id_number"] = str(_l("身份证号为 18 位"))
    if errors:
        raise ValidationError(errors)
    key = f"case:{number}"[:64]
    by_addr, by_number = db.session.execute(
        select(
            func.coalesce(
                func.sum(case((VerificationFailure.remote_addr == remote_addr[:64], 1), else_=0)), 0
            ),
            func.coalesce(func.sum(case((VerificationFailure.number == key, 1), else_=0)), 0),
        ).where(VerificationFailure.created_at >= utcnow() - timedelta(minutes=window_minutes))
    ).one()
    if max(by_addr, by_number) >= max_failures:
        raise TooManyAttempts(
            str(_l("查询次数过多，请 %(minutes)d 分钟后再试", minutes=window_minutes))
        )
    row = db.session.execute(
        select(Application, Citizen)
        .join(Citizen, Citizen.id == Application.applicant_id)
        .where(Application.number == number)
    ).first()
    if row is None or not hmac.compare_digest(row[1].id_number.upper().encode(), code.encode()):
        db.session.add(VerificationFailure(number=key, remote_addr=remote_addr[:64]))
        db.session.flush()
        return None
    app, citizen = row
    return CaseStatus(
        number=_mask_number(app.number),
        item=app.title,
        status=app.status,
        applicant=mask_name(citizen.name),
    )


def help_kind(hall_code: str) -> str:
    """The reminder kind of one hall's kiosk help requests: a request belongs to its hall."""
    return f"{HELP_KIND}:{hall_code}"


def terminal_name(raw: str | None) -> str:
    """A kiosk's name and place as staff typed it when setting the kiosk up (e.g. "B区2号机
    （取号机右侧）"): spaces collapsed, control characters dropped, at most 40 characters."""
    text = "".join(ch for ch in (raw or "") if ch.isprintable())
    return " ".join(text.split())[:TERMINAL_MAX]


def device_halls(staff: User) -> list[ServiceHall]:
    """The halls whose kiosks this member of staff may set up: a clerk their own hall, an
    admin any open hall."""
    query = select(ServiceHall).where(ServiceHall.active.is_(True)).order_by(ServiceHall.id)
    if staff.role == Role.counter:
        query = query.where(ServiceHall.id == staff.hall_id)
    elif staff.role != Role.admin:
        return []
    return list(db.session.scalars(query))


def hall_name(code: str) -> str:
    """A hall's name by its code (a kiosk's setting names its hall by code)."""
    return db.session.scalar(select(ServiceHall.name).where(ServiceHall.code == code)) or code


def set_up_device(staff: User, hall_code: str, terminal: str) -> tuple[ServiceHall, str]:
    """把本机设为自助终端: checks the hall is one this member of staff may set kiosks up for,
    cleans the terminal's name and place (required) and writes the audit event. The browser's
    signed setting is the view's to write."""
    hall = next((h for h in device_halls(staff) if h.code == hall_code), None)
    if hall is None:
        raise ValidationError({"hall": str(_l("请选择您所在的服务大厅"))})
    name = terminal_name(terminal)
    if not name:
        raise ValidationError(
            {"terminal": str(_l("请填写本机的名称和位置，例如“B区2号机（取号机右侧）”"))}
        )
    audit.record_event(
        "kiosk_device_set", actor=staff, details={"hall": hall.code, "terminal": name}
    )
    return hall, name


def clear_device(staff: User, hall_code: str, terminal: str) -> None:
    """取消本机的自助终端设置: staff who may set kiosks up anywhere or for that hall; audited."""
    if not device_halls(staff):
        raise NotAuthorized(str(_l("只有窗口工作人员和管理员可以设置自助终端")))
    audit.record_event(
        "kiosk_device_cleared",
        actor=staff,
        details={"hall": hall_code[:16], "terminal": terminal_name(terminal)},
    )


def request_help(hall: ServiceHall, where: str = "", terminal: str = "") -> int:
    """呼叫工作人员: one open reminder for the hall's clerks naming the kiosk (where it stands)
    and the page the citizen is on, and an audit event.

    The reminder belongs to the hall (its kind names the hall; no department, so no
    department's reminder list shows it). While a kiosk's request is unanswered a second tap
    on it writes nothing (a worried citizen may tap again and again); another kiosk's is its
    own request. Returns how many were written."""
    kind = help_kind(hall.code)
    name = terminal_name(terminal) or str(UNNAMED_TERMINAL)
    calling = str(_l("%(hall)s %(terminal)s：有人需要帮助", hall=hall.name, terminal=name))
    page = KIOSK_PAGES.get(where)
    body = calling + (str(_l("（正在使用“%(page)s”）", page=page)) if page else "")
    waiting = any(
        b == calling or b.startswith(calling + "（")
        for b in db.session.scalars(
            select(StaffReminder.body).where(
                StaffReminder.kind == kind, StaffReminder.read_at.is_(None)
            )
        )
    )
    if not waiting:
        db.session.add(StaffReminder(kind=kind, body=body))
        db.session.flush()
    audit.record_event(
        "kiosk_help",
        actor=None,
        details={"hall": hall.code, "where": where[:60], "terminal": name},
    )
    return 0 if waiting else 1


def _staff_hall_code(staff: User) -> str | None:
    if staff.role != Role.counter or staff.hall_id is None:
        return None
    return db.session.scalar(select(ServiceHall.code).where(ServiceHall.id == staff.hall_id))


def help_requests(staff: User) -> list[StaffReminder]:
    """Open kiosk help requests of the clerk's own hall (User.hall_id), oldest first."""
    code = _staff_hall_code(staff)
    if code is None:
        return []
    return list(
        db.session.scalars(
            select(StaffReminder)
            .where(StaffReminder.kind == help_kind(code), StaffReminder.read_at.is_(None))
            .order_by(StaffReminder.id)
        )
    )


def acknowledge_help(staff: User, reminder_id: int) -> StaffReminder:
    """我去处理: only a clerk of the request's hall may answer it; anything else is not found."""
    reminder = db.session.get(StaffReminder, reminder_id)
    code = _staff_hall_code(staff)
    if reminder is None or code is None or reminder.kind != help_kind(code):
        raise NotFound(str(_l("求助记录不存在")))
    if reminder.read_at is None:
        reminder.read_at = utcnow()
        db.session.flush()
        audit.record_event(
            "kiosk_help_acknowledged", actor=staff, details={"reminder": reminder.id}
        )
    return reminder


def kiosk_items() -> list[ServiceItem]:
    """Published items a citizen may apply for on the kiosk, by name."""
    return list(
        db.session.scalars(
            select(ServiceItem)
            .join(ItemVersion, ItemVersion.id == ServiceItem.published_version_id)
            .where(ServiceItem.kiosk_enabled.is_(True))
            .options(contains_eager(ServiceItem.published_version))
            .order_by(ItemVersion.name)
        )
    )


def start_kiosk_application(actor: User, code: str):
    """A kiosk draft (channel 自助终端) for the logged-in citizen; other items are refused."""
    item = db.session.scalar(select(ServiceItem).where(ServiceItem.code == code))
    if item is None or item.published_version is None:
        raise NotFound(str(_l("该事项暂未开放办理")))
    if not item.kiosk_enabled:
        raise NotFound(str(_l("该事项不能在自助终端办理，请到窗口或在网上办理")))
    if actor.role != Role.citizen or actor.citizen is None:
        raise NotFound(str(_l("请用个人账号登录后办理")))
    return applications.start_draft(
        actor=actor, applicant=actor.citizen, item=item, channel=Channel.kiosk
    )
