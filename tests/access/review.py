"""The review workflow: the reviewer workspace (reviewer01 of 市公安局, own department only), the
admin's follow-up pages, the public notice verification, and the citizen's casework pages.

Paths that need a case are callables that make one through the services inside the test's
transaction (see tests/workflow_cases.py)."""

from sqlalchemy import select

from portal.extensions import db
from portal.models import Application, Department, ELicence, Notice
from services import clock, workflow
from tests.access import ADMIN_ONLY, ALL_200, REVIEWER_ONLY
from tests.workflow_cases import RESIDENCE_PERMIT, UNEMPLOYMENT, submit_case, user

OWNER_ONLY = {"anonymous": 302, "citizen": 200, "counter": 403, "reviewer": 403, "admin": 403}


def _police_case() -> Application:
    """A case submitted by 13800000001 to 市公安局, with an uploaded photo."""
    case = submit_case("13800000001", RESIDENCE_PERMIT, {"basis": "work", "agent": "no"})
    db.session.commit()
    return case


def _accepted_case() -> Application:
    case = _police_case()
    workflow.perform(user("reviewer01"), case.id, "accept", case.version)
    db.session.commit()
    return case


def _seeded_police_case() -> int:
    police = db.session.scalar(select(Department).where(Department.code == "GA"))
    return db.session.scalar(
        select(Application.id).where(
            Application.department_id == police.id, Application.status != "draft"
        )
    )


def case_path(suffix: str = ""):
    return lambda: f"/review/cases/{_seeded_police_case()}{suffix}"


def material_path():
    def make():
        case = _police_case()
        material = next(m for m in case.materials if m.document_id is not None)
        return f"/review/cases/{case.id}/materials/{material.id}/file"

    return make


def staff_notice_path():
    def make():
        case = _accepted_case()
        notice = db.session.scalar(select(Notice).where(Notice.application_id == case.id))
        return f"/review/cases/{case.id}/notices/{notice.id}"

    return make


def citizen_notice_path():
    def make():
        case = _accepted_case()
        notice = db.session.scalar(select(Notice).where(Notice.application_id == case.id))
        return f"/cases/{case.id}/notices/{notice.id}"

    return make


def correction_path():
    def make():
        case = _police_case()
        photo = next(m for m in case.materials if m.document_id is not None)
        workflow.perform(
            user("reviewer01"),
            case.id,
            "request_correction",
            case.version,
            fields={"address": "请写到门牌号"},
            materials={photo.requirement_id: "背景不是白色"},
        )
        db.session.commit()
        return f"/cases/{case.id}/correction"

    return make


def supply_path():
    def make():
        case = submit_case(
            "13800000001",
            UNEMPLOYMENT,
            {"reason": "dismissed"},
            options={"解除或终止劳动关系证明": "deferred"},
        )
        workflow.perform(
            user("reviewer02"),
            case.id,
            "accept_pending_materials",
            case.version,
            supply_deadline=clock.local_today(),
        )
        db.session.commit()
        return f"/cases/{case.id}/supply"

    return make


def _licensed_case() -> int:
    holder = user("13800000001")
    return db.session.scalar(
        select(ELicence.application_id).where(
            ELicence.holder_id == holder.citizen_id, ELicence.application_id.is_not(None)
        )
    )


GET = {
    "review.queue": ("/review/", REVIEWER_ONLY),
    "review.case": (case_path(), REVIEWER_ONLY),
    "review.material_file": (material_path(), REVIEWER_ONLY),
    "review.notice": (staff_notice_path(), REVIEWER_ONLY),
    "review.post_checks": ("/review/post-checks", REVIEWER_ONLY),
    "review_admin.index": ("/review/admin/", ADMIN_ONLY),
    "notices.verify": ("/notices/verify?code=GASL202611240001-00000000", ALL_200),
    "apply.correction": (correction_path(), OWNER_ONLY),
    "apply.supply": (supply_path(), OWNER_ONLY),
    "apply.notice": (citizen_notice_path(), OWNER_ONLY),
    "apply.licence": (lambda: f"/cases/{_licensed_case()}/licence", OWNER_ONLY),
    "apply.rate": (lambda: f"/cases/{_licensed_case()}/rate", OWNER_ONLY),
}
POST_ONLY = {
    "review.mark_reminders_read": "/review/reminders/read",
    "review.reveal": case_path("/reveal"),
    "review.act": case_path("/actions/claim"),
    "review.verdict": case_path("/materials/1/verdict"),
    "review.correction": case_path("/correction"),
    "review.record_visit": case_path("/visits"),
    "review.post_check": "/review/post-checks/1",
    "review_admin.record_exception": "/review/admin/exceptions",
    "review_admin.advance_ticket": "/review/admin/tickets/1",
}
