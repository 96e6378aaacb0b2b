"""The counter workstation (综合窗口): counter staff only. Pages that show a citizen, a draft or a
case are callables that make counter01 serve a citizen first (inside the test's transaction),
so the every-page check sees the workstation as it looks while serving."""

from sqlalchemy import select

from portal.extensions import db
from portal.models import Notice
from services import counter, workflow
from tests.access import COUNTER_ONLY
from tests.workflow_cases import RESIDENCE_PERMIT, UNEMPLOYMENT, item_named, submit_case, user

SERVED = "13800000002"


def _serve():
    clerk = user("counter01")
    counter.begin_context(clerk, user(SERVED).citizen)
    return clerk


def _workstation() -> str:
    _serve()
    db.session.commit()
    return "/counter/"


def _intake() -> str:
    clerk = _serve()
    app = counter.start_intake(clerk, item_named(UNEMPLOYMENT).code)
    db.session.commit()
    return f"/counter/intake/{app.id}"


def _case():
    case = submit_case(SERVED, RESIDENCE_PERMIT, {"basis": "work", "agent": "no"})
    _serve()
    return case


def _case_path() -> str:
    case = _case()
    db.session.commit()
    return f"/counter/cases/{case.id}"


def _notice_path() -> str:
    case = _case()
    workflow.perform(user("counter01"), case.id, "accept", case.version)
    notice = db.session.scalar(select(Notice).where(Notice.application_id == case.id))
    db.session.commit()
    return f"/counter/cases/{case.id}/notices/{notice.id}"


GET = {
    "counter.workstation": (_workstation, COUNTER_ONLY),
    "counter.intake": (_intake, COUNTER_ONLY),
    "counter.case": (_case_path, COUNTER_ONLY),
    "counter.notice": (_notice_path, COUNTER_ONLY),
}
POST_ONLY: dict = {
    "counter.lookup": "/counter/lookup",
    "counter.register": "/counter/register",
    "counter.reveal": "/counter/reveal",
    "counter.agent": "/counter/agent",
    "counter.clear_agent": "/counter/agent/clear",
    "counter.next_citizen": "/counter/next",
    "counter.start_intake": "/counter/intake",
    "counter.scan": "/counter/intake/1/materials/1/scan",
    "counter.authorisation": "/counter/intake/1/authorisation",
    "counter.submit": "/counter/intake/1/submit",
    "counter.original_checked": "/counter/cases/1/materials/1/original",
    "counter.act": "/counter/cases/1/actions/accept",
    "counter.correction": "/counter/cases/1/correction",
}
