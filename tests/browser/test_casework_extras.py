"""The citizen's casework in Chromium: a new file uploaded on the correction page (a bad one is
refused next to its field), and 一次一评 — each in-person visit rated on the case page."""

import random
import re
from datetime import date

import pytest
from sqlalchemy import func, select

from portal.extensions import db
from portal.models import Application, Document, FollowUpTicket, Rating
from seeds.factories import make_id_number, make_png
from services import accounts, clock, visits, workflow
from tests.browser.conftest import assert_accessible, browser_login
from tests.conftest import DEMO_PASSWORD
from tests.workflow_cases import RESIDENCE_PERMIT, submit_case, user

pytestmark = pytest.mark.browser

CITIZEN = "13800000029"


@pytest.fixture(scope="module")
def cases(live_app):
    """Two cases of a new citizen: one whose photo the reviewer sent back for 补正, one with two
    in-person visits (made through the services in the live server's database)."""
    with live_app.app_context():
        accounts.register_citizen(
            phone=CITIZEN,
            password=DEMO_PASSWORD,
            name="孙小雨",
            address="人民路 29 号",
            id_number=make_id_number(
                date(1992, 3, 3), random.Random(29), female=True, area="310104"
            ),
        )
        corrected = submit_case(CITIZEN, RESIDENCE_PERMIT, {"basis": "work", "agent": "no"})
        photo = next(
            m for m in corrected.materials if m.requirement.material_type.name == "证件照数码回执"
        )
        workflow.perform(
            user("reviewer01"),
            corrected.id,
            "request_correction",
            corrected.version,
            materials={photo.requirement_id: "背景不是白色"},
        )
        visited = submit_case(CITIZEN, RESIDENCE_PERMIT, {"basis": "work", "agent": "no"})
        visits.record_visit(visited, user("reviewer01"), "original_check")
        visits.record_visit(visited, user("reviewer01"), "pickup", "证件需当面签收")
        db.session.commit()
        facts = {"corrected": corrected.id, "photo": photo.requirement_id, "visited": visited.id}
        db.session.remove()
    return facts


def in_db(live_app, fn):
    with live_app.app_context():
        try:
            return fn()
        finally:
            db.session.remove()


def test_a_new_file_is_uploaded_on_the_correction_page(
    page, live_server, live_app, cases, tmp_path
):
    case_id, req = cases["corrected"], cases["photo"]
    bad = tmp_path / "photo.png"
    bad.write_bytes(b"<html><script>alert(1)</script></html>")
    good = tmp_path / "白底照片.png"
    good.write_bytes(make_png())

    def documents():
        return in_db(
            live_app, lambda: db.session.scalar(select(func.count()).select_from(Document))
        )

    before = documents()

    browser_login(page, live_server, CITIZEN)
    page.goto(f"{live_server}/cases/{case_id}/correction")
    assert_accessible(page, "correction page with an upload form")
    page.set_input_files(f"#u{req}_file", str(bad))
    page.fill(f"#u{req}_issued_on", clock.local_today().isoformat())
    page.click(f"#m_{req}-title ~ form button[type=submit]")
    assert page.locator(f"#u{req}_file-error").is_visible()
    assert page.get_attribute(f"#u{req}_file", "aria-invalid") == "true"
    assert_accessible(page, "correction page with an upload error")
    assert documents() == before

    page.set_input_files(f"#u{req}_file", str(good))
    page.fill(f"#u{req}_issued_on", clock.local_today().isoformat())
    page.click(f"#m_{req}-title ~ form button[type=submit]")
    page.wait_for_url(re.compile(rf".*/cases/{case_id}/correction#m_{req}$"))
    assert "已上传，并选为补正材料" in page.inner_text("main")
    assert documents() == before + 1
    newest = in_db(live_app, lambda: db.session.scalar(select(func.max(Document.id))))
    checked = page.locator(f"input[name=m_{req}]:checked")
    assert checked.count() == 1 and checked.get_attribute("value") == f"doc:{newest}"
    page.click("button[form=resubmit]")
    assert "补正已提交" in page.inner_text("main")
    assert in_db(live_app, lambda: db.session.get(Application, case_id).status) == "submitted"


def test_each_visit_is_rated_on_the_case_page(page, live_server, live_app, cases):
    case_id = cases["visited"]
    browser_login(page, live_server, CITIZEN)
    page.goto(f"{live_server}/cases/{case_id}")
    assert page.locator("form[action$='/visits/1/rate']").count() == 1
    assert page.locator("form[action$='/visits/2/rate']").count() == 1
    assert_accessible(page, "case page with visit ratings")
    page.click("form[action$='/visits/2/rate'] button[type=submit]")  # no score: an error
    assert page.locator("#v2-score-error").is_visible()
    assert_accessible(page, "visit rating with an error")
    page.check("#v2-score-4")  # 非常不满意 (scores run 5 … 1)
    page.fill("#v2-comment", "让我跑了两次")
    page.click("form[action$='/visits/2/rate'] button[type=submit]")
    assert "感谢您对这次到场办理的评价" in page.inner_text("main")
    assert page.locator("form[action$='/visits/2/rate']").count() == 0
    assert "让我跑了两次" in page.inner_text("main")

    def rated():
        rating = db.session.scalar(
            select(Rating).where(Rating.application_id == case_id, Rating.visit_no == 2)
        )
        ticket = db.session.scalar(
            select(FollowUpTicket).where(FollowUpTicket.rating_id == rating.id)
        )
        return rating.score, ticket is not None

    assert in_db(live_app, rated) == (1, True)
