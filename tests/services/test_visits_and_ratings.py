"""Visits against the guide's promise, and 好差评 with its follow-up tickets."""

import pytest
from sqlalchemy import select

from portal.extensions import db
from portal.models import Application, FollowUpTicket, Visit
from services import clock, counter, ratings, visits, workdays, workflow
from services.errors import Conflict, NotAuthorized, NotFound, ValidationError
from tests.workflow_cases import RESIDENCE_PERMIT, submit_case, user


@pytest.fixture
def permit(app_ctx):
    return submit_case("13800000002", RESIDENCE_PERMIT, {"basis": "work", "agent": "no"})


def test_visits_count_and_beyond_the_guide_need_a_reason(permit):
    assert visits.promised_visits(permit) == 1
    counter.begin_context(user("counter01"), permit.applicant)
    visits.record_visit(permit, user("counter01"), "intake")
    assert permit.visit_count == 1
    with pytest.raises(ValidationError) as err:
        visits.record_visit(permit, user("reviewer01"), "pickup")
    assert "reason" in err.value.errors
    assert db.session.get(Application, permit.id).visit_count == 1
    visit = visits.record_visit(permit, user("reviewer01"), "pickup", "证件需当面签收")
    assert visit.beyond_guide and visit.number == 2 and permit.visit_count == 2
    assert [v.number for v in visits.visits_of(permit.id)] == [1, 2]


def test_visits_refuse_strangers_and_bad_input(permit):
    with pytest.raises(NotFound):
        visits.record_visit(permit, user("reviewer02"), "intake")
    with pytest.raises(NotAuthorized):
        visits.record_visit(permit, user("13800000002"), "intake")
    with pytest.raises(NotFound):  # the clerk is not serving the applicant
        visits.record_visit(permit, user("counter01"), "intake")
    counter.begin_context(user("counter01"), permit.applicant)
    with pytest.raises(ValidationError):
        visits.record_visit(permit, user("counter01"), "picnic")
    with pytest.raises(ValidationError):
        visits.record_visit(permit, user("counter01"), "intake", "bad\x00reason")
    assert db.session.scalar(select(Visit).where(Visit.application_id == permit.id)) is None


def finish(case):
    reviewer = user("reviewer01")
    workflow.perform(reviewer, case.id, "accept", case.version)
    workflow.perform(reviewer, case.id, "start_review", case.version)
    workflow.perform(reviewer, case.id, "approve", case.version)
    # 居住证 declares 制证 and is collected at a counter: 办结 only when handed over
    workflow.perform(reviewer, case.id, "certify", case.version)
    clerk = user("counter01")
    counter.begin_context(clerk, case.applicant)
    counter.decide(clerk, case.id, "pickup", case.version, visit_reason="申请人选择窗口领取")
    counter.end_context(clerk)
    assert case.status == "completed"


INDICATORS = dict.fromkeys(ratings.INDICATORS, 3)


def test_a_case_is_rated_once_after_completion(permit):
    citizen = user("13800000002")
    with pytest.raises(Conflict):
        ratings.rate_case(citizen, permit.id, score=5, indicators=INDICATORS, tags=[])
    finish(permit)
    with pytest.raises(NotFound):
        ratings.rate_case(user("13800000001"), permit.id, score=5, indicators=INDICATORS, tags=[])
    with pytest.raises(ValidationError) as err:
        ratings.rate_case(
            citizen,
            permit.id,
            score=6,
            indicators={**INDICATORS, "overall": "x"},
            tags=["nonsense"],
            comment="好" * 501,
        )
    assert {"score", "i_overall", "tags", "comment"} <= set(err.value.errors)
    rating = ratings.rate_case(citizen, permit.id, score=4, indicators=INDICATORS, tags=[])
    assert rating.score == 4 and not ratings.can_rate(citizen, permit)
    with pytest.raises(Conflict):
        ratings.rate_case(citizen, permit.id, score=1, indicators=INDICATORS, tags=[])
    assert (
        db.session.scalar(select(FollowUpTicket).where(FollowUpTicket.application_id == permit.id))
        is None
    )


def test_a_bad_rating_opens_a_ticket_due_in_15_working_days_and_follows_its_flow(permit):
    finish(permit)
    citizen, admin = user("13800000002"), user("admin")
    rating = ratings.rate_case(
        citizen,
        permit.id,
        score=2,
        indicators=INDICATORS,
        tags=["overdue", "extra_materials"],
        comment="要求补充指南外材料",
    )
    ticket = db.session.scalar(select(FollowUpTicket).where(FollowUpTicket.rating_id == rating.id))
    assert ticket.status == "verifying" and ticket.department_id == permit.department_id
    assert ticket.due_date == workdays.add_working_days(clock.local_today(), 15)
    with pytest.raises(NotAuthorized):
        ratings.advance_ticket(user("reviewer01"), ticket.id, "rectifying", "x")
    with pytest.raises(Conflict):
        ratings.advance_ticket(admin, ticket.id, "revisited", "跳过整改")
    with pytest.raises(ValidationError):
        ratings.advance_ticket(admin, ticket.id, "appealed", "")
    ratings.advance_ticket(admin, ticket.id, "appealed", "部门申诉：材料为法定要求")
    ratings.advance_ticket(admin, ticket.id, "revoked", "复核属实，撤销差评")
    assert ticket.status == "revoked" and [h["status"] for h in ticket.history] == [
        "verifying",
        "appealed",
        "revoked",
    ]
    with pytest.raises(Conflict):
        ratings.advance_ticket(admin, ticket.id, "rectifying", "x")
    assert ticket.id in [t.id for t in ratings.list_tickets(admin)]


def two_visits(permit):
    visits.record_visit(permit, user("reviewer01"), "original_check")
    visits.record_visit(permit, user("reviewer01"), "pickup", "证件需当面签收")


def test_each_visit_is_rated_once_apart_from_the_online_rating(permit):
    citizen = user("13800000002")
    two_visits(permit)
    assert [(v.number, r) for v, r in ratings.visits_to_rate(permit.id)] == [(1, None), (2, None)]
    # a visit may be rated while the case is still open; the online rating waits for 办结
    first = ratings.rate_case(
        citizen, permit.id, score="5", indicators={}, tags=[], comment="窗口很耐心", visit_no=1
    )
    assert first.visit_no == 1 and first.score == 5 and first.indicators == {}
    assert ratings.rating_of(permit.id) is None and ratings.rating_of(permit.id, 1).id == first.id
    with pytest.raises(Conflict):
        ratings.rate_case(citizen, permit.id, score="4", indicators={}, tags=[], visit_no=1)
    with pytest.raises(Conflict):
        ratings.rate_case(citizen, permit.id, score="4", indicators={}, tags=[])
    with pytest.raises(NotFound):
        ratings.rate_case(citizen, permit.id, score="4", indicators={}, tags=[], visit_no=3)
    with pytest.raises(ValidationError) as err:
        ratings.rate_case(citizen, permit.id, score="9", indicators={}, tags=[], visit_no=2)
    assert "score" in err.value.errors and ratings.rating_of(permit.id, 2) is None
    with pytest.raises(NotFound):  # another citizen's case
        ratings.rate_case(
            user("13800000001"), permit.id, score="5", indicators={}, tags=[], visit_no=2
        )
    assert [(v.number, r and r.id) for v, r in ratings.visits_to_rate(permit.id)] == [
        (1, first.id),
        (2, None),
    ]


def test_a_bad_visit_rating_opens_a_follow_up_ticket_like_the_online_one(permit):
    two_visits(permit)
    bad = ratings.rate_case(
        user("13800000002"),
        permit.id,
        score="1",
        indicators={},
        tags=[],
        comment="让我跑了两次",
        visit_no=2,
    )
    ticket = db.session.scalar(select(FollowUpTicket).where(FollowUpTicket.rating_id == bad.id))
    assert ticket is not None and ticket.status == "verifying"
    assert ticket.department_id == permit.department_id
    assert ticket.due_date == workdays.add_working_days(
        clock.local_today(), ratings.TICKET_WORKING_DAYS
    )
    good = ratings.rate_case(
        user("13800000002"), permit.id, score="4", indicators={}, tags=[], visit_no=1
    )
    assert (
        db.session.scalar(select(FollowUpTicket).where(FollowUpTicket.rating_id == good.id)) is None
    )
