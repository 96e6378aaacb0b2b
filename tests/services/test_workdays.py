"""The working-day clock across the 2025–2026 holidays and 调休 weekends."""

from datetime import date

from portal.extensions import db
from portal.models import CalendarDay
from services import workdays


def test_national_day_2025_and_its_make_up_saturday(app_ctx):
    # Tue 30 Sep 2025 + 1 working day: 1–8 Oct are holidays, Thu 9 Oct is the next working day
    assert workdays.add_working_days(date(2025, 9, 30), 1) == date(2025, 10, 9)
    # Sat 11 Oct 2025 is a make-up working day (调休)
    assert workdays.add_working_days(date(2025, 10, 10), 1) == date(2025, 10, 11)
    # Sun 28 Sep 2025 is a make-up working day as well
    assert workdays.add_working_days(date(2025, 9, 26), 1) == date(2025, 9, 28)


def test_spring_festival_2026(app_ctx):
    # Fri 13 Feb 2026 + 1: Sat 14 Feb is a make-up working day
    assert workdays.add_working_days(date(2026, 2, 13), 1) == date(2026, 2, 14)
    # Sat 14 Feb + 1: 15–23 Feb are holidays → Tue 24 Feb
    assert workdays.add_working_days(date(2026, 2, 14), 1) == date(2026, 2, 24)
    assert workdays.working_days_between(date(2026, 2, 13), date(2026, 2, 24)) == 2


def test_twenty_working_days_over_national_day_2026(app_ctx):
    # from Fri 25 Sep 2026: 1–7 Oct off, Sat 10 Oct worked
    due = workdays.add_working_days(date(2026, 9, 25), 20)
    assert due == date(2026, 10, 29)
    assert workdays.working_days_between(date(2026, 9, 25), due) == 20


def test_zero_days_is_today_and_natural_days(app_ctx):
    assert workdays.add_working_days(date(2026, 3, 2), 0) == date(2026, 3, 2)
    assert workdays.due_date(date(2026, 9, 30), 10, "natural") == date(2026, 10, 10)


def test_admin_overrides_cover_years_the_package_does_not_know(app_ctx):
    # 2027 is not in chinese-calendar yet: weekends only, until an admin enters the schedule
    assert workdays.add_working_days(date(2027, 1, 29), 1) == date(2027, 2, 1)  # Fri → Mon
    db.session.add(CalendarDay(day=date(2027, 2, 1), is_workday=False, note="test holiday"))
    db.session.add(CalendarDay(day=date(2027, 1, 30), is_workday=True, note="test 调休"))
    db.session.flush()
    assert workdays.add_working_days(date(2027, 1, 29), 1) == date(2027, 1, 30)
    assert workdays.add_working_days(date(2027, 1, 30), 1) == date(2027, 2, 2)
