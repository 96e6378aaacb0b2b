"""The working-day calendar kept by admins (issue 12): a year's State Council schedule in its
usual wording or as CSV, refused whole when a line is wrong; importing it changes the
working-day answers, recalculates the due dates computed while the year was unknown (each
change on the case's trail) and lists those cases; the warning from 1 November."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine
from sqlalchemy import func, select

from portal.extensions import db
from portal.models import Application, CalendarDay, CalendarImport, Event
from services import audit, calendar_admin, workdays, workflow
from services.calendar_admin import parse_schedule
from services.errors import Conflict, ValidationError
from tests.workflow_cases import submit_case, user

SOCIAL_SECURITY_CARD = "社会保障卡申领"  # 人社局, 5 工作日

# a made-up 2027 schedule (chinese-calendar does not know 2027 here)
SCHEDULE_2027 = """元旦：1月1日（周五）至3日（周日）放假，共3天。
春节：2月6日至12日放假调休，共7天。2月20日（周六）上班。
2027-05-01,2027-05-05,rest
"""


def beijing(y, m, d, hour=10) -> time_machine.travel:
    """An instant in Beijing time."""
    return time_machine.travel(
        datetime(y, m, d, hour, tzinfo=ZoneInfo("Asia/Shanghai")), tick=False
    )


def overrides_count() -> int:
    return db.session.scalar(select(func.count()).select_from(CalendarDay))


# ---------------------------------------------------------------------------- parsing


def test_the_state_councils_wording_is_read():
    entries = parse_schedule(
        "春节：2月15日至21日放假调休，共7天。2月14日（周六）、2月28日（周六）上班。", 2026
    )
    assert [(e.first, e.last, e.workday, e.note) for e in entries] == [
        (date(2026, 2, 15), date(2026, 2, 21), False, "春节"),
        (date(2026, 2, 14), date(2026, 2, 14), True, "春节"),
        (date(2026, 2, 28), date(2026, 2, 28), True, "春节"),
    ]


def test_other_usual_wordings_are_read():
    entries = parse_schedule(
        "一、元旦：2027年1月1日放假，与周末连休。\n"
        "五、国庆节、中秋节：10月1日（星期五）至8日（星期五）放假调休，共8天；"
        "9月26日（星期日）、10月9日（星期六）上班。",
        2027,
    )
    assert [(e.first, e.last, e.workday, e.note) for e in entries] == [
        (date(2027, 1, 1), date(2027, 1, 1), False, "元旦"),
        (date(2027, 10, 1), date(2027, 10, 8), False, "国庆节、中秋节"),
        (date(2027, 9, 26), date(2027, 9, 26), True, "国庆节、中秋节"),
        (date(2027, 10, 9), date(2027, 10, 9), True, "国庆节、中秋节"),
    ]


def test_csv_lines_are_read_with_or_without_a_header():
    entries = parse_schedule(
        "date_from,date_to,kind\n2027-02-06,2027-02-12,rest\n2027-02-20,,work,春节调休\n", 2027
    )
    assert [(e.first, e.last, e.workday, e.note) for e in entries] == [
        (date(2027, 2, 6), date(2027, 2, 12), False, ""),
        (date(2027, 2, 20), date(2027, 2, 20), True, "春节调休"),
    ]


@pytest.mark.parametrize(
    ("source", "named"),
    [
        ("元旦：1月1日放假。\n这一行什么日期也没有", "第 2 行：看不懂这一行"),
        ("春节：2月6日至12日放假\n2027-02-30,2027-02-30,rest", "第 2 行：日期应写成"),
        ("春节：2月30日放假", "第 1 行：“2月30日”不是有效的日期"),
        ("春节：2月6日至12日放假\n\n劳动节：5月1日至5日", "第 3 行：看不出这些日期是放假还是上班"),
        ("2027-02-06,2027-02-12,holiday", "第 1 行：第三列应为 rest"),
        ("春节：2月12日至6日放假", "第 1 行：“6日”早于这一段的开始日期"),
    ],
)
def test_a_line_that_does_not_parse_is_named(source, named):
    with pytest.raises(ValidationError) as refused:
        parse_schedule(source, 2027)
    assert named in refused.value.errors["source"]


@pytest.mark.parametrize(
    "source",
    [
        "元旦：2026年12月31日至2027年1月2日放假",
        "2026-12-31,2027-01-02,rest",
        "春节：2028年2月1日上班",
    ],
)
def test_a_date_outside_the_year_is_refused(source):
    with pytest.raises(ValidationError) as refused:
        parse_schedule(source, 2027)
    assert "不在 2027 年内" in refused.value.errors["source"]
    assert "第 1 行" in refused.value.errors["source"]


def test_contradictory_lines_are_refused_naming_both():
    with pytest.raises(ValidationError) as refused:
        parse_schedule("春节：2月6日至12日放假调休。\n2027-02-08,2027-02-08,work", 2027)
    assert "第 1 行和第 2 行矛盾：2027-02-08" in refused.value.errors["source"]


def test_nothing_is_imported_when_a_line_is_wrong(app_ctx):
    before = overrides_count()
    admin = user("admin")
    with pytest.raises(ValidationError):
        calendar_admin.import_schedule(
            2027, SCHEDULE_2027 + "乱写的一行", fingerprint="", actor=admin
        )
    assert overrides_count() == before
    assert not calendar_admin.year_is_known(2027)


# ---------------------------------------------------------------------------- import


def _import(source: str = SCHEDULE_2027, year: int = 2027) -> CalendarImport:
    plan = calendar_admin.plan_import(year, source)
    return calendar_admin.import_schedule(
        year, source, fingerprint=plan.fingerprint, actor=user("admin")
    )


def test_importing_changes_the_working_day_answers(app_ctx):
    # unknown year: weekdays work, weekends rest
    assert workdays.is_workday(date(2027, 2, 8)) is True
    assert workdays.is_workday(date(2027, 2, 20)) is False
    # a deadline counted across 春节 2027
    assert workdays.add_working_days(date(2027, 2, 3), 5) == date(2027, 2, 10)
    assert not calendar_admin.year_is_known(2027)

    record = _import()

    assert calendar_admin.year_is_known(2027)
    assert workdays.is_workday(date(2027, 2, 8)) is False
    assert workdays.is_workday(date(2027, 2, 20)) is True  # 调休上班
    assert workdays.is_workday(date(2027, 1, 1)) is False
    assert workdays.add_working_days(date(2027, 2, 3), 5) == date(2027, 2, 17)
    changed = {c["day"] for c in record.changed_days}
    # weekdays off and the working Saturday; weekend days of the holidays did not change
    assert "2027-02-08" in changed and "2027-02-20" in changed and "2027-05-03" in changed
    assert "2027-02-06" not in changed and "2027-01-02" not in changed
    event = db.session.scalar(select(Event).where(Event.action == "calendar.imported"))
    assert event.actor_id == user("admin").id and event.details["year"] == 2027


def test_a_reimport_replaces_the_years_entries(app_ctx):
    _import()
    _import("春节：2月8日至12日放假。")
    assert workdays.is_workday(date(2027, 2, 20)) is False  # the old 调休 Saturday is gone
    assert workdays.is_workday(date(2027, 1, 1)) is True
    assert workdays.is_workday(date(2027, 2, 8)) is False


def test_a_stale_preview_is_not_imported(app_ctx):
    plan = calendar_admin.plan_import(2027, SCHEDULE_2027)
    calendar_admin.set_day(date(2027, 3, 1), "rest", "", actor=user("admin"))
    with pytest.raises(Conflict):
        calendar_admin.import_schedule(
            2027, SCHEDULE_2027, fingerprint=plan.fingerprint, actor=user("admin")
        )


def test_due_dates_computed_while_the_year_was_unknown_are_recalculated(app_ctx):
    # accepted on Wednesday 2026-12-30: 5 working days, 2027 unknown → Fri 01-01 counted
    with beijing(2026, 12, 30):
        case = submit_case("13800000002", SOCIAL_SECURITY_CARD)
        workflow.perform(user("reviewer02"), case.id, "accept", case.version)
    assert case.due_date == date(2027, 1, 6)
    # another case whose due date someone set by hand: not explained by the calendar
    with beijing(2026, 12, 30):
        odd = submit_case("13800000001", SOCIAL_SECURITY_CARD)
        workflow.perform(user("reviewer02"), odd.id, "accept", odd.version)
    odd.due_date = date(2027, 3, 1)
    db.session.flush()

    plan = calendar_admin.plan_import(2027, SCHEDULE_2027)
    assert [(m.number, m.before, m.after) for m in plan.cases.moves] == [
        (case.number, date(2027, 1, 6), date(2027, 1, 7))
    ]
    assert [number for _, number, _ in plan.cases.unexplained] == [odd.number]
    assert case.due_date == date(2027, 1, 6)  # the preview changed nothing

    record = _import()
    assert db.session.get(Application, case.id).due_date == date(2027, 1, 7)
    assert db.session.get(Application, odd.id).due_date == date(2027, 3, 1)
    assert record.moved_cases == [
        {"id": case.id, "number": case.number, "before": "2027-01-06", "after": "2027-01-07"}
    ]
    trail = db.session.scalar(
        select(Event).where(
            Event.application_id == case.id, Event.action == "due_date_recalculated"
        )
    )
    assert trail.actor_id == user("admin").id
    assert trail.details["before"] == "2027-01-06" and trail.details["after"] == "2027-01-07"
    assert audit.verify_chain().broken_at is None  # the moves were appended in chain order


def test_a_case_past_its_suspension_keeps_the_paused_days(app_ctx):
    with beijing(2026, 12, 28):
        case = submit_case("13800000002", SOCIAL_SECURITY_CARD)
        workflow.perform(user("reviewer02"), case.id, "accept", case.version)
        workflow.perform(user("reviewer02"), case.id, "start_review", case.version)
        workflow.perform(
            user("reviewer02"),
            case.id,
            "suspend",
            case.version,
            kind="inspection",
            reason="现场核查",
            expected_days=3,
        )
    with beijing(2026, 12, 30):
        workflow.perform(user("reviewer02"), case.id, "resume", case.version)
    # 12-28 + 5 = 2027-01-04; paused 12-29, 12-30 (2 working days) → 01-06
    assert case.due_date == date(2027, 1, 6)
    _import()
    # with 01-01 off: 12-28 + 5 = 01-05, then 2 more → 01-07
    assert db.session.get(Application, case.id).due_date == date(2027, 1, 7)


def test_editing_one_day_recalculates_the_cases_it_crosses(app_ctx):
    with beijing(2026, 12, 30):
        case = submit_case("13800000002", SOCIAL_SECURITY_CARD)
        workflow.perform(user("reviewer02"), case.id, "accept", case.version)
    edit = calendar_admin.set_day(date(2027, 1, 4), "rest", "临时调整", actor=user("admin"))
    assert [(m.before, m.after) for m in edit.cases.moves] == [(date(2027, 1, 6), date(2027, 1, 7))]
    assert db.session.get(Application, case.id).due_date == date(2027, 1, 7)
    event = db.session.scalar(select(Event).where(Event.action == "calendar.day_changed"))
    assert event.details["before"] is None
    assert event.details["after"] == {"workday": False, "note": "临时调整"}
    # back to the default: the case moves back
    calendar_admin.set_day(date(2027, 1, 4), "default", "", actor=user("admin"))
    assert db.session.get(Application, case.id).due_date == date(2027, 1, 6)
    assert db.session.get(CalendarDay, date(2027, 1, 4)) is None


# ---------------------------------------------------------------------------- the warning


def test_no_warning_before_1_november(app_ctx):
    with beijing(2026, 10, 31, 23):
        assert calendar_admin.missing_schedule_years() == []


def test_warning_from_1_november_until_the_year_is_imported(app_ctx):
    with beijing(2026, 11, 1, 0):
        assert calendar_admin.missing_schedule_years() == [2027]
    with beijing(2026, 12, 31):
        assert calendar_admin.missing_schedule_years() == [2027]
        _import()
        assert calendar_admin.missing_schedule_years() == []


def test_a_known_next_year_gives_no_warning(app_ctx):
    with beijing(2025, 11, 20):  # chinese-calendar knows 2026
        assert calendar_admin.missing_schedule_years() == []
