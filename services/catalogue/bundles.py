"""Publishing 一件事 bundles (a life event of several items).

Reading a bundle's merged guide is ``services.bundles``; this module is the admin side.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from portal.extensions import db
from portal.models import Bundle, BundleItem, ItemVersion, ServiceItem, Theme, User
from services.catalogue.checks import LONG_TEXT, SHORT_CODE_RE, Checks
from services.catalogue.common import clean_text, record_action
from services.errors import Conflict, NotFound, ValidationError


def find_items_by_code(codes: Iterable[str]) -> list[ServiceItem]:
    """The items named by ``codes``, in that order; unknown codes are a field error."""
    wanted: list[str] = []
    for code in codes:
        code = clean_text(code).upper()
        if code and code not in wanted:
            wanted.append(code)
    found = (
        {
            item.code: item
            for item in db.session.scalars(select(ServiceItem).where(ServiceItem.code.in_(wanted)))
        }
        if wanted
        else {}
    )
    missing = [code[:20] for code in wanted if code not in found]
    if missing:
        raise ValidationError(
            {"items": str(_l("没有找到这些事项编码：%(codes)s", codes="、".join(missing[:10])))}
        )
    return [found[code] for code in wanted]


def _check_bundle(
    checks: Checks,
    bundle: Bundle | None,
    *,
    code: str,
    name: str,
    description: str,
    items: list[ServiceItem],
) -> dict[str, Any]:
    code = (code or "").strip().upper()
    if not SHORT_CODE_RE.fullmatch(code):
        checks.fail("code", _l("一件事编码只能是 1 至 16 位字母或数字"))
    else:
        other = db.session.scalar(select(Bundle.id).where(Bundle.code == code))
        if other is not None and (bundle is None or other != bundle.id):
            checks.fail("code", _l("一件事编码已存在"))
    if len({item.id for item in items}) < 2:
        checks.fail("items", _l("一件事至少包含两个不同的事项"))
    return {
        "code": code,
        "name": checks.text("name", name, _l("一件事名称"), max_len=100, required=True),
        "description": checks.text("description", description, _l("一件事说明"), max_len=LONG_TEXT),
    }


def create_bundle(
    *,
    code: str,
    name: str,
    description: str,
    theme: Theme | None,
    items: list[ServiceItem],
    actor: User | None = None,
    published: bool = True,
) -> Bundle:
    """一件事: a life event of two or more distinct items."""
    checks = Checks()
    values = _check_bundle(checks, None, code=code, name=name, description=description, items=items)
    checks.done()
    bundle = Bundle(theme=theme, published=published, **values)
    bundle.entries = [BundleItem(item=item, position=i) for i, item in enumerate(items)]
    db.session.add(bundle)
    db.session.flush()
    record_action(
        "bundle_created",
        actor,
        bundle_id=bundle.id,
        code=bundle.code,
        items=[item.code for item in items],
    )
    return bundle


def update_bundle(
    bundle: Bundle,
    *,
    code: str,
    name: str,
    description: str,
    theme: Theme | None,
    items: list[ServiceItem],
    actor: User,
) -> Bundle:
    checks = Checks()
    values = _check_bundle(
        checks, bundle, code=code, name=name, description=description, items=items
    )
    unpublished = [item.code for item in items if item.published_version_id is None]
    if bundle.published and unpublished:
        checks.fail(
            "items",
            _l("这些事项尚未发布，不能加入已上线的一件事：%(codes)s", codes="、".join(unpublished)),
        )
    checks.done()
    for key, value in values.items():
        setattr(bundle, key, value)
    bundle.theme = theme
    bundle.entries.clear()
    db.session.flush()
    bundle.entries.extend(BundleItem(item=item, position=i) for i, item in enumerate(items))
    db.session.flush()
    record_action(
        "bundle_updated",
        actor,
        bundle_id=bundle.id,
        code=bundle.code,
        items=[item.code for item in items],
    )
    return bundle


def set_bundle_published(bundle: Bundle, *, published: bool, actor: User) -> Bundle:
    """Show or hide a bundle; it is shown only when every item in it is published."""
    if published:
        unpublished = [e.item.code for e in bundle.entries if e.item.published_version_id is None]
        if unpublished:
            raise Conflict(
                str(
                    _l(
                        "这些事项尚未发布，一件事暂不能上线：%(codes)s",
                        codes="、".join(unpublished),
                    )
                )
            )
    bundle.published = bool(published)
    db.session.flush()
    record_action(
        "bundle_published" if published else "bundle_unpublished",
        actor,
        bundle_id=bundle.id,
        code=bundle.code,
    )
    return bundle


def list_bundles() -> list[Bundle]:
    return list(
        db.session.scalars(
            select(Bundle)
            .options(
                selectinload(Bundle.theme),
                selectinload(Bundle.entries)
                .selectinload(BundleItem.item)
                .selectinload(ServiceItem.department),
            )
            .order_by(Bundle.code)
        )
    )


def load_bundle(bundle_id: int) -> Bundle:
    bundle = db.session.scalar(
        select(Bundle)
        .where(Bundle.id == bundle_id)
        .options(
            selectinload(Bundle.theme),
            selectinload(Bundle.entries)
            .selectinload(BundleItem.item)
            .selectinload(ServiceItem.published_version)
            .load_only(ItemVersion.id, ItemVersion.name),
        )
    )
    if bundle is None:
        raise NotFound(str(_l("没有找到这个一件事")))
    return bundle
