"""亲友代办 rules that must hold: an authorisation lets the agent act only while it is valid.

Each test here was checked by breaking the rule in services/ and seeing the test fail
(an expired, not yet started or revoked authorisation that still lets the agent act)."""

from datetime import date, timedelta

import pytest
from sqlalchemy import select

from portal.extensions import db
from portal.models import Authorisation, Grade, MaterialType, ServiceItem, User
from portal.models.base import utcnow
from seeds.factories import make_png
from services import applications, clock, documents, proxies
from services.errors import NotFound, ValidationError

TODAY = clock.local_today()


def user(phone: str) -> User:
    return db.session.scalar(select(User).where(User.phone == phone))


def an_item(name: str = "失业登记") -> ServiceItem:
    return next(
        i
        for i in db.session.scalars(select(ServiceItem))
        if i.published_version and i.published_version.name == name
    )


@pytest.fixture
def pair(app_ctx):
    """A principal (13800000003) and an agent (13800000001) with no authorisation yet."""
    principal, agent = user("13800000003"), user("13800000001")
    assert not db.session.scalars(
        select(Authorisation).where(
            Authorisation.principal_id == principal.citizen_id,
            Authorisation.agent_id == agent.citizen_id,
        )
    ).all()
    return principal, agent


def authorise(principal: User, agent: User, valid_from: date, valid_until: date) -> Authorisation:
    auth = Authorisation(
        principal_id=principal.citizen_id,
        agent_id=agent.citizen_id,
        valid_from=valid_from,
        valid_until=valid_until,
    )
    db.session.add(auth)
    db.session.flush()
    return auth


def principal_doc(principal: User):
    mt = db.session.scalar(select(MaterialType).where(MaterialType.name == "户口簿"))
    return documents.add_document(
        owner=principal.citizen,
        material_type=mt,
        data=make_png(),
        content_type="image/png",
        filename="hukou.png",
        grade=Grade.B,
        source="upload",
        issued_on=TODAY,
    )


def test_an_authorisation_that_ended_yesterday_lets_the_agent_do_nothing(pair):
    principal, agent = pair
    authorise(principal, agent, TODAY - timedelta(days=60), TODAY - timedelta(days=1))
    assert proxies.can_act_for(agent.citizen_id, principal.citizen_id) is False
    assert principal.citizen_id not in {c.id for c in proxies.principals_of(agent)}
    with pytest.raises(NotFound):
        applications.start_draft(actor=agent, applicant=principal.citizen, item=an_item())
    assert not documents.can_view(agent, principal_doc(principal))


def test_a_draft_started_under_a_valid_authorisation_is_closed_to_the_agent_once_it_ends(pair):
    principal, agent = pair
    auth = authorise(principal, agent, TODAY - timedelta(days=60), TODAY + timedelta(days=30))
    draft = applications.start_draft(actor=agent, applicant=principal.citizen, item=an_item())
    doc = principal_doc(principal)
    assert draft.agent_id == agent.citizen_id
    assert applications.get_own_draft(agent, draft.id).id == draft.id
    assert any(a.id == draft.id for a in applications.list_own_applications(agent))
    assert documents.can_view(agent, doc)

    auth.valid_until = TODAY - timedelta(days=1)  # the authorisation has run out
    db.session.flush()
    with pytest.raises(NotFound):
        applications.get_own_draft(agent, draft.id)
    with pytest.raises(NotFound):
        applications.get_own_application(agent, draft.id)
    assert all(a.id != draft.id for a in applications.list_own_applications(agent))
    assert not documents.can_view(agent, doc)
    # the principal keeps their own case
    assert applications.get_own_draft(principal, draft.id).id == draft.id


def test_the_last_day_of_an_authorisation_still_counts(pair):
    principal, agent = pair
    authorise(principal, agent, TODAY, TODAY)
    assert proxies.can_act_for(agent.citizen_id, principal.citizen_id) is True
    assert principal.citizen_id in {c.id for c in proxies.principals_of(agent)}
    draft = applications.start_draft(actor=agent, applicant=principal.citizen, item=an_item())
    assert draft.applicant_id == principal.citizen_id and draft.agent_id == agent.citizen_id
    # and on the day after, it does not
    assert (
        proxies.can_act_for(agent.citizen_id, principal.citizen_id, TODAY + timedelta(1)) is False
    )


def test_an_authorisation_that_starts_tomorrow_does_not_hold_today(pair):
    principal, agent = pair
    authorise(principal, agent, TODAY + timedelta(days=1), TODAY + timedelta(days=30))
    assert proxies.can_act_for(agent.citizen_id, principal.citizen_id) is False
    assert principal.citizen_id not in {c.id for c in proxies.principals_of(agent)}
    with pytest.raises(NotFound):
        applications.start_draft(actor=agent, applicant=principal.citizen, item=an_item())
    assert proxies.can_act_for(agent.citizen_id, principal.citizen_id, TODAY + timedelta(1))


def test_a_revoked_authorisation_within_its_dates_does_not_hold(pair):
    principal, agent = pair
    auth = authorise(principal, agent, TODAY - timedelta(days=1), TODAY + timedelta(days=30))
    assert proxies.can_act_for(agent.citizen_id, principal.citizen_id)
    auth.revoked_at = utcnow()
    db.session.flush()
    assert proxies.can_act_for(agent.citizen_id, principal.citizen_id) is False
    assert principal.citizen_id not in {c.id for c in proxies.principals_of(agent)}
    with pytest.raises(NotFound):
        applications.start_draft(actor=agent, applicant=principal.citizen, item=an_item())


def test_an_authorisation_is_for_its_principal_and_agent_only(pair):
    principal, agent = pair
    stranger = user("13800000002")
    authorise(principal, agent, TODAY - timedelta(days=1), TODAY + timedelta(days=30))
    # neither another agent nor the agent for another principal, nor the reverse direction
    assert proxies.can_act_for(stranger.citizen_id, principal.citizen_id) is False
    assert proxies.can_act_for(agent.citizen_id, stranger.citizen_id) is False
    assert proxies.can_act_for(principal.citizen_id, agent.citizen_id) is False
    assert proxies.can_act_for(None, principal.citizen_id) is False
    with pytest.raises(NotFound):
        applications.start_draft(actor=stranger, applicant=principal.citizen, item=an_item())


def test_an_authorisation_lasts_at_most_three_years_and_must_end_after_today(pair):
    principal, _ = pair
    three_years = TODAY + timedelta(days=3 * 365)
    for bad in (None, TODAY, TODAY - timedelta(days=1), three_years + timedelta(days=1)):
        with pytest.raises(ValidationError) as err:
            proxies.authorise_agent(principal, agent_phone="13800000001", valid_until=bad)
        assert "valid_until" in err.value.errors
    auth = proxies.authorise_agent(principal, agent_phone="13800000001", valid_until=three_years)
    assert (auth.valid_from, auth.valid_until) == (TODAY, three_years)
    tomorrow = proxies.authorise_agent(
        principal, agent_phone="13800000001", valid_until=TODAY + timedelta(days=1)
    )
    assert tomorrow.valid_until == TODAY + timedelta(days=1)


def test_the_principal_sees_the_authorisations_they_gave_and_only_those(pair):
    principal, agent = pair
    mine = authorise(principal, agent, TODAY, TODAY + timedelta(days=10))
    other = user("13800000002")
    authorise(other, agent, TODAY, TODAY + timedelta(days=10))
    given = proxies.given_by(principal)
    assert [(a.id, c.id) for a, c in given] == [(mine.id, agent.citizen_id)]
    stranger_auth = authorise(other, principal, TODAY, TODAY + timedelta(days=10))
    with pytest.raises(NotFound):
        proxies.revoke_authorisation(principal, stranger_auth.id)
    assert stranger_auth.revoked_at is None
