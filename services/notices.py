"""Legal notices (受理通知书, 补正材料通知书 …): rendered once, when issued, and kept as issued.

A notice is a PDF made from ``templates/pdf/notices/<kind>.html`` at the moment the workflow
issues it, written to storage, and recorded with its sha256 (which the issuing event also
carries). Afterwards it is only ever served from storage, never rendered again, so what the
citizen downloads a year later is byte for byte what was issued.

The QR code on a notice carries a random verification code: scanning it opens the public page
by code (/verify/c/<code>) with nothing to type. The notice also prints its number and a short
check code for the 文书核验 form, which also accepts the first characters of the file's sha256
(the QR code cannot carry the hash of the file it is printed in).
"""

from __future__ import annotations

import re
import secrets
from datetime import date
from typing import Any

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from portal.extensions import db
from portal.models import Application, CorrectionRequest, Department, Event, Notice, User
from portal.models.base import utcnow
from services import clock, numbering, storage
from services.case_states import DELIVERY_KINDS
from services.errors import NotFound
from services.pdf import render_pdf
from services.verify_codes import code_url, new_verify_code, qr_data_uri

# kind → (title printed on the notice, number prefix)
KINDS: dict[str, tuple[str, str]] = {
    "acceptance": ("受理通知书", "SL"),
    "correction": ("补正材料通知书（一次性告知书）", "BZ"),
    "not_accepted": ("不予受理通知书", "BY"),
    "deferred_acceptance": ("容缺受理通知书", "RQ"),
    "approval": ("准予决定书", "ZY"),
    "denial": ("不予许可决定书", "BX"),
    "completion": ("办结通知书", "BJ"),
    "termination": ("终止办理通知书", "ZZ"),
}
KIND_LABELS = {
    "acceptance": _l("受理通知书"),
    "correction": _l("补正材料通知书"),
    "not_accepted": _l("不予受理通知书"),
    "deferred_acceptance": _l("容缺受理通知书"),
    "approval": _l("准予决定书"),
    "denial": _l("不予许可决定书"),
    "completion": _l("办结通知书"),
    "termination": _l("终止办理通知书"),
}
CODE_RE = re.compile(r"^([A-Za-z0-9]{6,40})-([0-9a-fA-F]{8,64})$")


def new_notice_number(department_code: str, kind: str, day: date) -> str:
    """E.g. GASL202611240001: the department, the kind, the date and a daily sequence."""
    return numbering.new_notice_number(department_code, KINDS[kind][1], day)


def issue_notice(app: Application, kind: str, *, actor: User | None, **context: Any) -> Notice:
    """Render the notice once, store the PDF and record it. The caller records the event."""
    title, _prefix = KINDS[kind]
    department = db.session.get(Department, app.department_id) if app.department_id else None
    issued_at = utcnow()
    number = new_notice_number(
        department.code if department else "YW", kind, clock.local_date(issued_at)
    )
    check_code = secrets.token_hex(4)
    verify_code = new_verify_code()
    pdf = render_pdf(
        f"notices/{kind}.html",
        kind=kind,
        title=title,
        number=number,
        app=app,
        version=app.item_version,
        applicant=app.applicant,
        department=department,
        issued_on=clock.local_date(issued_at),
        qr=qr_data_uri(code_url(str(current_app.config["PUBLIC_BASE_URL"]), verify_code)),
        verify_code=f"{number}-{check_code}",
        hotline=current_app.config["SERVICE_HOTLINE"],
        **context,
    )
    stored = storage.save(pdf, ".pdf")  # gone on rollback, final after the commit
    notice = Notice(
        number=number,
        application_id=app.id,
        kind=kind,
        department_id=department.id if department else None,
        issued_at=issued_at,
        issued_by_id=actor.id if actor else None,
        storage_key=stored.key,
        sha256=stored.sha256,
        size=stored.size,
        check_code=check_code,
        verify_code=verify_code,
    )
    db.session.add(notice)
    db.session.flush()
    return notice


def notices_of(application_id: int) -> list[Notice]:
    return list(
        db.session.scalars(
            select(Notice).where(Notice.application_id == application_id).order_by(Notice.id)
        )
    )


def summaries(application_id: int) -> dict[int, list[str]]:
    """The key text of each notice of a case in plain words, for the HTML summary shown (and
    read aloud) next to its PDF: taken from the event that issued it, which carries what the
    notice was rendered with (what to correct, the reasons, the dates)."""
    issued: dict[str, dict[str, Any]] = {}
    for event in db.session.scalars(select(Event).where(Event.application_id == application_id)):
        for entry in (event.details or {}).get("notices", []):
            issued[entry.get("number")] = event.details
    corrections = {
        c.notice_id: c.items
        for c in db.session.scalars(
            select(CorrectionRequest).where(CorrectionRequest.application_id == application_id)
        )
    }
    result: dict[int, list[str]] = {}
    for notice in notices_of(application_id):
        d = issued.get(notice.number, {})
        lines: list[str] = []
        if notice.kind == "correction":
            items = corrections.get(notice.id) or d.get("items", [])
            lines.append(
                str(
                    _l(
                        "需要一次补正的内容：%(items)s",
                        items="；".join(f"{i['label']}：{i['reason']}" for i in items),
                    )
                )
            )
        if d.get("due_date"):
            lines.append(str(_l("承诺办结日：%(day)s", day=d["due_date"])))
        if d.get("deferred"):
            lines.append(
                str(
                    _l(
                        "请在 %(day)s 前补交：%(names)s",
                        day=d.get("supply_deadline", ""),
                        names="、".join(d["deferred"]),
                    )
                )
            )
        if d.get("committed"):
            lines.append(
                str(_l("以告知承诺代替的材料：%(names)s", names="、".join(d["committed"])))
            )
        if notice.kind in ("not_accepted", "termination") and (
            d.get("reason") or d.get("finding") or d.get("missing")
        ):
            reason = (
                d.get("reason")
                or d.get("finding")
                or str(
                    _l(
                        "容缺材料（%(names)s）未在 %(day)s 前补齐",
                        names="、".join(d["missing"]),
                        day=d.get("supply_deadline", ""),
                    )
                )
            )
            lines.append(str(_l("原因：%(reason)s", reason=reason)))
        if d.get("refer_to"):
            lines.append(str(_l("请向 %(where)s 申请", where=d["refer_to"])))
        if d.get("reasons"):
            lines.append(str(_l("不予许可的理由：%(reasons)s", reasons=d["reasons"])))
        if d.get("opinion"):
            lines.append(str(_l("审批意见：%(opinion)s", opinion=d["opinion"])))
        if notice.kind == "completion" and d.get("delivery") in DELIVERY_KINDS:
            lines.append(str(_l("送达方式：%(how)s", how=DELIVERY_KINDS[d["delivery"]])))
        result[notice.id] = lines
    return result


def notice_pdf(notice: Notice) -> bytes:
    """The stored PDF, exactly as issued."""
    return storage.read(notice.storage_key)


def get_case_notice(application_id: int, notice_id: int) -> Notice:
    notice = db.session.get(Notice, notice_id)
    if notice is None or notice.application_id != application_id:
        raise NotFound(str(_l("通知书不存在")))
    return notice


def download_name(notice: Notice) -> str:
    return f"{notice.number}.pdf"


def verify_notice(code: str) -> Notice | None:
    """The notice a verification code names: its number and either the check code printed in
    its QR code or at least 8 leading hex digits of the file's sha256. None when none matches."""
    match = CODE_RE.match((code or "").strip())
    if not match:
        return None
    number, check = match.group(1), match.group(2).lower()
    notice = db.session.scalar(select(Notice).where(Notice.number == number))
    if notice is None:
        return None
    if secrets.compare_digest(check, notice.check_code) or notice.sha256.startswith(check):
        return notice
    return None
