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
