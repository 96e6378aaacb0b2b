"""Cases follow their guide's declared steps to delivery (issue 11 §3): 受理 → 审核 → 决定 → 制证
→ 送达, 办结 only when the result is delivered by the method the applicant chose, licences
valid for the item's term, expired and revoked licences shown as such."""

from datetime import date, timedelta

import pytest
import time_machine
from dateutil.relativedelta import relativedelta
from sqlalchemy import select

from portal.extensions import db
from portal.models import ELicence, Event, Message, Role, ServiceHall, Visit
from services import (
    accounts,
    applications,
    clock,
    counter,
    delivery,
    documents,
    elicences,
    workflow,
)
from services.errors import Conflict, NotAuthorized, NotFound, ValidationError
from tests.workflow_cases import (
    RESIDENCE_PERMIT,
    UNEMPLOYMENT,
    item_named,
    submit_case,
    user,
)

PASSPORT = "普通护照签发"  # 受理, 审核, 签发 (决定), 制证, 送达; 领证方式 asked on the form
FIVE_STEPS = [
    {"name": "受理", "role": "counter", "limit": 1},
    {"name": "审核", "role": "reviewer", "limit": 2},
    {"name": "决定", "role": "reviewer", "limit": 1},
    {"name": "制证", "role": "reviewer", "limit": 2},
    {"name": "送达", "role": "counter", "limit": 1},
]


def declare(item_name: str, **guide) -> None:
    """Set guide fields on the item's published version for this test (rolled back after)."""
    version = item_named(item_name).published_version
    for field, value in guide.items():
        setattr(version, field, value)
    db.session.flush()


def permit_case(**guide):
    declare(RESIDENCE_PERMIT, **guide)
    return submit_case("13800000002", RESIDENCE_PERMIT, {"basis": "work", "agent": "no"})


def to_decision(case, reviewer):
    workflow.perform(reviewer, case.id, "accept", case.version)
    workflow.perform(reviewer, case.id, "start_review", case.version)
    while workflow.delivery.decision_step(case.item_version.steps) > case.current_step:
        workflow.perform(reviewer, case.id, "advance_step", case.version)
    workflow.perform(reviewer, case.id, "approve", case.version)


@pytest.fixture
def reviewer(app_ctx):
    return user("reviewer01")


# ---- the declared steps -------------------------------------------------------------------


def test_step_kinds_are_read_from_the_guide():
    assert delivery.step_kinds(FIVE_STEPS) == ["accept", "review", "review", "certify", "deliver"]
    assert delivery.decision_step(FIVE_STEPS) == 2
    two = FIVE_STEPS[:2]
    assert delivery.step_kinds(two) == ["accept", "review"]
    assert delivery.step_of_kind(two, "certify") is None
    declared = [{**s, "kind": "review"} for s in FIVE_STEPS[:3]] + [
        {"name": "发证", "role": "counter", "limit": 0, "kind": "certify"}
    ]
    assert delivery.step_kinds(declared)[-1] == "certify"


def test_a_case_passes_each_declared_step_in_order_and_cannot_skip_one(reviewer):
    case = permit_case(steps=FIVE_STEPS, delivery_methods=["pickup"])
    workflow.perform(reviewer, case.id, "accept", case.version)
    assert case.current_step == 1  # 审核
    workflow.perform(reviewer, case.id, "start_review", case.version)
    assert "approve" not in workflow.offered_actions(case, reviewer)
    with pytest.raises(Conflict):  # 准予 at 审核 would skip 决定
        workflow.perform(reviewer, case.id, "approve", case.version)
    with pytest.raises(Conflict):  # 制证 before a decision
        workflow.perform(reviewer, case.id, "certify", case.version)
    workflow.perform(reviewer, case.id, "advance_step", case.version)
    assert case.current_step == 2  # 决定
    assert "advance_step" not in workflow.offered_actions(case, reviewer)
    with pytest.raises(Conflict):  # nothing to advance to but a decision
        workflow.perform(reviewer, case.id, "advance_step", case.version)
    workflow.perform(reviewer, case.id, "approve", case.version)
    assert case.status == "certifying" and case.current_step == 3  # 制证, not 办结
    assert case.completed_at is None
    with pytest.raises(Conflict):  # 出件 before the result is made
        counter.begin_context(user("counter01"), case.applicant)
        counter.decide(user("counter01"), case.id, "pickup", case.version)
    workflow.perform(reviewer, case.id, "certify", case.version)
    assert case.status == "awaiting_pickup" and case.current_step == 4  # 送达
    actions = [
        e.details["action"]
        for e in db.session.scalars(
            select(Event).where(Event.application_id == case.id).order_by(Event.id)
        )
        if "action" in (e.details or {})
    ]
    assert actions == [
        "submit",
        "accept",
        "start_review",
        "advance_step",
        "approve",
        "start_certifying",
        "certify",
        "await_pickup",
    ]


def test_a_guide_declaring_only_accept_and_review_goes_straight_to_delivery(reviewer):
    case = permit_case(steps=FIVE_STEPS[:2], delivery_methods=["pickup"])
    to_decision(case, reviewer)
    assert case.status == "awaiting_pickup"  # no 制证 step declared: no certifying
    assert case.completed_at is None


def test_the_passport_guide_walks_its_five_steps(reviewer):
    case = submit_case(
        "13800000002", PASSPORT, answers={"delivery": "counter", "postcode": "310000"}
    )
    assert case.delivery_method == "pickup"  # the form's 领证方式, 到受理窗口领取
    kinds = delivery.step_kinds(case.item_version.steps)
    assert kinds == ["accept", "review", "review", "certify", "deliver"]
    to_decision(case, reviewer)
    assert case.status == "certifying"


# ---- 办结 only when delivered, for each method ---------------------------------------------


def test_online_delivery_completes_at_once_with_the_licence_in_the_library(reviewer):
    case = permit_case(delivery_methods=["online"])
    assert case.delivery_method == "online"
    to_decision(case, reviewer)
    assert case.status == "certifying"
    workflow.perform(reviewer, case.id, "certify", case.version)
    assert case.status == "completed" and case.delivered_at is not None
    licence = db.session.scalar(select(ELicence).where(ELicence.application_id == case.id))
    assert licence is not None and licence.document.owner_id == case.applicant_id


def test_pickup_waits_for_chujian_at_a_counter_of_another_hall_which_records_a_visit(reviewer):
    case = permit_case(delivery_methods=["pickup"])
    to_decision(case, reviewer)
    workflow.perform(reviewer, case.id, "certify", case.version)
    assert case.status == "awaiting_pickup" and case.completed_at is None
    with pytest.raises(NotAuthorized):  # 出件 is handing over at a counter
        workflow.perform(reviewer, case.id, "pickup", case.version)
    hall = ServiceHall(code="QT01", name="青田便民服务中心")
    db.session.add(hall)
    db.session.flush()
    clerk = accounts.create_staff(
        username="counter77",
        password="Demo@2026x",
        role=Role.counter,
        display_name="窗口 77",
        department=user("counter01").department,
    )
    clerk.hall_id = hall.id
    assert clerk.hall_id != user("counter01").hall_id
    counter.begin_context(clerk, case.applicant)
    assert [a.id for a in counter.served(clerk).ready] == [case.id]
    before = case.visit_count
    counter.decide(clerk, case.id, "pickup", case.version)
    assert case.status == "completed" and case.delivered_at is not None
    assert case.visit_count == before + 1
    visit = db.session.scalar(select(Visit).where(Visit.application_id == case.id))
    assert visit.kind == "pickup" and visit.staff_id == clerk.id


def test_post_needs_a_carrier_and_a_valid_tracking_number_and_completes_on_receipt(reviewer):
    case = permit_case(delivery_methods=["post"])
    assert case.delivery_method == "post" and case.delivery_address
    to_decision(case, reviewer)
    workflow.perform(reviewer, case.id, "certify", case.version)
    assert case.status == "awaiting_post"
    for carrier, tracking, field in (
        ("", "EA123456789CN", "carrier"),
        ("pigeon", "EA123456789CN", "carrier"),
        ("ems", "", "tracking"),
        ("ems", "12345", "tracking"),
        ("ems", "EA12345678<9CN", "tracking"),
    ):
        with pytest.raises(ValidationError) as err:
            workflow.perform(
                reviewer, case.id, "mail", case.version, carrier=carrier, tracking=tracking
            )
        assert field in err.value.errors
    assert case.status == "awaiting_post" and case.post_tracking == ""
    workflow.perform(
        reviewer, case.id, "mail", case.version, carrier="sf", tracking="sf 1234-5678 9012"
    )
    assert case.status == "mailed" and case.completed_at is None  # posted, not yet delivered
    assert (case.post_carrier, case.post_tracking) == ("sf", "SF123456789012")
    bodies = db.session.scalars(select(Message.body).where(Message.application_id == case.id))
    assert any("SF123456789012" in body for body in bodies)
    with pytest.raises(NotFound):  # another citizen cannot confirm it
        workflow.perform(user("13800000001"), case.id, "confirm_receipt", case.version)
    workflow.perform(user("13800000002"), case.id, "confirm_receipt", case.version)
    assert case.status == "completed" and case.delivered_at is not None


def test_post_is_refused_on_the_form_without_an_address(app_ctx):
    owner = user("13800000002")
    item = item_named("居民身份证换领（有效期满）")
    draft = applications.start_draft(actor=owner, applicant=owner.citizen, item=item)
    answers = {"name": "李晓静", "phone": "13800000002", "id_number": owner.citizen.id_number}
    with pytest.raises(ValidationError) as err:
        applications.save_form(draft, {**answers, "delivery": "post", "address": ""})
    assert "q_address" in err.value.errors
    applications.save_form(draft, {**answers, "delivery": "counter", "address": ""})
    assert delivery.chosen_method(draft.item_version, draft.form_data) == "pickup"
    assert delivery.answer_problems(draft.item_version, {"delivery": "post"}) == {
        "q_address": "选择邮寄送达时，请填写收件地址"
    }


def test_instant_with_pickup_completes_in_one_move_but_waits_for_chujian(app_ctx):
    declare(UNEMPLOYMENT, delivery_methods=["pickup"])
    case = submit_case("13800000002", UNEMPLOYMENT, {"reason": "graduate"})
    clerk = user("counter01")
    counter.begin_context(clerk, case.applicant)
    counter.decide(clerk, case.id, "approve_instantly", case.version)
    assert case.status == "awaiting_pickup" and case.decided_at is not None
    assert db.session.scalar(select(ELicence).where(ELicence.application_id == case.id))
    counter.decide(clerk, case.id, "pickup", case.version)
    assert case.status == "completed"
    assert case.visit_count == 1  # one contact: 即办 and 出件 while the citizen waits


def test_instant_online_still_completes_in_one_move(app_ctx):
    declare(UNEMPLOYMENT, delivery_methods=["online"])
    case = submit_case("13800000002", UNEMPLOYMENT, {"reason": "graduate"})
    workflow.perform(user("reviewer02"), case.id, "approve_instantly", case.version)
    assert case.status == "completed" and case.delivered_at is not None


# ---- the licence's validity -----------------------------------------------------------------


def test_terms_parse_and_stay_structured():
    assert delivery.parse_term("1年") == {"years": 1}
    assert delivery.parse_term(" 10 年") == {"years": 10}
    assert delivery.parse_term("6个月") == {"months": 6}
    assert delivery.parse_term("长期") == {"long": True}
    assert delivery.parse_term("") is None
    for bad in ("一年", "0年", "1周", {"years": 0}, {"years": "1"}, {"long": False}):
        with pytest.raises(ValueError):
            delivery.parse_term(bad)
    assert delivery.term_valid_until({"years": 1}, date(2028, 2, 29)) == date(2029, 2, 28)
    assert delivery.term_valid_until({"long": True}, date(2026, 1, 1)) is None


@pytest.mark.parametrize(("term", "years"), [({"years": 1}, 1), ({"long": True}, None)])
def test_licence_validity_comes_from_the_items_term(reviewer, term, years):
    case = permit_case(delivery_methods=["online"], result_term=term)
    to_decision(case, reviewer)
    workflow.perform(reviewer, case.id, "certify", case.version)
    licence = db.session.scalar(select(ELicence).where(ELicence.application_id == case.id))
    today = clock.local_today()
    assert licence.issued_on == today
    expected = None if years is None else today + relativedelta(years=years)
    assert licence.valid_until == expected
    assert licence.document.valid_until == expected


def issued_licence(reviewer) -> ELicence:
    case = permit_case(delivery_methods=["online"], result_term={"years": 1})
    to_decision(case, reviewer)
    workflow.perform(reviewer, case.id, "certify", case.version)
    return db.session.scalar(select(ELicence).where(ELicence.application_id == case.id))


def test_expired_licences_show_as_expired_in_the_library_and_at_verification(reviewer):
    licence = issued_licence(reviewer)
    code = licence.holder_code
    assert elicences.verify_elicence(licence.number, code).outcome == "valid"
    after = licence.valid_until + timedelta(days=1)
    assert elicences.verify_elicence(licence.number, code, today=after).outcome == "expired"
    assert elicences.check_by_code(licence.verify_code, today=after).outcome == "expired"
    assert documents.document_state(licence.document, licence, today=after) == "expired"
    on_last_day = licence.valid_until
    assert elicences.verify_elicence(licence.number, code, today=on_last_day).outcome == "valid"


def test_a_revoked_licence_shows_as_cancelled_with_its_date_not_its_reason(reviewer):
    licence = issued_licence(reviewer)
    with pytest.raises(ValidationError):
        elicences.revoke_elicence(reviewer, licence.id, "   ")
    elicences.revoke_elicence(reviewer, licence.id, "持证人已迁出本市")
    assert licence.status == "cancelled" and licence.revoked_on == clock.local_today()
    assert licence.revoked_by_id == reviewer.id
    assert documents.document_state(licence.document, licence) == "revoked"
    assert elicences.verify_elicence(licence.number, licence.holder_code).outcome == "cancelled"
    record = elicences.check_by_code(licence.verify_code)
    assert record.outcome == "cancelled" and record.revoked_on == clock.local_today()
    assert "迁出" not in repr(record)
    event = db.session.scalar(
        select(Event).where(Event.action == "licence_revoked").order_by(Event.id.desc())
    )
    assert event.actor_id == reviewer.id and event.details["reason"] == "持证人已迁出本市"
    with pytest.raises(Conflict):
        elicences.revoke_elicence(reviewer, licence.id, "再次注销")


def test_revoke_is_refused_to_another_departments_reviewer_and_to_a_citizen(reviewer):
    licence = issued_licence(reviewer)
    with pytest.raises(NotFound):
        elicences.revoke_elicence(user("reviewer02"), licence.id, "理由")
    with pytest.raises(NotAuthorized):
        elicences.revoke_elicence(user("13800000002"), licence.id, "理由")
    with pytest.raises(NotAuthorized):
        elicences.revoke_elicence(user("counter01"), licence.id, "理由")
    assert licence.status == "valid"
    elicences.revoke_elicence(user("admin"), licence.id, "发证信息有误")
    assert licence.status == "cancelled"


# ---- the per-step clock ---------------------------------------------------------------------


def test_each_step_has_a_due_date_and_is_flagged_overdue(app, tx):
    # Monday 2026-03-02, 10:00 in Shanghai; 审核 has 2 working days
    with time_machine.travel("2026-03-02 02:00:00+00:00", tick=False), app.test_request_context():
        case = permit_case(steps=FIVE_STEPS, delivery_methods=["pickup"])
        workflow.perform(user("reviewer01"), case.id, "accept", case.version)
        step = delivery.step_clock(case)
        assert (step.index, step.name, step.limit) == (1, "审核", 2)
        assert step.started_on == date(2026, 3, 2) and step.due == date(2026, 3, 4)
        assert not step.overdue
        assert not delivery.step_clock(case, today=date(2026, 3, 4)).overdue
        case_id = case.id
        db.session.commit()  # into the test's outer transaction, for the next context
    with time_machine.travel("2026-03-05 02:00:00+00:00", tick=False), app.test_request_context():
        case = workflow.load_case(case_id)
        assert delivery.step_clock(case).overdue  # Thursday: past Wednesday's due date
        workflow.perform(user("reviewer01"), case.id, "start_review", case.version)
        workflow.perform(user("reviewer01"), case.id, "advance_step", case.version)
        step = delivery.step_clock(case)
        assert step.name == "决定" and step.due == date(2026, 3, 6) and not step.overdue


def test_a_case_decided_before_delivery_existed_is_sent_on_its_way(reviewer):
    """A case left in "approved" (decided before these states, e.g. the scale seed's): its
    department delivers it by its method; nothing else moves it."""
    case = permit_case(delivery_methods=["pickup"])
    case.status, case.delivery_method = "approved", None
    db.session.flush()
    assert "deliver" in workflow.offered_actions(case, reviewer)
    with pytest.raises(Conflict):
        workflow.perform(reviewer, case.id, "certify", case.version)
    workflow.perform(reviewer, case.id, "deliver", case.version)
    assert case.status == "awaiting_pickup" and case.delivery_method == "pickup"
