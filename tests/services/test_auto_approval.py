"""秒批: rules evaluated at submission, with the data each rule read, in the same transaction."""

from sqlalchemy import select

from portal.extensions import db
from portal.models import Department, ELicence, Event, Grade, MaterialType, Notice
from services import auto_approval, clock
from services.elicences import issue_elicence
from tests.workflow_cases import ELDER_CARD, submit_case, user


def give_id_card_licence(login):
    """The 居民身份证 e-licence (material type M001) that an 身份证换领 would have issued."""
    holder = user(login).citizen
    id_card = db.session.scalar(select(MaterialType).where(MaterialType.code == "M001"))
    police = db.session.scalar(select(Department).where(Department.code == "GA"))
    return issue_elicence(
        holder=holder,
        material_type=id_card,
        department=police,
        issued_on=clock.local_today(),
        valid_until=None,
    )


def events(app, action):
    return db.session.scalars(
        select(Event)
        .where(Event.application_id == app.id, Event.action == action)
        .order_by(Event.id)
    ).all()


def test_all_rules_pass_accept_approve_complete_and_issue_the_licence(app_ctx):
    id_licence = give_id_card_licence("13800000003")  # 王秀兰, born 1948
    case = submit_case("13800000003", ELDER_CARD, {"residence": "local", "agent": "no"})
    assert case.status == "completed"
    assert case.accepted_at and case.decided_at and case.completed_at
    [check] = events(case, "auto_check")
    assert check.actor_id is None and check.details["passed"] is True
    by_kind = {r["kind"]: r for r in check.details["rules"]}
    assert (
        by_kind["min_age"]["data"]["birth_date"] == "1948-05-06"
        and by_kind["min_age"]["data"]["age"] >= 60
    )
    assert by_kind["elicence"]["data"]["licence_number"] == id_licence.number
    [approved] = events(case, "approved")
    assert approved.details["auto"] is True and approved.details["action"] == "approve_instantly"
    assert len(approved.details["rules"]) == 2
    licence = db.session.scalar(select(ELicence).where(ELicence.application_id == case.id))
    assert licence is not None and licence.type_code == case.item_version.result_licence_type_code
    assert db.session.get(type(id_licence.document), licence.document_id).grade == Grade.A
    kinds = [
        n.kind
        for n in db.session.scalars(
            select(Notice).where(Notice.application_id == case.id).order_by(Notice.id)
        )
    ]
    assert kinds == ["approval", "completion"]
    # the submitted, auto-check, approval and completion events follow each other in one chain
    actions = [
        e.action
        for e in db.session.scalars(
            select(Event).where(Event.application_id == case.id).order_by(Event.id)
        )
    ]
    assert actions == ["submitted", "auto_check", "approved", "completed"]


def test_a_failed_rule_sends_the_case_to_review_with_the_rule_shown(app_ctx):
    case = submit_case(
        "13800000001", ELDER_CARD, {"residence": "local", "agent": "no"}
    )  # born 1985
    assert case.status == "submitted"
    failed = auto_approval.failed_rules(case.id)
    assert [r["kind"] for r in failed] == ["min_age"]
    assert failed[0]["data"]["age"] < 60 and "60" in failed[0]["explanation"]
    assert db.session.scalar(select(ELicence).where(ELicence.application_id == case.id)) is None


def test_a_missing_e_licence_fails_its_rule(app_ctx):
    case = submit_case("13800000003", ELDER_CARD, {"residence": "local", "agent": "no"})
    assert case.status == "submitted"
    assert [r["kind"] for r in auto_approval.failed_rules(case.id)] == ["elicence"]


def test_a_cancelled_licence_does_not_count(app_ctx):
    licence = give_id_card_licence("13800000003")
    licence.status = "cancelled"
    db.session.flush()
    case = submit_case("13800000003", ELDER_CARD, {"residence": "local", "agent": "no"})
    assert case.status == "submitted"


def test_answer_rules_and_unknown_rules(app_ctx):
    case = submit_case("13800000001", ELDER_CARD, {"residence": "nonlocal", "agent": "no"})
    results = auto_approval.evaluate_rules(case)
    assert all(r.kind != "answer_in" for r in results)
    case.item_version.auto_rules = [
        {"kind": "answer_in", "question": "residence", "values": ["local"]},
        {"kind": "teleport"},
    ]
    results = auto_approval.evaluate_rules(case)
    assert [r.passed for r in results] == [False, False]
    assert results[0].data == {"question": "residence", "answer": "nonlocal"}
    db.session.rollback()
