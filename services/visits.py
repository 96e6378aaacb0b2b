"""In-person visits (到现场): how "run at most once" is measured, case by case.

Every counter intake, check of an original or pickup of a result is one visit. The guide
promises a number of visits (到办事现场次数); a visit beyond it needs a reason, which the
statistics show.
"""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from sqlalchemy import bindparam, select, update

from portal.extensions import db
from portal.models import Application, Role, User, Visit
from services import audit
from services.case_access import may_see
from services.case_states import CONFLICT_MESSAGE
from services.errors import Conflict, NotAuthorized, NotFound, ValidationError

VISIT_KINDS = {"intake": _l("窗口收件"), "original_check": _l("核验原件"), "pickup": _l("领取结果")}
MAX_REASON = 300


def promised_visits(app: Application) -> int:
    return app.item_version.visits if app.item_version else 0


def record_visit(case: Application, staff: User, kind: str, reason: str = "") -> Visit:
    """Count one in-person contact on the case; beyond the guide's count a reason is required."""
    if staff.role not in (Role.counter, Role.reviewer):
        raise NotAuthorized(str(_l("只有工作人员可以登记到场")))
    if not may_see(staff, case):
        raise NotFound(str(_l("办件不存在")))
    return record_checked_visit(case, staff, kind, reason)


def record_checked_visit(case: Application, staff: User, kind: str, reason: str = "") -> Visit:
    """``record_visit`` for a caller that checked the staff member's access to the case through
    services/case_access itself (the counter, against the clerk's open context)."""
    if kind not in VISIT_KINDS:
        raise ValidationError({"kind": str(_l("请选择到场事由"))})
    reason = (reason or "").strip()
    if len(reason) > MAX_REASON or any(ord(ch) < 32 for ch in reason):
        raise ValidationError(
            {"reason": str(_l("说明最多 %(n)d 个字，且不能含控制字符", n=MAX_REASON))}
        )
    db.session.refresh(case, ["visit_count"])
    count = case.visit_count + 1
    promised = promised_visits(case)
    beyond = count > promised
    if beyond and not reason:
        raise ValidationError(
            {
                "reason": str(
                    _l(
                        "这是第 %(n)d 次到场，超过办事指南承诺的 %(m)d 次，请说明原因",
                        n=count,
                        m=promised,
                    )
                )
            }
        )
    changed = db.session.execute(
        update(Application)
        .where(Application.id == case.id, Application.visit_count == count - 1)
        .values(visit_count=count)
        .execution_options(synchronize_session=False)
    ).rowcount
    if changed != 1:  # a colleague recorded a visit at the same moment
        raise Conflict(str(CONFLICT_MESSAGE))
    visit = Visit(
        application_id=case.id,
        number=count,
        kind=kind,
        staff_id=staff.id,
        reason=reason,
        beyond_guide=beyond,
    )
    db.session.add(visit)
    db.session.flush()
    db.session.refresh(case, ["visit_count"])
    audit.record_event(
        "visit",
        actor=staff,
        application_id=case.id,
        details={"number": count, "kind": kind, "beyond_guide": beyond, "reason": reason},
    )
    return visit


def visits_of(application_id: int) -> list[Visit]:
    return list(db.session.scalars(_VISITS_OF, {"case": application_id}))


# built once: every case page lists its visits (building it cost as much as running it)
_VISITS_OF = select(Visit).where(Visit.application_id == bindparam("case")).order_by(Visit.number)
