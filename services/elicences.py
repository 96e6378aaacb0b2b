"""电子证照: issuing e-licences (GB/T 36903 fields) with a sealed PDF and a verification QR code,
and the public check of a licence by its number and the holder's code."""

from __future__ import annotations

import base64
import hmac
import re
from dataclasses import dataclass
from datetime import date, timedelta
from urllib.parse import quote

import segno
from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select

from portal.extensions import db
from portal.models import Citizen, Department, ELicence, Grade, MaterialType, VerificationFailure
from portal.models.base import utcnow
from services import clock
from services.documents import add_document
from services.errors import TooManyAttempts, ValidationError
from services.numbering import new_licence_number
from services.pdf import render_pdf

NUMBER_RE = re.compile(r"[0-9A-Z]{1,64}")
HOLDER_CODE_RE = re.compile(r"[0-9A-Z]{15,18}")


def verification_url(public_base_url: str, number: str) -> str:
    """The absolute address a licence's QR code points at (PUBLIC_BASE_URL + /verify)."""
    return f"{public_base_url.rstrip('/')}/verify?number={quote(number, safe='')}"


def qr_data_uri(url: str) -> str:
    svg = segno.make(url, error="m").svg_inline(scale=4)
    return "data:image/svg+xml;base64," + base64.b64encode(svg.encode()).decode()


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
        application_id=application_id,
    )
    pdf = render_pdf(
        "elicence.html",
        licence=licence,
        qr=qr_data_uri(verification_url(public_base_url, number)),
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
    elif not HOLDER_CODE_RE.fullmatch(code):
        errors["holder_code"] = str(_l("持证主体代码为 18 位身份证号或统一社会信用代码"))
    if errors:
        raise ValidationError(errors)

    since = utcnow() - timedelta(minutes=window_minutes)
    by_addr = db.session.scalar(
        select(func.count())
        .select_from(VerificationFailure)
        .where(
            VerificationFailure.remote_addr == remote_addr[:64],
            VerificationFailure.created_at >= since,
        )
    )
    by_number = db.session.scalar(
        select(func.count())
        .select_from(VerificationFailure)
        .where(VerificationFailure.number == number, VerificationFailure.created_at >= since)
    )
    if max(by_addr or 0, by_number or 0) >= max_failures:
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
