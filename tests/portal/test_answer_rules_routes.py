"""Forms that refuse nonsense, through the pages (issue 11 §4): the admin editor refuses a rule
that cannot work and saves nothing; the citizen's form shows a broken rule next to its field;
pages and notices show an option's label and a question's label, never a code or a key."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from portal.extensions import db
from portal.models import ItemVersion, ServiceItem
from services import applications, notices, workflow
from tests.conftest import csrf_token, login
from tests.helpers import pdf_text
from tests.portal.test_admin_routes import admin, create_item, error_for, form_data, post
from tests.workflow_cases import item_named, submit_case, user

__all__ = ["admin"]  # the fixture, imported from the admin route tests

PASSPORT = "330100GA0008"
CERTIFICATE = "无犯罪记录证明开具"  # purpose: job → 就业


def rules(value) -> str:
    return json.dumps(value, ensure_ascii=False)


@pytest.mark.parametrize(
    "value,message",
    [
        (rules({"required_if": {"question": "delivery", "equals": "post"}}), ""),  # accepted
        (
            rules({"required_if": {"question": "deliver", "equals": "post"}}),
            "校验规则用到了本申请表没有的问题“deliver”",
        ),
        (rules({"date": {"not_future": True}}), "日期规则只能用于日期类型的问题"),
        (rules({"pattern": {"regex": "^(a+)+$"}}), "以免匹配时间过长"),
        ("{required_if: delivery}", "校验规则不是有效的 JSON"),
        ("[1, 2]", "校验规则须为一个 JSON 对象"),
    ],
)
def test_the_editor_refuses_a_rule_that_cannot_work_and_saves_nothing(admin, query, value, message):
    version_id = create_item(admin)
    response = post(
        admin,
        f"/admin/versions/{version_id}/form",
        form_data(query, version_id, **{"questions-0-rules": value}),
    )
    saved = query(lambda: db.session.get(ItemVersion, version_id).questions)
    if not message:
        assert response.status_code == 302
        assert saved[0]["rules"] == json.loads(value)
        page = admin.get(f"/admin/versions/{version_id}/form").get_data(as_text=True)
        assert "required_if" in page  # shown again for editing
        return
    assert response.status_code == 422
    assert message in error_for(response.get_data(as_text=True), "questions-0-rules")
    assert saved == []


def passport_draft(query) -> tuple[int, dict]:
    def run():
        actor = user("13800000002")
        item = db.session.scalar(select(ServiceItem).where(ServiceItem.code == PASSPORT))
        app = applications.start_draft(actor=actor, applicant=actor.citizen, item=item)
        applications.save_conditions(app, {"minor": "no", "official": "no"})
        values = applications.prefill(app, actor.citizen)
        db.session.commit()
        return app.id, values

    return query(run)


def test_the_form_shows_a_broken_rule_next_to_its_field_and_keeps_nothing(client, query):
    draft_id, values = passport_draft(query)
    assert login(client, "13800000002").status_code == 302
    path = f"/apply/drafts/{draft_id}/form"
    data = {f"q_{k}": v for k, v in values.items()}
    data.update(q_purpose="travel", q_delivery="post", q_address="", q_postcode="", q_name="李晓静")
    response = client.post(path, data={**data, "csrf_token": csrf_token(client, path)})
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "“领证方式”为“邮寄到家”时必填" in error_for(html, "q_address")
    assert "“领证方式”为“邮寄到家”时必填" in error_for(html, "q_postcode")
    summary = html.split('id="error-summary"', 1)[1].split("</ul>", 1)[0]
    assert "收件地址：“领证方式”为“邮寄到家”时必填" in summary  # the summary names the field
    assert query(lambda: applications.get_own_draft(user("13800000002"), draft_id).form_data) == {}


def test_autosave_keeps_what_is_valid_and_not_a_date_in_the_future(client, query):
    def run():
        actor = user("13800000002")
        app = applications.start_draft(
            actor=actor, applicant=actor.citizen, item=item_named("居住证申领")
        )
        db.session.commit()
        return app.id

    draft_id = query(run)
    assert login(client, "13800000002").status_code == 302
    path = f"/apply/drafts/{draft_id}/autosave"
    token = csrf_token(client, f"/apply/drafts/{draft_id}/form")
    client.post(
        path,
        data={"csrf_token": token, "q_move_in_date": "2030-01-01", "q_employer": "某公司"},
    )
    saved = query(lambda: applications.get_own_draft(user("13800000002"), draft_id).form_data)
    assert saved.get("employer") == "某公司"
    assert "move_in_date" not in saved


# ---- labels, never codes ---------------------------------------------------------------------


def certificate_case(query) -> int:
    def run():
        case = submit_case("13800000002", CERTIFICATE, answers={"purpose": "job"})
        db.session.commit()
        return case.id

    return query(run)


def test_the_reviewer_page_shows_the_options_label(client, query):
    case_id = certificate_case(query)
    assert login(client, "reviewer01").status_code == 302
    html = client.get(f"/review/cases/{case_id}").get_data(as_text=True)
    answers = html.split("填写信息", 1)[1]
    assert "就业" in answers
    assert ">job<" not in answers


def test_the_correction_notice_names_the_question_by_its_label(app_ctx):
    case = submit_case("13800000002", CERTIFICATE, answers={"purpose": "job"})
    workflow.perform(
        user("reviewer01"),
        case.id,
        "request_correction",
        case.version,
        fields={"purpose": "用途与单位开具要求不符"},
    )
    notice = next(n for n in notices.notices_of(case.id) if n.kind == "correction")
    text = pdf_text(notices.notice_pdf(notice))
    assert "证明用途" in text and "用途与单位开具要求不符" in text
    assert "purpose" not in text and "job" not in text


def test_the_version_page_shows_each_questions_rules_in_words(admin, query):
    version_id = query(
        lambda: db.session.scalar(
            select(ServiceItem.published_version_id).where(ServiceItem.code == PASSPORT)
        )
    )
    html = admin.get(f"/admin/versions/{version_id}").get_data(as_text=True)
    table = html.split("申请表问题", 1)[1]
    assert "“领证方式”为“邮寄到家”时必填；格式 ^[0-9]{6}$" in table
