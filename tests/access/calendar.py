"""The working-day calendar (工作日历): admins only. The demo has no schedule import yet, so an
import's record answers 404 to an admin; the day finder redirects to the day's page."""

from tests.access import ADMIN_ONLY

GET = {
    "admin.calendar_year": ("/admin/calendar/2027", ADMIN_ONLY),
    "admin.calendar_import": ("/admin/calendar/2027/import", ADMIN_ONLY),
    "admin.calendar_import_record": ("/admin/calendar/imports/1", {**ADMIN_ONLY, "admin": 404}),
    "admin.calendar_day": ("/admin/calendar/day/2027-02-15", ADMIN_ONLY),
    "admin.calendar_find_day": ("/admin/calendar/day?day=2027-02-15", {**ADMIN_ONLY, "admin": 302}),
}


def _import_record() -> int:
    """A committed import of a made-up 2030 schedule (for the page checks of its record)."""
    from sqlalchemy import select

    from portal.extensions import db
    from portal.models import User
    from services import calendar_admin

    source = "春节：2月2日至8日放假调休，共7天。2月9日（周六）上班。\n2030-05-01,2030-05-05,rest"
    admin = db.session.scalar(select(User).where(User.username == "admin"))
    plan = calendar_admin.plan_import(2030, source)
    record = calendar_admin.import_schedule(2030, source, fingerprint=plan.fingerprint, actor=admin)
    db.session.commit()
    return record.id


# pages that need an object made just before the visit (tests/browser/test_every_page.py)
EXTRA_PAGES = [
    (
        "admin.calendar_import_record",
        "admin",
        lambda: f"/admin/calendar/imports/{_import_record()}",
    ),
]
