"""电子证照: issuing e-licences (GB/T 36903 fields) with a sealed PDF and a verification QR code,
and the public check of a licence by its number and the holder's code."""

from __future__ import annotations

import hmac
import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from urllib.parse import quote

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select

from portal.extensions import db
from portal.models import (
    Application,
    Citizen,
    Department,
    DocumentStatus,
    ELicence,
    Grade,
    MaterialType,
    Notice,
    Role,
    User,
    VerificationFailure,
)
from portal.models.base import utcnow
from services import audit, clock, messages
from services.documents import add_document
from services.errors import Conflict, NotAuthorized, NotFound, TooManyAttempts, ValidationError
from services.identity import is_holder_code, mask_id_number, mask_name
from services.notices import KIND_LABELS
from services.numbering import new_licence_number
from services.pdf import render_pdf
from services.verify_codes import VERIFY_CODE_RE, code_url, new_verify_code, qr_data_uri

NUMBER_RE = re.compile(r"[0-9A-Z]{1,64}")
HOLDER_CODE_RE = re.compile(r"[0-9A-Z]{15,18}")


def verification_url(public_base_url: str, number: str) -> str:
    """The form to check a licence by its number and holder code (PUBLIC_BASE_URL + /verify)."""
    return f"{public_base_url.rstrip('/')}/verify?number={quote(number, safe='')}"


def issue_elicence(
    *,
    holder: Citizen,
    material_type: MaterialType,
    department: Department,
    issued_on: date,
    valid_until: date | None,
    public_base_url: str | None = None,
    application_id: int | None = None,
) -> ELicence:
    """Issue an e-licence: a grade-A document in the holder's library plus the licence record.

    ``public_base_url`` is the portal's public address (config PUBLIC_BASE_URL by default): the
    QR code on the PDF must work when scanned by a phone, so it carries an absolute URL.
    """
    if public_base_url is None:
        public_base_url = current_app.config["PUBLIC_BASE_URL"]
    if not material_type.licence_type_code:
        raise ValueError(f"{material_type.code} is not issued as an e-licence")
    number = new_licence_number(department.code, issued_on)
    while db.session.scalar(select(ELicence.id).where(ELicence.number == number)):
        number = new_licence_number(department.code, issued_on)
    verify_code = new_verify_code()
    licence = ELicence(
        number=number,
        name=material_type.name,
        type_code=material_type.licence_type_code,
        holder_id=holder.id,
        holder_name=holder.name,
        holder_code=holder.id_number,
        issuer_name=department.name,
        issuer_code=department.code,
        issued_on=issued_on,
        valid_until=valid_until,
        status="valid",
        verify_code=verify_code,
        application_id=application_id,
    )
    pdf = render_pdf(
        "elicence.html",
        licence=licence,
        qr=qr_data_uri(code_url(public_base_url, verify_code)),
    )
    document = add_document(
        owner=holder,
        material_type=material_type,
        data=pdf,
        content_type="application/pdf",
        filename=f"{number}.pdf",
        grade=Grade.A,
        source="elicence",
        issued_on=issued_on,
        own_expiry=valid_until,
        title=material_type.name,
    )
    document.valid_until = valid_until
    licence.document = document
    licence.file_sha256 = document.sha256
    db.session.add(licence)
    db.session.flush()
    current_app.logger.info("issued e-licence %s", number)
    return licence


# --- 注销 -------------------------------------------------------------------------------

MAX_REVOKE_REASON = 500


def may_revoke(actor: User, licence: ELicence) -> bool:
    """A reviewer of the issuing department, or an admin."""
    if actor.role == Role.admin:
        return True
    return (
        actor.role == Role.reviewer
        and actor.department is not None
        and actor.department.code == licence.issuer_code
    )


def revoke_elicence(actor: User, licence_id: int, reason: str) -> ELicence:
    """注销: the licence and its library document stop being valid from today (local date);
    the reason is required and audited, and the public check shows 已注销 with the day only."""
    licence = db.session.get(ELicence, licence_id)
    if actor.role not in (Role.reviewer, Role.admin):
        raise NotAuthorized(str(_l("只有发证部门的审批人员或管理员可以注销证照")))
    if licence is None or not may_revoke(actor, licence):
        raise NotFound(str(_l("证照不存在")))
    text = str(reason or "").strip()
    if not text:
        raise ValidationError({"reason": str(_l("请写明注销的理由"))})
    if len(text) > MAX_REVOKE_REASON:
        raise ValidationError({"reason": str(_l("最多 %(n)d 个字", n=MAX_REVOKE_REASON))})
    if any(ord(ch) < 32 and ch not in "\r\n" for ch in text):
        raise ValidationError({"reason": str(_l("含有不允许的字符"))})
    if licence.status == "cancelled":
        raise Conflict(str(_l("该证照已注销")))
    licence.status = "cancelled"
    licence.revoked_on = clock.local_today()
    licence.revoke_reason = text
    licence.revoked_by_id = actor.id
    if licence.document is not None:
        licence.document.status = DocumentStatus.revoked
    db.session.flush()
    audit.record_event(
        "licence_revoked",
        actor=actor,
        application_id=licence.application_id,
        details={
            "licence": licence.number,
            "reason": text,
            "revoked_on": licence.revoked_on.isoformat(),
        },
    )
    holder = db.session.get(Citizen, licence.holder_id)
    case = db.session.get(Application, licence.application_id) if licence.application_id else None
    if holder is not None and case is not None:
        messages.notify(
            holder,
            "reminder",
            application=case,
            what=str(_l("的办理结果“%(name)s”已被发证部门注销", name=licence.name)),
        )
    return licence


# --- public verification ----------------------------------------------------------------


@dataclass(frozen=True)
class Verification:
    """The answer of the public check: valid 有效 / expired 已过期 / cancelled 已注销 /
    not_found 查无此证. ``licence`` is set only when the number and holder code both match."""

    outcome: str
    licence: ELicence | None = None


def normalise_code(value: str | None) -> str:
    return re.sub(r"[\s-]", "", value or "").upper()


def licence_outcome(licence: ELicence, today: date) -> str:
    if licence.status == "cancelled":
        return "cancelled"
    if licence.status == "expired" or (
        licence.valid_until is not None and licence.valid_until < today
    ):
        return "expired"
    return "valid"


def verify_elicence(
    number: str | None,
    holder_code: str | None,
    *,
    remote_addr: str = "",
    max_failures: int = 10,
    window_minutes: int = 15,
    today: date | None = None,
) -> Verification:
    """Check a licence by its number and its holder's code (身份证号 or 统一社会信用代码).

    A wrong holder code answers exactly like an unknown number, so the check never tells
    whether a number exists. Checks that find nothing are recorded (the caller commits them)
    and too many from one address, or against one number, are refused for a while.
    """
    number = normalise_code(number)
    code = normalise_code(holder_code)
    errors: dict[str, str] = {}
    if not number:
        errors["number"] = str(_l("请填写证照编号"))
    elif not NUMBER_RE.fullmatch(number):
        errors["number"] = str(_l("证照编号只含字母和数字，最多 64 位"))
    if not code:
        errors["holder_code"] = str(_l("请填写持证主体代码"))
    elif not HOLDER_CODE_RE.fullmatch(code) or not is_holder_code(code):
        errors["holder_code"] = str(_l("持证主体代码为 18 位身份证号或统一社会信用代码"))
    if errors:
        raise ValidationError(errors)

    since = utcnow() - timedelta(minutes=window_minutes)
    by_number = db.session.scalar(
        select(func.count())
        .select_from(VerificationFailure)
        .where(VerificationFailure.number == number, VerificationFailure.created_at >= since)
    )
    if max(_misses_from(remote_addr, since), by_number or 0) >= max_failures:
        raise TooManyAttempts(
            str(_l("核验次数过多，请 %(minutes)d 分钟后再试", minutes=window_minutes))
        )

    licence = db.session.scalar(select(ELicence).where(ELicence.number == number))
    if licence is None or not hmac.compare_digest(
        licence.holder_code.upper().encode(), code.encode()
    ):
        db.session.add(VerificationFailure(number=number, remote_addr=remote_addr[:64]))
        db.session.flush()
        return Verification("not_found")
    return Verification(licence_outcome(licence, today or clock.local_today()), licence)


def _misses_from(remote_addr: str, since: datetime) -> int:
    """Checks from one address that found nothing since ``since``: by number and holder code
    and by QR code alike, so that one client cannot guess with either."""
    return (
        db.session.scalar(
            select(func.count())
            .select_from(VerificationFailure)
            .where(
                VerificationFailure.remote_addr == remote_addr[:64],
                VerificationFailure.created_at >= since,
            )
        )
        or 0
    )


@dataclass(frozen=True)
class PublicRecord:
    """What the public page by QR code shows of a licence or a notice, and nothing more: the
    holder masked (张*三, 110101********1234), the item, the dates, the status and the file's
    sha256. Built here so that the page never holds the licence or the notice itself."""

    kind: str  # licence / notice
    title: str  # the licence's name, or the notice's kind
    item: str  # the licence's name, or what the case applied for
    number: str
    holder: str
    holder_code: str
    issuer: str
    issued_on: date
    valid_until: date | None  # None: 长期 (a licence) or not applicable (a notice)
    outcome: str  # valid / expired / cancelled
    sha256: str
    revoked_on: date | None = None  # 注销: the day only, never the reason (it may be personal)


def check_by_code(
    verify_code: str | None,
    *,
    remote_addr: str = "",
    max_failures: int = 10,
    window_minutes: int = 15,
    today: date | None = None,
) -> PublicRecord | None:
    """The licence or notice whose QR carries ``verify_code``, as the public may see it.

    None when no licence or notice has that code (or it is not a code at all): the miss is
    recorded (the caller commits it) and counts, with the misses of the number-and-holder-code
    check, against the address; too many refuse every check from it for a while.
    """
    since = utcnow() - timedelta(minutes=window_minutes)
    if _misses_from(remote_addr, since) >= max_failures:
        raise TooManyAttempts(
            str(_l("核验次数过多，请 %(minutes)d 分钟后再试", minutes=window_minutes))
        )
    code = verify_code or ""
    licence = notice = None
    if VERIFY_CODE_RE.fullmatch(code):
        licence = db.session.scalar(select(ELicence).where(ELicence.verify_code == code))
        if licence is None:
            notice = db.session.scalar(select(Notice).where(Notice.verify_code == code))
    if licence is not None:
        return PublicRecord(
            kind="licence",
            title=licence.name,
            item=licence.name,
            number=licence.number,
            holder=mask_name(licence.holder_name),
            holder_code=mask_id_number(licence.holder_code),
            issuer=licence.issuer_name,
            issued_on=licence.issued_on,
            valid_until=licence.valid_until,
            outcome=licence_outcome(licence, today or clock.local_today()),
            sha256=licence.file_sha256,
            revoked_on=licence.revoked_on,
        )
    if notice is not None:
        case = db.session.get(Application, notice.application_id)
        return PublicRecord(
            kind="notice",
            title=str(KIND_LABELS.get(notice.kind, notice.kind)),
            item=case.title,
            number=notice.number,
            holder=mask_name(case.applicant.name),
            holder_code=mask_id_number(case.applicant.id_number or ""),
            issuer=notice.department.name if notice.department else "",
            issued_on=clock.local_date(notice.issued_at),
            valid_until=None,
            outcome="valid",  # a notice has no expiry and no revocation: issued is final
            sha256=notice.sha256,
        )
    db.session.add(VerificationFailure(number="", remote_addr=remote_addr[:64]))
    db.session.flush()
    return None
