"""Staff accounts (admins only) and the staff's login steps.

The steps after the password (/auth/second-factor, /auth/change-password, /auth/enrol) belong to
a login in progress: without one they send to the login page, and someone already logged in to
their home page (302 for everyone). tests/portal/test_staff_routes.py walks them with a login in
progress; test_every_page opens them in the browser after a new colleague's password."""

from tests.access import ADMIN_ONLY, ROLES
from tests.workflow_cases import user

ALL_302 = dict.fromkeys(ROLES, 302)

GET = {
    "admin.staff_list": ("/admin/staff", ADMIN_ONLY),
    "admin.staff_new": ("/admin/staff/new", ADMIN_ONLY),
    "admin.staff_edit": (lambda: f"/admin/staff/{user('counter01').id}/edit", ADMIN_ONLY),
    "auth.second_factor": ("/auth/second-factor", ALL_302),
    "auth.change_initial_password": ("/auth/change-password", ALL_302),
    "auth.enrol": ("/auth/enrol", ALL_302),
}
POST_ONLY = {
    "admin.staff_active": "/admin/staff/1/active",
    "admin.staff_reset_second_factor": "/admin/staff/1/reset-second-factor",
    "admin.staff_password": "/admin/staff/1/password",
    "auth.switch_role": "/auth/acting-role",
}
