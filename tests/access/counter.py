"""The counter workstation (综合窗口): counter staff only. Pages that show a citizen, a draft or a
case are callables that make counter01 serve a walk-in of their own first (inside the test's
transaction; no demo citizen's library changes), so the every-page check sees the workstation
as it looks while serving."""

from sqlalchemy import select

from portal.extensions import db
from portal.models import Application, Notice, User
from seeds.factories import make_png
from services import accounts, applications, clock, counter, workflow
from tests.access import COUNTER_ONLY
from tests.workflow_cases import RESIDENCE_PERMIT, UNEMPLOYMENT, item_named, user

WALK_IN = {
    "name": "陈列",
    "id_number": "310104196003151236",
    "phone": "13912340999",
    "address": "淮海中路一号",
}


def counter_intake(
    clerk: User, item_name: str, conditions: dict[str, str] | None = None
) -> Application:
    """An intake filled as the clerk would: 情形 (first options unless given), the prefilled
    信息 (test values where the portal knows nothing), and a scan for every missing material."""
    app = counter.start_intake(clerk, item_named(item_name).code)
    version = app.item_version
    chosen = {q["key"]: q["options"][0][0] for q in version.condition_questions}
    chosen.update(conditions or {})
    values = applications.prefill(app, app.applicant)
    for q in version.questions:
        if values.get(q["key"]) in (None, ""):
            values[q["key"]] = {
                "select": (q.get("options") or [["x"]])[0][0],
                "checkbox": "y",
                "multiselect": [(q.get("options") or [["x"]])[0][0]],
                "number": str(q.get("min") or 1),
                "money": "1",
                "date": clock.local_today().isoformat(),
            }.get(q["type"], "测试")
    counter.save_intake(clerk, app.id, conditions=chosen, answers=values, choices={})
    for material in app.materials:
        if (
            material.satisfied_by.value == "missing"
            and material.requirement.necessity != "optional"
        ):
            applications.upload_for(
                clerk,
                app,
                material.requirement_id,
                data=make_png(),
                filename="scan.png",
                issued_on=clock.local_today(),
                own_expiry=None,
            )
    return app


def _serve() -> User:
    clerk = user("counter01")
    counter.begin_context(clerk, accounts.find_or_create_citizen(**WALK_IN))
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


def _case() -> Application:
    clerk = _serve()
    app = counter_intake(clerk, RESIDENCE_PERMIT, {"basis": "work", "agent": "no"})
    return counter.submit_intake(clerk, app.id, app.submit_token)


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


def _resubmit_path() -> str:
    """A case of the served walk-in waiting for one corrected scan."""
    case = _case()
    scan = next(m for m in case.materials if m.document_id)
    counter.decide(
        user("counter01"),
        case.id,
        "request_correction",
        case.version,
        fields={},
        materials={scan.requirement_id: "复印不清"},
    )
    db.session.commit()
    return f"/counter/cases/{case.id}/resubmit"


GET = {
    "counter.workstation": (_workstation, COUNTER_ONLY),
    "counter.intake": (_intake, COUNTER_ONLY),
    "counter.case": (_case_path, COUNTER_ONLY),
    "counter.notice": (_notice_path, COUNTER_ONLY),
    "counter.resubmit": (_resubmit_path, COUNTER_ONLY),
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
    "counter.resubmit_upload": "/counter/cases/1/resubmit/materials/1/upload",
}
