"""The counter workstation's services: a walk-in found or registered, intake on their behalf
(also through an agent with a 授权委托书), originals checked once for every later case, one
visit per case per contact, the outcomes through the workflow table, and every refusal."""

from __future__ import annotations

import random
from datetime import date

import pytest
from sqlalchemy import func, select

from portal.extensions import db
from portal.models import (
    Application,
    ApplicationMaterial,
    Citizen,
    DataUseLog,
    Document,
    Event,
    Grade,
    Notice,
    User,
    Visit,
)
from seeds.factories import make_id_number, make_png
from services import accounts, applications, casework, clock, counter, workflow
from services.errors import Conflict, NotAuthorized, NotFound, ValidationError
from tests.access.counter import counter_intake
from tests.conftest import DEMO_PASSWORD
from tests.workflow_cases import RESIDENCE_PERMIT, UNEMPLOYMENT, item_named, submit_case, user


def new_id(seed: int, born: date = date(1985, 3, 9)) -> str:
    return make_id_number(born, random.Random(seed), area="310101")


@pytest.fixture
def clerk(app_ctx) -> User:
    return user("counter01")


def walk_in(clerk: User, seed: int = 1, phone: str = "13912340001") -> Citizen:
    return counter.register_walk_in(
        clerk, name="钱多多", id_number=new_id(seed), phone=phone, address="南京西路 1 号"
    )


def scan(clerk: User, app: Application, requirement_id: int) -> Document:
    return applications.upload_for(
        clerk,
        app,
        requirement_id,
        data=make_png(),
        filename="scan.png",
        issued_on=clock.local_today(),
        own_expiry=None,
    )


def fill_in(clerk: User, item_name: str, conditions: dict[str, str] | None = None) -> Application:
    return counter_intake(clerk, item_name, conditions)


# ---- finding and registering --------------------------------------------------------------


def test_lookup_by_id_number_or_phone_begins_the_context(clerk):
    citizen = user("13800000002").citizen
    assert counter.lookup_citizen(clerk, citizen.id_number) == citizen
    assert counter.serving_citizen_id(clerk) == citizen.id
    assert counter.lookup_citizen(clerk, "138 0000 0002") == citizen
    assert counter.lookup_citizen(clerk, new_id(77)) is None  # unknown: registered on the spot next


@pytest.mark.parametrize("typed", ["110101199003071235", "110101199002301234", "12345", ""])
def test_a_bad_id_number_or_phone_is_refused_next_to_the_field(clerk, typed):
    with pytest.raises(ValidationError) as err:
        counter.lookup_citizen(clerk, typed)
    assert set(err.value.errors) == {"query"}
    assert counter.current_context(clerk) is None


def test_register_walk_in_then_activate_online_with_the_same_phone(clerk):
    citizen = walk_in(clerk)
    assert citizen.user is None and counter.serving_citizen_id(clerk) == citizen.id
    assert counter.find_citizen("13912340001") == citizen
    user_ = accounts.register_citizen(
        phone="13912340001", password=DEMO_PASSWORD, name="钱多多", id_number=citizen.id_number
    )
    assert user_.citizen_id == citizen.id
    assert (
        db.session.scalar(
            select(func.count()).select_from(Citizen).where(Citizen.id_number == citizen.id_number)
        )
        == 1
    )


def test_activation_still_refuses_someone_elses_phone(clerk):
    walk_in(clerk)
    with pytest.raises(ValidationError) as err:
        accounts.register_citizen(
            phone="13912340001", password=DEMO_PASSWORD, name="孙小美", id_number=new_id(2)
        )
    assert "phone" in err.value.errors


def test_a_phone_registered_to_someone_else_is_refused(clerk):
    before = db.session.scalar(select(func.count()).select_from(Citizen))
    with pytest.raises(ValidationError) as err:
        walk_in(clerk, phone="13800000001")
    assert set(err.value.errors) == {"phone"}
    with pytest.raises(ValidationError) as err:
        counter.register_walk_in(
            clerk, name="x", id_number="110101199003071235", phone="1", address=""
        )
    assert set(err.value.errors) == {"name", "id_number", "phone"}
    assert db.session.scalar(select(func.count()).select_from(Citizen)) == before
    assert counter.current_context(clerk) is None


def test_reveal_is_logged_for_the_citizen(clerk):
    citizen = walk_in(clerk)
    counter.reveal_citizen(clerk)
    log = db.session.scalar(select(DataUseLog).where(DataUseLog.citizen_id == citizen.id))
    assert log.action == "reveal_personal_data" and log.actor_id == clerk.id
    event = db.session.scalar(
        select(Event)
        .where(Event.action == "personal_data_revealed")
        .order_by(Event.id.desc())
        .limit(1)
    )
    assert event.actor_id == clerk.id and event.details["citizen"] == citizen.id


def test_only_counter_staff_serve(app_ctx):
    with pytest.raises(NotAuthorized):
        counter.lookup_citizen(user("reviewer01"), "13800000002")
    with pytest.raises(Conflict):  # nobody is being served
        counter.start_intake(user("counter01"), item_named(UNEMPLOYMENT).code)


# ---- intake, agent, originals, visits, outcomes ------------------------------------------


def test_instant_intake_is_approved_and_handed_over_in_one_visit(clerk):
    walk_in(clerk)
    app = fill_in(clerk, UNEMPLOYMENT, {"reason": "other"})
    assert app.channel.value == "counter" and app.created_by_id == clerk.id
    app = counter.submit_intake(clerk, app.id, app.submit_token)
    assert app.number.startswith("CK")
    assert "approve_instantly" in counter.case_view(clerk, app.id).actions
    counter.decide(clerk, app.id, "approve_instantly", app.version)
    if app.status == "approved":  # a result handed over at the counter (出件)
        counter.decide(clerk, app.id, "complete", app.version)
    assert app.status == "completed"
    kinds = {
        n.kind for n in db.session.scalars(select(Notice).where(Notice.application_id == app.id))
    }
    assert {"approval", "completion"} <= kinds
    visits = list(db.session.scalars(select(Visit).where(Visit.application_id == app.id)))
    assert [(v.kind, v.staff_id) for v in visits] == [("intake", clerk.id)]
    events = db.session.scalars(
        select(Event).where(
            Event.application_id == app.id, Event.action.in_(("submitted", "approved", "completed"))
        )
    )
    assert {e.actor_id for e in events} == {clerk.id}


def test_original_checked_raises_the_document_for_later_cases(clerk):
    citizen = walk_in(clerk)
    app = fill_in(clerk, RESIDENCE_PERMIT, {"basis": "work", "agent": "no"})
    app = counter.submit_intake(clerk, app.id, app.submit_token)
    material = next(m for m in app.materials if m.document_id)
    doc = db.session.get(Document, material.document_id)
    assert doc.grade == Grade.C and doc.source == "counter" and doc.owner_id == citizen.id
    counter.check_original(clerk, app.id, material.id)
    assert doc.grade == Grade.B and doc.verified_by_id == clerk.id
    counter.decide(clerk, app.id, "accept", app.version)
    assert app.status == "accepted"
    assert (
        db.session.scalar(
            select(func.count()).select_from(Visit).where(Visit.application_id == app.id)
        )
        == 1
    )
    # the next contact: a later case proposes the checked document as grade B
    counter.end_context(clerk)
    counter.lookup_citizen(clerk, citizen.id_number)
    later = counter.start_intake(clerk, item_named(RESIDENCE_PERMIT).code)
    applications.save_conditions(later, {"basis": "house", "agent": "no"})
    snapshot = applications.snapshot_materials(later)
    proposal = snapshot.proposals[material.requirement_id]
    assert proposal.document is not None and proposal.document.id == doc.id
    assert proposal.document.grade == Grade.B


def test_itemised_correction_and_not_accepted(clerk):
    walk_in(clerk)
    app = fill_in(clerk, RESIDENCE_PERMIT, {"basis": "work", "agent": "no"})
    app = counter.submit_intake(clerk, app.id, app.submit_token)
    photo, id_card = (m.requirement_id for m in app.materials if m.document_id)
    with pytest.raises(ValidationError):
        counter.decide(
            clerk, app.id, "request_correction", app.version, fields={}, materials={photo: ""}
        )
    counter.decide(
        clerk,
        app.id,
        "request_correction",
        app.version,
        fields={"address": "门牌号不完整"},
        materials={photo: "背景不是白色", id_card: "复印不清"},
    )
    assert app.status == "correction_required"
    request = workflow.open_correction(app)
    assert {(i["kind"], i["reason"]) for i in request.items} == {
        ("field", "门牌号不完整"),
        ("material", "背景不是白色"),
        ("material", "复印不清"),
    }
    assert (
        db.session.scalar(select(Notice.kind).where(Notice.application_id == app.id))
        == "correction"
    )
    visits_ = db.session.scalar(
        select(func.count()).select_from(Visit).where(Visit.application_id == app.id)
    )
    assert visits_ == 1  # intake and correction in one contact: one visit

    other = fill_in(clerk, UNEMPLOYMENT, {"reason": "other"})
    other = counter.submit_intake(clerk, other.id, other.submit_token)
    with pytest.raises(ValidationError) as err:
        counter.decide(clerk, other.id, "not_accept", other.version, reason="", refer_to="")
    assert set(err.value.errors) == {"reason", "refer_to"}
    counter.decide(
        clerk,
        other.id,
        "not_accept",
        other.version,
        reason="不属于本市受理范围",
        refer_to="户籍地人社局",
    )
    assert other.status == "not_accepted"
    assert (
        db.session.scalar(select(Notice.kind).where(Notice.application_id == other.id))
        == "not_accepted"
    )


def test_an_agent_needs_the_authorisation_before_submission(clerk):
    citizen = walk_in(clerk)
    with pytest.raises(ValidationError):  # the applicant cannot be their own agent
        counter.record_agent(clerk, name="钱多多", id_number=citizen.id_number, phone="13912340001")
    agent = counter.record_agent(clerk, name="周到", id_number=new_id(3), phone="13912340003")
    app = fill_in(clerk, UNEMPLOYMENT, {"reason": "other"})
    assert app.agent_id == agent.id
    with pytest.raises(ValidationError) as err:
        counter.submit_intake(clerk, app.id, app.submit_token)
    assert "authorisation" in err.value.errors
    assert app.status == "draft"
    with pytest.raises(
        ValidationError
    ) as err:  # M030 is valid for months after issue: the date is needed
        counter.attach_authorisation(
            clerk, app.id, data=make_png(), filename="auth.png", issued_on=None, own_expiry=None
        )
    assert "authorisation_issued_on" in err.value.errors
    doc = counter.attach_authorisation(
        clerk,
        app.id,
        data=make_png(),
        filename="auth.png",
        issued_on=clock.local_today(),
        own_expiry=None,
    )
    assert doc.owner_id == citizen.id and doc.material_type.code == "M030"
    app = counter.submit_intake(clerk, app.id, app.submit_token)
    assert (
        app.status != "draft" and app.agent_id == agent.id and app.agent_authorisation_id == doc.id
    )


def test_a_clerk_not_serving_the_applicant_is_refused_and_logged(clerk):
    online = submit_case("13800000002", RESIDENCE_PERMIT, {"basis": "work", "agent": "no"})
    walk_in(clerk)
    with pytest.raises(NotAuthorized):
        counter.case_view(clerk, online.id)
    refused = db.session.scalar(
        select(Event).where(
            Event.action == "counter_access_refused", Event.application_id == online.id
        )
    )
    assert refused is not None and refused.actor_id == clerk.id
    with pytest.raises(NotAuthorized):
        counter.decide(clerk, online.id, "accept", online.version)
    with pytest.raises(NotFound):
        workflow.set_material_verdict(clerk, online.id, online.materials[0].id, "original_checked")
    assert online.status == "submitted"


def test_online_case_original_check_at_the_counter_counts_one_visit(clerk):
    online = submit_case("13800000002", RESIDENCE_PERMIT, {"basis": "work", "agent": "no"})
    counter.lookup_citizen(clerk, "13800000002")
    material = next(m for m in online.materials if m.document_id)
    counter.check_original(clerk, online.id, material.id)
    other = next(m for m in online.materials if m.document_id and m.id != material.id)
    counter.check_original(clerk, online.id, other.id)
    assert [
        v.kind for v in db.session.scalars(select(Visit).where(Visit.application_id == online.id))
    ] == ["original_check"]


CERTIFICATE = "无犯罪记录证明开具"  # 即办件 with a paper result: handed over at the counter


def test_a_ready_result_is_handed_over_at_the_counter(clerk):
    citizen = walk_in(clerk)
    item_named(CERTIFICATE).published_version.delivery_methods = ["pickup"]  # a paper result
    app = fill_in(clerk, CERTIFICATE, {"agent": "no"})
    app = counter.submit_intake(clerk, app.id, app.submit_token)
    counter.decide(clerk, app.id, "approve_instantly", app.version)
    assert app.status == "awaiting_pickup"  # 即办: decided at once, 办结 when handed over
    assert [a.id for a in counter.served(clerk).ready] == [app.id]
    counter.end_context(clerk)
    # the next day: a new contact, a second visit beyond the guide's promise needs a reason
    counter.lookup_citizen(clerk, citizen.phone)
    db.session.commit()
    with pytest.raises(ValidationError) as err:
        counter.decide(clerk, app.id, "pickup", app.version, visit_reason="")
    assert "visit_reason" in err.value.errors
    db.session.rollback()  # as the request does: the handing over did not happen
    app = db.session.get(Application, app.id)
    assert app.status == "awaiting_pickup"
    counter.decide(clerk, app.id, "pickup", app.version, visit_reason="证明需本人当面签收")
    assert app.status == "completed"
    completion = db.session.scalar(
        select(Event).where(Event.application_id == app.id, Event.action == "completed")
    )
    assert completion.actor_id == clerk.id and completion.details["delivery"] == "pickup"
    kinds = [
        (v.kind, v.beyond_guide)
        for v in db.session.scalars(
            select(Visit).where(Visit.application_id == app.id).order_by(Visit.number)
        )
    ]
    assert kinds == [("intake", True), ("pickup", True)]


def test_the_walk_in_brings_the_corrections_back_to_a_counter(clerk):
    """一次性告知 at the counter; at the next contact the clerk changes only the listed items
    (a new scan for the material), resubmits, and that contact is the case's second visit."""
    citizen = walk_in(clerk)
    app = fill_in(clerk, RESIDENCE_PERMIT, {"basis": "work", "agent": "no"})
    app = counter.submit_intake(clerk, app.id, app.submit_token)
    photo = next(m for m in app.materials if m.document_id)
    old_doc = photo.document_id
    counter.decide(
        clerk,
        app.id,
        "request_correction",
        app.version,
        fields={},
        materials={photo.requirement_id: "背景不是白色"},
    )
    counter.end_context(clerk)
    with pytest.raises(NotAuthorized):  # not serving the applicant any more
        counter.resubmit_correction(clerk, app.id, app.version, answers={}, documents={})
    counter.lookup_citizen(clerk, citizen.id_number)
    other_material = next(m for m in app.materials if m.requirement_id != photo.requirement_id)
    with pytest.raises(ValidationError):  # everything the notice did not list stays locked
        counter.resubmit_correction(
            clerk,
            app.id,
            app.version,
            answers={},
            documents={other_material.requirement_id: old_doc},
        )
    assert app.status == "correction_required"
    doc = casework.upload_for_correction(
        clerk,
        app.id,
        photo.requirement_id,
        data=make_png(colour=(250, 250, 250)),
        filename="photo.png",
        issued_on=clock.local_today(),
        own_expiry=None,
    )
    assert doc.owner_id == citizen.id and doc.source == "counter"
    counter.resubmit_correction(
        clerk, app.id, app.version, answers={}, documents={photo.requirement_id: doc.id}
    )
    assert app.status == "submitted"
    assert db.session.get(ApplicationMaterial, photo.id).document_id == doc.id
    assert app.visit_count == 2
