"""The working-day calendar's pages (issue 12): preview then confirm an import (POST, audited,
CSRF), the record listing the cases whose due dates moved, bad input next to the field with
nothing changed, one day's edit, and the warning on the admin home and in `flask jobs run`."""

from __future__ import annotations

import re
from datetime import date, datetime
from zoneinfo import ZoneInfo

import time_machine
from sqlalchemy import func, select

from portal.extensions import db
from portal.models import Application, CalendarDay, CalendarImport, Event
from services import workflow
from tests.conftest import csrf_token, login
from tests.workflow_cases import submit_case, user

SCHEDULE = "元旦：1月1日（周五）至3日（周日）放假，共3天。\n春节：2月6日至12日放假调休，共7天。2月20日（周六）上班。"
IMPORT = "/admin/calendar/2027/import"


def beijing(y, m, d, hour=10) -> time_machine.travel:
    return time_machine.travel(
        datetime(y, m, d, hour, tzinfo=ZoneInfo("Asia/Shanghai")), tick=False
    )


def field_error(html: str, field_id: str) -> str:
    match = re.search(rf'<p class="error" id="{field_id}-error">(.*?)</p>', html, re.S)
    return match.group(1) if match else ""


def calendar_rows(query) -> int:
    return query(lambda: db.session.scalar(select(func.count()).select_from(CalendarDay)))


def accepted_case(query) -> tuple[int, str]:
    """A 5-working-day case accepted on 2026-12-30, due 2027-01-06 while 2027 is unknown."""

    def run():
        with beijing(2026, 12, 30):
            case = submit_case("13800000002", "社会保障卡申领")
            workflow.perform(user("reviewer02"), case.id, "accept", case.version)
        db.session.commit()
        assert case.due_date == date(2027, 1, 6)
        return case.id, case.number

    return query(run)


def preview(client, source: str = SCHEDULE):
    return client.post(
        IMPORT,
        data={"csrf_token": csrf_token(client, IMPORT), "source": source, "action": "preview"},
    )


def fingerprint(html: str) -> str:
    return re.search(r'name="fingerprint" value="([0-9a-f]{64})"', html).group(1)


def test_preview_then_confirm_lists_the_moved_cases(client, query):
    case_id, number = accepted_case(query)
    assert login(client, "admin").status_code == 302
    before = calendar_rows(query)

    shown = preview(client)
    assert shown.status_code == 200
    page = shown.get_data(as_text=True)
    assert "2027-01-01" in page and "2027-02-08" in page and "2027-02-20" in page
    assert number in page and "2027-01-07" in page
    assert calendar_rows(query) == before  # a preview changes nothing
    assert query(lambda: db.session.get(Application, case_id).due_date) == date(2027, 1, 6)

    done = client.post(
        IMPORT,
        data={
            "csrf_token": csrf_token(client, IMPORT),
            "source": SCHEDULE,
            "fingerprint": fingerprint(page),
            "action": "confirm",
        },
    )
    assert done.status_code == 302
    record = client.get(done.headers["Location"])
    assert record.status_code == 200
    html = record.get_data(as_text=True)
    moved = re.search(r'<section aria-labelledby="moved-title">.*?</section>', html, re.S).group(0)
    assert number in moved and "2027-01-06" in moved and "2027-01-07" in moved
    assert query(lambda: db.session.get(Application, case_id).due_date) == date(2027, 1, 7)
    actors = query(
        lambda: [
            (e.action, e.actor_id)
            for e in db.session.scalars(
                select(Event).where(
                    Event.action.in_(["calendar.imported", "due_date_recalculated"])
                )
            )
        ]
    )
    admin_id = query(lambda: user("admin").id)
    assert sorted(actors) == [("calendar.imported", admin_id), ("due_date_recalculated", admin_id)]
    # the year now counts as known: no warning left on the year's page
    assert "还没有导入" not in client.get("/admin/calendar/2027").get_data(as_text=True)


def test_a_bad_line_is_named_next_to_the_field_and_nothing_changes(client, query):
    assert login(client, "admin").status_code == 302
    before = calendar_rows(query)
    for action in ("preview", "confirm"):
        response = client.post(
            IMPORT,
            data={
                "csrf_token": csrf_token(client, IMPORT),
                "source": SCHEDULE + "\n春节：2月30日放假",
                "fingerprint": "0" * 64,
                "action": action,
            },
        )
        assert response.status_code == 422
        error = field_error(response.get_data(as_text=True), "source")
        assert "第 3 行" in error and "2月30日" in error
    response = client.post(
        IMPORT,
        data={
            "csrf_token": csrf_token(client, IMPORT),
            "source": "春节：2月6日至12日放假。\n2027-02-08,2027-02-08,work",
            "action": "preview",
        },
    )
    assert response.status_code == 422
    assert "第 1 行和第 2 行矛盾" in field_error(response.get_data(as_text=True), "source")
    assert calendar_rows(query) == before
    assert query(lambda: db.session.scalar(select(func.count()).select_from(CalendarImport))) == 0


def test_a_stale_or_forged_confirmation_is_refused(client, query):
    assert login(client, "admin").status_code == 302
    page = preview(client).get_data(as_text=True)
    # the text changed after the preview: shown again with the new preview, not imported
    response = client.post(
        IMPORT,
        data={
            "csrf_token": csrf_token(client, IMPORT),
            "source": SCHEDULE + "\n2027-05-01,2027-05-05,rest",
            "fingerprint": fingerprint(page),
            "action": "confirm",
        },
    )
    assert response.status_code == 409
    assert "2027-05-03" in response.get_data(as_text=True)
    # without the CSRF token
    response = client.post(
        IMPORT, data={"source": SCHEDULE, "fingerprint": fingerprint(page), "action": "confirm"}
    )
    assert response.status_code == 400
    assert query(lambda: db.session.scalar(select(func.count()).select_from(CalendarImport))) == 0


def test_editing_one_day_is_audited_and_moves_the_cases(client, query):
    case_id, number = accepted_case(query)
    assert login(client, "admin").status_code == 302
    path = "/admin/calendar/day/2027-01-04"
    response = client.post(path, data={"csrf_token": csrf_token(client, path), "choice": "bogus"})
    assert response.status_code == 422
    assert query(lambda: db.session.get(CalendarDay, date(2027, 1, 4))) is None
    response = client.post(
        path, data={"csrf_token": csrf_token(client, path), "choice": "rest", "note": "临时调整"}
    )
    assert response.status_code == 302
    follow = client.get(response.headers["Location"]).get_data(as_text=True)
    assert number in follow  # the flash names the case whose due date moved
    assert query(lambda: db.session.get(Application, case_id).due_date) == date(2027, 1, 7)
    event = query(
        lambda: db.session.scalar(select(Event).where(Event.action == "calendar.day_changed"))
    )
    assert event.actor_id == query(lambda: user("admin").id)
    assert client.get("/admin/calendar/day/2027-02-30").status_code == 404
    assert client.get("/admin/calendar/day?day=junk").status_code == 422


def _warning(client) -> bool:
    return "calendar-warning" in client.get("/admin/").get_data(as_text=True)


def test_the_admin_home_warns_from_1_november(app, query):
    with beijing(2026, 10, 31, 23):
        client = app.test_client()
        assert login(client, "admin").status_code == 302
        assert not _warning(client)
    with beijing(2026, 11, 1, 9):
        client = app.test_client()
        assert login(client, "admin").status_code == 302
        assert _warning(client)


def test_flask_jobs_run_warns_from_1_november(app, tx):
    runner = app.test_cli_runner()
    with beijing(2026, 10, 31, 12):
        result = runner.invoke(args=["jobs", "run"])
        assert result.exit_code == 0, result.output
        assert "2027 年的法定节假日" not in result.output
    with beijing(2026, 11, 2, 12):
        result = runner.invoke(args=["jobs", "run"])
        assert result.exit_code == 0, result.output
        assert "2027 年的法定节假日和调休安排还没有导入" in result.output
