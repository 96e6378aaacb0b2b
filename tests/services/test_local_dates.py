"""Legal dates are the city's dates (PORTAL_TZ, Asia/Shanghai), tested at awkward instants.

Each instant is one where the UTC date (or a server's own zone) and Beijing's date differ or
a holiday begins: a case received "yesterday" would shift its 受理 and due dates by a day.
"""

from datetime import UTC, date, datetime

import pytest
import time_machine

from portal.extensions import db
from services import jobs, workflow
from tests.conftest import login
from tests.workflow_cases import RESIDENCE_PERMIT, submit_case, user

SOCIAL_SECURITY_CARD = "社会保障卡申领"  # 人社局, 5 工作日


def at(*args) -> time_machine.travel:
    return time_machine.travel(datetime(*args, tzinfo=UTC), tick=False)


def submit_and_accept(item: str, conditions: dict | None, reviewer: str):
    case = submit_case("13800000002", item, conditions)
    workflow.perform(user(reviewer), case.id, "accept", case.version)
    return case


def test_monday_0730_beijing_is_received_on_monday_not_sunday(app_ctx):
    # 2026-03-01 23:30 UTC is Monday 2026-03-02 07:30 in Beijing
    with at(2026, 3, 1, 23, 30):
        case = submit_and_accept(RESIDENCE_PERMIT, {"basis": "work", "agent": "no"}, "reviewer01")
        assert workflow.received_on(case) == date(2026, 3, 2)
        assert case.number[2:10] == "20260302"
        assert case.due_date == date(2026, 3, 9)  # 7 自然日 from Monday, not from Sunday


def test_the_last_working_day_before_the_spring_festival(app_ctx):
    # Saturday 2026-02-14 is a make-up working day (调休); 春节 rest runs 02-15 to 02-23.
    # 07:30 Beijing on it is still Friday 02-13 in UTC.
    with at(2026, 2, 13, 23, 30):
        case = submit_and_accept(SOCIAL_SECURITY_CARD, None, "reviewer02")
        assert workflow.received_on(case) == date(2026, 2, 14)
        # 5 working days after 02-14: 02-24, 25, 26, 27 and Saturday 02-28 (调休 working day);
        # counted from the UTC date 02-13 it would wrongly end on 02-27
        assert case.due_date == date(2026, 2, 28)


@pytest.mark.parametrize(
    ("instant", "received"),
    [
        ((2026, 9, 30, 15, 59), date(2026, 9, 30)),  # 23:59 Beijing before 国庆
        ((2026, 9, 30, 16, 30), date(2026, 10, 1)),  # 00:30 Beijing on 国庆, 09-30 in UTC
    ],
)
def test_a_minute_before_and_after_midnight_before_a_holiday(app_ctx, instant, received):
    with at(*instant):
        case = submit_case("13800000002", SOCIAL_SECURITY_CARD)
        assert workflow.received_on(case) == received
        assert case.number[2:10] == f"{received:%Y%m%d}"


def test_across_new_year(app_ctx):
    # 2025-12-31 23:30 UTC is 2026-01-01 07:30 Beijing: a case of the new year
    with at(2025, 12, 31, 23, 30):
        case = submit_case("13800000002", SOCIAL_SECURITY_CARD)
        assert workflow.received_on(case) == date(2026, 1, 1)
        assert case.number[2:10] == "20260101"


def test_deemed_acceptance_counts_from_the_local_day_of_arrival(app_ctx):
    # arrived Monday 2026-03-02 07:30 Beijing (Sunday in UTC); 5 working days pass on 03-09
    with at(2026, 3, 1, 23, 30):
        case = submit_case("13800000002", SOCIAL_SECURITY_CARD)
    with at(2026, 3, 9, 2, 0):  # 03-09 10:00 Beijing: not yet past 5 working days
        jobs.flag_deemed_acceptance(date(2026, 3, 9))
        assert case.deemed_accepted_at is None
    with at(2026, 3, 10, 2, 0):
        jobs.flag_deemed_acceptance(date(2026, 3, 10))
        db.session.refresh(case)
        assert case.deemed_accepted_at is not None
        # 视为受理 from the day of arrival: 5 working days after 03-02
        assert case.due_date == date(2026, 3, 9)


def test_the_case_page_shows_beijing_time(client, query):
    with at(2026, 3, 1, 23, 30):

        def submit():
            case = submit_case("13800000002", RESIDENCE_PERMIT, {"basis": "work", "agent": "no"})
            db.session.commit()
            return case.id

        case_id = query(submit)
        assert login(client, "13800000002").status_code == 302
        page = client.get(f"/cases/{case_id}").get_data(as_text=True)
    assert "2026-03-02 07:30" in page
    assert "2026-03-01 23:30" not in page
