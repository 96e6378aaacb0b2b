"""Who may act on a case or a library, rules that must hold (services/case_access): the clerk
who made an offline intake acts on its draft, and scans into its applicant's library, only
while it is a draft being sent, and for that applicant only.

Written to kill mutants of services/case_access.py that survived scripts/mutate.py; each test
was checked by applying the mutant and seeing it fail."""

import uuid

import pytest
from sqlalchemy import select

from portal.extensions import db
from portal.models import Channel, IntakeKey, ServiceItem, User
from services import applications, case_access
from services.errors import NotFound


def user(phone: str) -> User:
    return db.session.scalar(select(User).where(User.phone == phone))


@pytest.fixture
def intake(app_ctx):
    """counter01's offline intake for 13800000002, its draft made, no citizen being served."""
    clerk = db.session.scalar(select(User).where(User.username == "counter01"))
    assert case_access.serving_citizen_id(clerk) is None
    applicant = user("13800000002").citizen
    item = next(
        i
        for i in db.session.scalars(select(ServiceItem))
        if i.published_version and i.published_version.name == "居住证申领"
    )
    claim = IntakeKey(key=str(uuid.uuid4()), staff_id=clerk.id, response={})
    db.session.add(claim)
    db.session.flush()
    draft = applications.start_draft(
        actor=clerk, applicant=applicant, item=item, channel=Channel.counter, intake=claim
    )
    assert claim.application_id == draft.id
    return clerk, claim, draft, applicant


def test_the_clerk_acts_on_the_draft_of_their_offline_intake(intake):
    clerk, _, draft, _ = intake
    assert case_access.is_offline_intake_draft(clerk, draft)
    assert case_access.may_act_on(clerk, draft)
    assert applications.get_own_draft(clerk, draft.id).id == draft.id
    draft.status = "submitted"  # sent: from now on only the serving clerk sees it
    db.session.flush()
    assert not case_access.is_offline_intake_draft(clerk, draft)
    assert not case_access.may_act_on(clerk, draft)


def test_the_clerk_scans_into_the_library_of_their_intakes_applicant_only(intake):
    clerk, claim, draft, applicant = intake
    stranger = user("13800000001").citizen
    assert case_access.may_upload_for(clerk, applicant, claim)
    assert not case_access.may_upload_for(clerk, stranger, claim)
    assert not case_access.may_upload_for(clerk, applicant, None)  # nobody is being served
    claim.application_id = None  # a claim whose draft is not made (or was dropped)
    db.session.flush()
    assert not case_access.may_upload_for(clerk, applicant, claim)
    claim.application_id = draft.id
    draft.status = "submitted"
    db.session.flush()
    assert not case_access.may_upload_for(clerk, applicant, claim)


def test_a_clerk_serving_nobody_starts_no_draft_and_an_intake_makes_one_draft_only(intake):
    clerk, claim, draft, applicant = intake
    item = draft.item_version.item
    assert not case_access.may_start_draft(clerk, applicant, Channel.counter)
    with pytest.raises(NotFound):
        applications.start_draft(
            actor=clerk, applicant=applicant, item=item, channel=Channel.counter
        )
    # the claim already has its draft: it cannot make another
    assert not case_access.may_start_draft(clerk, applicant, Channel.counter, claim)
    with pytest.raises(NotFound):
        applications.start_draft(
            actor=clerk, applicant=applicant, item=item, channel=Channel.counter, intake=claim
        )
    fresh = IntakeKey(key=str(uuid.uuid4()), staff_id=clerk.id, response={})
    db.session.add(fresh)
    db.session.flush()
    assert case_access.may_start_draft(clerk, applicant, Channel.counter, fresh)
    assert not case_access.may_start_draft(clerk, applicant, Channel.online, fresh)
