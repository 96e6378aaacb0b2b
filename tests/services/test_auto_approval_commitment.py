"""秒批 and 告知承诺/容缺: a case whose rules all pass but which gives a material by commitment
(or defers one) is submitted and left to the department, which accepts it on commitment (that
opens the post-check); 秒批 does not approve it, and does not refuse the submission either."""

from sqlalchemy import select

from portal.extensions import db
from portal.models import Department, Event, MaterialType
from services import clock
from services.elicences import issue_elicence
from tests.workflow_cases import submit_case, user

RENT_WITHDRAWAL = (
    "住房公积金提取（租赁住房）"  # 秒批: 身份证 e-licence, no house, no loan, market rent
)


def test_rules_passed_with_a_commitment_submits_for_review(app_ctx):
    holder = user("13800000002").citizen
    issue_elicence(
        holder=holder,
        material_type=db.session.scalar(select(MaterialType).where(MaterialType.code == "M001")),
        department=db.session.scalar(select(Department).where(Department.code == "GA")),
        issued_on=clock.local_today(),
        valid_until=None,
    )
    case = submit_case(
        "13800000002",
        RENT_WITHDRAWAL,
        {"married": "no"},  # unmarried: the 婚姻状况声明, which 告知承诺 may replace
        options={"婚姻状况声明": "commitment"},
    )
    assert case.status == "submitted"
    [check] = db.session.scalars(
        select(Event).where(Event.application_id == case.id, Event.action == "auto_check")
    ).all()
    assert check.details["passed"] is True
