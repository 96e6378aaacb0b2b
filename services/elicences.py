"""电子证照: issuing e-licences (GB/T 36903 fields) with a sealed PDF and a verification QR code."""

from __future__ import annotations

import base64
import secrets
from datetime import date

import segno
from flask import current_app
from sqlalchemy import select

from portal.extensions import db
from portal.models import Citizen, Department, ELicence, Grade, MaterialType
from services.documents import add_document
from services.pdf import render_pdf


def new_licence_number(dept: Department, issued_on: date) -> str:
    return f"{dept.code}{issued_on:%Y%m%d}{secrets.token_hex(4).upper()}"


def qr_data_uri(url: str) -> str:
    svg = segno.make(url, error="m").svg_inline(scale=4)
    return "data:image/svg+xml;base64," + base64.b64encode(svg.encode()).decode()


def issue_elicence(*, holder: Citizen, material_type: MaterialType, department: Department,
                   issued_on: date, valid_until: date | None, application_id: int | None = None,
                   verify_base_url: str = "/verify") -> ELicence:
    """Issue an e-licence: a grade-A document in the holder's library plus the licence record."""
    if not material_type.licence_type_code:
        raise ValueError(f"{material_type.code} is not issued as an e-licence")
    number = new_licence_number(department, issued_on)
    while db.session.scalar(select(ELicence.id).where(ELicence.number == number)):
        number = new_licence_number(department, issued_on)
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
        qr=qr_data_uri(f"{verify_base_url}?number={number}"),
    )
    document = add_document(
        owner=holder, material_type=material_type, data=pdf, content_type="application/pdf",
        filename=f"{number}.pdf", grade=Grade.A, source="elicence", issued_on=issued_on,
        own_expiry=valid_until, title=material_type.name,
    )
    document.valid_until = valid_until
    licence.document = document
    licence.file_sha256 = document.sha256
    db.session.add(licence)
    db.session.flush()
    current_app.logger.info("issued e-licence %s", number)
    return licence
