"""The citizen's document library (材料库): adding documents and working out their validity."""

from __future__ import annotations

from datetime import date

from dateutil.relativedelta import relativedelta
from flask import current_app

from portal.extensions import db
from portal.models import Citizen, Document, Grade, MaterialType, User
from portal.models.base import utcnow
from services import storage

CONTENT_SUFFIX = {"application/pdf": ".pdf", "image/jpeg": ".jpg", "image/png": ".png"}


def valid_until_for(material_type: MaterialType, issued_on: date | None,
                    own_expiry: date | None = None) -> date | None:
    """A document's end of validity by its type's rule (photo: months after issue, id: its own)."""
    if material_type.validity_kind == "months" and issued_on and material_type.validity_months:
        return issued_on + relativedelta(months=material_type.validity_months)
    if material_type.validity_kind == "own_expiry":
        return own_expiry
    return None


def add_document(*, owner: Citizen, material_type: MaterialType, data: bytes, content_type: str,
                 filename: str, grade: Grade, source: str, issued_on: date | None = None,
                 own_expiry: date | None = None, verified_by: User | None = None,
                 title: str | None = None) -> Document:
    """Store a checked file and its library row. The file is in place before the caller commits."""
    suffix = CONTENT_SUFFIX[content_type]
    stored = storage.save_bytes(current_app.config["UPLOAD_DIR"], data, suffix)
    doc = Document(
        owner=owner,
        material_type=material_type,
        title=title or material_type.name,
        grade=grade,
        source=source,
        storage_key=stored.key,
        original_filename=filename[:200],
        content_type=content_type,
        size=stored.size,
        sha256=stored.sha256,
        issued_on=issued_on,
        valid_until=valid_until_for(material_type, issued_on, own_expiry),
        verified_by_id=verified_by.id if verified_by else None,
        verified_at=utcnow() if verified_by else None,
    )
    db.session.add(doc)
    try:
        db.session.flush()
    except Exception:
        storage.delete(current_app.config["UPLOAD_DIR"], stored.key)
        raise
    return doc
