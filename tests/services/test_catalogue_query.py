"""Reading the published catalogue: home overview, filters, guides, materials on file, cache."""

from datetime import timedelta

import pytest
from flask import current_app
from sqlalchemy import func, select

from portal.extensions import db
from portal.models import (
    Citizen,
    Document,
    DocumentStatus,
    Grade,
    ItemVersion,
    MaterialType,
    ServiceItem,
    Theme,
    User,
)
from services import catalogue, clock
from services.catalogue_query import (
    CatalogueFilters,
    home_overview,
    list_catalogue,
    load_guide,
    materials_on_file,
    published_guide,
    published_key,
)
from services.errors import ValidationError
from services.guide_cache import LRUCache, clear_guide_cache, guide_cache
from tests.catalogue_factory import publish_item

JZZ = "330100GA0001"


def published_count(*where) -> int:
    return db.session.scalar(
        select(func.count(ServiceItem.id))
        .join(ItemVersion, ItemVersion.id == ServiceItem.published_version_id)
        .where(*where)
    )


def all_codes(filters: CatalogueFilters) -> list[str]:
    return [i.code for i in list_catalogue(filters, per_page=1000).items]


def test_home_overview(app_ctx):
    overview = home_overview()
    assert overview.popular[0].code == JZZ  # the most used item of the demo catalogue
    pops = (
        db.session.execute(
            select(ServiceItem.code)
            .order_by(ServiceItem.popularity.desc(), ServiceItem.code)
            .limit(8)
        )
        .scalars()
        .all()
    )
    assert [i.code for i in overview.popular] == pops
    assert "生育收养" in [t.name for t in overview.person_themes]
    assert "开办企业" in [t.name for t in overview.organisation_themes]
    assert all(t.count > 0 for t in overview.person_themes + overview.organisation_themes)
    assert sum(d.count for d in overview.departments) == published_count()
    assert [b.name for b in overview.bundles] == ["出生一件事", "退休一件事", "开办企业一件事"]


def test_unfiltered_catalogue_lists_every_published_item_most_used_first(app_ctx):
    page = list_catalogue(CatalogueFilters(), per_page=10)
    assert page.total == published_count()
    assert page.pages == -(-page.total // 10)
    assert page.items[0].code == JZZ and len(page.items) == 10


@pytest.mark.parametrize(
    "filters, where",
    [
        (CatalogueFilters(max_visits=0), [ItemVersion.visits == 0]),
        (CatalogueFilters(max_visits=1), [ItemVersion.visits <= 1]),
        (CatalogueFilters(full_online=True), [ItemVersion.online_depth == 4]),
        (CatalogueFilters(instant=True), [ItemVersion.case_type == "instant"]),
        (CatalogueFilters(audience="organisation"), [ItemVersion.audience == "organisation"]),
        (CatalogueFilters(department_code="JJ"), [ServiceItem.code.like("330100JJ%")]),
        (
            CatalogueFilters(instant=True, audience="person", max_visits=0),
            [
                ItemVersion.case_type == "instant",
                ItemVersion.audience == "person",
                ItemVersion.visits == 0,
            ],
        ),
    ],
)
def test_each_filter_keeps_exactly_the_matching_items(app_ctx, filters, where):
    publish_item("要跑两次的事项", visits=2, online_depth=3)  # the demo has none above one visit
    expected = db.session.scalars(
        select(ServiceItem.code)
        .join(ItemVersion, ItemVersion.id == ServiceItem.published_version_id)
        .where(*where)
    ).all()
    assert 0 < len(expected) < published_count()
    assert sorted(all_codes(filters)) == sorted(expected)


def test_theme_filter(app_ctx):
    theme = db.session.scalar(select(Theme).where(Theme.name == "生育收养"))
    codes = all_codes(CatalogueFilters(theme_id=theme.id))
    versions = db.session.scalars(
        select(ItemVersion).where(ItemVersion.status == "published")
    ).all()
    assert sorted(codes) == sorted(v.item.code for v in versions if theme in v.themes)
    assert all_codes(CatalogueFilters(theme_id=999999)) == []


def test_guide_is_the_published_version_only(app_ctx):
    draft = publish_item("只有草稿的事项", publish=False)
    assert published_key(draft.code) is None and published_guide(draft.code) is None
    assert published_key("NOPE") is None and published_key("") is None
    assert published_key("x" * 1000) is None
    guide = published_guide(JZZ)
    assert guide.name == "居住证申领" and guide.status == "published"
    assert [r.material_type.name for r in guide.requirements][0] == "居民身份证"
    assert load_guide(guide.id) is guide


def _document(citizen: Citizen, type_name: str, **fields) -> Document:
    mt = db.session.scalar(select(MaterialType).where(MaterialType.name == type_name))
    doc = Document(owner=citizen, material_type=mt, title=type_name, grade=Grade.B, **fields)
    db.session.add(doc)
    db.session.flush()
    return doc


def test_materials_on_file_are_valid_unexpired_documents_of_the_citizen(app_ctx):
    citizen = db.session.scalar(select(User).where(User.phone == "13800000002")).citizen
    other = db.session.scalar(select(User).where(User.phone == "13800000003")).citizen
    version = published_guide(JZZ)
    identity = next(
        r.material_type_id for r in version.requirements if r.material_type.name == "居民身份证"
    )
    letter = next(
        r.material_type_id for r in version.requirements if r.material_type.name == "授权委托书"
    )
    assert materials_on_file(citizen.id, version.id) == set()

    _document(other, "居民身份证")  # someone else's
    _document(citizen, "结婚证")  # not needed by this item
    _document(citizen, "授权委托书", valid_until=clock.local_today() - timedelta(days=1))  # expired
    _document(citizen, "居民身份证", status=DocumentStatus.revoked)
    assert materials_on_file(citizen.id, version.id) == set()

    _document(citizen, "居民身份证", valid_until=clock.local_today())
    _document(citizen, "授权委托书")  # no end of validity
    assert materials_on_file(citizen.id, version.id) == {identity, letter}


def test_lru_cache_evicts_the_least_recently_used():
    cache = LRUCache(2)
    cache.put("a", 1)
    cache.put("b", 2)
    assert cache.get("a") == 1  # a is now the most recent
    cache.put("c", 3)
    assert cache.get("b") is None and cache.get("a") == 1 and cache.get("c") == 3
    assert len(cache) == 2
    cache.clear()
    assert len(cache) == 0 and cache.get("a") is None
    off = LRUCache(0)
    off.put("a", 1)
    assert off.get("a") is None


def test_lru_cache_entries_expire():
    now = [100.0]
    cache = LRUCache(10, ttl=60, clock=lambda: now[0])
    cache.put("a", 1)
    now[0] = 159.9
    assert cache.get("a") == 1  # reading does not extend its life
    now[0] = 160.0
    assert cache.get("a") is None and len(cache) == 0


def test_publishing_clears_the_guide_cache(app_ctx):
    cache = guide_cache()
    assert cache is current_app.extensions["guide_cache"]
    cache.put(("anything",), "html")
    publish_item("新发布的事项")
    # not before the commit: a reader in between would cache it again
    assert cache.get(("anything",)) == "html"
    db.session.commit()
    assert cache.get(("anything",)) is None
    cache.put(("again",), "html")
    clear_guide_cache()  # no transaction open: at once
    assert cache.get(("again",)) is None


def test_a_rolled_back_publication_leaves_the_guide_cache(app_ctx):
    cache = guide_cache()
    cache.put(("anything",), "html")
    publish_item("撤回的发布")
    db.session.rollback()
    db.session.commit()
    assert cache.get(("anything",)) == "html"


def test_the_cache_is_per_app(app_ctx, database_factory):
    other = database_factory("other-cache")
    guide_cache().put("k", "main")
    with other.app_context():
        assert guide_cache().get("k") is None


def test_publish_version_still_refuses_bad_versions(app_ctx):
    item = publish_item("缺少地点的事项", publish=False)
    version = item.versions[0]
    version.location = ""
    with pytest.raises(ValidationError):
        catalogue.publish_version(version, None)
