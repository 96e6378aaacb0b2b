"""Statistics: the admins' dashboard (every department), the reviewers' department view (their
own department only), the cases behind a figure, every table as CSV, and the public
performance pages (办件绩效) with their CSV."""

from tests.access import ADMIN_ONLY, ALL_200, REVIEWER_ONLY

GET = {
    "statistics_admin.admin_dashboard": ("/admin/statistics/", ADMIN_ONLY),
    "statistics_admin.admin_cases": ("/admin/statistics/cases?kind=over_one_visit", ADMIN_ONLY),
    "statistics_admin.admin_export": ("/admin/statistics/export/visits.csv", ADMIN_ONLY),
    "statistics_department.department_dashboard": ("/review/statistics/", REVIEWER_ONLY),
    "statistics_department.department_cases": (
        "/review/statistics/cases?kind=corrected",
        REVIEWER_ONLY,
    ),
    "statistics_department.department_export": (
        "/review/statistics/export/volume.csv",
        REVIEWER_ONLY,
    ),
    "performance.index": ("/performance", ALL_200),
    "performance.export": ("/performance.csv", ALL_200),
}
