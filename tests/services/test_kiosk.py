"""The kiosk: the throttled case check, help requests for the hall's clerks, kiosk applications."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from portal.extensions import db
from portal.models import (
    Channel,
    Event,
    ServiceHall,
    ServiceItem,
    StaffReminder,
    VerificationFailure,
)
from services import kiosk
from services.errors import NotFound, TooManyAttempts, ValidationError
from tests.workflow_cases import RESIDENCE_PERMIT, item_named, submit_case, user


def hall(code: str = "SMZX") -> ServiceHall:
    return db.session.scalar(select(ServiceHall).where(ServiceHall.code == code))


def failures() -> int:
    return db.session.scalar(select(func.count(VerificationFailure.id)))


def test_case_check_shows_status_only_for_the_right_pair(app_ctx):
    case = submit_case("13800000002", RESIDENCE_PERMIT, {"basis": "work", "agent": "no"})
    id_number = case.applicant.id_number
    found = kiosk.check_case(case.number.lower(), id_number, remote_addr="10.0.0.9")
    assert found.status == case.status and found.item == case.title
    assert found.number != case.number and found.number[-4:] == case.number[-4:]
    assert case.applicant.name not in found.applicant
    before = failures()
    wrong_id = "110101199001011234" if id_number != "110101199001011234" else "110101199001011235"
    assert kiosk.check_case(case.number, wrong_id, remote_addr="10.0.0.9") is None
    assert kiosk.check_case("WB20990101000001", id_number, remote_addr="10.0.0.9") is None
    assert failures() == before + 2


def test_case_check_validates_and_throttles(app_ctx):
    with pytest.raises(ValidationError) as bad:
        kiosk.check_case("", "123", remote_addr="10.0.0.8")
    assert set(bad.value.errors) == {"number", "id_number"}
    for _ in range(3):
        assert kiosk.check_case("WB20990101000002", "110101199001011234", remote_addr="10.0.0.8",
                                max_failures=3) is None
    with pytest.raises(TooManyAttempts):
        kiosk.check_case("WB20990101000003", "110101199001011234", remote_addr="10.0.0.8", max_failures=3)
    # a different terminal guessing the same number is refused too
    with pytest.raises(TooManyAttempts):
        kiosk.check_case("WB20990101000002", "110101199001011234", remote_addr="10.0.0.7", max_failures=3)


def test_help_request_reaches_the_hall_clerks_until_acknowledged(app_ctx):
    clerk = user("counter01")
    assert kiosk.request_help(hall(), where="kiosk.case_status") == 1
    assert kiosk.request_help(hall(), where="kiosk.case_status") == 0  # tapped again: one reminder
    open_requests = kiosk.help_requests(clerk)
    assert len(open_requests) == 1 and hall().name in open_requests[0].body
    assert open_requests[0].department_id == clerk.department_id and open_requests[0].kind == "kiosk_help"
    assert db.session.scalar(select(func.count(Event.id)).where(Event.action == "kiosk_help")) >= 1
    with pytest.raises(NotFound):
        kiosk.acknowledge_help(user("reviewer01"), open_requests[0].id)
    kiosk.acknowledge_help(clerk, open_requests[0].id)
    assert kiosk.help_requests(clerk) == []
    assert db.session.get(StaffReminder, open_requests[0].id).read_at is not None
    assert kiosk.request_help(hall()) == 1  # answered: the next request is a new reminder
    # a hall without clerks writes no reminder, but the request is still in the audit trail
    assert kiosk.request_help(hall("XJZX")) == 0


def test_kiosk_applications_only_for_kiosk_items(app_ctx):
    citizen = user("13800000002")
    items = kiosk.kiosk_items()
    assert len(items) == 8 and all(i.kiosk_enabled for i in items)
    draft = kiosk.start_kiosk_application(citizen, items[0].code)
    assert draft.channel == Channel.kiosk and draft.applicant_id == citizen.citizen_id
    assert draft.status == "draft"
    other = item_named(RESIDENCE_PERMIT)
    assert not db.session.get(ServiceItem, other.id).kiosk_enabled
    with pytest.raises(NotFound, match="自助终端"):
        kiosk.start_kiosk_application(citizen, other.code)
    with pytest.raises(NotFound):
        kiosk.start_kiosk_application(user("counter01"), items[0].code)
