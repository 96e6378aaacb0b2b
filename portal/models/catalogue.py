"""The service catalogue: items (事项), their versioned guides (办事指南) and shared material types."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    ForeignKey,
    Index,
    String,
    Table,
    Text,
    UniqueConstraint,
    false,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.extensions import db
from portal.models.accounts import Department, User, enum_column
from portal.models.base import TimestampMixin, UTCDateTime


class VersionStatus(enum.StrEnum):
    draft = "draft"
    in_review = "in_review"
    published = "published"
    archived = "archived"


class MaterialType(TimestampMixin, db.Model):
    """One entry of the shared material catalogue (居民身份证, 户口簿 …); sharing it makes reuse possible."""

    __tablename__ = "material_types"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(16), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    category: Mapped[str] = mapped_column(String(40), default="")
    description: Mapped[str] = mapped_column(Text, default="")
    source: Mapped[str] = mapped_column(
        String(16), default="self"
    )  # self 申请人自备 / issued 政府部门核发
    licence_type_code: Mapped[str | None] = mapped_column(String(40), index=True)
    validity_kind: Mapped[str] = mapped_column(
        String(16), default="none"
    )  # none / own_expiry / months
    validity_months: Mapped[int | None] = mapped_column()
    blank_form_key: Mapped[str | None] = mapped_column(String(200))
    example_key: Mapped[str | None] = mapped_column(String(200))

    def __repr__(self) -> str:
        return f"<MaterialType {self.code}>"


class Theme(db.Model):
    """主题分类: a life-event theme for 个人 or 法人."""

    __tablename__ = "themes"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(40), unique=True)
    audience: Mapped[str] = mapped_column(String(16), default="person")
    position: Mapped[int] = mapped_column(default=0)


version_themes = Table(
    "item_version_themes",
    db.metadata,
    Column("version_id", ForeignKey("item_versions.id", ondelete="CASCADE"), primary_key=True),
    Column("theme_id", ForeignKey("themes.id"), primary_key=True),
)


class ServiceItem(TimestampMixin, db.Model):
    """A service item (政务服务事项); its content lives in versions, one of which is published."""

    __tablename__ = "service_items"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    department_id: Mapped[int] = mapped_column(ForeignKey("departments.id"), index=True)
    published_version_id: Mapped[int | None] = mapped_column(
        ForeignKey("item_versions.id", use_alter=True, name="fk_service_items_published_version"),
    )
    popularity: Mapped[int] = mapped_column(default=0)
    # offered on the hall's self-service terminals (自助终端)
    kiosk_enabled: Mapped[bool] = mapped_column(default=False, server_default=false())

    department: Mapped[Department] = relationship()
    published_version: Mapped[ItemVersion | None] = relationship(
        foreign_keys=[published_version_id], post_update=True
    )
    versions: Mapped[list[ItemVersion]] = relationship(
        back_populates="item", foreign_keys="ItemVersion.item_id", order_by="ItemVersion.number"
    )

    def __repr__(self) -> str:
        return f"<ServiceItem {self.code}>"


class ItemVersion(TimestampMixin, db.Model):
    """One version of an item's guide (办事指南). Published versions are never edited in place."""

    __tablename__ = "item_versions"
    __table_args__ = (
        UniqueConstraint("item_id", "number"),
        Index("ix_item_versions_status", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("service_items.id"), index=True)
    number: Mapped[int] = mapped_column()
    status: Mapped[VersionStatus] = mapped_column(
        enum_column(VersionStatus, "version_status"), default=VersionStatus.draft
    )
    name: Mapped[str] = mapped_column(String(200))
    item_type: Mapped[str] = mapped_column(String(32), default="public_service")
    audience: Mapped[str] = mapped_column(String(16), default="person")
    department_id: Mapped[int] = mapped_column(ForeignKey("departments.id"))
    legal_basis: Mapped[str] = mapped_column(Text, default="")
    conditions: Mapped[str] = mapped_column(Text, default="")
    legal_limit: Mapped[int | None] = mapped_column()
    legal_limit_unit: Mapped[str] = mapped_column(String(16), default="working")
    promised_limit: Mapped[int | None] = mapped_column()
    promised_limit_unit: Mapped[str] = mapped_column(String(16), default="working")
    case_type: Mapped[str] = mapped_column(
        String(16), default="promised"
    )  # instant 即办件 / promised 承诺件
    steps: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    visits: Mapped[int] = mapped_column(default=0)
    visits_reason: Mapped[str] = mapped_column(Text, default="")
    online_depth: Mapped[int] = mapped_column(default=1)
    location: Mapped[str] = mapped_column(Text, default="")
    hours: Mapped[str] = mapped_column(String(200), default="")
    phone: Mapped[str] = mapped_column(String(40), default="")
    complaint_phone: Mapped[str] = mapped_column(String(40), default="")
    fees: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    result_name: Mapped[str] = mapped_column(String(200), default="")
    result_type: Mapped[str] = mapped_column(
        String(16), default="other"
    )  # licence / approval / other
    result_licence_type_code: Mapped[str | None] = mapped_column(String(40))
    # the result's term: {"years": n} / {"months": n} / {"long": true} (长期); None: the
    # material type's own validity rule (services/delivery.py)
    result_term: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # how the result may be delivered: some of online / pickup / post (None: online and pickup)
    delivery_methods: Mapped[list[str] | None] = mapped_column(JSON)
    faqs: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    keywords: Mapped[list[str]] = mapped_column(JSON, default=list)
    synonyms: Mapped[list[str]] = mapped_column(JSON, default=list)
    questions: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    condition_questions: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    commitment_text: Mapped[str] = mapped_column(Text, default="")
    auto_rules: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    kiosk_enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    # normalised name, codes, keywords, synonyms and their pinyin, for search
    search_text: Mapped[str] = mapped_column(Text, default="")
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    # bumped by every edit of a draft; an edit based on an older number is refused (optimistic lock)
    lock_version: Mapped[int] = mapped_column(default=0, server_default=text("0"))
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # four-eyes publishing: who sent it for review and who published it (two people by default)
    submitted_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    published_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    item: Mapped[ServiceItem] = relationship(back_populates="versions", foreign_keys=[item_id])
    submitted_by: Mapped[User | None] = relationship(foreign_keys=[submitted_by_id])
    published_by: Mapped[User | None] = relationship(foreign_keys=[published_by_id])
    department: Mapped[Department] = relationship()
    themes: Mapped[list[Theme]] = relationship(secondary=version_themes, order_by=Theme.position)
    requirements: Mapped[list[MaterialRequirement]] = relationship(
        back_populates="version",
        order_by="MaterialRequirement.position",
        cascade="all, delete-orphan",
    )

    def __repr__(self) -> str:
        return f"<ItemVersion {self.item_id} v{self.number} {self.status}>"


class MaterialRequirement(db.Model):
    """申请材料: a material type an item version asks for, with how and when."""

    __tablename__ = "material_requirements"

    id: Mapped[int] = mapped_column(primary_key=True)
    version_id: Mapped[int] = mapped_column(
        ForeignKey("item_versions.id", ondelete="CASCADE"), index=True
    )
    material_type_id: Mapped[int] = mapped_column(ForeignKey("material_types.id"), index=True)
    position: Mapped[int] = mapped_column(default=0)
    original: Mapped[bool] = mapped_column(Boolean, default=True)  # 原件 / 复印件
    form: Mapped[str] = mapped_column(String(16), default="electronic")  # paper / electronic
    copies: Mapped[int] = mapped_column(default=1)
    necessity: Mapped[str] = mapped_column(
        String(16), default="required"
    )  # required/optional/deferrable/shared
    condition: Mapped[dict[str, Any] | None] = mapped_column(
        JSON
    )  # {"question": key, "equals": value}
    notes: Mapped[str] = mapped_column(Text, default="")
    acceptance_standard: Mapped[str] = mapped_column(Text, default="")
    commitment_allowed: Mapped[bool] = mapped_column(Boolean, default=False)

    version: Mapped[ItemVersion] = relationship(back_populates="requirements")
    material_type: Mapped[MaterialType] = relationship()


class Bundle(TimestampMixin, db.Model):
    """一件事一次办: a life event made of several items."""

    __tablename__ = "bundles"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(16), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    description: Mapped[str] = mapped_column(Text, default="")
    theme_id: Mapped[int | None] = mapped_column(ForeignKey("themes.id"))
    published: Mapped[bool] = mapped_column(Boolean, default=True)

    theme: Mapped[Theme | None] = relationship()
    entries: Mapped[list[BundleItem]] = relationship(
        order_by="BundleItem.position", cascade="all, delete-orphan"
    )


class BundleItem(db.Model):
    __tablename__ = "bundle_items"

    bundle_id: Mapped[int] = mapped_column(
        ForeignKey("bundles.id", ondelete="CASCADE"), primary_key=True
    )
    item_id: Mapped[int] = mapped_column(ForeignKey("service_items.id"), primary_key=True)
    position: Mapped[int] = mapped_column(default=0)

    item: Mapped[ServiceItem] = relationship()
