"""The counter's intake page keeps what the clerk typed, through the web layer (issue 11 §7).

A scan posts the whole page: what is valid is saved with it, a value that is not is shown
again without an error, and nothing is asked for before the clerk submits; a scan without
the CSRF token writes nothing; 提交 with a required field emptied shows the error next to it
and keeps everything typed."""

from __future__ import annotations

import io
import random
import re
from datetime import date

from sqlalchemy import select

from portal.extensions import db
from portal.models import Application, ApplicationMaterial
from seeds.factories import make_id_number, make_png
from services import clock
from tests.conftest import csrf_token
from tests.workflow_cases import RESIDENCE_PERMIT

WALK_IN = {
    "name": "郑可欣",
    "id_number": make_id_number(date(1992, 9, 9), random.Random(913), area="330102"),
    "phone": "13912349088",
    "address": "庆春路十八号",
}
TYPED = {
    "intake_form": "1",
    "c_basis": "work",
    "c_agent": "no",
    "q_move_in_date": "2025-03-18",
    "q_employer": "西湖文化广场管理处",
}


def _post(client, path, data, page):
    return client.post(path, data={"csrf_token": csrf_token(client, page), **data})


def _open_intake(client) -> tuple[str, int, str]:
    """The walk-in registered and served; returns the intake URL, draft id and its page."""
    _post(client, "/counter/lookup", {"lookup-query": WALK_IN["id_number"]}, "/counter/")
    done = _post(
        client, "/counter/register", {f"register-{k}": v for k, v in WALK_IN.items()}, "/counter/"
    )
    assert done.status_code == 302
    items = client.get(f"/counter/?q={RESIDENCE_PERMIT}").get_data(as_text=True)
    code = re.search(r'name="item" value="([^"]+)"', items).group(1)
    intake = _post(client, "/counter/intake", {"item": code}, "/counter/").headers["Location"]
    return intake, int(intake.rstrip("/").split("/")[-1]), client.get(intake).get_data(as_text=True)


def _draft(query, draft_id):
    def load():
        app = db.session.get(Application, draft_id)
        return dict(app.condition_answers or {}), dict(app.form_data or {}), app.status

    return query(load)


def test_a_scan_keeps_the_typed_values_and_asks_for_nothing(client, login_as, query):
    login_as("counter01")
    intake, draft_id, page = _open_intake(client)
    assert "此项必填" not in page and "还有以下问题" not in page
    photo = re.search(r'id="(u\d+)_issued_on"', page).group(1)  # 证件照数码回执 (6 months)

    # without the CSRF token: refused, nothing written
    refused = client.post(f"{intake}/materials/{photo[1:]}/scan", data=TYPED)
    assert refused.status_code == 400
    assert _draft(query, draft_id)[0] == {}

    scanned = _post(
        client,
        f"{intake}/materials/{photo[1:]}/scan",
        {
            **TYPED,
            f"{photo}_file": (io.BytesIO(make_png()), "photo.png"),
            f"{photo}_issued_on": clock.local_today().isoformat(),
        },
        intake,
    )
    assert scanned.status_code == 302, scanned.get_data(as_text=True)[:2000]
    conditions, answers, status = _draft(query, draft_id)
    assert conditions == {"basis": "work", "agent": "no"} and status == "draft"
    assert answers["move_in_date"] == "2025-03-18" and answers["employer"] == TYPED["q_employer"]
    satisfied = query(
        lambda: db.session.scalar(
            select(ApplicationMaterial.document_id).where(
                ApplicationMaterial.application_id == draft_id,
                ApplicationMaterial.requirement_id == int(photo[1:]),
            )
        )
    )
    assert satisfied is not None
    page = client.get(intake).get_data(as_text=True)
    assert "此项必填" not in page and 'value="2025-03-18"' in page

    # a scan that fails (no file), with a date typed that is not a date: the page comes back
    # with the scan's own error only, and the typed value in its field
    other = re.search(r'id="(u\d+)_file"', page).group(1)
    failed = _post(
        client,
        f"{intake}/materials/{other[1:]}/scan",
        {**TYPED, "q_move_in_date": "2025-02-30", "q_employer": "新单位"},
        intake,
    )
    assert failed.status_code == 422
    html = failed.get_data(as_text=True)
    assert 'value="2025-02-30"' in html and 'value="新单位"' in html
    assert 'id="q_move_in_date-error"' not in html and "此项必填" not in html
    assert f'id="{other}_file-error"' in html
    answers = _draft(query, draft_id)[1]
    assert answers["move_in_date"] == "2025-03-18"  # the bad date is not saved
    assert answers["employer"] == "新单位"  # the good value is

    # 提交 with a required field emptied: its error, and nothing typed lost
    token = re.search(r'name="token" value="([^"]+)"', html).group(1)
    submitted = _post(
        client, f"{intake}/submit", {**TYPED, "q_move_in_date": "", "token": token}, intake
    )
    assert submitted.status_code == 422
    html = submitted.get_data(as_text=True)
    assert "此项必填" in html and 'value="西湖文化广场管理处"' in html
    assert re.search(r'id="c_basis-1" value="work"\s+checked', html)
    assert _draft(query, draft_id)[2] == "draft"
