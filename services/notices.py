"""Legal notices (受理通知书, 补正材料通知书 …): rendered once and kept as issued.

A notice is issued by the workflow with its number, codes and what it says (``render_context``)
fixed at that moment; its PDF is made from ``templates/pdf/notices/<kind>.html``, written to
storage and attached to the row with its sha256 once (``render_notice``). Without a task queue
that happens at once, inside the issuing transaction, and the issuing event carries the sha256;
with one (services/tasks.py, CELERY_BROKER_URL) a worker does it a second after the commit and records a
``notice_rendered`` event with the sha256, and until then the case pages say 通知书生成中 rather
than link to a file that is not there. Afterwards the PDF is only ever served from storage,
never rendered again, so what the citizen downloads a year later is byte for byte what was
issued.

The QR code on a notice carries a random verification code: scanning it opens the public page
by code (/verify/c/<code>) with nothing to type. The notice also prints its number and a short
check code for the 文书核验 form, which also accepts the first characters of the file's sha256
(the QR code cannot carry the hash of the file it is printed in).
"""

from __future__ import annotations

import logging
import re
import secrets
import time
from datetime import date, datetime, timedelta
from types import SimpleNamespace
from typing import Any

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import bindparam, select, update

from portal.extensions import db
from portal.models import (
    Application,
    CorrectionRequest,
    Department,
    ELicence,
    Event,
    Notice,
    User,
)
from portal.models.base import utcnow
from services import audit, clock, numbering, storage, tasks
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
log = logging.getLogger(__name__)
CODE_RE = re.compile(r"^([A-Za-z0-9]{6,40})-([0-9a-fA-F]{8,64})$")


def new_notice_number(department_code: str, kind: str, day: date) -> str:
    """E.g. GASL202611240001: the department, the kind, the date and a daily sequence."""
    return numbering.new_notice_number(department_code, KINDS[kind][1], day)


def issue_notice(app: Application, kind: str, *, actor: User | None, **context: Any) -> Notice:
    """Issue a notice: its number, codes and what it says are fixed now; the PDF is rendered
    by ``render_notice`` — at once, in this transaction, when tasks run in-process, or by a
    worker right after the commit when they are queued (the case page says 通知书生成中 for
    that moment). The caller records the event."""
    department = db.session.get(Department, app.department_id) if app.department_id else None
    issued_at = utcnow()
    number = new_notice_number(
        department.code if department else "YW", kind, clock.local_date(issued_at)
    )
    notice = Notice(
        number=number,
        application_id=app.id,
        kind=kind,
        department_id=department.id if department else None,
        issued_at=issued_at,
        issued_by_id=actor.id if actor else None,
        check_code=secrets.token_hex(4),
        verify_code=new_verify_code(),
        render_context=freeze_context(context),
    )
    db.session.add(notice)
    db.session.flush()
    if tasks.queued():
        tasks.enqueue_after_commit(db.session, tasks.RENDER_NOTICE, notice.id)
    else:
        render_notice(notice.id, record_event=False)  # its sha256 goes into the issuing event
    return notice


def render_notice(notice_id: int, *, record_event: bool = True) -> bool:
    """Render a notice's PDF, store it and attach it to the row, once.

    Safe to run twice or at once on two workers: the file is attached by one conditional
    UPDATE (… WHERE storage_key IS NULL); a run that finds the notice attached, or loses the
    race, returns False and its caller rolls back, which removes the file it wrote. A worker
    killed in the middle leaves at most a file no row names (``flask files cleanup``).
    ``record_event``: a ``notice_rendered`` event carries the sha256 (a task's run; when the
    notice is rendered as it is issued, the issuing event carries it instead)."""
    notice = db.session.get(Notice, notice_id)
    if notice is None or notice.storage_key is not None:
        return False
    app = db.session.get(Application, notice.application_id)
    issued_on = clock.local_date(notice.issued_at)
    log.info("rendering notice %s", notice.number)
    pdf = render_pdf(
        f"notices/{notice.kind}.html",
        kind=notice.kind,
        title=KINDS[notice.kind][0],
        number=notice.number,
        app=app,
        version=app.item_version,
        applicant=app.applicant,
        department=notice.department,
        issued_on=issued_on,
        qr=qr_data_uri(code_url(str(current_app.config["PUBLIC_BASE_URL"]), notice.verify_code)),
        verify_code=f"{notice.number}-{notice.check_code}",
        hotline=current_app.config["SERVICE_HOTLINE"],
        **thaw_context(notice.render_context or {}),
    )
    stored = storage.save(pdf, ".pdf")  # gone on rollback, final after the commit
    delay_ms = int(current_app.config.get("NOTICE_RENDER_DELAY_MS") or 0)
    if delay_ms:  # tests only: a window in which to kill the worker mid-task
        log.info("notice %s stored, waiting %d ms before attaching it", notice.number, delay_ms)
        time.sleep(delay_ms / 1000)
    attached = db.session.execute(
        update(Notice)
        .where(Notice.id == notice.id, Notice.storage_key.is_(None))
        .values(
            storage_key=stored.key, sha256=stored.sha256, size=stored.size, rendered_at=utcnow()
        )
        .execution_options(synchronize_session=False)
    ).rowcount
    if attached != 1:
        return False
    db.session.refresh(notice)
    if record_event:
        audit.record_event(
            "notice_rendered",
            actor=None,
            application_id=notice.application_id,
            details={"kind": notice.kind, "number": notice.number, "sha256": notice.sha256},
        )
    return True


def pending_notice_ids(older_than_seconds: int = 0, limit: int = 500) -> list[int]:
    """Notices whose PDF is not attached yet, issued at least ``older_than_seconds`` ago (the
    sweep sends their task again: the broker lost it, or the worker died and was not
    replaced)."""
    cutoff = utcnow() - timedelta(seconds=older_than_seconds)
    return list(
        db.session.scalars(
            select(Notice.id)
            .where(Notice.storage_key.is_(None), Notice.issued_at <= cutoff)
            .order_by(Notice.id)
            .limit(limit)
        )
    )


# What a notice says is fixed when it is issued and kept as JSON on the row until rendered:
# dates and e-licences are tagged so that the template sees the same values either way.
def freeze_context(value: Any) -> Any:
    if isinstance(value, datetime):
        return {"__datetime__": value.isoformat()}
    if isinstance(value, date):
        return {"__date__": value.isoformat()}
    if isinstance(value, ELicence):
        return {"__licence__": {"name": value.name, "number": value.number}}
    if isinstance(value, dict):
        return {str(k): freeze_context(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [freeze_context(v) for v in value]
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)  # lazy translations and other text


def thaw_context(value: Any) -> Any:
    if isinstance(value, dict):
        if set(value) == {"__datetime__"}:
            return datetime.fromisoformat(value["__datetime__"])
        if set(value) == {"__date__"}:
            return date.fromisoformat(value["__date__"])
        if set(value) == {"__licence__"}:
            return SimpleNamespace(**value["__licence__"])
        return {k: thaw_context(v) for k, v in value.items()}
    if isinstance(value, list):
        return [thaw_context(v) for v in value]
    return value


def notices_of(application_id: int) -> list[Notice]:
    return list(db.session.scalars(_NOTICES_OF, {"case": application_id}))


# built once: every case page lists its notices (building it cost as much as running it)
_NOTICES_OF = select(Notice).where(Notice.application_id == bindparam("case")).order_by(Notice.id)


def summaries(application_id: int) -> dict[int, list[str]]:
    """The key text of each notice of a case in plain words, for the HTML summary shown (and
    read aloud) next to its PDF: taken from the event that issued it, which carries what the
    notice was rendered with (what to correct, the reasons, the dates)."""
    return summarise(
        notices_of(application_id),
        db.session.scalars(
            select(Event).where(Event.application_id == application_id).order_by(Event.id)
        ).all(),
        db.session.scalars(
            select(CorrectionRequest).where(CorrectionRequest.application_id == application_id)
        ).all(),
    )


def summarise(
    case_notices: list[Notice], events: list[Event], corrections: list[CorrectionRequest]
) -> dict[int, list[str]]:
    """``summaries`` from a case's notices, all its events (in id order) and its correction
    requests, loaded by the caller (the case page loads them once for everything it shows)."""
    issued: dict[str, dict[str, Any]] = {}
    for event in events:
        for entry in (event.details or {}).get("notices", []):
            issued[entry.get("number")] = event.details
    items_of = {c.notice_id: c.items for c in corrections}
    result: dict[int, list[str]] = {}
    for notice in case_notices:
        d = issued.get(notice.number, {})
        lines: list[str] = []
        if notice.kind == "correction":
            items = items_of.get(notice.id) or d.get("items", [])
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
    if secrets.compare_digest(check, notice.check_code) or (
        notice.sha256 is not None and notice.sha256.startswith(check)
    ):
        return notice
    return None
