"""Rating a case a second time (issue 11 §9): the citizen is told it was already rated and
when, in the city's time (not "现在不能评价"); the first rating stays the only one, and the
case page says when it was given."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import func, select

from portal.extensions import db
from portal.models import Application, Rating
from tests.conftest import csrf_token
from tests.helpers import submit_committed_case
from tests.workflow_cases import user

CITIZEN = "13800000001"
INDICATORS = {f"i_{k}": "4" for k in ("overall", "efficiency", "guide", "convenience", "usability")}
# 07:30 on 2 March in the city is still 1 March in UTC: the date shown must be the city's
RATED_AT_UTC = datetime(2026, 3, 1, 23, 30, tzinfo=UTC)


def _completed_case(query) -> int:
    return query(
        lambda: db.session.scalar(
            select(Application.id).where(
                Application.applicant_id == user(CITIZEN).citizen_id,
                Application.status == "completed",
            )
        )
    )


def _ratings(query, case_id: int) -> list[int]:
    return query(
        lambda: db.session.scalars(
            select(Rating.score).where(Rating.application_id == case_id)
        ).all()
    )


def test_a_second_rating_says_when_the_case_was_rated(client, login_as, query):
    case_id = _completed_case(query)
    login_as(CITIZEN)
    token = csrf_token(client, f"/cases/{case_id}/rate")
    first = client.post(
        f"/cases/{case_id}/rate", data={"csrf_token": token, "score": "4", **INDICATORS}
    )
    assert first.status_code == 302

    def rated_early_in_the_morning():  # as if given at 07:30 in the city (23:30 UTC)
        rating = db.session.scalar(select(Rating).where(Rating.application_id == case_id))
        rating.created_at = RATED_AT_UTC
        db.session.commit()

    query(rated_early_in_the_morning)

    # opening the rating page again: told when, sent to the case page
    again = client.get(f"/cases/{case_id}/rate", follow_redirects=True)
    html = again.get_data(as_text=True)
    assert "现在不能评价" not in html
    assert "您已于 2026-03-02 07:30 评价过这件办件" in html, html[:4000]
    assert "评价于 2026-03-02 07:30" in html  # the case page's own record of the rating

    # posting a second rating: the same message, and nothing written
    posted = client.post(
        f"/cases/{case_id}/rate",
        data={"csrf_token": token, "score": "1", **INDICATORS},
        follow_redirects=True,
    )
    assert "您已于 2026-03-02 07:30 评价过这件办件" in posted.get_data(as_text=True)
    assert _ratings(query, case_id) == [4]


def test_a_case_not_finished_yet_still_says_so(client, login_as, query):
    case_id = submit_committed_case(query, "13800000002")
    login_as("13800000002")
    html = client.get(f"/cases/{case_id}/rate", follow_redirects=True).get_data(as_text=True)
    assert "办结后才能评价" in html
    count = query(
        lambda: db.session.scalar(
            select(func.count()).select_from(Rating).where(Rating.application_id == case_id)
        )
    )
    assert count == 0
