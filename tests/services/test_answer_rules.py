"""Forms that refuse nonsense (issue 11 §4): each rule kind of services/answer_rules.py, the
same refusal on every path a form is filled in, the pre-check listing everything at once, the
refusal of rules that cannot work, and the guide and the form agreeing on what to prepare."""

from __future__ import annotations

import uuid
from datetime import date, timedelta

import pytest
from sqlalchemy import select

from portal.extensions import db
from portal.models import Bundle, ItemVersion, MaterialRequirement, ServiceItem, VersionStatus
from services import applications, bundle_applications, catalogue, counter, offline_intake, workflow
from services.answer_rules import (
    AnswerContext,
    check_answers,
    check_rules,
    describe_rules,
    pattern_problem,
)
from services.catalogue.checks import NOT_PREPARED, publish_errors
from services.catalogue.diff import diff_versions
from services.clock import local_today
from services.errors import ValidationError
from tests.services.test_offline_intake import resident_id
from tests.workflow_cases import submit_case, user

BIRTH = date(1985, 3, 12)  # 张伟明 (13800000001), 41 in 2026

DELIVERY = {
    "key": "delivery",
    "label": "领证方式",
    "type": "select",
    "options": [["post", "邮寄到家"], ["counter", "窗口领取"]],
}


def errors_of(questions, answers, *, partial=False, conditions=None, condition_questions=()):
    context = AnswerContext(
        today=local_today(),
        birth_date=BIRTH,
        conditions=conditions or {},
        condition_questions=list(condition_questions),
    )
    return check_answers(questions, answers, context=context, partial=partial).errors


def date_question(key="day", label="日期", **rule):
    return {"key": key, "label": label, "type": "date", "rules": {"date": rule}}


# ---- each rule kind, refused when broken and accepted when kept --------------------------------


def test_required_if_another_answer_has_a_value(app_ctx):
    address = {
        "key": "address",
        "label": "收件地址",
        "type": "address",
        "rules": {"required_if": {"question": "delivery", "equals": "post"}},
    }
    refused = errors_of([DELIVERY, address], {"delivery": "post", "address": " "})
    assert refused == {"address": "“领证方式”为“邮寄到家”时必填"}
    assert errors_of([DELIVERY, address], {"delivery": "counter", "address": ""}) == {}
    assert errors_of([DELIVERY, address], {"delivery": "post", "address": "人民路 1 号"}) == {}
    # autosave asks for nothing yet
    assert errors_of([DELIVERY, address], {"delivery": "post"}, partial=True) == {}


def test_required_if_a_condition_answer_has_a_value(app_ctx):
    guardian = {
        "key": "guardian",
        "label": "监护人姓名",
        "type": "text",
        "rules": {"required_if": {"question": "minor", "equals": "yes"}},
    }
    minor = {"key": "minor", "label": "是否未满16周岁？", "options": [["yes", "是"], ["no", "否"]]}
    refused = errors_of([guardian], {}, conditions={"minor": "yes"}, condition_questions=[minor])
    assert refused == {"guardian": "“是否未满16周岁？”为“是”时必填"}
    assert errors_of([guardian], {}, conditions={"minor": "no"}, condition_questions=[minor]) == {}


def test_a_date_not_in_the_future(app_ctx):
    q = date_question(not_future=True)
    tomorrow = (local_today() + timedelta(days=1)).isoformat()
    assert errors_of([q], {"day": tomorrow}) == {
        "day": f"不能晚于今天（{local_today().isoformat()}）"
    }
    assert errors_of([q], {"day": local_today().isoformat()}) == {}
    # a refused value is refused by autosave too (it is not kept)
    assert "day" in errors_of([q], {"day": "2099-01-01"}, partial=True)


def test_a_date_not_in_the_past_and_within_days(app_ctx):
    q = date_question(not_past=True, max_days_ahead=15)
    today = local_today()
    assert "不能早于今天" in errors_of([q], {"day": (today - timedelta(days=1)).isoformat()})["day"]
    assert "15 天内" in errors_of([q], {"day": (today + timedelta(days=16)).isoformat()})["day"]
    assert errors_of([q], {"day": (today + timedelta(days=15)).isoformat()}) == {}


def test_a_date_not_before_the_applicants_birth(app_ctx):
    q = date_question(not_before_birth=True)
    assert errors_of([q], {"day": "1985-03-11"}) == {
        "day": "不能早于申请人的出生日期（1985-03-12）"
    }
    assert errors_of([q], {"day": "1985-03-12"}) == {}


def test_a_date_relative_to_another_answer(app_ctx):
    start = {"key": "start", "label": "参加工作时间", "type": "date"}
    after = date_question("end", "申请退休日期", after="start")
    before = date_question("end", "申请退休日期", before="start")
    same = {"start": "2020-01-01", "end": "2020-01-01"}
    assert errors_of([start, after], same) == {"end": "须晚于“参加工作时间”（2020-01-01）"}
    assert errors_of([start, after], {"start": "2020-01-01", "end": "2020-01-02"}) == {}
    assert errors_of([start, before], same) == {"end": "须早于“参加工作时间”（2020-01-01）"}
    assert errors_of([start, after], {"end": "2020-01-02"}) == {}  # nothing to compare with


def test_a_minimum_age_on_the_date(app_ctx):
    q = date_question(min_age=45)
    assert errors_of([q], {"day": "2030-03-11"}) == {
        "day": "申请人在这一天须年满 45 周岁（出生日期 1985-03-12，当天 44 周岁）"
    }
    assert errors_of([q], {"day": "2030-03-12"}) == {}


def test_a_number_range(app_ctx):
    q = {"key": "n", "label": "首批参保人数", "type": "number", "min": 1, "max": 120}
    assert errors_of([q], {"n": "0"}) == {"n": "不能小于 1"}
    assert errors_of([q], {"n": "121"}) == {"n": "不能大于 120"}
    assert errors_of([q], {"n": "120"}) == {}


def test_a_pattern_with_its_message(app_ctx):
    q = {
        "key": "postcode",
        "label": "邮政编码",
        "type": "text",
        "rules": {"pattern": {"regex": "^[0-9]{6}$", "message": "请填写6位数字的邮政编码"}},
    }
    assert errors_of([q], {"postcode": "31000"}) == {"postcode": "请填写6位数字的邮政编码"}
    assert errors_of([q], {"postcode": "3100001"}) == {"postcode": "请填写6位数字的邮政编码"}
    assert errors_of([q], {"postcode": "310000"}) == {}
    assert errors_of([q], {"postcode": ""}) == {}  # not required: empty is fine


def test_a_cross_field_rule_two_answers_must_differ(app_ctx):
    own = {"key": "id_number", "label": "本人公民身份号码", "type": "id_number"}
    partner = {
        "key": "partner_id_number",
        "label": "对方公民身份号码",
        "type": "id_number",
        "rules": {"differs_from": "id_number"},
    }
    mine = resident_id("33010619900307123")
    assert errors_of([own, partner], {"id_number": mine, "partner_id_number": mine}) == {
        "partner_id_number": "不能与“本人公民身份号码”相同"
    }
    theirs = resident_id("33010619920101002")
    assert errors_of([own, partner], {"id_number": mine, "partner_id_number": theirs}) == {}


# ---- patterns admins may write ---------------------------------------------------------------


@pytest.mark.parametrize(
    "pattern",
    ["^[0-9]{6}$", r"^\d{3,4}-\d{7,8}$", "^(0571|0572)-[0-9]{8}$", "^(ab)+$", r"^[A-Z]\w{5}$"],
)
def test_safe_patterns_are_accepted(pattern):
    assert pattern_problem(pattern) is None


@pytest.mark.parametrize(
    "pattern,why",
    [
        ("^(a+)+$", "重复的分组"),
        ("^(a|aa)*$", "重复的分组"),
        ("^((ab)*c)+$", "重复的分组"),
        (r"^(a)\1$", "反向引用"),
        ("^(?=a)a$", "前后断言"),
        ("^[0-9", "不是有效的正则表达式"),
        ("a" * 201, "最多 200 个字符"),
    ],
)
def test_unsafe_or_broken_patterns_are_refused(app_ctx, pattern, why):
    assert why in pattern_problem(pattern)


# ---- rules that cannot work -------------------------------------------------------------------


@pytest.mark.parametrize(
    "rules,message",
    [
        ({"required_if": {"question": "nothing", "equals": "post"}}, "没有的问题“nothing”"),
        ({"required_if": {"question": "delivery", "equals": "boat"}}, "没有选项“boat”"),
        ({"date": {"after": "nothing"}}, "没有的问题“nothing”"),
        ({"differs_from": "nothing"}, "没有的问题“nothing”"),
        ({"date": {"not_future": "yes"}}, "只能是 true 或 false"),
        ({"date": {"min_age": -1}}, "0 至 150"),
        ({"shape": True}, "不认识的校验规则"),
    ],
)
def test_a_rule_that_cannot_work_is_refused(app_ctx, rules, message):
    q = {"key": "day", "label": "日期", "type": "date", "rules": rules}
    assert message in check_rules([DELIVERY, q], [])["questions-1-rules"]


def test_a_date_or_pattern_rule_on_the_wrong_type_is_refused(app_ctx):
    text = {"key": "t", "label": "文字", "type": "text", "rules": {"date": {"not_future": True}}}
    day = {"key": "d", "label": "日", "type": "date", "rules": {"pattern": {"regex": "^1$"}}}
    assert check_rules([text, day], []) == {
        "questions-0-rules": "日期规则只能用于日期类型的问题",
        "questions-1-rules": "格式规则只能用于文字或地址类型的问题",
    }


# ---- the demo catalogue: what was accepted before is refused now -------------------------------


def item(code: str) -> ServiceItem:
    return db.session.scalar(select(ServiceItem).where(ServiceItem.code == code))


def draft(login: str, code: str, conditions: dict[str, str] | None = None):
    actor = user(login)
    version = item(code).published_version
    app = applications.start_draft(actor=actor, applicant=actor.citizen, item=item(code))
    chosen = {q["key"]: q["options"][0][0] for q in version.condition_questions}
    applications.save_conditions(app, {**chosen, **(conditions or {})})
    return app, applications.prefill(app, actor.citizen)


def refusal(save) -> dict[str, str]:
    with pytest.raises(ValidationError) as err:
        save()
    return err.value.errors


PASSPORT, PERMIT, BIRTH_REGISTRATION = "330100GA0008", "330100GA0001", "330100GA0003"


def test_demo_a_passport_by_post_needs_an_address_and_a_postcode(app_ctx):
    app, values = draft("13800000002", PASSPORT)  # her profile has no address
    values.update(purpose="travel", delivery="post", address="", postcode="")
    errors = refusal(lambda: applications.save_form(app, values))
    assert errors["q_address"] == "“领证方式”为“邮寄到家”时必填"
    assert errors["q_postcode"] == "“领证方式”为“邮寄到家”时必填"
    values.update(address="西湖区文三路 1 号", postcode="31000")
    assert refusal(lambda: applications.save_form(app, values)) == {
        "q_postcode": "请填写6位数字的邮政编码"
    }
    values.update(delivery="counter", address="", postcode="")  # collected: nothing to post to
    applications.save_form(app, values)


def test_demo_a_residence_permit_cannot_start_in_2030(app_ctx):
    app, values = draft("13800000002", PERMIT)
    values.update(address="西湖区文三路 1 号", move_in_date="2030-01-01")
    errors = refusal(lambda: applications.save_form(app, values))
    assert errors == {"q_move_in_date": f"不能晚于今天（{local_today().isoformat()}）"}
    values["move_in_date"] = "1990-01-01"  # 李晓静 was born in 1996
    assert refusal(lambda: applications.save_form(app, values)) == {
        "q_move_in_date": "不能早于申请人的出生日期（1996-08-23）"
    }


def retirement_bundle(login: str):
    actor = user(login)
    bundle = db.session.scalar(select(Bundle).where(Bundle.code == "B002"))
    parent = bundle_applications.start_bundle_draft(
        actor=actor, applicant=actor.citizen, bundle=bundle
    )
    bundle_applications.save_bundle_conditions(
        parent,
        {
            m.key: m.question["options"][0][0]
            for m in bundle_applications.merge_questions(parent.children, "condition")
        },
    )
    values = bundle_applications.bundle_prefill(parent, actor.citizen)
    for m in bundle_applications.merge_questions(parent.children, "form"):
        if values.get(m.key) in (None, ""):
            q = m.question
            values[m.key] = {"select": (q.get("options") or [["x"]])[0][0], "checkbox": "y"}.get(
                q["type"], "测试"
            )
    return parent, values


def test_demo_a_retirement_bundle_for_a_41_year_old(app_ctx):
    parent, values = retirement_bundle("13800000001")  # 张伟明, born 1985-03-12
    today = local_today().isoformat()
    values.update(work_start=today, retire_date=today)
    errors = refusal(lambda: bundle_applications.save_bundle_form(parent, values))
    assert errors["q_retire_date"] == f"须晚于“参加工作时间”（{today}）"
    values["work_start"] = "2005-07-01"
    errors = refusal(lambda: bundle_applications.save_bundle_form(parent, values))
    assert errors["q_retire_date"].startswith("申请人在这一天须年满 45 周岁")
    values["work_start"] = "1999-01-01"  # 13 years old
    errors = refusal(lambda: bundle_applications.save_bundle_form(parent, values))
    assert errors["q_work_start"].startswith("申请人在这一天须年满 16 周岁")
    values.update(work_start="2005-07-01", retire_date="2045-03-12")
    bundle_applications.save_bundle_form(parent, values)
    assert {c.form_data.get("retire_date") for c in parent.children} >= {"2045-03-12"}


# ---- one refusal, whichever way the form was filled in -----------------------------------------


BABY = {
    "baby_name": "李小宝",
    "baby_gender": "male",
    "follow": "mother",
    "baby_birth_date": "2030-01-01",
}


def online(app_ctx) -> dict[str, str]:
    app, values = draft("13800000002", BIRTH_REGISTRATION)
    return refusal(lambda: applications.save_form(app, {**values, **BABY}))


def at_the_counter(app_ctx) -> dict[str, str]:
    clerk, citizen = user("counter01"), user("13800000002").citizen
    counter.begin_context(clerk, citizen)
    app = counter.start_intake(clerk, BIRTH_REGISTRATION)
    conditions = {q["key"]: q["options"][0][0] for q in app.item_version.condition_questions}
    answers = {**applications.prefill(app, citizen), **BABY}
    return refusal(
        lambda: counter.save_intake(
            clerk, app.id, conditions=conditions, answers=answers, choices={}
        )
    )


def offline(app_ctx) -> dict[str, str]:
    version = item(BIRTH_REGISTRATION).published_version
    person = {
        "name": "赵离线",
        "id_number": resident_id("33010619900307123"),
        "phone": "13900001111",
        "address": "西湖区文三路 1 号",
    }
    payload = {
        "item": BIRTH_REGISTRATION,
        "version": version.id,
        "applicant": person,
        "agent": {},
        "conditions": {"married": "yes", "ethnic_differ": "no"},
        "form": {"name": person["name"], "id_number": person["id_number"], **BABY},
    }
    return refusal(
        lambda: offline_intake.send_intake(user("counter01"), str(uuid.uuid4()), payload, [])
    )


def in_a_bundle(app_ctx) -> dict[str, str]:
    actor = user("13800000002")
    bundle = db.session.scalar(select(Bundle).where(Bundle.code == "B001"))  # 出生一件事
    parent = bundle_applications.start_bundle_draft(
        actor=actor, applicant=actor.citizen, bundle=bundle
    )
    merged = bundle_applications.merge_questions(parent.children, "condition")
    bundle_applications.save_bundle_conditions(
        parent, {m.key: m.question["options"][0][0] for m in merged}
    )
    values = bundle_applications.bundle_prefill(parent, actor.citizen)
    return refusal(lambda: bundle_applications.save_bundle_form(parent, {**values, **BABY}))


@pytest.mark.parametrize("path", [online, at_the_counter, offline, in_a_bundle])
def test_the_same_refusal_online_at_the_counter_offline_and_in_a_bundle(app_ctx, path):
    errors = path(app_ctx)
    assert errors["q_baby_birth_date"] == f"不能晚于今天（{local_today().isoformat()}）"


def test_a_correction_is_checked_by_the_same_rules(app_ctx):
    """补正: the corrected answer goes through the item's rules like the first one."""
    permit = submit_case("13800000002", "居住证申领", {"basis": "work", "agent": "no"})
    workflow.perform(
        user("reviewer01"),
        permit.id,
        "request_correction",
        permit.version,
        fields={"move_in_date": "与居住登记不符"},
    )
    citizen = user("13800000002")
    errors = refusal(
        lambda: workflow.perform(
            citizen, permit.id, "resubmit", permit.version, answers={"move_in_date": "2030-01-01"}
        )
    )
    assert errors == {"q_move_in_date": f"不能晚于今天（{local_today().isoformat()}）"}
    workflow.perform(
        citizen, permit.id, "resubmit", permit.version, answers={"move_in_date": "2024-05-06"}
    )
    assert permit.form_data["move_in_date"] == "2024-05-06"


# ---- the pre-check lists every violation at once -------------------------------------------------


def test_the_precheck_lists_every_broken_rule_at_once(app_ctx):
    app, values = draft("13800000002", PASSPORT)
    # answers saved before the rules were checked (e.g. a draft older than them)
    app.form_data = {
        **values,
        "purpose": "travel",
        "delivery": "post",
        "address": "",
        "postcode": "1",
    }
    problems = {p.field: p.message for p in applications.precheck(app)}
    assert problems["q_address"] == "收件地址：“领证方式”为“邮寄到家”时必填"
    assert problems["q_postcode"] == "邮政编码：请填写6位数字的邮政编码"
    assert any(field.startswith("m_") for field in problems)  # and the missing materials
    with pytest.raises(ValidationError) as err:
        applications.submit_application(user("13800000002"), app.id, app.submit_token)
    assert {"q_address", "q_postcode"} <= set(err.value.errors)
    assert app.status == "draft"


# ---- publication: rules that name a missing question; the guide and the form agree -------------


def published(code: str) -> ItemVersion:
    return item(code).published_version


def test_every_demo_item_passes_the_publication_checks(app_ctx):
    versions = db.session.scalars(
        select(ItemVersion).where(ItemVersion.status == VersionStatus.published)
    ).all()
    assert versions
    assert {v.name: publish_errors(v) for v in versions if publish_errors(v)} == {}


def test_publication_refuses_a_rule_naming_a_missing_question(app_ctx):
    version = published(PASSPORT)
    version.questions = [q for q in version.questions if q["key"] != "delivery"]
    errors = publish_errors(version)
    keys = [q["key"] for q in version.questions]
    assert errors[f"questions-{keys.index('address')}-rules"] == (
        "校验规则用到了本申请表没有的问题“delivery”"
    )
    db.session.rollback()


def test_publication_refuses_a_material_the_guide_says_need_not_be_prepared(app_ctx):
    version = published(PASSPORT)
    photo = next(r for r in version.requirements if r.material_type.code == "M056")
    assert "不用提前准备" in photo.notes and photo.necessity == "optional"
    assert publish_errors(version) == {}
    photo.necessity = "required"  # the form would demand what the guide says not to prepare
    n = version.requirements.index(photo) + 1
    assert "填报须知说不用提前准备" in publish_errors(version)[f"requirements-{n}"]
    photo.necessity = "deferrable"
    assert f"requirements-{n}" in publish_errors(version)
    photo.necessity = "shared"
    assert publish_errors(version) == {}
    db.session.rollback()


def test_what_the_guide_says_need_not_be_prepared_is_not_demanded(app_ctx):
    """The form's pre-check never asks for a material whose 填报须知 says not to prepare it."""
    requirements = db.session.scalars(
        select(MaterialRequirement)
        .join(ItemVersion)
        .where(ItemVersion.status == VersionStatus.published)
    ).all()
    told = [r for r in requirements if any(w in r.notes for w in NOT_PREPARED)]
    assert told  # the demo has such materials (护照's photo is taken at the window)
    assert all(r.necessity not in ("required", "deferrable") for r in told)


def test_a_reviewer_of_a_new_version_sees_its_rules_change(app_ctx):
    """Four-eyes publishing reads the diff: a change of rules alone must show in it."""
    published_version = published(PASSPORT)
    admin = user("admin")
    with db.session.no_autoflush:  # the item's loaded versions would be flushed half-made
        draft_version = catalogue.create_draft_from(published_version, admin)
    draft_version.questions = [
        {k: v for k, v in q.items() if k != "rules"} if q["key"] == "address" else q
        for q in draft_version.questions
    ]
    changes = {
        label: (old, new) for label, old, new in diff_versions(published_version, draft_version)
    }
    old, new = changes["申请表问题"]
    before = next(line for line in old.splitlines() if line.startswith("address "))
    after = next(line for line in new.splitlines() if line.startswith("address "))
    assert before.endswith("规则：“领证方式”为“邮寄到家”时必填")
    assert "规则" not in after


def test_rules_in_words(app_ctx):
    version = published("330100RS0003")
    retire = next(q for q in version.questions if q["key"] == "retire_date")
    assert describe_rules(retire, version.questions) == "晚于“参加工作时间”；申请人当天年满 45 周岁"
