"""The walk-in a counter clerk is serving (综合窗口): one open context per clerk, on the server.

Every workstation page reads the citizen from the clerk's open context, never from a URL or
a form, so "办理下一位" (``end_context``) leaves nothing of the previous citizen behind. A
clerk may open a case only while serving its applicant; any other attempt is refused and
logged (``check_serving``).
"""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from sqlalchemy import select, update

from portal.extensions import db
from portal.models import Application, Citizen, CounterContext, Role, User
from portal.models.base import utcnow
from services import audit
from services.errors import NotAuthorized, NotFound


def _require_counter(staff: User) -> None:
    if staff is None or staff.role != Role.counter:
        raise NotAuthorized(str(_l("只有综合窗口人员可以接待办事群众")))


def current_context(staff: User) -> CounterContext | None:
    """The clerk's open context, or None between two citizens."""
    if staff is None or staff.role != Role.counter:
        return None
    return db.session.scalar(
        select(CounterContext).where(CounterContext.staff_id == staff.id, CounterContext.ended_at.is_(None))
        .order_by(CounterContext.id.desc()).limit(1))


def serving_citizen_id(staff: User) -> int | None:
    ctx = current_context(staff)
    return ctx.citizen_id if ctx is not None else None


def begin_context(staff: User, citizen: Citizen, *, agent: Citizen | None = None,
                  ticket_id: int | None = None, appointment_id: int | None = None) -> CounterContext:
    """Start serving ``citizen`` (closing any context the clerk left open)."""
    _require_counter(staff)
    end_context(staff)
    ctx = CounterContext(staff_id=staff.id, citizen_id=citizen.id, agent_id=agent.id if agent else None,
                         ticket_id=ticket_id, appointment_id=appointment_id, application_ids=[])
    db.session.add(ctx)
    db.session.flush()
    audit.record_event("counter_serve", actor=staff, details={
        "context": ctx.id, "citizen": citizen.id, "agent": ctx.agent_id, "ticket": ticket_id,
        "appointment": appointment_id})
    return ctx


def end_context(staff: User) -> int:
    """办理下一位: close the clerk's open context(s). Returns how many were closed."""
    _require_counter(staff)
    closed = db.session.execute(
        update(CounterContext).where(CounterContext.staff_id == staff.id, CounterContext.ended_at.is_(None))
        .values(ended_at=utcnow()).execution_options(synchronize_session=False)).rowcount
    if closed:
        db.session.expire_all()
        audit.record_event("counter_next", actor=staff, details={"closed": closed})
    return closed


def note_case(staff: User, application_id: int) -> None:
    """Remember that this contact handled the case (the workstation lists them)."""
    ctx = current_context(staff)
    if ctx is not None and application_id not in ctx.application_ids:
        ctx.application_ids = [*ctx.application_ids, application_id]
        db.session.flush()


def is_serving(staff: User, app: Application) -> bool:
    """True while the clerk serves the case's applicant (or the agent who brought it)."""
    ctx = current_context(staff)
    if ctx is None or ctx.citizen_id is None:
        return False
    return app.applicant_id == ctx.citizen_id


def check_serving(staff: User, application_id: int) -> Application:
    """The case, if the clerk is serving its applicant; otherwise 403 and an audit event."""
    _require_counter(staff)
    app = db.session.get(Application, application_id)
    if app is None:
        raise NotFound(str(_l("办件不存在")))
    if not is_serving(staff, app):
        audit.record_event("counter_access_refused", actor=staff, application_id=app.id,
                           details={"serving": serving_citizen_id(staff)})
        db.session.commit()  # the refusal is logged even though the request fails
        raise NotAuthorized(str(_l("该办件不属于您正在接待的办事群众")))
    return app
