"""一件事: merging the guides of a bundle's items into one."""

from sqlalchemy import select

from portal.extensions import db
from portal.models import Bundle
from services import catalogue
from services.bundles import merge_bundle_guide
from services.catalogue_query import describe_condition, load_bundle
from tests.catalogue_factory import publish_item

MARRIED = [{"key": "married", "label": "是否已婚？", "options": [["yes", "已婚"], ["no", "未婚"]]}]


def make_bundle(code: str, items) -> Bundle:
    catalogue.create_bundle(
        code=code, name=f"测试一件事{code}", description="测试", theme=None, items=items
    )
    db.session.expire_all()
    return load_bundle(code)


def test_merge_dedupes_materials_by_type_and_names_the_items_that_need_them(app_ctx):
    a = publish_item(
        "事项甲",
        visits=1,
        promised=(5, "working"),
        conditions="本市户籍。",
        materials=("居民身份证", "户口簿"),
    )
    b = publish_item(
        "事项乙",
        visits=1,
        promised=(10, "natural"),
        conditions="本市户籍。",
        materials=(
            {"type": "居民身份证", "necessity": "optional", "copies": 2, "original": False},
            {"type": "结婚证", "condition": {"question": "married", "equals": "yes"}},
        ),
        condition_questions=MARRIED,
    )
    c = publish_item(
        "事项丙",
        visits=0,
        promised=(3, "working"),
        conditions="年满18周岁。",
        materials=({"type": "户口簿", "necessity": "shared"},),
    )
    guide = merge_bundle_guide(make_bundle("T001", [a, b, c]))

    assert [v.name for v in guide.versions] == ["事项甲", "事项乙", "事项丙"]
    by_name = {m.material_type.name: m for m in guide.materials}
    assert list(by_name) == [
        "居民身份证",
        "户口簿",
        "结婚证",
    ]  # each type once, in first-need order
    identity = by_name["居民身份证"]
    assert identity.item_names == ["事项甲", "事项乙"]
    assert identity.necessity == "required"  # the strongest need wins
    assert identity.original and identity.copies == 2 and not identity.conditional
    assert by_name["户口簿"].necessity == "required" and by_name["户口簿"].item_names == [
        "事项甲",
        "事项丙",
    ]
    marriage = by_name["结婚证"]
    assert marriage.conditional and marriage.needs[0].condition == "是否已婚？“已婚”"

    # the union of conditions: identical texts once, with every item they come from
    assert [(c.text, c.item_names) for c in guide.conditions] == [
        ("本市户籍。", ["事项甲", "事项乙"]),
        ("年满18周岁。", ["事项丙"]),
    ]
    # 10 natural days is longer than 5 working days (7 natural)
    assert guide.longest.name == "事项乙" and guide.longest_limit == (10, "natural")
    # visits happen together: the maximum, not the sum
    assert guide.visits == 1
    assert [name for name, _reason in guide.visit_reasons] == ["事项甲", "事项乙"]
    assert [d.code for d in guide.departments] == ["GA"]
    assert guide.unpublished == 0 and not guide.all_instant


def test_working_days_can_be_the_longest_promise(app_ctx):
    a = publish_item("事项丁", promised=(6, "working"))  # 8.4 natural days
    b = publish_item("事项戊", promised=(8, "natural"))
    assert merge_bundle_guide(make_bundle("T002", [a, b])).longest.name == "事项丁"


def test_zero_visits_when_no_item_needs_one_and_all_instant(app_ctx):
    a = publish_item("事项己", visits=0, case_type="instant", promised=(0, "working"))
    b = publish_item("事项庚", visits=0, case_type="instant", promised=(0, "working"))
    guide = merge_bundle_guide(make_bundle("T003", [a, b]))
    assert guide.visits == 0 and guide.visit_reasons == [] and guide.all_instant


def test_items_without_a_published_guide_are_left_out_and_counted(app_ctx):
    a = publish_item("事项辛")
    b = publish_item("事项壬")
    draft = publish_item("事项癸", publish=False, materials=("结婚证",))
    guide = merge_bundle_guide(make_bundle("T004", [a, b, draft]))
    assert [v.name for v in guide.versions] == ["事项辛", "事项壬"]
    assert guide.unpublished == 1
    assert "结婚证" not in {m.material_type.name for m in guide.materials}


def test_birth_bundle_of_the_demo_catalogue(app_ctx):
    guide = merge_bundle_guide(load_bundle("B001"))
    assert len(guide.versions) == 7
    type_ids = [m.material_type.id for m in guide.materials]
    assert len(type_ids) == len(set(type_ids))
    total_requirements = sum(len(v.requirements) for v in guide.versions)
    assert len(guide.materials) < total_requirements  # something was shared and merged
    assert guide.visits == max(v.visits for v in guide.versions) == 1


def test_describe_condition(app_ctx):
    item = publish_item(
        "事项子",
        condition_questions=MARRIED,
        materials=({"type": "结婚证", "condition": {"question": "married", "equals": "no"}},),
    )
    version = item.published_version
    assert describe_condition(version, None) == ""
    assert (
        describe_condition(version, {"question": "married", "equals": "no"}) == "是否已婚？“未婚”"
    )
    assert (
        describe_condition(version, {"question": "married", "equals": "maybe"})
        == "是否已婚？“maybe”"
    )
    assert describe_condition(version, {"question": "gone", "equals": "x"}) == "x"
    version.condition_questions = [
        {"key": "k", "label": "问？", "options": [{"value": "a", "label": "甲"}, "b"]}
    ]
    assert describe_condition(version, {"question": "k", "equals": "a"}) == "问？“甲”"
    assert describe_condition(version, {"question": "k", "equals": "b"}) == "问？“b”"


def test_load_bundle_refuses_unknown_unpublished_and_oversized_codes(app_ctx):
    assert load_bundle("NOPE") is None
    assert load_bundle("B" * 500) is None
    bundle = db.session.scalar(select(Bundle).where(Bundle.code == "B002"))
    bundle.published = False
    db.session.flush()
    db.session.expire_all()
    assert load_bundle("B002") is None
