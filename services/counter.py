"""The walk-in a counter clerk is serving (综合窗口): one open context per clerk, on the server.

Every workstation page reads the citizen from the clerk's open context, never from a URL or
a form, so "办理下一位" (``end_context``) leaves nothing of the previous citizen behind. A
clerk may open a case only while serving its applicant; any other attempt is refused and
logged (``check_serving``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import Select, func, or_, select, update

from portal.extensions import db
from portal.models import (
    Application,
    ApplicationMaterial,
    Appointment,
    Bundle,
    Channel,
    Citizen,
    CounterContext,
    Document,
    DocumentStatus,
    ItemVersion,
    MaterialType,
    Notice,
    Role,
    ServiceItem,
    Ticket,
    User,
    Visit,
)
from portal.models.base import utcnow
from services import (
    accounts,
    applications,
    audit,
    case_states,
    catalogue_query,
    data_use,
    documents,
    materials,
    notices,
    visits,
    workflow,
)
from services.case_access import current_context as current_context
from services.case_access import serves
from services.case_access import serving_citizen_id as serving_citizen_id
from services.errors import Conflict, NotAuthorized, NotFound, ValidationError
from services.identity import normalise_phone, parse_resident_id
from services.materials import case_materials

AUTHORISATION_CODE = "M030"  # 授权委托书
AUTHORISATION_FIELD = "authorisation"


def _require_counter(staff: User) -> None:
    if staff is None or staff.role != Role.counter:
        raise NotAuthorized(str(_l("只有综合窗口人员可以接待办事群众")))


def begin_context(
    staff: User,
    citizen: Citizen,
    *,
    agent: Citizen | None = None,
    ticket_id: int | None = None,
    appointment_id: int | None = None,
) -> CounterContext:
    """Start serving ``citizen`` (closing any context the clerk left open)."""
    _require_counter(staff)
    end_context(staff)
    ctx = CounterContext(
        staff_id=staff.id,
        citizen_id=citizen.id,
        agent_id=agent.id if agent else None,
        ticket_id=ticket_id,
        appointment_id=appointment_id,
        application_ids=[],
    )
    db.session.add(ctx)
    db.session.flush()
    audit.record_event(
        "counter_serve",
        actor=staff,
        details={
            "context": ctx.id,
            "citizen": citizen.id,
            "agent": ctx.agent_id,
            "ticket": ticket_id,
            "appointment": appointment_id,
        },
    )
    return ctx


def end_context(staff: User) -> int:
    """办理下一位: close the clerk's open context(s). Returns how many were closed. The booking
    the citizen came for is done (预约已办结), and so is their queue ticket if still open."""
    _require_counter(staff)
    open_ = db.session.execute(
        select(CounterContext.appointment_id, CounterContext.ticket_id).where(
            CounterContext.staff_id == staff.id, CounterContext.ended_at.is_(None)
        )
    ).all()
    appointment_ids = [a for a, _t in open_ if a is not None]
    ticket_ids = [t for _a, t in open_ if t is not None]
    if appointment_ids:
        db.session.execute(
            update(Appointment)
            .where(Appointment.id.in_(appointment_ids), Appointment.status == "arrived")
            .values(status="done")
            .execution_options(synchronize_session=False)
        )
    if ticket_ids:
        db.session.execute(
            update(Ticket)
            .where(Ticket.id.in_(ticket_ids), Ticket.status.in_(("called", "serving")))
            .values(status="done", finished_at=utcnow())
            .execution_options(synchronize_session=False)
        )
    closed = db.session.execute(
        update(CounterContext)
        .where(CounterContext.staff_id == staff.id, CounterContext.ended_at.is_(None))
        .values(ended_at=utcnow())
        .execution_options(synchronize_session=False)
    ).rowcount
    if closed:
        db.session.expire_all()
        audit.record_event("counter_next", actor=staff, details={"closed": closed})
    return closed


def note_case(staff: User, application_id: int) -> None:
    """Remember that this contact handled the case (the workstation lists them)."""
    _note_case(current_context(staff), application_id)


def _note_case(ctx: CounterContext | None, application_id: int) -> None:
    if ctx is not None and application_id not in ctx.application_ids:
        ctx.application_ids = [*ctx.application_ids, application_id]
        db.session.flush()


def check_serving(staff: User, application_id: int) -> Application:
    """The case, if the clerk is serving its applicant (the rule: services/case_access);
    otherwise 403 and an audit event, flushed here and kept by the request boundary."""
    return _serving_case(staff, application_id)[0]


def _serving_case(staff: User, application_id: int) -> tuple[Application, CounterContext]:
    """The case and the clerk's open context, read once for the whole counter action."""
    _require_counter(staff)
    app = db.session.get(Application, application_id)
    if app is None:
        raise NotFound(str(_l("办件不存在")))
    ctx = current_context(staff)
    if ctx is None or not serves(ctx, app):
        audit.record_refusal(  # kept by the request boundary after it rolls back
            "counter_access_refused",
            actor=staff,
            application_id=app.id,
            details={"serving": ctx.citizen_id if ctx is not None else None},
        )
        db.session.flush()
        raise NotAuthorized(str(_l("该办件不属于您正在接待的办事群众")))
    return app, ctx


# ---- finding or registering the citizen ------------------------------------------------------

LOOKUP_FIELD = "query"


def lookup_statement(query: str, field: str = LOOKUP_FIELD) -> Select:
    """The one query that finds a citizen by 身份证号 or phone: an equality on a unique (indexed)
    column. ValidationError for input that is neither a valid 身份证号 nor an 11-digit phone."""
    raw = _compact(query)
    if not raw:
        raise ValidationError({field: str(_l("请输入身份证号或手机号"))})
    if _looks_like_phone(raw):
        return select(Citizen).where(Citizen.phone == normalise_phone(raw, field))
    return select(Citizen).where(Citizen.id_number == parse_resident_id(raw, field).number)


def _compact(query: str | None) -> str:
    return re.sub(r"[\s-]", "", query or "")


def _looks_like_phone(raw: str) -> bool:
    return len(raw) <= 14 and raw.lstrip("+").isdigit()


def registration_prefill(query: str) -> dict[str, str]:
    """What the clerk typed to look the citizen up, for the matching registration field."""
    raw = _compact(query)
    return {"phone" if _looks_like_phone(raw) else "id_number": raw}


def find_citizen(query: str, field: str = LOOKUP_FIELD) -> Citizen | None:
    """The citizen with this 身份证号 or phone, or None."""
    return db.session.scalar(lookup_statement(query, field))


def lookup_citizen(staff: User, query: str) -> Citizen | None:
    """Find the walk-in by 身份证号 or phone and start serving them; None when the portal does
    not know them yet (the clerk then registers them on the spot).

    The queue ticket the clerk is serving comes along; the appointment and case it names are
    linked only when the person was identified by 身份证号 and is the one they belong to."""
    _require_counter(staff)
    citizen = find_citizen(query)
    if citizen is not None:
        identified = not _looks_like_phone(_compact(query))
        begin_context(staff, citizen, **_ticket_link(staff, citizen, identified=identified))
    return citizen


def serving_ticket(staff: User) -> Ticket | None:
    """The queue ticket this clerk started serving (开始接待) and has not finished."""
    return db.session.scalar(
        select(Ticket)
        .where(Ticket.staff_id == staff.id, Ticket.status == "serving")
        .order_by(Ticket.called_at.desc(), Ticket.id.desc())
        .limit(1)
    )


def _ticket_link(staff: User, citizen: Citizen, *, identified: bool) -> dict[str, int | None]:
    """The ticket (and what it names) that the new counter context carries."""
    ticket = serving_ticket(staff)
    if ticket is None:
        return {}
    if ticket.appointment_id is None and ticket.application_id is None:
        return {"ticket_id": ticket.id}
    owners = set()
    if ticket.appointment_id is not None:
        owners.add(
            db.session.scalar(
                select(Appointment.citizen_id).where(Appointment.id == ticket.appointment_id)
            )
        )
    if ticket.application_id is not None:
        owners.add(
            db.session.scalar(
                select(Application.applicant_id).where(Application.id == ticket.application_id)
            )
        )
    if identified and citizen.id in owners:
        return {"ticket_id": ticket.id, "appointment_id": ticket.appointment_id}
    audit.record_event(
        "queue_link_refused",
        actor=staff,
        details={
            "ticket": ticket.id,
            "citizen": citizen.id,
            "reason": "not identified by id number" if not identified else "another person",
        },
    )
    return {"ticket_id": ticket.id}


def check_phone_free(phone: str, citizen: Citizen | None, field: str = "phone") -> None:
    """Refuse a phone number that belongs to another person (a citizen record or a login)."""
    owner = db.session.scalar(select(Citizen).where(Citizen.phone == phone))
    login = db.session.scalar(select(User).where(User.phone == phone))
    others = (owner is not None and (citizen is None or owner.id != citizen.id)) or (
        login is not None and (citizen is None or login.citizen_id != citizen.id)
    )
    if others:
        raise ValidationError({field: str(_l("该手机号已登记在他人名下，请核实后重新输入"))})


def _person(*, name: str, id_number: str, phone: str, address: str = "") -> Citizen:
    """Find or create a real-name citizen record, every field checked and reported at once."""
    errors: dict[str, str] = {}
    clean: dict[str, str] = {}
    for key, check in (
        ("name", accounts.check_real_name),
        ("id_number", lambda v: parse_resident_id(v).number),
        ("phone", normalise_phone),
    ):
        try:
            clean[key] = check({"name": name, "id_number": id_number, "phone": phone}[key])
        except ValidationError as exc:
            errors.update(exc.errors)
    address = (address or "").strip()
    if len(address) > 200 or any(ord(ch) < 32 for ch in address):
        errors["address"] = str(_l("地址最多 200 个字"))
    if not errors:
        existing = accounts.find_citizen_by_id_number(clean["id_number"])
        try:
            check_phone_free(clean["phone"], existing)
        except ValidationError as exc:
            errors.update(exc.errors)
    if errors:
        raise ValidationError(errors)
    citizen = accounts.find_or_create_citizen(
        name=clean["name"], id_number=clean["id_number"], phone=clean["phone"], address=address
    )
    if citizen.phone is None:
        citizen.phone = clean["phone"]
    if address and not citizen.address:
        citizen.address = address
    db.session.flush()
    return citizen


def register_walk_in(
    staff: User, *, name: str, id_number: str, phone: str, address: str = ""
) -> Citizen:
    """A walk-in the portal does not know yet: the real-name record (no online account; the
    citizen may activate one later with the same phone), then serve them."""
    _require_counter(staff)
    citizen = _person(name=name, id_number=id_number, phone=phone, address=address)
    ctx = begin_context(staff, citizen, **_ticket_link(staff, citizen, identified=True))
    audit.record_event(
        "counter_register", actor=staff, details={"context": ctx.id, "citizen": citizen.id}
    )
    return citizen


def _require_context(staff: User) -> CounterContext:
    _require_counter(staff)
    ctx = current_context(staff)
    if ctx is None or ctx.citizen_id is None:
        raise Conflict(str(_l("当前没有正在接待的办事群众，请先查找或登记")))
    return ctx


def record_agent(staff: User, *, name: str, id_number: str, phone: str) -> Citizen:
    """代理人: the person who came on the applicant's behalf; cases started now carry them."""
    ctx = _require_context(staff)
    agent = _person(name=name, id_number=id_number, phone=phone)
    if agent.id == ctx.citizen_id:
        raise ValidationError({"id_number": str(_l("代理人不能是申请人本人"))})
    ctx.agent_id = agent.id
    db.session.flush()
    audit.record_event("counter_agent", actor=staff, details={"context": ctx.id, "agent": agent.id})
    return agent


def clear_agent(staff: User) -> None:
    ctx = _require_context(staff)
    ctx.agent_id = None
    db.session.flush()


def reveal_citizen(staff: User) -> CounterContext:
    """ "显示完整信息" of the citizen being served: in the audit trail and the citizen's data-use log."""
    ctx = _require_context(staff)
    audit.record_event(
        "personal_data_revealed",
        actor=staff,
        details={
            "context": ctx.id,
            "citizen": ctx.citizen_id,
            "fields": ["name", "id_number", "phone", "address"],
        },
    )
    data_use.record_use(
        staff, ctx.citizen_id, data_use.REVEAL_PERSONAL_DATA, reason=data_use.COUNTER_SERVICE
    )
    return ctx


@dataclass(frozen=True)
class Served:
    """What the workstation shows of the contact: the citizen, the agent, their cases (rows of
    id, number, status and title: the item's name, or the life event's for a 一件事)."""

    context: CounterContext
    citizen: Citizen
    agent: Citizen | None
    drafts: list[Any]
    open_cases: list[Any]
    ready: list[Any]  # approved, waiting to be handed over (出件)


def served(staff: User) -> Served | None:
    ctx = current_context(staff)
    if ctx is None or ctx.citizen_id is None:
        return None
    rows = db.session.execute(
        select(
            Application.id,
            Application.number,
            Application.status,
            func.coalesce(Bundle.name, ItemVersion.name, "").label("title"),
        )
        .outerjoin(ItemVersion, ItemVersion.id == Application.item_version_id)
        .outerjoin(Bundle, Bundle.id == Application.bundle_id)
        .where(
            Application.applicant_id == ctx.citizen_id,
            Application.parent_id.is_(None),
            or_(
                Application.status.in_(case_states.STAFF_OPEN_STATES),
                Application.id.in_(ctx.application_ids or [-1]),
                (Application.status == "draft") & (Application.channel == Channel.counter),
            ),
        )
        .order_by(Application.id.desc())
        .limit(50)
    ).all()
    return Served(
        context=ctx,
        citizen=db.session.get(Citizen, ctx.citizen_id),
        agent=db.session.get(Citizen, ctx.agent_id) if ctx.agent_id else None,
        drafts=[a for a in rows if a.status == "draft"],
        open_cases=[a for a in rows if a.status not in ("draft", "awaiting_pickup")],
        ready=[a for a in rows if a.status == "awaiting_pickup"],
    )


# ---- intake on the citizen's behalf -----------------------------------------------------------


def search_items(query: str, limit: int = 20) -> list:
    """Published items of any department by name, code or pinyin (无差别受理)."""
    return catalogue_query.search_catalogue(query, per_page=limit).items


def start_intake(staff: User, code: str) -> Application:
    """A counter-channel draft for the served citizen (and their agent, if one came)."""
    ctx = _require_context(staff)
    item = db.session.scalar(select(ServiceItem).where(ServiceItem.code == (code or "").strip()))
    if item is None:
        raise NotFound(str(_l("该事项暂未开放办理")))
    app = applications.start_draft(
        actor=staff,
        applicant=db.session.get(Citizen, ctx.citizen_id),
        item=item,
        channel=Channel.counter,
        agent=db.session.get(Citizen, ctx.agent_id) if ctx.agent_id else None,
    )
    if app.agent_id != ctx.agent_id:  # the same draft, resumed with another (or no) agent
        app.agent_id, app.agent_authorisation_id = ctx.agent_id, None
    if not app.materials:
        applications.sync_materials(app)
    _note_case(ctx, app.id)
    return app


def get_intake(staff: User, application_id: int) -> Application:
    """A counter draft of the served citizen (403 and logged for anyone else's)."""
    return _intake(staff, application_id)[0]


def _intake(staff: User, application_id: int) -> tuple[Application, CounterContext]:
    app, ctx = _serving_case(staff, application_id)
    if app.status != case_states.DRAFT or app.channel != Channel.counter:
        raise NotFound(str(_l("草稿不存在或已提交")))
    return app, ctx


def save_intake(
    staff: User,
    application_id: int,
    *,
    conditions: dict[str, str],
    answers: dict[str, Any],
    choices: dict[int, str],
) -> Application:
    """The one intake page: 情形, 信息 and 材料 saved together, every error reported at once."""
    app = get_intake(staff, application_id)
    citizen = db.session.get(Citizen, app.applicant_id)
    errors: dict[str, str] = {}
    try:
        applications.save_conditions(app, conditions)
    except ValidationError as exc:
        errors.update(exc.errors)
    try:
        applications.save_form(app, answers)
    except ValidationError as exc:
        errors.update(exc.errors)
    for material in list(app.materials):
        try:
            choice = materials.parse_choice(choices.get(material.requirement_id, ""))
        except ValidationError:
            continue  # a malformed document choice leaves the material as it was
        try:
            if choice is not None:
                materials.apply_choice(app, material.requirement_id, choice, citizen)
        except ValidationError as exc:
            errors.update(exc.errors)
        except NotFound as exc:
            errors[f"m_{material.requirement_id}"] = exc.message
    if errors:
        raise ValidationError(errors)
    return app


def authorisation_type() -> MaterialType:
    """授权委托书 (M030): what an agent must bring, signed by the applicant."""
    material_type = db.session.scalar(
        select(MaterialType).where(MaterialType.code == AUTHORISATION_CODE)
    )
    if material_type is None:
        raise NotFound(str(_l("材料目录中没有授权委托书")))
    return material_type


def attach_authorisation(
    staff: User, application_id: int, *, document_id: int | None = None, **upload: Any
) -> Document:
    """The applicant's 授权委托书 for a case brought by an agent: a scan taken now (into the
    applicant's library) or one already there."""
    app = get_intake(staff, application_id)
    if app.agent_id is None:
        raise Conflict(str(_l("本次办理没有代理人，不需要授权委托书")))
    material_type = authorisation_type()
    if document_id is not None:
        doc = db.session.get(Document, document_id)
        if (
            doc is None
            or doc.owner_id != app.applicant_id
            or doc.material_type_id != material_type.id
        ):
            raise ValidationError({AUTHORISATION_FIELD: str(_l("请选择申请人的授权委托书"))})
    else:
        try:
            doc = documents.upload_document(
                staff,
                material_type_id=material_type.id,
                owner=db.session.get(Citizen, app.applicant_id),
                **upload,
            )
        except ValidationError as exc:
            raise ValidationError(
                {f"{AUTHORISATION_FIELD}_{k}": v for k, v in exc.errors.items()}
            ) from None
    app.agent_authorisation_id = doc.id
    db.session.flush()
    audit.record_event(
        "agent_authorisation",
        actor=staff,
        application_id=app.id,
        details={"document": doc.id, "agent": app.agent_id},
    )
    return doc


def authorisations_on_file(app: Application) -> list[Document]:
    material_type = authorisation_type()
    return list(
        db.session.scalars(
            select(Document)
            .where(
                Document.owner_id == app.applicant_id,
                Document.material_type_id == material_type.id,
                Document.status == DocumentStatus.valid,
            )
            .order_by(Document.id.desc())
            .limit(5)
        )
    )


def _count_visit(
    staff: User, ctx: CounterContext, app: Application, kind: str, reason: str = ""
) -> Visit | None:
    """One visit per case per contact, whatever the clerk does on it during that contact
    (``ctx``: the open context the caller checked the case against)."""
    already = db.session.scalar(
        select(Visit.id)
        .where(
            Visit.application_id == app.id,
            Visit.staff_id == staff.id,
            Visit.created_at >= ctx.started_at,
        )
        .limit(1)
    )
    _note_case(ctx, app.id)
    if already is not None:
        return None
    db.session.refresh(app, ["visit_count"])
    if kind == "intake" and not reason and app.visit_count >= visits.promised_visits(app):
        reason = str(
            _l("办事群众选择到窗口办理")
        )  # the citizen's choice, not the department's demand
    try:
        return visits.record_checked_visit(app, staff, kind, reason)
    except ValidationError as exc:  # the counter's forms call the visit's reason visit_reason
        raise ValidationError(
            {"visit_reason" if k == "reason" else k: v for k, v in exc.errors.items()}
        ) from None


def submit_intake(staff: User, application_id: int, token: str) -> Application:
    """Submit the counter draft: the same pre-check as online (plus the 授权委托书 when an agent
    brought the case); the contact counts as one visit on the case."""
    app, ctx = _intake(staff, application_id)
    app = applications.submit_checked(staff, app, token)
    _count_visit(staff, ctx, app, "intake")
    return app


def check_original(
    staff: User, application_id: int, material_id: int, visit_reason: str = ""
) -> ApplicationMaterial:
    """原件已核验 at the counter: the reviewers' verdict, which raises the document C → B for
    every later case; a visit on the case if this contact has not counted one yet."""
    app, ctx = _serving_case(staff, application_id)
    material = workflow.set_checked_material_verdict(staff, app, material_id, "original_checked")
    _count_visit(staff, ctx, app, "original_check", visit_reason)
    return material


def resubmit_correction(
    staff: User,
    application_id: int,
    version: int,
    *,
    answers: dict[str, Any],
    documents: dict[int, int],
) -> Application:
    """The walk-in brings the corrected items: only those the 一次性告知 listed change, exactly
    as online; the contact counts as one visit on the case."""
    app, ctx = _serving_case(staff, application_id)
    app = workflow.perform_checked(
        staff, app, "resubmit", version, answers=answers, documents=documents
    )
    _count_visit(staff, ctx, app, "intake")
    return app


COUNTER_ACTIONS = ("accept", "approve_instantly", "not_accept", "request_correction", "pickup")
PICKUP = "pickup"


def decide(
    staff: User, application_id: int, action: str, version: int, **params: Any
) -> Application:
    """An outcome on the spot through the workflow table: 受理, 即办, 不予受理, 一次性告知, or
    出件 (handing the result over at the counter)."""
    if action not in COUNTER_ACTIONS:
        raise NotFound(str(_l("没有这个操作")))
    app, ctx = _serving_case(staff, application_id)
    reason = str(params.pop("visit_reason", "") or "")
    app = workflow.perform_checked(staff, app, action, version, **params)
    _count_visit(staff, ctx, app, PICKUP if action == PICKUP else "intake", reason)
    return app


@dataclass(frozen=True)
class CounterCase:
    app: Application
    materials: list[ApplicationMaterial]
    notices: list[Notice]
    actions: list[str]
    visits: list[Visit]


def case_view(staff: User, application_id: int) -> CounterCase:
    app = check_serving(staff, application_id)
    app = workflow.load_case(app.id)
    materials = case_materials(app.id)
    actions = [a for a in workflow.offered_actions(app, staff) if a in COUNTER_ACTIONS]
    if (
        "request_correction" in workflow.allowed_actions(app, staff)
        and "request_correction" not in actions
    ):
        actions.append("request_correction")
    return CounterCase(
        app=app,
        materials=materials,
        notices=notices.notices_of(app.id),
        actions=actions,
        visits=visits.visits_of(app.id),
    )


def case_notice(staff: User, application_id: int, notice_id: int) -> Notice:
    check_serving(staff, application_id)
    return notices.get_case_notice(application_id, notice_id)
