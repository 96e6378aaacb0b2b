"""工作日 rules that must hold: a limit in working days skips weekends and statutory holidays
and counts the make-up working weekends (调休); only a 自然日 limit counts calendar days.

The expected dates are written out from the State Council's published schedules, not
computed with the library under test:
- 国庆 2025: 1–8 Oct off; Sun 28 Sep and Sat 11 Oct worked.
- 春节 2026: 15–23 Feb off; Sat 14 Feb and Sat 28 Feb worked.
Each test here was checked by counting calendar days instead and seeing it fail."""

from datetime import date

import pytest

from portal.extensions import db
from portal.models import Application, CalendarDay, ItemVersion
from services import applications, workdays, workflow

# (start, working days, due date, what the calendar-day count would wrongly give)
OVER_HOLIDAYS = [
    # Fri 26 Sep: Sun 28, Mon 29, Tue 30 Sep, (1–8 Oct off) Thu 9, Fri 10 Oct
    (date(2025, 9, 26), 5, date(2025, 10, 10), date(2025, 10, 1)),
    # Tue 30 Sep + 1: the whole 国庆 week is skipped
    (date(2025, 9, 30), 1, date(2025, 10, 9), date(2025, 10, 1)),
    # Fri 10 Oct + 2: Sat 11 Oct is a 调休 working day, Sun 12 is not
    (date(2025, 10, 10), 2, date(2025, 10, 13), date(2025, 10, 12)),
    # Thu 12 Feb: Fri 13, Sat 14 (调休), (15–23 Feb off) Tue 24, Wed 25, Thu 26 Feb
    (date(2026, 2, 12), 5, date(2026, 2, 26), date(2026, 2, 17)),
    # Tue 24 Feb + 4: Wed 25, Thu 26, Fri 27, Sat 28 (调休) — not Mon 2 Mar
    (date(2026, 2, 24), 4, date(2026, 2, 28), date(2026, 2, 28)),
    # Fri 27 Feb + 2: Sat 28 Feb (调休), (Sun 1 Mar off) Mon 2 Mar
    (date(2026, 2, 27), 2, date(2026, 3, 2), date(2026, 3, 1)),
    # an ordinary weekend: Fri 6 Mar 2026 + 1 is Mon 9 Mar
    (date(2026, 3, 6), 1, date(2026, 3, 9), date(2026, 3, 7)),
]


@pytest.mark.parametrize(("start", "days", "due", "calendar"), OVER_HOLIDAYS)
def test_a_working_day_limit_skips_holidays_and_weekends_and_counts_make_up_days(
    app_ctx, start, days, due, calendar
):
    assert workdays.due_date(start, days, "working") == due
    assert workdays.add_working_days(start, days) == due
    assert workdays.working_days_between(start, due) == days
    assert workdays.working_days_between(due, start) == -days


@pytest.mark.parametrize(("start", "days", "due", "calendar"), OVER_HOLIDAYS)
def test_a_natural_day_limit_counts_calendar_days(app_ctx, start, days, due, calendar):
    assert workdays.due_date(start, days, "natural") == calendar


def test_each_day_of_the_holidays_and_the_make_up_days(app_ctx):
    off = [date(2025, 10, d) for d in range(1, 9)] + [date(2026, 2, d) for d in range(15, 24)]
    worked = [date(2025, 9, 28), date(2025, 10, 11), date(2026, 2, 14), date(2026, 2, 28)]
    assert not any(workdays.is_workday(d) for d in off)
    assert all(workdays.is_workday(d) for d in worked)
    assert workdays.is_workday(date(2026, 3, 2)) and not workdays.is_workday(date(2026, 3, 1))


def test_the_working_days_in_the_holiday_fortnights(app_ctx):
    # 26 Sep – 12 Oct 2025 (17 days): 28, 29, 30 Sep and 9, 10, 11 Oct are worked
    assert workdays.working_days_between(date(2025, 9, 26), date(2025, 10, 12)) == 6
    # 13 Feb – 1 Mar 2026 (17 days): 14, 24, 25, 26, 27, 28 Feb are worked
    assert workdays.working_days_between(date(2026, 2, 13), date(2026, 3, 1)) == 6


def test_a_cases_promised_date_is_counted_in_working_days_over_national_day(app_ctx):
    version = ItemVersion(promised_limit=5, promised_limit_unit="working")
    start = date(2025, 9, 26)
    assert applications.promised_date(version, start) == date(2025, 10, 10)
    assert workflow.promised_due(Application(item_version=version), start) == date(2025, 10, 10)
    version = ItemVersion(promised_limit=5, promised_limit_unit="natural")
    assert applications.promised_date(version, start) == date(2025, 10, 1)


def test_a_cases_promised_date_is_counted_in_working_days_over_spring_festival(app_ctx):
    version = ItemVersion(promised_limit=10, promised_limit_unit="working")
    # Thu 12 Feb: 13, 14, 24, 25, 26, 27, 28 Feb, 2, 3, 4 Mar
    assert applications.promised_date(version, date(2026, 2, 12)) == date(2026, 3, 4)
    assert workflow.promised_due(Application(item_version=version), date(2026, 2, 12)) == date(
        2026, 3, 4
    )


def test_admin_entered_days_count_between_two_dates_too(app_ctx):
    """A year chinese-calendar does not know yet: the schedule an admin entered is used when
    counting the working days a case has waited, as when adding them."""
    # Fri 5 Feb 2027 → Tue 9 Feb 2027: Mon 8 and Tue 9 by weekends alone
    assert workdays.working_days_between(date(2027, 2, 5), date(2027, 2, 9)) == 2
    db.session.add(CalendarDay(day=date(2027, 2, 8), is_workday=False, note="test holiday"))
    db.session.add(CalendarDay(day=date(2027, 2, 6), is_workday=True, note="test 调休"))
    db.session.flush()
    assert workdays.working_days_between(date(2027, 2, 5), date(2027, 2, 9)) == 2  # Sat, Tue
    assert workdays.working_days_between(date(2027, 2, 7), date(2027, 2, 9)) == 1  # Tue only
    assert workdays.add_working_days(date(2027, 2, 5), 2) == date(2027, 2, 9)
    assert workdays.due_date(date(2027, 2, 7), 1, "working") == date(2027, 2, 9)


def test_a_negative_limit_is_refused(app_ctx):
    with pytest.raises(ValueError):
        workdays.add_working_days(date(2026, 3, 2), -1)
