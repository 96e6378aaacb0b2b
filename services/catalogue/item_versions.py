"""Service items and their versioned guides (办事指南): drafts, review, publishing, reading.

A guide is edited only as a draft. Published and archived versions are immutable: editing one
means ``create_draft_from`` it, and publishing the new draft archives the old one. Drafts carry
``lock_version``; every edit names the number it was based on, so two admins editing the same
draft cannot silently overwrite each other.
"""

from __future__ import annotations

import copy
from typing import Any

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, or_, select
from sqlalchemy.orm import load_only, selectinload

from portal.extensions import db
from portal.models import (
    Bundle,
    Department,
    ItemVersion,
    MaterialRequirement,
    MaterialType,
    ServiceItem,
    Theme,
    User,
    VersionStatus,
)
from portal.models.base import utcnow
from services import audit
from services.catalogue.checks import (
    ITEM_CODE_RE,
    Checks,
    check_form,
    check_guide,
    check_requirement,
    publish_errors,
)
from services.catalogue.common import Page, clean_text, like_text, paginate_query, record_action
from services.catalogue.vocabulary import FIELD_LABELS, GUIDE_FIELDS, REQUIREMENT_FIELDS
from services.errors import Conflict, NotFound, ValidationError
from services.guide_cache import clear_guide_cache
from services.search import build_search_text

OPEN_STATUSES = (VersionStatus.draft, VersionStatus.in_review)


def _lock_draft(version: ItemVersion, expected_lock: int | None) -> None:
    """Refuse changes to anything but a draft, and changes based on a stale copy of it
    (callers check their input next and ``_touch`` the draft once they change it).

    The row is re-read under a row lock (PostgreSQL; SQLite writers are serialised anyway),
    so of two admins saving at once the second sees the first one's number and is refused.
    """
    db.session.refresh(version, attribute_names=["status", "lock_version"], with_for_update=True)
    ensure_editable(version)
    if expected_lock is not None and expected_lock != version.lock_version:
        raise Conflict(
            str(
                _l(
                    "该草稿已被其他管理员修改。请重新打开页面，在最新内容上修改（您这次的修改没有保存）"
                )
            )
        )


def _touch(version: ItemVersion) -> None:
    """Mark a checked change: the next edit must be based on this state."""
    version.lock_version += 1


def ensure_editable(version: ItemVersion) -> None:
    """Only drafts are edited; a published or archived version is never changed in place."""
    if version.status != VersionStatus.draft:
        if version.status == VersionStatus.in_review:
            raise Conflict(str(_l("该版本正在审核，不能修改；如需修改，请先退回草稿")))
        raise Conflict(str(_l("已发布或已归档的版本不能直接修改；请在事项页面创建新版本后修改")))


def create_item(
    *,
    code: str,
    department: Department | None,
    actor: User | None,
    guide: dict[str, Any],
    requirements: list[dict[str, Any]],
    themes: list[Theme],
) -> ItemVersion:
    """Create an item with its first draft version."""
    checks = Checks()
    code = (code or "").strip().upper()
    if not ITEM_CODE_RE.match(code):
        checks.fail("code", _l("事项编码为 12 位字母或数字"))
    elif db.session.scalar(select(ServiceItem.id).where(ServiceItem.code == code)):
        checks.fail("code", _l("事项编码已存在"))
    if department is None or not department.active:
        checks.fail("department_id", _l("请选择一个在用的实施主体"))
    if not clean_text(guide.get("name")):
        checks.fail("name", _l("请填写%(field)s", field=FIELD_LABELS["name"]))
    cleaned = check_guide(checks, {k: v for k, v in guide.items() if k != "department_id"})
    checks.done()
    item = ServiceItem(code=code, department=department)
    db.session.add(item)
    db.session.flush()
    version = ItemVersion(
        item=item,
        number=1,
        status=VersionStatus.draft,
        department_id=department.id,
        created_by_id=actor.id if actor else None,
        **cleaned,
    )
    version.themes = list(themes)
    version.requirements = [MaterialRequirement(**r) for r in requirements]
    db.session.add(version)
    db.session.flush()
    record_action("item_created", actor, item_id=item.id, code=code, version_id=version.id)
    return version


def update_draft(
    version: ItemVersion,
    *,
    guide: dict[str, Any],
    theme_ids: list[int] | None,
    expected_lock: int | None,
    actor: User,
) -> ItemVersion:
    """Save guide fields (and the themes) of a draft."""
    _lock_draft(version, expected_lock)
    checks = Checks()
    cleaned = check_guide(checks, guide, current=version)
    themes = None
    if theme_ids is not None:
        themes = list(db.session.scalars(select(Theme).where(Theme.id.in_(theme_ids))))
        if len(themes) != len(set(theme_ids)):
            checks.fail("themes", _l("请从列表中选择%(field)s", field=FIELD_LABELS["themes"]))
    checks.done()
    _touch(version)
    for key, value in cleaned.items():
        setattr(version, key, value)
    if themes is not None:
        version.themes = sorted(themes, key=lambda t: (t.position, t.id))
    db.session.flush()
    record_action(
        "draft_updated",
        actor,
        item_id=version.item_id,
        version_id=version.id,
        fields=sorted(cleaned),
    )
    return version


def update_application_form(
    version: ItemVersion,
    *,
    questions: list[dict[str, Any]],
    condition_questions: list[dict[str, Any]],
    expected_lock: int | None,
    actor: User,
) -> ItemVersion:
    """Save the questions of a draft's application form and its 情形 questions."""
    _lock_draft(version, expected_lock)
    checks = Checks()
    questions, conditions = check_form(checks, questions, condition_questions)
    options = {cq["key"]: {value for value, _ in cq["options"]} for cq in conditions}
    for n, req in enumerate(version.requirements, start=1):
        cond = req.condition or {}
        if cond and cond.get("equals") not in options.get(cond.get("question"), set()):
            checks.fail(
                "condition_questions",
                _l(
                    "第 %(n)d 项材料的适用情形用到了“%(key)s = %(value)s”，请先修改该材料再删改这个情形",
                    n=n,
                    key=cond.get("question"),
                    value=cond.get("equals"),
                ),
            )
    checks.done()
    _touch(version)
    version.questions = questions
    version.condition_questions = conditions
    db.session.flush()
    record_action(
        "form_updated",
        actor,
        item_id=version.item_id,
        version_id=version.id,
        questions=len(questions),
        condition_questions=len(conditions),
    )
    return version


def _renumber(version: ItemVersion) -> None:
    for i, req in enumerate(sorted(version.requirements, key=lambda r: (r.position, r.id or 0))):
        req.position = i


def add_requirement(
    version: ItemVersion, *, values: dict[str, Any], expected_lock: int | None, actor: User
) -> MaterialRequirement:
    _lock_draft(version, expected_lock)
    cleaned = check_requirement(version, values)
    _touch(version)
    position = max((r.position for r in version.requirements), default=-1) + 1
    req = MaterialRequirement(position=position, **cleaned)
    version.requirements.append(req)
    db.session.flush()
    record_action(
        "requirement_added",
        actor,
        item_id=version.item_id,
        version_id=version.id,
        requirement_id=req.id,
        material_type_id=req.material_type_id,
    )
    return req


def update_requirement(
    requirement: MaterialRequirement,
    *,
    values: dict[str, Any],
    expected_lock: int | None,
    actor: User,
) -> MaterialRequirement:
    version = requirement.version
    _lock_draft(version, expected_lock)
    cleaned = check_requirement(version, values)
    _touch(version)
    for key, value in cleaned.items():
        setattr(requirement, key, value)
    db.session.flush()
    record_action(
        "requirement_updated",
        actor,
        item_id=version.item_id,
        version_id=version.id,
        requirement_id=requirement.id,
    )
    return requirement


def remove_requirement(
    requirement: MaterialRequirement, *, expected_lock: int | None, actor: User
) -> None:
    version = requirement.version
    _lock_draft(version, expected_lock)
    _touch(version)
    req_id = requirement.id
    version.requirements.remove(requirement)
    db.session.flush()
    _renumber(version)
    db.session.flush()
    record_action(
        "requirement_removed",
        actor,
        item_id=version.item_id,
        version_id=version.id,
        requirement_id=req_id,
    )


def move_requirement(
    requirement: MaterialRequirement, *, offset: int, expected_lock: int | None, actor: User
) -> None:
    """Move a material one place up (offset −1) or down (+1) in the list."""
    version = requirement.version
    _lock_draft(version, expected_lock)
    if offset not in (-1, 1):
        raise ValidationError({"offset": str(_l("只能上移或下移一位"))})
    _touch(version)
    ordered = sorted(version.requirements, key=lambda r: (r.position, r.id))
    i = ordered.index(requirement)
    j = i + offset
    if 0 <= j < len(ordered):
        ordered[i], ordered[j] = ordered[j], ordered[i]
        for position, req in enumerate(ordered):
            req.position = position
    db.session.flush()
    record_action(
        "requirement_moved",
        actor,
        item_id=version.item_id,
        version_id=version.id,
        requirement_id=requirement.id,
        offset=offset,
    )


def submit_for_review(
    version: ItemVersion, *, expected_lock: int | None, actor: User
) -> ItemVersion:
    """Draft → 待审核. A draft that could not be published is not sent for review."""
    _lock_draft(version, expected_lock)
    errors = publish_errors(version)
    if errors:
        raise ValidationError(errors)
    _touch(version)
    version.status = VersionStatus.in_review
    version.submitted_by_id = actor.id
    db.session.flush()
    record_action("version_submitted", actor, item_id=version.item_id, version_id=version.id)
    return version


def return_to_draft(version: ItemVersion, *, expected_lock: int | None, actor: User) -> ItemVersion:
    """待审核 → draft, so that it can be corrected."""
    db.session.refresh(version, attribute_names=["status", "lock_version"], with_for_update=True)
    if version.status != VersionStatus.in_review:
        raise Conflict(str(_l("只有待审核的版本可以退回修改")))
    if expected_lock is not None and expected_lock != version.lock_version:
        raise Conflict(str(_l("该版本已被其他管理员处理，请刷新页面后重试")))
    version.status = VersionStatus.draft
    version.lock_version += 1
    db.session.flush()
    record_action("version_returned", actor, item_id=version.item_id, version_id=version.id)
    return version


def publish_version(
    version: ItemVersion,
    actor: User | None,
    expected_lock: int | None = None,
    require_review: bool = False,
) -> ItemVersion:
    """Publish a draft (or reviewed) version; the previous published one is archived.

    Admins publish only what was submitted for review (``require_review``); seeds and bulk
    loads publish their drafts directly. Four eyes (``PUBLISH_FOUR_EYES``, on by default): the
    admin who submitted the version cannot also publish it.
    """
    if version.id is not None:
        db.session.refresh(
            version,
            attribute_names=["status", "lock_version", "submitted_by_id"],
            with_for_update=True,
        )
    if version.status not in (VersionStatus.draft, VersionStatus.in_review):
        raise Conflict(str(_l("只有草稿或待审核的版本可以发布")))
    if require_review and version.status != VersionStatus.in_review:
        raise Conflict(str(_l("请先提交审核，审核通过后再发布")))
    if expected_lock is not None and expected_lock != version.lock_version:
        raise Conflict(str(_l("该版本已被其他管理员处理，请刷新页面后重试")))
    if (
        require_review
        and current_app.config["PUBLISH_FOUR_EYES"]
        and actor is not None
        and version.submitted_by_id == actor.id
    ):
        audit.record_refusal(
            "catalogue.publish_refused",
            actor=actor,
            details={"item_id": version.item_id, "version_id": version.id, "rule": "four_eyes"},
        )
        raise Conflict(
            str(_l("您提交了这个版本的审核，不能由您本人发布：请另一位管理员审核并发布"))
        )
    errors = publish_errors(version)
    if errors:
        raise ValidationError(errors)
    item = version.item
    previous = item.published_version
    if previous is not None and previous is not version:
        previous.status = VersionStatus.archived
    version.status = VersionStatus.published
    version.lock_version += 1
    version.published_at = utcnow()
    version.published_by_id = actor.id if actor is not None else None
    version.search_text = build_search_text(
        item.code, version.name, version.keywords, version.synonyms
    )
    item.published_version = version
    item.department_id = version.department_id
    db.session.flush()
    clear_guide_cache()  # cached guides are keyed by version; drop them so memory follows the catalogue
    record_action(
        "version_published",
        actor,
        item_id=item.id,
        version_id=version.id,
        number=version.number,
        submitted_by_id=version.submitted_by_id,
        archived_version_id=previous.id if previous else None,
    )
    return version


def archive_item(item: ServiceItem, *, actor: User) -> ServiceItem:
    """Withdraw an item from the public catalogue: its published version becomes archived."""
    db.session.refresh(item, attribute_names=["published_version_id"], with_for_update=True)
    version = item.published_version
    if version is None:
        raise Conflict(str(_l("该事项没有已发布的版本，无需下线")))
    version.status = VersionStatus.archived
    item.published_version = None
    db.session.flush()
    record_action("item_archived", actor, item_id=item.id, code=item.code, version_id=version.id)
    clear_guide_cache()  # cached guides show this name; drop them
    return item


def create_draft_from(version: ItemVersion, actor: User | None) -> ItemVersion:
    """A new draft copied from ``version`` (guide fields, themes, requirements): the only way
    to change what a published or archived version says. An item has one open draft at most."""
    item = db.session.scalar(
        select(ServiceItem)
        .where(ServiceItem.id == version.item_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    open_version = db.session.scalar(
        select(ItemVersion)
        .where(ItemVersion.item_id == item.id, ItemVersion.status.in_(OPEN_STATUSES))
        .limit(1)
    )
    if open_version is not None:
        raise Conflict(
            str(
                _l(
                    "该事项已有一个未发布的版本（第 %(n)d 版），请在它上面修改",
                    n=open_version.number,
                )
            )
        )
    number = (
        db.session.scalar(
            select(func.max(ItemVersion.number)).where(ItemVersion.item_id == item.id)
        )
        or 0
    ) + 1
    draft = ItemVersion(
        item=item,
        number=number,
        status=VersionStatus.draft,
        created_by_id=actor.id if actor else None,
        **{field: copy.deepcopy(getattr(version, field)) for field in GUIDE_FIELDS},
    )
    draft.themes = list(version.themes)
    draft.requirements = [
        MaterialRequirement(**{f: copy.deepcopy(getattr(req, f)) for f in REQUIREMENT_FIELDS})
        for req in version.requirements
    ]
    db.session.add(draft)
    db.session.flush()
    record_action(
        "draft_created",
        actor,
        item_id=item.id,
        version_id=draft.id,
        number=number,
        copied_from=version.id,
    )
    return draft


def discard_draft(version: ItemVersion, *, expected_lock: int | None, actor: User) -> ServiceItem:
    """Throw away a draft made from an earlier version (an item's first version stays)."""
    _lock_draft(version, expected_lock)
    item = version.item
    if len(item.versions) < 2:
        raise Conflict(str(_l("这是该事项唯一的版本，不能删除")))
    version_id, number = version.id, version.number
    db.session.delete(version)
    db.session.flush()
    db.session.expire(item, ["versions"])
    record_action("draft_discarded", actor, item_id=item.id, version_id=version_id, number=number)
    return item


def count_catalogue() -> dict[str, int]:
    """The numbers on the admin home page."""

    def count(stmt) -> int:
        return db.session.scalar(stmt) or 0

    by_status = dict(
        db.session.execute(
            select(ItemVersion.status, func.count()).group_by(ItemVersion.status)
        ).all()
    )
    return {
        "departments": count(select(func.count()).select_from(Department)),
        "material_types": count(select(func.count()).select_from(MaterialType)),
        "items": count(select(func.count()).select_from(ServiceItem)),
        "published_items": count(
            select(func.count())
            .select_from(ServiceItem)
            .where(ServiceItem.published_version_id.is_not(None))
        ),
        "drafts": by_status.get(VersionStatus.draft, 0),
        "in_review": by_status.get(VersionStatus.in_review, 0),
        "bundles": count(select(func.count()).select_from(Bundle)),
    }


def list_versions_in_review(limit: int = 20) -> list[ItemVersion]:
    return list(
        db.session.scalars(
            select(ItemVersion)
            .where(ItemVersion.status == VersionStatus.in_review)
            .options(selectinload(ItemVersion.item))
            .order_by(ItemVersion.id)
            .limit(limit)
        )
    )


def list_items(query: str = "", page: int = 1, per_page: int = 20) -> Page[ServiceItem]:
    """Items by code, found by code or by the name of any of their versions."""
    stmt = select(ServiceItem).order_by(ServiceItem.code)
    text = like_text(query)
    if text:
        named = select(ItemVersion.id).where(
            ItemVersion.item_id == ServiceItem.id, ItemVersion.name.icontains(text, autoescape=True)
        )
        stmt = stmt.where(or_(ServiceItem.code.icontains(text, autoescape=True), named.exists()))
    options = (
        selectinload(ServiceItem.department),
        selectinload(ServiceItem.versions).load_only(
            ItemVersion.id,
            ItemVersion.item_id,
            ItemVersion.number,
            ItemVersion.status,
            ItemVersion.name,
        ),
    )
    return paginate_query(stmt, page, per_page, options)


def load_item(item_id: int) -> ServiceItem:
    item = db.session.scalar(
        select(ServiceItem)
        .where(ServiceItem.id == item_id)
        .options(
            selectinload(ServiceItem.department),
            selectinload(ServiceItem.versions).options(
                load_only(
                    ItemVersion.id,
                    ItemVersion.item_id,
                    ItemVersion.number,
                    ItemVersion.status,
                    ItemVersion.name,
                    ItemVersion.created_at,
                    ItemVersion.published_at,
                    ItemVersion.lock_version,
                    ItemVersion.submitted_by_id,
                    ItemVersion.published_by_id,
                ),
                selectinload(ItemVersion.submitted_by).load_only(User.display_name),
                selectinload(ItemVersion.published_by).load_only(User.display_name),
            ),
        )
    )
    if item is None:
        raise NotFound(str(_l("没有找到这个事项")))
    return item


def load_version(version_id: int) -> ItemVersion:
    version = db.session.scalar(
        select(ItemVersion)
        .where(ItemVersion.id == version_id)
        .options(
            selectinload(ItemVersion.item)
            .selectinload(ServiceItem.versions)
            .load_only(ItemVersion.id, ItemVersion.item_id, ItemVersion.number, ItemVersion.status),
            selectinload(ItemVersion.department),
            selectinload(ItemVersion.themes),
            selectinload(ItemVersion.requirements).selectinload(MaterialRequirement.material_type),
            selectinload(ItemVersion.submitted_by).load_only(User.display_name),
            selectinload(ItemVersion.published_by).load_only(User.display_name),
        )
    )
    if version is None:
        raise NotFound(str(_l("没有找到这个版本")))
    return version


def load_requirement(version: ItemVersion, requirement_id: int) -> MaterialRequirement:
    for req in version.requirements:
        if req.id == requirement_id:
            return req
    raise NotFound(str(_l("没有找到这项材料")))
