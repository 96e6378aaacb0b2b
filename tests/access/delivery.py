"""Delivery (issue 11 §3): the citizen's 确认收到 of a posted result and the reviewer's 注销 of
an e-licence. Both are POST only (CSRF, no state change on GET)."""

from portal.extensions import db
from services import workflow
from tests.access.review import _licensed_case, case_path
from tests.workflow_cases import submit_case, user

POST_ONLY = {
    "apply.confirm_receipt": lambda: f"/cases/{_licensed_case()}/received",
    "review.revoke_licence": case_path("/licences/1/revoke"),
}


def _mailed_case() -> int:
    """13800000001's 居民身份证换领 chosen to be posted, decided, produced and posted by
    reviewer01: the case pages then show the step, the delivery, the tracking number, the
    licence and its revoke form."""
    case = submit_case("13800000001", "居民身份证换领（有效期满）", answers={"delivery": "post"})
    reviewer = user("reviewer01")
    for action in ("accept", "start_review", "approve", "certify"):
        workflow.perform(reviewer, case.id, action, case.version)
    workflow.perform(
        reviewer, case.id, "mail", case.version, carrier="ems", tracking="EA123456789CN"
    )
    db.session.commit()
    return case.id


# pages in the states this work adds, for tests/browser/test_every_page.py: (label, role, path)
EXTRA_PAGES = [
    ("review.case (mailed)", "reviewer", lambda: f"/review/cases/{_mailed_case()}"),
    ("apply.case (mailed)", "citizen", lambda: f"/cases/{_mailed_case()}"),
]
