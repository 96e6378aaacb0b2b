"""A person's document library (材料库) and the e-licences (电子证照) the portal issues."""

from __future__ import annotations

import enum
from datetime import date, datetime

from sqlalchemy import Date, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.extensions import db
from portal.models.accounts import Citizen, enum_column
from portal.models.base import TimestampMixin, UTCDateTime
from portal.models.catalogue import MaterialType


class Grade(enum.StrEnum):
    """Trust grade (国办函〔2016〕108号)."""

    A = "A"  # issued by the portal (e-licence)
    B = "B"  # checked against the original by staff
    C = "C"  # uploaded, unchecked
    D = "D"  # the applicant's own signed commitment


class DocumentStatus(enum.StrEnum):
    valid = "valid"
    revoked = "revoked"


class Document(TimestampMixin, db.Model):
    """An entry in a person's library: a stored file of one material type."""

    __tablename__ = "documents"
    __table_args__ = (Index("ix_documents_owner_type", "owner_id", "material_type_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    owner_id: Mapped[int] = mapped_column(ForeignKey("citizens.id"))
    material_type_id: Mapped[int] = mapped_column(ForeignKey("material_types.id"))
    title: Mapped[str] = mapped_column(String(200))
    grade: Mapped[Grade] = mapped_column(enum_column(Grade, "grade"))
    source: Mapped[str] = mapped_column(
        String(16), default="upload"
    )  # upload/elicence/counter/commitment
    storage_key: Mapped[str | None] = mapped_column(String(200))
    original_filename: Mapped[str] = mapped_column(String(200), default="")
    content_type: Mapped[str] = mapped_column(String(64), default="")
    size: Mapped[int] = mapped_column(default=0)
    sha256: Mapped[str] = mapped_column(String(64), default="")
    issued_on: Mapped[date | None] = mapped_column(Date)
    valid_until: Mapped[date | None] = mapped_column(Date)
    status: Mapped[DocumentStatus] = mapped_column(
        enum_column(DocumentStatus, "document_status"), default=DocumentStatus.valid
    )
    verified_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    verified_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    owner: Mapped[Citizen] = relationship()
    material_type: Mapped[MaterialType] = relationship()


class ELicence(TimestampMixin, db.Model):
    """电子证照 (GB/T 36903): issued on approval, verifiable by number and holder code."""

    __tablename__ = "elicences"

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    type_code: Mapped[str] = mapped_column(String(40))
    holder_id: Mapped[int] = mapped_column(ForeignKey("citizens.id"), index=True)
    holder_name: Mapped[str] = mapped_column(String(100))
    holder_code: Mapped[str] = mapped_column(String(32))
    issuer_name: Mapped[str] = mapped_column(String(100))
    issuer_code: Mapped[str] = mapped_column(String(32))
    issued_on: Mapped[date] = mapped_column(Date)
    valid_until: Mapped[date | None] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(16), default="valid")  # valid / cancelled / expired
    file_sha256: Mapped[str] = mapped_column(String(64), default="")
    # the random code in the licence's QR (/verify/c/<code>): whoever holds the paper may see
    # its status without the holder's 身份证号; unguessable, so the list cannot be walked
    verify_code: Mapped[str] = mapped_column(String(43), unique=True, index=True)
    document_id: Mapped[int | None] = mapped_column(ForeignKey("documents.id"), unique=True)
    application_id: Mapped[int | None] = mapped_column(ForeignKey("applications.id"))
    # 注销 by the issuing department (services/elicences.revoke_elicence): the day and the reason
    revoked_on: Mapped[date | None] = mapped_column(Date)
    revoke_reason: Mapped[str] = mapped_column(Text, default="", server_default="")
    revoked_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    document: Mapped[Document | None] = relationship()
