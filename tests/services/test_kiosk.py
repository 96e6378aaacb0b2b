"""The kiosk: the throttled case check, help requests for the hall's clerks, kiosk applications."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from portal.extensions import db
from portal.models import (
    Channel,
    Event,
    Role,
    ServiceItem,
    StaffReminder,
    VerificationFailure,
)
from services import accounts, kiosk, review
from services.errors import NotFound, TooManyAttempts, ValidationError
from tests.helpers import hall
from tests.workflow_cases import RESIDENCE_PERMIT, item_named, submit_case, user


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
        assert (
            kiosk.check_case(
                "WB20990101000002", "110101199001011234", remote_addr="10.0.0.8", max_failures=3
            )
            is None
        )
    with pytest.raises(TooManyAttempts):
        kiosk.check_case(
            "WB20990101000003", "110101199001011234", remote_addr="10.0.0.8", max_failures=3
        )
    # a different terminal guessing the same number is refused too
    with pytest.raises(TooManyAttempts):
        kiosk.check_case(
            "WB20990101000002", "110101199001011234", remote_addr="10.0.0.7", max_failures=3
        )


def clerk_of(hall_code: str, username: str):
    """A counter clerk of the same department as counter01, seated in another hall."""
    other = accounts.create_staff(
        username=username,
        password="Another@2026x",
        role=Role.counter,
        display_name="窗口二",
        department=user("counter01").department,
    )
    other.hall_id = hall(hall_code).id
    db.session.flush()
    return other


def test_help_request_reaches_the_hall_clerks_until_acknowledged(app_ctx):
    clerk = user("counter01")
    elsewhere = clerk_of("BSZX", "counter_bszx")
    assert kiosk.request_help(hall(), where="kiosk.case_status") == 1
    assert kiosk.request_help(hall(), where="kiosk.case_status") == 0  # tapped again: one reminder
    open_requests = kiosk.help_requests(clerk)
    assert len(open_requests) == 1 and hall().name in open_requests[0].body
    assert open_requests[0].kind == "kiosk_help:SMZX" and open_requests[0].department_id is None
    assert db.session.scalar(select(func.count(Event.id)).where(Event.action == "kiosk_help")) >= 2
    # the same department's clerk of another hall neither sees nor answers it
    assert kiosk.help_requests(elsewhere) == []
    for outsider in (elsewhere, user("reviewer01"), user("admin")):
        with pytest.raises(NotFound):
            kiosk.acknowledge_help(outsider, open_requests[0].id)
    assert db.session.get(StaffReminder, open_requests[0].id).read_at is None
    kiosk.acknowledge_help(clerk, open_requests[0].id)
    assert kiosk.help_requests(clerk) == []
    assert db.session.get(StaffReminder, open_requests[0].id).read_at is not None
    assert kiosk.request_help(hall()) == 1  # answered: the next request is a new reminder
    # the other hall's request is its own, shown only to its clerk
    assert kiosk.request_help(hall("BSZX")) == 1
    assert [r.kind for r in kiosk.help_requests(elsewhere)] == ["kiosk_help:BSZX"]
    assert [r.kind for r in kiosk.help_requests(clerk)] == ["kiosk_help:SMZX"]
    kiosk.acknowledge_help(elsewhere, kiosk.help_requests(elsewhere)[0].id)
    assert kiosk.help_requests(elsewhere) == [] and len(kiosk.help_requests(clerk)) == 1
    # no department's reminder list carries kiosk help
    assert all(not r.kind.startswith("kiosk_help") for r in review.reminders(clerk))


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
