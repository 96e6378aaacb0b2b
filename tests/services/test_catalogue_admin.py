"""Catalogue publishing: versions, publishing rules, drafts, diff, departments, material types,
bundles — called directly, as the admin pages, the CLI and the seeds call them."""

import pytest
from flask import current_app
from sqlalchemy import func, select

from portal.extensions import db
from portal.models import (
    Bundle,
    Department,
    Event,
    ItemVersion,
    MaterialType,
    ServiceItem,
    VersionStatus,
)
from services import catalogue, storage
from services.errors import Conflict, ValidationError
from tests.admin_data import (
    JPEG,
    PDF,
    PNG,
    admin_user,
    department,
    make_draft,
    material_type,
    requirement,
    second_admin,
    theme,
)
from tests.helpers import count


def publish_through_review(version):
    """Submitted by one admin, published by another (four-eyes publishing is on by default)."""
    catalogue.submit_for_review(version, expected_lock=version.lock_version, actor=admin_user())
    return catalogue.publish_version(
        version, second_admin(), expected_lock=version.lock_version, require_review=True
    )


# ---------------------------------------------------------------------------- lifecycle


def test_draft_review_publish_then_edit_into_version_two(app_ctx):
    v1 = make_draft()
    assert v1.status == VersionStatus.draft and v1.number == 1
    catalogue.submit_for_review(v1, expected_lock=v1.lock_version, actor=admin_user())
    assert v1.status == VersionStatus.in_review
    catalogue.publish_version(v1, admin_user(), expected_lock=v1.lock_version)
    item = v1.item
    assert v1.status == VersionStatus.published and item.published_version is v1
    assert "ceshi" in v1.search_text  # pinyin of 测试 for search

    v2 = catalogue.create_draft_from(v1, admin_user())
    assert (v2.number, v2.status) == (2, VersionStatus.draft)
    for field in catalogue.GUIDE_FIELDS:
        assert getattr(v2, field) == getattr(v1, field), field
    assert [t.name for t in v2.themes] == ["户籍办理"]
    assert [(r.material_type_id, r.position) for r in v2.requirements] == [
        (r.material_type_id, r.position) for r in v1.requirements
    ]
    assert {r.id for r in v2.requirements}.isdisjoint({r.id for r in v1.requirements})

    catalogue.update_draft(
        v2,
        guide={"name": "测试事项（第二版）"},
        theme_ids=None,
        expected_lock=v2.lock_version,
        actor=admin_user(),
    )
    assert v1.name == "测试事项（自动化测试）"  # the published version did not move
    publish_through_review(v2)
    assert v1.status == VersionStatus.archived
    assert v2.status == VersionStatus.published and item.published_version is v2


def test_admins_publish_only_what_was_reviewed(app_ctx):
    version = make_draft()
    with pytest.raises(Conflict):
        catalogue.publish_version(version, admin_user(), require_review=True)
    assert version.status == VersionStatus.draft
    with pytest.raises(Conflict):  # a stale page cannot publish either
        catalogue.submit_for_review(version, expected_lock=version.lock_version, actor=admin_user())
        catalogue.publish_version(
            version, admin_user(), expected_lock=version.lock_version - 1, require_review=True
        )
    assert version.status == VersionStatus.in_review


def test_copied_json_is_not_shared_with_the_published_version(app_ctx):
    v1 = make_draft()
    publish_through_review(v1)
    v2 = catalogue.create_draft_from(v1, admin_user())
    v2.steps[0]["name"] = "changed in place"
    assert v1.steps[0]["name"] == "受理"


@pytest.mark.parametrize("status", ["published", "archived", "in_review"])
def test_a_non_draft_version_is_never_edited_in_place(app_ctx, status):
    v1 = make_draft()
    if status in ("published", "archived"):
        publish_through_review(v1)
    if status == "archived":
        catalogue.archive_item(v1.item, actor=admin_user())
    if status == "in_review":
        catalogue.submit_for_review(v1, expected_lock=v1.lock_version, actor=admin_user())
    assert v1.status == status
    lock, name = v1.lock_version, v1.name
    with pytest.raises(Conflict):
        catalogue.update_draft(
            v1, guide={"name": "改了"}, theme_ids=None, expected_lock=lock, actor=admin_user()
        )
    with pytest.raises(Conflict):
        catalogue.add_requirement(
            v1, values=requirement("M003"), expected_lock=lock, actor=admin_user()
        )
    with pytest.raises(Conflict):
        catalogue.update_requirement(
            v1.requirements[0], values=requirement("M003"), expected_lock=lock, actor=admin_user()
        )
    with pytest.raises(Conflict):
        catalogue.remove_requirement(v1.requirements[0], expected_lock=lock, actor=admin_user())
    with pytest.raises(Conflict):
        catalogue.update_application_form(
            v1, questions=[], condition_questions=[], expected_lock=lock, actor=admin_user()
        )
    db.session.expire_all()
    assert v1.name == name and len(v1.requirements) == 2 and v1.questions


def test_only_one_open_draft_per_item(app_ctx):
    v1 = make_draft()
    publish_through_review(v1)
    v2 = catalogue.create_draft_from(v1, admin_user())
    with pytest.raises(Conflict):
        catalogue.create_draft_from(v1, admin_user())
    catalogue.submit_for_review(v2, expected_lock=v2.lock_version, actor=admin_user())
    with pytest.raises(Conflict):  # in review still counts as open
        catalogue.create_draft_from(v1, admin_user())
    assert count(ItemVersion) == db.session.scalar(select(func.count()).select_from(ItemVersion))
    assert (
        len(db.session.scalars(select(ItemVersion).where(ItemVersion.item_id == v1.item_id)).all())
        == 2
    )


def test_an_edit_based_on_a_stale_copy_is_refused(app_ctx):
    v1 = make_draft()
    seen = v1.lock_version
    catalogue.update_draft(
        v1,
        guide={"name": "第一位管理员的修改"},
        theme_ids=None,
        expected_lock=seen,
        actor=admin_user(),
    )
    with pytest.raises(Conflict):
        catalogue.update_draft(
            v1,
            guide={"name": "第二位管理员的修改"},
            theme_ids=None,
            expected_lock=seen,
            actor=admin_user(),
        )
    with pytest.raises(Conflict):
        catalogue.add_requirement(
            v1, values=requirement("M003"), expected_lock=seen, actor=admin_user()
        )
    db.session.expire_all()
    assert v1.name == "第一位管理员的修改"


def test_return_to_draft_and_discard(app_ctx):
    v1 = make_draft()
    publish_through_review(v1)
    v2 = catalogue.create_draft_from(v1, admin_user())
    catalogue.submit_for_review(v2, expected_lock=v2.lock_version, actor=admin_user())
    catalogue.return_to_draft(v2, expected_lock=v2.lock_version, actor=admin_user())
    assert v2.status == VersionStatus.draft
    item = catalogue.discard_draft(v2, expected_lock=v2.lock_version, actor=admin_user())
    assert [v.number for v in item.versions] == [1]
    with pytest.raises(Conflict):  # the only version of an item stays
        catalogue.discard_draft(make_draft("TEST00000002"), expected_lock=None, actor=admin_user())


def test_archive_withdraws_the_item(app_ctx):
    v1 = make_draft()
    publish_through_review(v1)
    item = catalogue.archive_item(v1.item, actor=admin_user())
    assert item.published_version_id is None and v1.status == VersionStatus.archived
    with pytest.raises(Conflict):
        catalogue.archive_item(item, actor=admin_user())
    # and it can come back through a new draft
    v2 = catalogue.create_draft_from(v1, admin_user())
    publish_through_review(v2)
    assert item.published_version is v2


# ---------------------------------------------------------------------------- publishing rules


@pytest.mark.parametrize(
    "change,field",
    [
        ({"legal_basis": ""}, "legal_basis"),
        ({"conditions": "  "}, "conditions"),
        ({"location": ""}, "location"),
        ({"hours": ""}, "hours"),
        ({"phone": ""}, "phone"),
        ({"legal_limit": None}, "legal_limit"),
        ({"promised_limit": None}, "promised_limit"),
        ({"visits": 1, "visits_reason": ""}, "visits_reason"),
        ({"steps": []}, "steps"),
    ],
)
def test_publishing_is_refused_with_the_field_named(app_ctx, change, field):
    version = make_draft(**change)
    with pytest.raises(ValidationError) as refused:
        catalogue.submit_for_review(version, expected_lock=version.lock_version, actor=admin_user())
    assert field in refused.value.errors
    with pytest.raises(ValidationError) as refused:
        catalogue.publish_version(version, admin_user())
    assert field in refused.value.errors
    assert version.item.published_version_id is None


def test_publishing_refuses_a_promise_longer_than_the_law(app_ctx):
    version = make_draft()
    version.promised_limit, version.promised_limit_unit = 30, "natural"  # bypass the save check
    version.legal_limit, version.legal_limit_unit = 20, "natural"
    with pytest.raises(ValidationError) as refused:
        catalogue.publish_version(version, admin_user())
    assert "承诺办结时限不能超过法定办结时限" in refused.value.errors["promised_limit"]


def test_publishing_refuses_a_material_whose_condition_points_to_nothing(app_ctx):
    version = make_draft()
    version.requirements[1].condition = {"question": "no_such_question", "equals": "yes"}
    with pytest.raises(ValidationError) as refused:
        catalogue.publish_version(version, admin_user())
    assert "requirements-2" in refused.value.errors


# ---------------------------------------------------------------------------- saving drafts


@pytest.mark.parametrize(
    "guide,field,message",
    [
        ({"promised_limit": 30, "legal_limit": 20}, "promised_limit", "不能超过法定办结时限"),
        ({"legal_limit": -1}, "legal_limit", "不能为负数"),
        ({"visits": -2}, "visits", "不能为负数"),
        ({"name": "长" * 1000}, "name", "最多 200 个字"),
        ({"name": "   "}, "name", "请填写事项名称"),
        ({"item_type": "bogus"}, "item_type", "请从列表中选择"),
        ({"phone": "call me<script>"}, "phone", "只能包含数字"),
        ({"department_id": 999999}, "department_id", "在用的实施主体"),
        (
            {"steps": [{"name": "", "role": "counter", "limit": 1}]},
            "steps-0-name",
            "请填写环节名称",
        ),
        (
            {"steps": [{"name": "受理", "role": "boss", "limit": 1}]},
            "steps-0-role",
            "请从列表中选择",
        ),
        (
            {"steps": [{"name": "受理", "role": "counter", "limit": -1}]},
            "steps-0-limit",
            "不能为负数",
        ),
        (
            {"fees": [{"name": "", "standard": "20 元", "basis": ""}]},
            "fees-0-name",
            "请填写收费项目",
        ),
        ({"faqs": [{"q": "问？", "a": ""}]}, "faqs-0-a", "请填写解答"),
        ({"keywords": ["长" * 41]}, "keywords", "最多 40 个字"),
    ],
)
def test_bad_guide_input_is_refused_and_nothing_changes(app_ctx, guide, field, message):
    version = make_draft()
    db.session.flush()
    before = {f: getattr(version, f) for f in (*catalogue.GUIDE_FIELDS, "lock_version")}
    with pytest.raises(ValidationError) as refused:
        catalogue.update_draft(
            version,
            guide=guide,
            theme_ids=None,
            expected_lock=version.lock_version,
            actor=admin_user(),
        )
    assert message in refused.value.errors[field]
    db.session.flush()
    db.session.expire_all()
    assert {f: getattr(version, f) for f in (*catalogue.GUIDE_FIELDS, "lock_version")} == before


def test_the_inactive_department_of_a_draft_may_stay_but_not_be_chosen(app_ctx):
    version = make_draft()
    old = department("GA")
    other = department("RS")
    catalogue.set_department_active(other, active=False, actor=admin_user())
    with pytest.raises(ValidationError):
        catalogue.update_draft(
            version,
            guide={"department_id": other.id},
            theme_ids=None,
            expected_lock=version.lock_version,
            actor=admin_user(),
        )
    catalogue.set_department_active(old, active=False, actor=admin_user())
    catalogue.update_draft(
        version,
        guide={"department_id": old.id, "name": "仍属原部门"},
        theme_ids=None,
        expected_lock=version.lock_version,
        actor=admin_user(),
    )
    assert version.name == "仍属原部门"


def test_control_characters_are_dropped_from_text(app_ctx):
    version = make_draft()
    catalogue.update_draft(
        version,
        guide={"conditions": "第一行\n第二\x00行\x07"},
        theme_ids=None,
        expected_lock=version.lock_version,
        actor=admin_user(),
    )
    assert version.conditions == "第一行\n第二行"


@pytest.mark.parametrize(
    "code,message", [("SHORT", "12 位"), ("330100GA000!", "12 位"), ("330100ga0004", "已存在")]
)
def test_item_codes_are_12_letters_or_digits_and_unique(app_ctx, code, message):
    before = count(ServiceItem)
    with pytest.raises(ValidationError) as refused:
        make_draft(code)
    assert message in refused.value.errors["code"]
    assert count(ServiceItem) == before


# ---------------------------------------------------------------------------- materials and form


def test_requirements_add_edit_reorder_remove(app_ctx):
    version = make_draft()
    admin = admin_user()
    req = catalogue.add_requirement(
        version,
        values=requirement(
            "M003",
            condition={"question": "married", "equals": "yes"},
            necessity="deferrable",
            copies=2,
        ),
        expected_lock=version.lock_version,
        actor=admin,
    )
    assert [r.material_type.code for r in version.requirements] == ["M001", "M002", "M003"]
    assert req.condition == {"question": "married", "equals": "yes"}
    catalogue.move_requirement(req, offset=-1, expected_lock=version.lock_version, actor=admin)
    ordered = sorted(version.requirements, key=lambda r: r.position)
    assert [r.material_type.code for r in ordered] == ["M001", "M003", "M002"]
    catalogue.update_requirement(
        req,
        values=requirement("M004", notes="白底"),
        expected_lock=version.lock_version,
        actor=admin,
    )
    assert req.material_type_id == material_type("M004").id and req.condition is None
    first = ordered[0]
    catalogue.remove_requirement(first, expected_lock=version.lock_version, actor=admin)
    assert sorted(r.position for r in version.requirements) == [0, 1]


@pytest.mark.parametrize(
    "values,field",
    [
        ({"material_type_id": 999999}, "material_type_id"),
        ({"copies": 0}, "copies"),
        ({"necessity": "maybe"}, "necessity"),
        ({"form": "fax"}, "form"),
        ({"condition": {"question": "married", "equals": "perhaps"}}, "condition"),
        ({"condition": {"question": "ghost", "equals": "yes"}}, "condition"),
        ({"notes": "长" * 2001}, "notes"),
    ],
)
def test_bad_requirements_are_refused(app_ctx, values, field):
    version = make_draft()
    with pytest.raises(ValidationError) as refused:
        catalogue.add_requirement(
            version,
            values=requirement("M003", **values),
            expected_lock=version.lock_version,
            actor=admin_user(),
        )
    assert field in refused.value.errors


def test_application_form_questions_are_checked(app_ctx):
    version = make_draft()
    good = [
        {
            "key": "delivery",
            "label": "领证方式",
            "type": "select",
            "required": True,
            "options": [["post", "邮寄"], ["counter", "窗口领取"]],
            "prefill": None,
            "help": "",
        },
        {
            "key": "income",
            "label": "月收入",
            "type": "money",
            "required": False,
            "min": 0,
            "max": 100000,
            "prefill": None,
            "help": "元",
        },
    ]
    conditions = [
        {"key": "married", "label": "是否已婚？", "options": [["yes", "是"], ["no", "否"]]}
    ]
    catalogue.update_application_form(
        version,
        questions=good,
        condition_questions=conditions,
        expected_lock=version.lock_version,
        actor=admin_user(),
    )
    assert [q["key"] for q in version.questions] == ["delivery", "income"]
    assert version.questions[1]["max"] == 100000

    bad = [
        ({"key": "Bad Key"}, "questions-0-key"),
        ({"key": "income"}, "questions-1-key"),  # the second of two equal keys
        ({"type": "select", "options": []}, "questions-0-options"),
        ({"min": 10, "max": 1}, "questions-0-max"),
        ({"prefill": "password"}, "questions-0-prefill"),
        ({"label": ""}, "questions-0-label"),
    ]
    for change, field in bad:
        row = {**good[0], **change}
        with pytest.raises(ValidationError) as refused:
            catalogue.update_application_form(
                version,
                questions=[row, good[1]],
                condition_questions=conditions,
                expected_lock=version.lock_version,
                actor=admin_user(),
            )
        assert field in refused.value.errors, (change, refused.value.errors)


def test_a_condition_question_in_use_cannot_be_removed(app_ctx):
    version = make_draft()
    catalogue.add_requirement(
        version,
        values=requirement("M003", condition={"question": "married", "equals": "yes"}),
        expected_lock=version.lock_version,
        actor=admin_user(),
    )
    with pytest.raises(ValidationError) as refused:
        catalogue.update_application_form(
            version,
            questions=version.questions,
            condition_questions=[],
            expected_lock=version.lock_version,
            actor=admin_user(),
        )
    assert "condition_questions" in refused.value.errors


# ---------------------------------------------------------------------------- diff


def test_diff_lists_what_changed_field_by_field(app_ctx):
    v1 = make_draft()
    publish_through_review(v1)
    v2 = catalogue.create_draft_from(v1, admin_user())
    assert catalogue.diff_versions(v1, v2) == []
    catalogue.update_draft(
        v2,
        guide={
            "name": "新名称",
            "promised_limit": 3,
            "steps": [{"name": "受理", "role": "counter", "limit": 0}],
        },
        theme_ids=[theme("户籍办理").id, theme("出行").id],
        expected_lock=v2.lock_version,
        actor=admin_user(),
    )
    catalogue.add_requirement(
        v2, values=requirement("M004"), expected_lock=v2.lock_version, actor=admin_user()
    )
    catalogue.update_requirement(
        v2.requirements[0],
        values=requirement("M001", copies=2),
        expected_lock=v2.lock_version,
        actor=admin_user(),
    )
    changes = {label: (old, new) for label, old, new in catalogue.diff_versions(v1, v2)}
    assert changes["事项名称"] == ("测试事项（自动化测试）", "新名称")
    assert changes["承诺办结时限"] == ("5", "3")
    assert changes["主题分类"] == ("户籍办理", "户籍办理、出行")
    assert "审核" in changes["办理流程"][0] and "审核" not in changes["办理流程"][1]
    assert changes["申请材料：近期免冠照片"][0] == "（空）"
    assert "2 份" in changes["申请材料：居民身份证"][1]
    assert "设定依据" not in changes and "申请材料：户口簿" not in changes
    # reversed, the same fields with old and new swapped
    back = {label: (old, new) for label, old, new in catalogue.diff_versions(v2, v1)}
    assert back["事项名称"] == ("新名称", "测试事项（自动化测试）")


def test_diff_refuses_versions_of_two_items(app_ctx):
    with pytest.raises(ValidationError):
        catalogue.diff_versions(make_draft("TEST00000001"), make_draft("TEST00000002"))


# ---------------------------------------------------------------------------- departments


def test_a_department_with_published_items_cannot_be_deleted(app_ctx):
    ga = department("GA")
    with pytest.raises(Conflict) as refused:
        catalogue.delete_department(ga, actor=admin_user())
    assert "已发布" in refused.value.message
    assert db.session.get(Department, ga.id) is not None


def test_a_department_with_only_a_draft_is_kept_an_empty_one_deleted(app_ctx):
    dept = catalogue.create_department(code="NEW1", name="新部门", actor=admin_user())
    catalogue.create_item(
        code="NEWDEPT00001",
        department=dept,
        actor=admin_user(),
        guide={"name": "草稿事项"},
        requirements=[],
        themes=[],
    )
    with pytest.raises(Conflict):
        catalogue.delete_department(dept, actor=admin_user())
    empty = catalogue.create_department(code="NEW2", name="空部门", actor=admin_user())
    catalogue.delete_department(empty, actor=admin_user())
    assert db.session.scalar(select(Department).where(Department.code == "NEW2")) is None


def test_department_input_rules(app_ctx):
    with pytest.raises(ValidationError) as refused:
        catalogue.create_department(code="GA", name="重复", actor=admin_user())
    assert "已存在" in refused.value.errors["code"]
    with pytest.raises(ValidationError) as refused:
        catalogue.create_department(code="X-1", name="长" * 101, phone="abc", actor=admin_user())
    assert set(refused.value.errors) == {"code", "name", "phone"}


def test_an_inactive_department_cannot_take_new_items(app_ctx):
    dept = catalogue.create_department(code="OFF1", name="停用部门", actor=admin_user())
    catalogue.set_department_active(dept, active=False, actor=admin_user())
    with pytest.raises(ValidationError) as refused:
        catalogue.create_item(
            code="OFFDEPT00001",
            department=dept,
            actor=admin_user(),
            guide={"name": "不行"},
            requirements=[],
            themes=[],
        )
    assert "department_id" in refused.value.errors


# ---------------------------------------------------------------------------- material types


@pytest.mark.parametrize(
    "kwargs,field",
    [
        ({"source": "issued", "licence_type_code": ""}, "licence_type_code"),
        ({"licence_type_code": "bad code!"}, "licence_type_code"),
        ({"validity_kind": "months", "validity_months": None}, "validity_months"),
        ({"validity_kind": "months", "validity_months": 0}, "validity_months"),
        ({"validity_kind": "forever"}, "validity_kind"),
        ({"source": "stolen"}, "source"),
        ({"name": ""}, "name"),
        ({"code": "M001"}, "code"),
        ({"code": "含中文"}, "code"),
    ],
)
def test_material_type_rules(app_ctx, kwargs, field):
    before = count(MaterialType)
    values = {"code": "T900", "name": "测试材料", **kwargs}
    with pytest.raises(ValidationError) as refused:
        catalogue.create_material_type(actor=admin_user(), **values)
    assert field in refused.value.errors
    assert count(MaterialType) == before


def test_material_type_validity_rules_are_kept(app_ctx):
    photo = catalogue.create_material_type(
        code="T901", name="照片", validity_kind="months", validity_months=6, actor=admin_user()
    )
    assert (photo.validity_kind, photo.validity_months) == ("months", 6)
    card = catalogue.create_material_type(
        code="T902",
        name="证件",
        source="issued",
        licence_type_code="111000",
        validity_kind="own_expiry",
        validity_months=6,
        actor=admin_user(),
    )
    assert card.validity_months is None and card.licence_type_code == "111000"


@pytest.mark.parametrize(
    "data,name",
    [
        (b"just text, not a pdf", "form.pdf"),
        (b"<html><script>alert(1)</script>", "form.png"),
        (b"GIF89a" + b"\x00" * 10, "form.gif"),
        (b"", "empty.pdf"),
    ],
)
def test_files_are_checked_by_their_bytes(app_ctx, data, name):
    with pytest.raises(ValidationError) as refused:
        catalogue.create_material_type(
            code="T903", name="表格", actor=admin_user(), blank_form=catalogue.Upload(data, name)
        )
    assert "blank_form" in refused.value.errors


def test_oversized_files_are_refused(app_ctx, monkeypatch):
    monkeypatch.setitem(current_app.config, "MAX_UPLOAD_MB", 1)
    with pytest.raises(ValidationError) as refused:
        catalogue.create_material_type(
            code="T904",
            name="表格",
            actor=admin_user(),
            example=catalogue.Upload(PDF + b"0" * (1024 * 1024), "big.pdf"),
        )
    assert "1 MB" in refused.value.errors["example"]


def test_replacing_a_file_removes_the_old_one_only_after_the_commit(app_ctx):
    upload_dir = current_app.config["UPLOAD_DIR"]
    mt = catalogue.create_material_type(
        code="T905",
        name="表格",
        actor=admin_user(),
        blank_form=catalogue.Upload(PNG, "blank.png"),
        example=catalogue.Upload(JPEG, "example.jpg"),
    )
    db.session.commit()
    first = mt.blank_form_key
    assert first.endswith(".png") and mt.example_key.endswith(".jpg")
    assert (
        storage.path_for(upload_dir, first).read_bytes().startswith(b"\x89PNG")
    )  # stored re-encoded

    # a replacement that is rolled back leaves the old file and removes the new one
    catalogue.update_material_type(
        mt,
        name="表格",
        category="",
        description="",
        source="self",
        licence_type_code=None,
        validity_kind="none",
        validity_months=None,
        blank_form=catalogue.Upload(PDF, "new.pdf"),
        actor=admin_user(),
    )
    abandoned = mt.blank_form_key
    db.session.rollback()
    assert storage.path_for(upload_dir, first).exists()
    assert not storage.path_for(upload_dir, abandoned).exists()

    catalogue.update_material_type(
        mt,
        name="表格",
        category="",
        description="",
        source="self",
        licence_type_code=None,
        validity_kind="none",
        validity_months=None,
        blank_form=catalogue.Upload(PDF, "new.pdf"),
        actor=admin_user(),
    )
    second = mt.blank_form_key
    assert storage.path_for(upload_dir, first).exists()  # not before the commit
    db.session.commit()
    assert not storage.path_for(upload_dir, first).exists()
    assert storage.path_for(upload_dir, second).read_bytes() == PDF


# ---------------------------------------------------------------------------- bundles


def test_bundles_create_edit_publish(app_ctx):
    items = catalogue.find_items_by_code(["330100GA0004", "330100mz0001"])
    assert [i.code for i in items] == ["330100GA0004", "330100MZ0001"]
    bundle = catalogue.create_bundle(
        code="b900",
        name="测试一件事",
        description="说明",
        theme=theme("出行"),
        items=items,
        actor=admin_user(),
        published=False,
    )
    assert bundle.code == "B900" and not bundle.published
    catalogue.set_bundle_published(bundle, published=True, actor=admin_user())
    assert bundle.published
    third = catalogue.find_items_by_code(["330100GA0001"])
    catalogue.update_bundle(
        bundle,
        code="B900",
        name="改名",
        description="",
        theme=None,
        items=[*items, *third],
        actor=admin_user(),
    )
    assert [e.item.code for e in bundle.entries] == ["330100GA0004", "330100MZ0001", "330100GA0001"]
    assert bundle.theme is None


def test_bundle_rules(app_ctx):
    items = catalogue.find_items_by_code(["330100GA0004", "330100MZ0001"])
    with pytest.raises(ValidationError) as refused:
        catalogue.create_bundle(
            code="B901",
            name="一个事项",
            description="",
            theme=None,
            items=items[:1],
            actor=admin_user(),
        )
    assert "items" in refused.value.errors
    with pytest.raises(ValidationError) as refused:
        catalogue.create_bundle(
            code="B001",
            name="重复编码",
            description="",
            theme=None,
            items=items,
            actor=admin_user(),
        )
    assert "code" in refused.value.errors
    with pytest.raises(ValidationError) as refused:
        catalogue.find_items_by_code(["330100GA0004", "NOSUCHITEM00"])
    assert "NOSUCHITEM00" in refused.value.errors["items"]


def test_a_live_bundle_takes_only_published_items(app_ctx):
    bundle = db.session.scalar(select(Bundle).where(Bundle.code == "B001"))
    draft = make_draft()
    items = [e.item for e in bundle.entries]
    with pytest.raises(ValidationError) as refused:
        catalogue.update_bundle(
            bundle,
            code="B001",
            name=bundle.name,
            description="",
            theme=None,
            items=[*items, draft.item],
            actor=admin_user(),
        )
    assert "TEST00000001" in refused.value.errors["items"]
    assert len(bundle.entries) == len(items)


def test_a_bundle_with_a_withdrawn_item_cannot_go_live(app_ctx):
    bundle = db.session.scalar(select(Bundle).where(Bundle.code == "B001"))
    catalogue.set_bundle_published(bundle, published=False, actor=admin_user())
    catalogue.archive_item(bundle.entries[0].item, actor=admin_user())
    with pytest.raises(Conflict):
        catalogue.set_bundle_published(bundle, published=True, actor=admin_user())
    assert not bundle.published


# ---------------------------------------------------------------------------- audit


def test_admin_actions_leave_audit_events(app_ctx):
    last = db.session.scalar(select(func.max(Event.id)))
    v1 = make_draft()
    publish_through_review(v1)
    catalogue.create_draft_from(v1, admin_user())
    events = db.session.scalars(select(Event).where(Event.id > last).order_by(Event.id)).all()
    assert [e.action for e in events] == [
        "catalogue.item_created",
        "catalogue.version_submitted",
        "catalogue.version_published",
        "catalogue.draft_created",
    ]
    assert [e.actor_id for e in events] == [
        admin_user().id,
        admin_user().id,
        second_admin().id,  # four eyes: another admin published what admin submitted
        admin_user().id,
    ]
    assert events[2].details["submitted_by_id"] == admin_user().id
    assert events[0].details["code"] == "TEST00000001"
