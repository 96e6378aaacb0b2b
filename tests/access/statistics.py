"""Statistics: the admins' dashboard (every department), the reviewers' department view (their
own department only), the cases behind a figure, every table as CSV, and the public
performance pages (办件绩效) with their CSV."""

from portal.extensions import db
from services import workflow
from tests.access import ADMIN_ONLY, ALL_200, REVIEWER_ONLY
from tests.workflow_cases import RESIDENCE_PERMIT, submit_case, user

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


def _corrected_police_case() -> None:
    case = submit_case("13800000001", RESIDENCE_PERMIT, {"basis": "work", "agent": "no"})
    question = case.item_version.questions[0]["key"]
    workflow.perform(
        user("reviewer01"),
        case.id,
        "request_correction",
        case.version,
        fields={question: "请写完整"},
    )
    db.session.commit()


def _with_corrected_case(path: str):
    def make() -> str:
        _corrected_police_case()
        return path

    return make


# for tests/browser/test_every_page.py: the lists with a case in them, and a filtered dashboard
EXTRA_PAGES = [
    (
        "statistics_admin.admin_cases",
        "admin",
        _with_corrected_case("/admin/statistics/cases?kind=corrected"),
    ),
    (
        "statistics_department.department_cases",
        "reviewer",
        _with_corrected_case("/review/statistics/cases?kind=corrected"),
    ),
    (
        "statistics_admin.admin_dashboard",
        "admin",
        "/admin/statistics/?start=2026-01-01&channel=online",
    ),
    ("performance.index", "anonymous", "/performance?q=证&sort=name"),
]
