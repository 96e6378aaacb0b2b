"""好差评 (GB/T 39734/39735): one online rating per case after 办结, and the follow-up of bad ones.

A rating of 1 (非常不满意) or 2 (不满意) opens a ticket for the department, due in 15 working
days: 待核实 → 整改中 → 已整改 → 已回访, or 待核实 → 申诉 → 复核撤销 (an appeal upheld) or back
to 整改中 (an appeal rejected).
"""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from portal.extensions import db
from portal.models import Application, FollowUpTicket, Rating, Role, User, Visit
from portal.models.base import utcnow
from services import audit, clock, workdays
from services.applications import get_own_application
from services.case_access import may_act_on
from services.case_states import RATEABLE_STATES
from services.errors import Conflict, NotAuthorized, NotFound, ValidationError
from services.visits import visits_of

SCORES = {5: _l("非常满意"), 4: _l("满意"), 3: _l("基本满意"), 2: _l("不满意"), 1: _l("非常不满意")}
INDICATORS = {
    "overall": _l("整体满意度"),
    "efficiency": _l("办事效率"),
    "guide": _l("办事指南精确度"),
    "convenience": _l("办事便捷度"),
    "usability": _l("平台操作性"),
}
TAGS = {
    "overdue": _l("超过办理时限"),
    "extra_conditions": _l("在办事指南之外增加条件"),
    "extra_materials": _l("需提供办事指南之外的材料"),
    "repeat_visits": _l("多次跑动"),
    "attitude": _l("工作人员态度不好"),
    "hard_to_use": _l("网上办理操作复杂"),
}
TICKET_STATES = {
    "verifying": _l("待核实"),
    "rectifying": _l("整改中"),
    "rectified": _l("已整改"),
    "revisited": _l("已回访"),
    "appealed": _l("申诉"),
    "revoked": _l("复核撤销"),
}
TICKET_FLOW = {
    "verifying": ("rectifying", "appealed"),
    "rectifying": ("rectified",),
    "rectified": ("revisited",),
    "appealed": ("revoked", "rectifying"),
}
TICKET_WORKING_DAYS = 15
MAX_COMMENT = 500


def _score(value: Any, field: str) -> int:
    try:
        score = int(value)
    except (TypeError, ValueError):
        raise ValidationError({field: str(_l("请选择 1 至 5 分"))}) from None
    if score not in SCORES:
        raise ValidationError({field: str(_l("请选择 1 至 5 分"))})
    return score


def can_rate(actor: User, app: Application) -> bool:
    return app.status in RATEABLE_STATES and may_act_on(actor, app) and rating_of(app.id) is None


def already_rated(rating: Rating) -> str:
    """What a second rating is told: it was rated already, and when (in the city's time)."""
    when = clock.format_local(rating.created_at)
    if rating.visit_no:
        return str(_l("您已于 %(when)s 评价过这次到场，每次只能评价一次", when=when))
    return str(_l("您已于 %(when)s 评价过这件办件，每件只能评价一次", when=when))


def check_rateable(app: Application, visit_no: int = 0) -> None:
    """Raise Conflict saying why the case (or visit) cannot be rated now: already rated (and
    when), or not finished yet."""
    given = rating_of(app.id, visit_no)
    if given is not None:
        raise Conflict(already_rated(given))
    if not visit_no and app.status not in RATEABLE_STATES:
        raise Conflict(str(_l("办结后才能评价")))


def rating_of(application_id: int, visit_no: int = 0) -> Rating | None:
    return db.session.scalar(
        select(Rating).where(Rating.application_id == application_id, Rating.visit_no == visit_no)
    )


def visits_to_rate(application_id: int) -> list[tuple[Visit, Rating | None]]:
    """一次一评: each in-person visit of the case with its rating, if the citizen gave one."""
    given = {
        r.visit_no: r
        for r in db.session.scalars(
            select(Rating).where(Rating.application_id == application_id, Rating.visit_no > 0)
        )
    }
    return [(v, given.get(v.number)) for v in visits_of(application_id)]


def visit_of(app: Application, visit_no: int) -> Visit:
    visit = db.session.scalar(
        select(Visit).where(Visit.application_id == app.id, Visit.number == visit_no)
    )
    if visit is None or app.status == "draft":
        raise NotFound(str(_l("没有这次到场记录")))
    return visit


def rate_case(
    actor: User,
    application_id: int,
    *,
    score: Any,
    indicators: dict[str, Any],
    tags: list[str],
    comment: str = "",
    visit_no: int = 0,
) -> Rating:
    """一事一评: the citizen rates a finished case once online (``visit_no`` 0), and 一次一评 each
    in-person visit once, whatever the case's state (only the score is asked about a visit);
    1 or 2 opens a follow-up ticket."""
    app = get_own_application(actor, application_id)
    if visit_no:
        visit_of(app, visit_no)
    check_rateable(app, visit_no)
    errors: dict[str, str] = {}
    try:
        overall = _score(score, "score")
    except ValidationError as exc:
        errors.update(exc.errors)
        overall = 0
    clean_indicators: dict[str, int] = {}
    for key in INDICATORS if not visit_no else ():
        try:
            clean_indicators[key] = _score(indicators.get(key), f"i_{key}")
        except ValidationError as exc:
            errors.update(exc.errors)
    if set(indicators) - set(INDICATORS):
        errors["score"] = str(_l("评价指标不正确"))
    clean_tags = list(dict.fromkeys(tags or []))
    if set(clean_tags) - set(TAGS):
        errors["tags"] = str(_l("选项不正确"))
    comment = (comment or "").strip()
    if len(comment) > MAX_COMMENT:
        errors["comment"] = str(_l("最多 %(n)d 个字", n=MAX_COMMENT))
    elif any(ord(ch) < 32 and ch not in "\r\n" for ch in comment):
        errors["comment"] = str(_l("含有不允许的字符"))
    if errors:
        raise ValidationError(errors)
    rating = Rating(
        application_id=app.id,
        citizen_id=app.applicant_id,
        visit_no=visit_no,
        score=overall,
        indicators=clean_indicators,
        tags=clean_tags,
        comment=comment,
    )
    try:
        with db.session.begin_nested():
            db.session.add(rating)
    except IntegrityError:  # rated meanwhile by a request running alongside
        given = rating_of(app.id, visit_no)
        raise Conflict(
            already_rated(given)
            if given is not None
            else str(_l("您已评价过这件办件，每件只能评价一次"))
        ) from None
    ticket = None
    if overall <= 2:
        ticket = FollowUpTicket(
            rating_id=rating.id,
            application_id=app.id,
            department_id=app.department_id,
            due_date=workdays.add_working_days(clock.local_today(), TICKET_WORKING_DAYS),
            history=[{"status": "verifying", "at": utcnow().isoformat(), "by": None}],
        )
        db.session.add(ticket)
        db.session.flush()
    audit.record_event(
        "rated",
        actor=actor,
        application_id=app.id,
        details={
            "score": overall,
            "tags": clean_tags,
            "visit_no": visit_no,
            "ticket": ticket.id if ticket else None,
        },
    )
    return rating


def list_tickets(actor: User) -> list[FollowUpTicket]:
    if actor.role != Role.admin:
        raise NotAuthorized(str(_l("只有管理员可以查看差评整改")))
    return list(
        db.session.scalars(
            select(FollowUpTicket)
            .options(selectinload(FollowUpTicket.department))
            .order_by(FollowUpTicket.due_date, FollowUpTicket.id)
        )
    )


def advance_ticket(actor: User, ticket_id: int, to_status: str, note: str = "") -> FollowUpTicket:
    if actor.role != Role.admin:
        raise NotAuthorized(str(_l("只有管理员可以处理差评整改")))
    ticket = db.session.get(FollowUpTicket, ticket_id)
    if ticket is None:
        raise NotFound(str(_l("整改单不存在")))
    if to_status not in TICKET_FLOW.get(ticket.status, ()):
        raise Conflict(str(_l("整改单当前状态不能进行此操作")))
    note = (note or "").strip()
    if not note:
        raise ValidationError({"note": str(_l("请填写处理说明"))})
    if len(note) > MAX_COMMENT:
        raise ValidationError({"note": str(_l("最多 %(n)d 个字", n=MAX_COMMENT))})
    ticket.status = to_status
    ticket.history = [
        *ticket.history,
        {"status": to_status, "at": utcnow().isoformat(), "by": actor.id, "note": note},
    ]
    db.session.flush()
    audit.record_event(
        "ticket_" + to_status,
        actor=actor,
        application_id=ticket.application_id,
        details={"ticket": ticket.id, "note": note},
    )
    return ticket
