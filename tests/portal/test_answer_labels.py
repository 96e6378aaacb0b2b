"""Every page shows an option's label, never its code (the confirm page once said "job")."""

from portal.extensions import db
from services import applications
from services.materials import answer_text
from tests.conftest import login
from tests.workflow_cases import item_named, user

CERTIFICATE = "无犯罪记录证明开具"  # purpose: job → 就业, study → 入学 …


def a_draft_with_purpose(purpose: str) -> int:
    actor = user("13800000002")
    item = item_named(CERTIFICATE)
    app = applications.start_draft(actor=actor, applicant=actor.citizen, item=item)
    version = item.published_version
    applications.save_conditions(
        app, {q["key"]: q["options"][0][0] for q in version.condition_questions}
    )
    values = applications.prefill(app, actor.citizen)
    values["purpose"] = purpose
    applications.save_form(app, values)
    db.session.commit()
    return app.id


def test_the_confirm_page_shows_the_chosen_options_label(client, query):
    draft_id = query(lambda: a_draft_with_purpose("job"))
    assert login(client, "13800000002").status_code == 302
    page = client.get(f"/apply/drafts/{draft_id}/confirm").get_data(as_text=True)
    purpose = page.split("申请信息", 1)[1].split("申请材料", 1)[0]
    assert "就业" in purpose
    assert ">job<" not in purpose


def test_answers_read_as_labels_for_every_kind_of_question(app_ctx):
    question = next(
        q for q in item_named(CERTIFICATE).published_version.questions if q["key"] == "purpose"
    )
    assert answer_text(question, "job") == "就业"
    many = {"type": "multiselect", "options": [["official", "公章"], ["finance", "财务专用章"]]}
    assert answer_text(many, ["official", "finance"]) == "公章、财务专用章"
    assert answer_text({"type": "checkbox"}, True) == "是"
    assert answer_text({"type": "text"}, None) == ""
