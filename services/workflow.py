"""办件 workflow: every state change of a case, declared in one table and enforced here only.

``TRANSITIONS`` says, for each action, from which states it may be taken, which state it
leads to, which roles may take it and which notices it issues; submission (draft →
submitted) is its "submit" row (``submit``). ``perform`` is the one way in: it asks
services/case_access once whether the actor may see the case (a reviewer: their own
department's cases; counter staff: any case of the citizen they serve, 无差别受理; a citizen:
their own), then checks the role, the state and the version the actor saw; a caller that has
already checked access (the counter) uses ``perform_checked``. Each handler takes typed keyword
parameters; one it does not take is refused (TypeError). The state change itself is one
conditional UPDATE (… WHERE id = ? AND version = ? AND status = ?): when another reviewer got
there first it changes no row and the actor is told to refresh. Then the notices are rendered
and stored, the event is appended to the audit chain with their sha256, and the citizen is
notified — all in the caller's transaction.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from functools import cache
from typing import Any

from flask_babel import force_locale
from flask_babel import lazy_gettext as _l
from sqlalchemy import Row, Update, bindparam, func, select, update
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.orm import selectinload
from sqlalchemy.orm.attributes import set_committed_value

from portal.extensions import db
from portal.models import (
    Application,
    ApplicationMaterial,
    Channel,
    CorrectionException,
    CorrectionRequest,
    Document,
    DocumentStatus,
    ELicence,
    Grade,
    ItemVersion,
    MaterialRequirement,
    MaterialType,
    Notice,
    PostCheckTask,
    Role,
    SatisfiedBy,
    StaffReminder,
    Suspension,
    User,
)
from portal.models.base import utcnow
from services import (
    audit,
    auto_approval,
    clock,
    delivery,
    materials,
    messages,
    notices,
    numbering,
    workdays,
)
from services.case_access import may_see
from services.case_states import (
    CLOSED_STATES,
    CONFLICT_MESSAGE,
    DELIVERY_KINDS,
    DRAFT,
    OPEN_STATES,
    STAFF_OPEN_STATES,
    STATE_MESSAGE,
    SUSPENSION_KINDS,
)
from services.documents import valid_until_for
from services.elicences import issue_elicence
from services.errors import Conflict, NotAuthorized, NotFound, ValidationError

SYSTEM = "system"  # the role of scheduled jobs and 秒批

SECOND_CORRECTION_MESSAGE = _l(
    "本办件已一次性告知过补正，不能再次要求补正；确需再次补正的，须由管理员登记例外并说明理由"
)

MAX_REASON = 500
POST_CHECK_WORKING_DAYS = 20
DEEMED_ACCEPTANCE_WORKING_DAYS = 5


@dataclass(frozen=True)
class Transition:
    """One row of the table: ``target`` None means the case stays in its state."""

    sources: tuple[str, ...]
    target: str | None
    roles: frozenset[str]
    notices: tuple[str, ...] = ()
    label: Any = ""


def _t(sources, target, roles, notices=(), label="") -> Transition:
    return Transition(tuple(sources), target, frozenset(roles), tuple(notices), label)


STAFF = ("reviewer", "counter")
DELIVERY_SOURCES = ("approved", "certifying")
TRANSITIONS: dict[str, Transition] = {
    # 提交: a draft becomes a case with its number (services/applications.submit_application;
    # a 一件事 parent submits its children with it)
    "submit": _t([DRAFT], "submitted", ["citizen", "counter"], [], _l("提交")),
    # 预审 → 受理 / 补正 / 不予受理
    "request_correction": _t(
        ["submitted"], "correction_required", STAFF, ["correction"], _l("一次性告知补正")
    ),
    "resubmit": _t(
        ["correction_required"], "submitted", ["citizen", "counter"], [], _l("补正后重新提交")
    ),
    "accept": _t(["submitted"], "accepted", STAFF, ["acceptance"], _l("受理")),
    "accept_pending_materials": _t(
        ["submitted"], "accepted_pending_materials", STAFF, ["deferred_acceptance"], _l("容缺受理")
    ),
    "accept_on_commitment": _t(
        ["submitted"], "accepted_on_commitment", STAFF, ["acceptance"], _l("告知承诺受理")
    ),
    "not_accept": _t(["submitted"], "not_accepted", STAFF, ["not_accepted"], _l("不予受理")),
    # 即办件 (and 秒批): accepted and decided in one step
    "approve_instantly": _t(
        ["submitted"], "approved", [*STAFF, SYSTEM], ["approval"], _l("即办：受理并准予")
    ),
    # 容缺: the citizen supplies, the reviewer confirms
    "supply_materials": _t(
        ["accepted_pending_materials"], None, ["citizen"], [], _l("补交容缺材料")
    ),
    "materials_complete": _t(
        ["accepted_pending_materials"],
        "in_review",
        ["reviewer"],
        [],
        _l("容缺材料已补齐，开始审查"),
    ),
    # 审查 through the guide's steps, possibly with a 特别程序
    "start_review": _t(
        ["accepted", "accepted_on_commitment"], "in_review", ["reviewer"], [], _l("开始审查")
    ),
    "advance_step": _t(["in_review"], None, ["reviewer"], [], _l("进入下一环节")),
    "suspend": _t(["in_review"], "suspended", ["reviewer"], [], _l("启动特别程序")),
    "resume": _t(["suspended"], "in_review", ["reviewer"], [], _l("结束特别程序")),
    # 决定 at the guide's decision step; then its 制证 step, if it declares one, and 送达 by the
    # method the applicant chose (services/delivery.py): 办结 only when the result is delivered
    "approve": _t(["in_review"], "approved", ["reviewer"], ["approval"], _l("准予")),
    "deny": _t(["in_review"], "denied", ["reviewer"], ["denial"], _l("不予许可")),
    "start_certifying": _t(["approved"], "certifying", [*STAFF, SYSTEM], [], _l("进入制证环节")),
    "certify": _t(["certifying"], None, ["reviewer"], [], _l("制证完成")),
    # a case decided before delivery was tracked: its department sends it on its way
    "deliver": _t(["approved"], None, ["reviewer"], [], _l("送达")),
    "deliver_online": _t(
        DELIVERY_SOURCES, "completed", [*STAFF, SYSTEM], ["completion"], _l("电子送达")
    ),
    "await_pickup": _t(DELIVERY_SOURCES, "awaiting_pickup", [*STAFF, SYSTEM], [], _l("待领取")),
    "await_post": _t(DELIVERY_SOURCES, "awaiting_post", [*STAFF, SYSTEM], [], _l("待邮寄")),
    "pickup": _t(["awaiting_pickup"], "completed", ["counter"], ["completion"], _l("出件")),
    "mail": _t(["awaiting_post"], "mailed", STAFF, [], _l("登记寄出")),
    "confirm_receipt": _t(
        ["mailed"], "completed", ["citizen", *STAFF], ["completion"], _l("确认收到")
    ),
    # the citizen may withdraw until a decision is made
    "withdraw": _t(OPEN_STATES, "withdrawn", ["citizen"], [], _l("撤回")),
    # termination: 容缺 deadline missed (a job), or a commitment found false (post-check)
    "terminate_deferral": _t(
        ["accepted_pending_materials"],
        "terminated",
        [SYSTEM],
        ["termination"],
        _l("逾期未补齐容缺材料，终止办理"),
    ),
    "terminate_false_commitment": _t(
        [
            "accepted_on_commitment",
            "in_review",
            "suspended",
            "approved",
            "certifying",
            "awaiting_pickup",
            "awaiting_post",
            "mailed",
            "completed",
        ],
        "terminated",
        ["reviewer"],
        ["termination"],
        _l("承诺不实，终止办理"),
    ),
    # who holds the case
    "claim": _t(STAFF_OPEN_STATES, None, ["reviewer"], [], _l("认领")),
    "assign": _t(STAFF_OPEN_STATES, None, ["reviewer"], [], _l("指派")),
}
# the actions a reviewer sees as buttons on the case page (the rest have their own forms)
DECISION_ACTIONS = (
    "accept",
    "accept_pending_materials",
    "accept_on_commitment",
    "approve_instantly",
    "materials_complete",
    "start_review",
    "advance_step",
    "resume",
    "approve",
    "certify",
    "deliver",
    "mail",
    "confirm_receipt",
)


def role_of(actor: User | None) -> str:
    return SYSTEM if actor is None else actor.role.value


def allowed_actions(app: Application, actor: User | None) -> list[str]:
    """The actions the table allows this actor in the case's current state."""
    role = role_of(actor)
    return [name for name, t in TRANSITIONS.items() if app.status in t.sources and role in t.roles]


def offered_actions(app: Application, actor: User | None) -> list[str]:
    """The allowed actions that also fit this case (容缺 only with deferred materials, 即办 only
    for 即办件 …): what the case page offers as buttons."""
    deferred = bool(_materials(app, SatisfiedBy.deferred))
    committed = bool(_materials(app, SatisfiedBy.commitment))
    unfit = set()
    if deferred or committed:
        unfit |= {"accept", "approve_instantly"}
    if not deferred:
        unfit.add("accept_pending_materials")
    if not committed or deferred:
        unfit.add("accept_on_commitment")
    if app.item_version is None or app.item_version.case_type != "instant":
        unfit.add("approve_instantly")
    steps = app.item_version.steps if app.item_version else None
    decision = delivery.decision_step(steps)
    if app.current_step >= decision:
        unfit.add("advance_step")
    elif steps:
        unfit.add("approve")  # 准予 only at the decision step: no step is skipped
    if actor is not None and app.assignee_id == actor.id:
        unfit.add("claim")
    return [a for a in allowed_actions(app, actor) if a not in unfit]


# ---- loading and checking ------------------------------------------------------------------


def load_case(application_id: int, *, for_update: bool = False) -> Application:
    stmt = (
        select(Application)
        .where(Application.id == application_id)
        .options(
            selectinload(Application.item_version),
            selectinload(Application.applicant),
            selectinload(Application.materials)
            .selectinload(ApplicationMaterial.requirement)
            .selectinload(MaterialRequirement.material_type),
        )
    )
    app = db.session.scalar(stmt)
    if app is None or app.status == "draft":
        raise NotFound(str(_l("办件不存在")))
    return app


def get_staff_case(actor: User, application_id: int) -> Application:
    """A case for a reviewer's pages: 404 for another department's case, never a hint."""
    app = load_case(application_id)
    if actor.role != Role.reviewer or not may_see(actor, app):
        raise NotFound(str(_l("办件不存在")))
    return app


def _check(
    actor: User | None, app: Application, action: str, expected_version: int | None
) -> Transition:
    """The table's rule for ``action``: the actor's role, the version they saw and the state.
    Who may see the case at all was checked once at the entry (``perform``)."""
    spec = TRANSITIONS.get(action)
    if spec is None:
        raise NotFound(str(_l("没有这个操作")))
    role = role_of(actor)
    if role not in spec.roles:
        raise NotAuthorized(str(_l("您的角色不能进行此操作")))
    if expected_version is not None and expected_version != app.version:
        raise Conflict(str(CONFLICT_MESSAGE))  # a stale page: someone acted since it was shown
    if app.status not in spec.sources:
        raise Conflict(str(STATE_MESSAGE))
    return spec


def _transition(
    actor: User | None,
    app: Application,
    action: str,
    expected_version: int,
    *,
    values: dict[str, Any] | None = None,
    details: dict[str, Any] | None = None,
    notice_context: dict[str, Any] | None = None,
    message: tuple[str, dict] | None = None,
    skip_notices: bool = False,
    drawn: Callable[[], dict[str, Any]] | None = None,
    after_update: Callable[[Application], dict[str, Any]] | None = None,
) -> Application:
    """Take ``action``: one guarded UPDATE, then notices, the audit event and the message.
    ``drawn`` runs once the rule allows the action and returns more values for the UPDATE (a
    case number: drawn only for a submission that can take place, and written by the same
    UPDATE). ``after_update`` runs once the UPDATE took and returns more details for the event."""
    spec = _check(actor, app, action, expected_version)
    source = app.status
    target = spec.target or source
    values = {**(values or {}), **(drawn() if drawn is not None else {})}
    returned = db.session.execute(
        _guarded_update(tuple(sorted(values))),
        {
            "case_id": app.id,
            "expected_version": expected_version,
            "source": source,
            "v_status": target,
            **{f"v_{key}": value for key, value in values.items()},
        },
    ).all()
    if len(returned) != 1:
        raise Conflict(str(CONFLICT_MESSAGE))
    _take_returned(app, returned[0], set(values))
    if after_update is not None:
        details = {**(details or {}), **after_update(app)}
    issued: list[Notice] = []
    if not skip_notices:
        for kind in spec.notices:
            issued.append(notices.issue_notice(app, kind, actor=actor, **(notice_context or {})))
    audit.record_event(
        target if spec.target and target != source else action,
        actor=actor,
        application_id=app.id,
        details={
            "action": action,
            "from": source,
            "to": target,
            "version": app.version,
            **(details or {}),
            "notices": [{"kind": n.kind, "number": n.number, "sha256": n.sha256} for n in issued],
        },
    )
    if message is not None:
        kind, params = message
        messages.notify(app.applicant, kind, application=app, **params)
    if target in CLOSED_STATES and app.parent_id is not None:
        _complete_parent_when_all_decided(app.parent_id, actor)
    return app


@cache
def _guarded_update(keys: tuple[str, ...]) -> Update:
    """The guarded UPDATE of ``_transition`` that sets ``keys`` (besides the status and the
    version), built once per set of keys: building it and its cache key again on every action
    cost more Python than running it. It returns the whole row (``_take_returned``)."""
    table = Application.__table__
    return (
        update(table)
        .where(
            table.c.id == bindparam("case_id"),
            table.c.version == bindparam("expected_version"),
            table.c.status == bindparam("source"),
        )
        .values(
            status=bindparam("v_status", type_=table.c.status.type),
            version=table.c.version + 1,
            **{key: bindparam(f"v_{key}", type_=table.c[key].type) for key in keys},
        )
        .returning(*table.columns)
    )


def _take_returned(app: Application, row: Row, changed: set[str]) -> None:
    """The row the guarded UPDATE returned becomes the case's loaded state: what refreshing it
    would read, without the SELECT (nor loading its guide, person and materials again). A
    relationship whose own column the UPDATE set (an assignee) is loaded again when used."""
    mapper = sa_inspect(Application)
    for prop in mapper.column_attrs:
        set_committed_value(app, prop.key, row._mapping[prop.columns[0]])
    stale = [
        rel.key
        for rel in mapper.relationships
        if any(column.key in changed for column in rel.local_columns)
    ]
    if stale:
        db.session.expire(app, stale)


def perform(
    actor: User | None, application_id: int, action: str, expected_version: int, **params: Any
) -> Application:
    """Take one action on a case (see ``TRANSITIONS``). Raises Conflict when the state does not
    allow it or someone else changed the case since ``expected_version``."""
    handler = _handler(action, params)
    app = load_case(application_id)
    if actor is not None and not may_see(actor, app):
        raise NotFound(str(_l("办件不存在")))
    return _perform(actor, app, action, expected_version, handler, params)


def perform_checked(
    actor: User, app: Application, action: str, expected_version: int, **params: Any
) -> Application:
    """``perform`` for a caller that has loaded the case and checked the actor's access through
    services/case_access itself (the counter's ``check_serving``): not asked again."""
    return _perform(actor, app, action, expected_version, _handler(action, params), params)


def _handler(action: str, params: dict[str, Any]) -> Callable[..., Application]:
    """The action's handler; a parameter it does not take is refused (a misnamed field must
    not be dropped silently: ``reason`` is not ``reasons``)."""
    handler = ACTIONS.get(action)
    if handler is None:
        raise NotFound(str(_l("没有这个操作")))
    takes = _keyword_parameters(handler)
    unknown = set(params) - takes
    if unknown:
        raise TypeError(
            f"workflow action {action!r} takes no parameter {', '.join(sorted(unknown))}"
            f" (it takes: {', '.join(sorted(takes)) or 'none'})"
        )
    return handler


def _keyword_parameters(handler: Callable[..., Application]) -> set[str]:
    return {
        p.name
        for p in inspect.signature(handler).parameters.values()
        if p.kind is inspect.Parameter.KEYWORD_ONLY
    }


def _perform(
    actor: User | None,
    app: Application,
    action: str,
    expected_version: int,
    handler: Callable[..., Application],
    params: dict[str, Any],
) -> Application:
    _check(actor, app, action, expected_version)
    with audit.deferred_events():  # the chain's lock is not held while PDFs render
        return handler(actor, app, expected_version, **params)


# ---- helpers -------------------------------------------------------------------------------


def _clean_text(
    value: Any,
    field_name: str,
    *,
    required: bool = True,
    limit: int = MAX_REASON,
    message: Any = None,
) -> str:
    text = str(value or "").strip()
    if required and not text:
        raise ValidationError({field_name: str(message or _l("请填写理由"))})
    if len(text) > limit:
        raise ValidationError({field_name: str(_l("最多 %(n)d 个字", n=limit))})
    if any(ord(ch) < 32 and ch not in "\r\n" for ch in text):
        raise ValidationError({field_name: str(_l("含有不允许的字符"))})
    return text


def today() -> date:
    return clock.local_today()


def received_on(app: Application) -> date:
    """The day complete materials last arrived (the submission, or the resubmission after 补正)."""
    last = db.session.scalar(
        select(CorrectionRequest.resubmitted_at)
        .where(
            CorrectionRequest.application_id == app.id,
            CorrectionRequest.resubmitted_at.is_not(None),
        )
        .order_by(CorrectionRequest.round.desc())
        .limit(1)
    )
    moment = last or app.submitted_at
    return clock.local_date(moment) if moment else today()


def promised_due(app: Application, start: date) -> date:
    version = app.item_version
    return workdays.due_date(start, version.promised_limit or 0, version.promised_limit_unit)


def _first_review_step(version: ItemVersion) -> int:
    steps = version.steps or []
    if len(steps) > 1 and steps[0].get("role") == "counter":
        return 1
    return 0


def _acceptance_values(app: Application) -> dict[str, Any]:
    # 视为受理: a case left unanswered past 5 working days counts as accepted on arrival
    start = received_on(app) if app.deemed_accepted_at else today()
    return {
        "accepted_at": utcnow(),
        "due_date": promised_due(app, start),
        "current_step": _first_review_step(app.item_version),
        "step_started_on": today(),
    }


def _materials(app: Application, *satisfied: SatisfiedBy) -> list[ApplicationMaterial]:
    return [m for m in app.materials if m.satisfied_by in satisfied]


def _pending_verdicts(app: Application) -> list[ApplicationMaterial]:
    return [m for m in app.materials if m.verdict in ("correct", "supplied")]


def _material_name(material: ApplicationMaterial) -> str:
    return material.requirement.material_type.name


def remind_department(app: Application, kind: str, body: Any) -> None:
    """A reminder for the department's staff (the assignee only, when the case has one)."""
    with force_locale("zh_CN"):  # staff read reminders in Chinese whoever caused them
        body = str(body)
    db.session.add(
        StaffReminder(
            department_id=app.department_id,
            user_id=app.assignee_id,
            application_id=app.id,
            kind=kind,
            body=body,
        )
    )


def _complete_parent_when_all_decided(parent_id: int, actor: User | None) -> None:
    """一件事: the parent case is done when every child case is closed (its result delivered,
    or denied, withdrawn …)."""
    parent = db.session.scalar(
        select(Application)
        .where(Application.id == parent_id)
        .options(selectinload(Application.children))
    )
    if parent is None or parent.status in CLOSED_STATES:
        return
    if any(child.status not in CLOSED_STATES for child in parent.children):
        return
    changed = db.session.execute(
        update(Application)
        .where(Application.id == parent.id, Application.status == parent.status)
        .values(status="completed", completed_at=utcnow(), version=Application.version + 1)
        .execution_options(synchronize_session=False)
    ).rowcount
    if changed != 1:
        return
    db.session.refresh(parent)
    audit.record_event(
        "completed",
        actor=actor,
        application_id=parent.id,
        details={
            "action": "complete_bundle",
            "children": {c.number: c.status for c in parent.children},
        },
    )
    messages.notify(parent.applicant, "decided", application=parent)


# ---- 预审: correction, acceptance, not accepted --------------------------------------------


def _request_correction(
    actor: User | None,
    app: Application,
    version: int,
    *,
    fields: dict[str, str] | None = None,
    materials: dict[int, str] | None = None,
) -> Application:
    """一次性告知: every defective material and field, each with its reason, in one notice."""
    exception = None
    if app.correction_rounds >= 1:
        exception = db.session.scalar(
            select(CorrectionException)
            .where(
                CorrectionException.application_id == app.id, CorrectionException.used_at.is_(None)
            )
            .order_by(CorrectionException.id)
            .limit(1)
        )
        if exception is None:
            raise Conflict(str(SECOND_CORRECTION_MESSAGE))
    questions = {q["key"]: q for q in app.item_version.questions or []}
    by_requirement = {m.requirement_id: m for m in app.materials}
    items: list[dict[str, Any]] = []
    errors: dict[str, str] = {}
    for key, reason in (fields or {}).items():
        if key not in questions:
            raise ValidationError({"": str(_l("表单中没有这一项"))})
        try:
            text = _clean_text(reason, f"f_{key}", message=_l("请写明需要补正的理由"))
        except ValidationError as exc:
            errors.update(exc.errors)
            continue
        items.append(
            {"kind": "field", "key": key, "label": questions[key]["label"], "reason": text}
        )
    chosen = dict(materials or {})
    for material in app.materials:  # every material the reviewer marked 需补正 goes in as well
        if material.verdict == "correct" and material.requirement_id not in chosen:
            chosen[material.requirement_id] = material.verdict_reason
    for req_id, reason in chosen.items():
        material = by_requirement.get(req_id)
        if material is None:
            raise ValidationError({"": str(_l("该材料不在本次申请中"))})
        try:
            text = _clean_text(reason, f"m_{req_id}", message=_l("请写明需要补正的理由"))
        except ValidationError as exc:
            errors.update(exc.errors)
            continue
        items.append(
            {"kind": "material", "key": req_id, "label": _material_name(material), "reason": text}
        )
        material.verdict, material.verdict_reason = "correct", text
    if errors:
        raise ValidationError(errors)
    if not items:
        raise ValidationError({"items": str(_l("请至少列出一项需要补正的材料或信息，并写明理由"))})
    round_no = app.correction_rounds + 1
    _transition(
        actor,
        app,
        "request_correction",
        version,
        values={"correction_rounds": round_no},
        details={
            "round": round_no,
            "items": items,
            "exception": exception.id if exception else None,
        },
        notice_context={"items": items, "round": round_no},
        message=("correction", {}),
    )
    notice = db.session.scalar(
        select(Notice)
        .where(Notice.application_id == app.id, Notice.kind == "correction")
        .order_by(Notice.id.desc())
    )
    db.session.add(
        CorrectionRequest(
            application_id=app.id,
            round=round_no,
            items=items,
            requested_by_id=actor.id if actor else None,
            exception_id=exception.id if exception else None,
            notice_id=notice.id if notice else None,
        )
    )
    if exception is not None:
        exception.used_at = utcnow()
    db.session.flush()
    return app


def open_correction(app: Application) -> CorrectionRequest | None:
    return db.session.scalar(
        select(CorrectionRequest)
        .where(
            CorrectionRequest.application_id == app.id, CorrectionRequest.resubmitted_at.is_(None)
        )
        .order_by(CorrectionRequest.round.desc())
        .limit(1)
    )


def _resubmit(
    actor: User | None,
    app: Application,
    version: int,
    *,
    answers: dict[str, Any] | None = None,
    documents: dict[int, int] | None = None,
) -> Application:
    """The citizen changes only the items listed in the correction notice; the rest is locked."""
    request = open_correction(app)
    if request is None:
        raise Conflict(str(STATE_MESSAGE))
    answers, documents = dict(answers or {}), dict(documents or {})
    field_keys = {i["key"] for i in request.items if i["kind"] == "field"}
    material_keys = {int(i["key"]) for i in request.items if i["kind"] == "material"}
    if set(answers) - field_keys or set(documents) - material_keys:
        raise ValidationError({"": str(_l("只能修改补正通知书列出的项目，其他内容已锁定"))})
    errors: dict[str, str] = {}
    form_data = dict(app.form_data or {})
    # the corrected answers, checked by the item's rules against the answers that stay
    corrected = materials.check_form(app, {**form_data, **{k: answers.get(k) for k in field_keys}})
    for key in field_keys:
        if key in corrected.errors:
            errors[f"q_{key}"] = corrected.errors[key]
        elif corrected.clean.get(key) in (None, "", []):
            errors[f"q_{key}"] = str(_l("此项必填"))
        else:
            form_data[key] = corrected.clean[key]
    for req_id in material_keys:
        field_name = f"m_{req_id}"
        doc_id = documents.get(req_id)
        material = materials.material_for(app, req_id)
        if not doc_id:
            errors[field_name] = str(_l("请选择一份新的材料"))
            continue
        if doc_id == material.document_id:
            errors[field_name] = str(_l("这份材料需要补正，请选择另一份"))
            continue
        try:
            materials.choose_document(app, req_id, doc_id)
        except ValidationError as exc:
            errors.update(exc.errors)
        except NotFound:
            errors[field_name] = str(_l("材料不存在"))
        else:
            material.verdict, material.verdict_reason = None, ""
    if errors:
        raise ValidationError(errors)
    request.resubmitted_at = utcnow()
    _transition(
        actor,
        app,
        "resubmit",
        version,
        values={"form_data": form_data},
        details={
            "round": request.round,
            "fields": sorted(field_keys),
            "materials": sorted(material_keys),
        },
    )
    remind_department(
        app, "resubmitted", _l("办件 %(number)s 已按补正通知书补正，请继续预审", number=app.number)
    )
    return app


def _refuse_unsettled(app: Application) -> None:
    pending = _pending_verdicts(app)
    if pending:
        raise ValidationError(
            {
                "": str(
                    _l(
                        "以下材料尚未处理完毕：%(names)s。需补正的请一次性告知；补交的请先审核",
                        names="、".join(_material_name(m) for m in pending),
                    )
                )
            }
        )


def _accept(actor: User | None, app: Application, version: int) -> Application:
    _refuse_unsettled(app)
    if _materials(app, SatisfiedBy.deferred):
        raise ValidationError({"": str(_l("该办件有容缺后补的材料，请使用“容缺受理”"))})
    if _materials(app, SatisfiedBy.commitment):
        raise ValidationError({"": str(_l("该办件以告知承诺代替了证明材料，请使用“告知承诺受理”"))})
    values = _acceptance_values(app)
    return _transition(
        actor,
        app,
        "accept",
        version,
        values=values,
        details={
            "due_date": values["due_date"].isoformat(),
            "deemed": app.deemed_accepted_at is not None,
        },
        notice_context={"due_date": values["due_date"]},
        message=("accepted", {"due": values["due_date"].isoformat()}),
    )


def _accept_pending_materials(
    actor: User | None, app: Application, version: int, *, supply_deadline: date | None = None
) -> Application:
    """容缺受理: the main materials are complete; the deferred ones must come by a deadline."""
    _refuse_unsettled(app)
    deferred = _materials(app, SatisfiedBy.deferred)
    if not deferred:
        raise ValidationError({"": str(_l("该办件没有容缺后补的材料，请直接受理"))})
    values = _acceptance_values(app)
    if not isinstance(supply_deadline, date):
        raise ValidationError({"supply_deadline": str(_l("请填写补齐材料的期限"))})
    if supply_deadline < today():
        raise ValidationError({"supply_deadline": str(_l("补齐期限不能早于今天"))})
    if supply_deadline > values["due_date"]:
        raise ValidationError(
            {
                "supply_deadline": str(
                    _l("补齐期限不能晚于承诺办结日 %(due)s", due=values["due_date"].isoformat())
                )
            }
        )
    names = [_material_name(m) for m in deferred]
    return _transition(
        actor,
        app,
        "accept_pending_materials",
        version,
        values={**values, "supply_deadline": supply_deadline},
        details={
            "due_date": values["due_date"].isoformat(),
            "deferred": names,
            "supply_deadline": supply_deadline.isoformat(),
            "commitment": app.item_version.commitment_text[:500],
        },
        notice_context={
            "due_date": values["due_date"],
            "deferred": names,
            "supply_deadline": supply_deadline,
        },
        message=("accepted", {"due": values["due_date"].isoformat()}),
    )


def _accept_on_commitment(actor: User | None, app: Application, version: int) -> Application:
    """告知承诺: the signed commitment stands in for the proof; the department checks later."""
    _refuse_unsettled(app)
    committed = _materials(app, SatisfiedBy.commitment)
    if not committed:
        raise ValidationError({"": str(_l("该办件没有以告知承诺代替的材料，请直接受理"))})
    if app.applicant.commitment_barred:
        raise ValidationError(
            {"": str(_l("申请人曾有不实承诺，不能适用告知承诺，请一次性告知其补正材料"))}
        )
    if _materials(app, SatisfiedBy.deferred):
        raise ValidationError({"": str(_l("该办件有容缺后补的材料，请使用“容缺受理”"))})
    values = _acceptance_values(app)
    names = [_material_name(m) for m in committed]
    check_due = workdays.add_working_days(today(), POST_CHECK_WORKING_DAYS)
    _transition(
        actor,
        app,
        "accept_on_commitment",
        version,
        values=values,
        details={
            "due_date": values["due_date"].isoformat(),
            "committed": names,
            "commitment": app.item_version.commitment_text[:500],
            "post_check_due": check_due.isoformat(),
        },
        notice_context={"due_date": values["due_date"], "committed": names},
        message=("accepted", {"due": values["due_date"].isoformat()}),
    )
    db.session.add(
        PostCheckTask(application_id=app.id, department_id=app.department_id, due_date=check_due)
    )
    db.session.flush()
    return app


def _not_accept(
    actor: User | None, app: Application, version: int, *, reason: str = "", refer_to: str = ""
) -> Application:
    """不予受理: not this department's remit; the notice names where to go."""
    errors = {}
    try:
        reason = _clean_text(reason, "reason", message=_l("请写明不予受理的理由"))
    except ValidationError as exc:
        errors.update(exc.errors)
    try:
        refer_to = _clean_text(
            refer_to, "refer_to", limit=200, message=_l("请写明应向哪个部门申请")
        )
    except ValidationError as exc:
        errors.update(exc.errors)
    if errors:
        raise ValidationError(errors)
    return _transition(
        actor,
        app,
        "not_accept",
        version,
        values={"decided_at": utcnow()},
        details={"reason": reason, "refer_to": refer_to},
        notice_context={"reason": reason, "refer_to": refer_to},
        message=("decided", {}),
    )


# ---- 容缺: supplying the deferred materials ------------------------------------------------


def _supply_materials(
    actor: User | None, app: Application, version: int, *, documents: dict[int, int] | None = None
) -> Application:
    deferred = {m.requirement_id: m for m in _materials(app, SatisfiedBy.deferred)}
    documents = dict(documents or {})
    if set(documents) - set(deferred):
        raise ValidationError({"": str(_l("只能补交容缺受理时缺少的材料"))})
    chosen = {req_id: doc_id for req_id, doc_id in documents.items() if doc_id}
    if not chosen:
        raise ValidationError({"": str(_l("请至少选择一份要补交的材料"))})
    errors: dict[str, str] = {}
    for req_id, doc_id in chosen.items():
        try:
            materials.choose_document(app, req_id, doc_id)
        except ValidationError as exc:
            errors.update(exc.errors)
        except NotFound:
            errors[f"m_{req_id}"] = str(_l("材料不存在"))
        else:
            deferred[req_id].verdict, deferred[req_id].verdict_reason = "supplied", ""
    if errors:
        raise ValidationError(errors)
    names = [_material_name(deferred[r]) for r in chosen]
    _transition(actor, app, "supply_materials", version, details={"supplied": names})
    remind_department(
        app,
        "supplied",
        _l(
            "办件 %(number)s 已补交容缺材料：%(names)s，请审核",
            number=app.number,
            names="、".join(names),
        ),
    )
    return app


def _materials_complete(actor: User | None, app: Application, version: int) -> Application:
    missing = _materials(app, SatisfiedBy.deferred)
    if missing:
        raise ValidationError(
            {
                "": str(
                    _l(
                        "还有容缺材料未补交：%(names)s",
                        names="、".join(_material_name(m) for m in missing),
                    )
                )
            }
        )
    _refuse_unsettled(app)
    return _transition(
        actor,
        app,
        "materials_complete",
        version,
        values={"supply_deadline": None, "assignee_id": app.assignee_id or actor.id},
    )


# ---- 审查 ----------------------------------------------------------------------------------


def _start_review(actor: User | None, app: Application, version: int) -> Application:
    return _transition(
        actor, app, "start_review", version, values={"assignee_id": app.assignee_id or actor.id}
    )


def _advance_step(
    actor: User | None, app: Application, version: int, *, assignee_id: int | None = None
) -> Application:
    steps = app.item_version.steps or []
    if app.current_step >= delivery.decision_step(steps):
        raise Conflict(str(_l("已是决定环节，请作出决定")))
    values: dict[str, Any] = {"current_step": app.current_step + 1, "step_started_on": today()}
    if assignee_id:
        values["assignee_id"] = _department_reviewer(app, assignee_id).id
    nxt = steps[app.current_step + 1]
    return _transition(
        actor,
        app,
        "advance_step",
        version,
        values=values,
        details={
            "step": app.current_step + 1,
            "step_name": nxt.get("name", ""),
            "assignee": values.get("assignee_id"),
        },
    )


def _suspend(
    actor: User | None,
    app: Application,
    version: int,
    *,
    kind: str = "",
    reason: str = "",
    expected_days: Any = None,
) -> Application:
    """特别程序: hearing, inspection or expert review; the promised clock stops."""
    errors = {}
    if kind not in SUSPENSION_KINDS:
        errors["kind"] = str(_l("请选择特别程序的种类"))
    try:
        reason = _clean_text(reason, "reason", message=_l("请写明启动特别程序的理由"))
    except ValidationError as exc:
        errors.update(exc.errors)
    try:
        days = int(expected_days)
        if not 1 <= days <= 60:
            raise ValueError
    except (TypeError, ValueError):
        errors["expected_days"] = str(_l("请填写 1 至 60 之间的预计天数"))
        days = 0
    if errors:
        raise ValidationError(errors)
    _transition(
        actor,
        app,
        "suspend",
        version,
        details={"kind": kind, "reason": reason, "expected_days": days},
        message=(
            "reminder",
            {
                "what": str(
                    _l(
                        "进入特别程序（%(kind)s），特别程序所需时间不计入办理时限",
                        kind=SUSPENSION_KINDS[kind],
                    )
                )
            },
        ),
    )
    db.session.add(
        Suspension(
            application_id=app.id,
            kind=kind,
            reason=reason,
            expected_days=days,
            started_on=today(),
            started_by_id=actor.id if actor else None,
        )
    )
    db.session.flush()
    return app


def suspension_extension(
    app: Application, started_on: date, ended_on: date
) -> tuple[int, date | None]:
    """(days the clock stood still, the new due date): 工作日 or 自然日 as the item counts."""
    unit = app.item_version.promised_limit_unit
    if unit == "natural":
        days = max((ended_on - started_on).days, 0)
        return days, (app.due_date + timedelta(days=days)) if app.due_date else None
    days = max(workdays.working_days_between(started_on, ended_on), 0)
    return days, workdays.add_working_days(app.due_date, days) if app.due_date else None


def _resume(actor: User | None, app: Application, version: int) -> Application:
    running = db.session.scalar(
        select(Suspension)
        .where(Suspension.application_id == app.id, Suspension.ended_on.is_(None))
        .order_by(Suspension.id.desc())
        .limit(1)
    )
    if running is None:
        raise Conflict(str(STATE_MESSAGE))
    days, due = suspension_extension(app, running.started_on, today())
    running.ended_on, running.working_days = today(), days
    _transition(
        actor,
        app,
        "resume",
        version,
        values={"due_date": due},
        details={
            "suspension": running.id,
            "days": days,
            "due_date": due.isoformat() if due else None,
        },
        message=(
            "reminder",
            {
                "what": str(
                    _l(
                        "特别程序已结束，承诺办结日顺延至 %(due)s",
                        due=due.isoformat() if due else "",
                    )
                )
            },
        ),
    )
    return app


# ---- 决定 and 办结 --------------------------------------------------------------------------


def result_material_type(version: ItemVersion) -> MaterialType | None:
    if not version.result_licence_type_code:
        return None
    return db.session.scalar(
        select(MaterialType).where(
            MaterialType.licence_type_code == version.result_licence_type_code
        )
    )


def result_valid_until(version: ItemVersion, material_type: MaterialType, issued_on: date):
    """An e-licence's last day: the issue date plus the item's term (长期: None); an item that
    declares no term keeps its material type's own rule."""
    term = delivery.parse_term(version.result_term)
    if term is not None:
        return delivery.term_valid_until(term, issued_on)
    return valid_until_for(material_type, issued_on)


def _issue_licence(app: Application) -> ELicence | None:
    """The result is made (制证 done, or no 制证 step): an item whose result is an e-licence
    issues it into the holder's library, valid for the item's term from today (local date)."""
    material_type = result_material_type(app.item_version)
    if material_type is None:
        return None
    issued_on = today()
    return issue_elicence(
        holder=app.applicant,
        material_type=material_type,
        department=app.item_version.department,
        issued_on=issued_on,
        valid_until=result_valid_until(app.item_version, material_type, issued_on),
        application_id=app.id,
    )


def _after_decision(
    actor: User | None, app: Application, *, instant: bool = False, auto: bool = False
) -> Application:
    """After 准予: the guide's 制证 step when it declares one (即办 and 秒批 skip it: they
    complete in one move), else 送达 straight away."""
    certify_at = delivery.step_of_kind(app.item_version.steps, "certify")
    if certify_at is not None and not instant:
        return _transition(
            actor,
            app,
            "start_certifying",
            app.version,
            values={"current_step": certify_at, "step_started_on": today()},
            details={"step": certify_at},
            message=("reminder", {"what": str(_l("已准予，正在制证"))}),
        )
    return _deliver(actor, app, auto=auto)


def _deliver(actor: User | None, app: Application, *, auto: bool = False) -> Application:
    """送达 by the method the applicant chose: 电子送达 completes the case at once; 窗口领取
    waits for 出件 at any counter; 邮寄 waits for staff to record the carrier and number."""
    method = app.delivery_method or delivery.chosen_method(app.item_version, app.form_data)
    licence = _issue_licence(app)
    deliver_at = delivery.step_of_kind(app.item_version.steps, "deliver")
    values: dict[str, Any] = {"delivery_method": method}
    if deliver_at is not None:
        values.update(current_step=deliver_at, step_started_on=today())
    details: dict[str, Any] = {"delivery": method, "auto": auto}
    if licence is not None:
        details["licence"] = licence.number
    if method == "online":
        now = utcnow()
        _transition(
            actor,
            app,
            "deliver_online",
            app.version,
            values={**values, "completed_at": now, "delivered_at": now},
            details=details,
            notice_context={
                "delivery": method,
                "delivery_label": str(DELIVERY_KINDS[method]),
                "licence": licence,
            },
            message=("decided", {}),
        )
    elif method == "pickup":
        _transition(
            actor,
            app,
            "await_pickup",
            app.version,
            values=values,
            details=details,
            message=(
                "reminder",
                {"what": str(_l("办理结果已可领取，请持身份证到任一综合窗口领取"))},
            ),
        )
    else:
        _transition(actor, app, "await_post", app.version, values=values, details=details)
    if licence is not None:
        messages.notify(app.applicant, "licence", application=app, item=licence.name)
    return app


def _approve(
    actor: User | None, app: Application, version: int, *, opinion: str = ""
) -> Application:
    if _materials(app, SatisfiedBy.deferred):
        raise ValidationError({"": str(_l("容缺材料尚未补齐，不能作出决定"))})
    _refuse_unsettled(app)
    steps = app.item_version.steps or []
    decision = delivery.decision_step(steps)
    if steps and app.current_step < decision:
        raise Conflict(
            str(
                _l(
                    "尚未到决定环节“%(step)s”，请先完成当前环节",
                    step=steps[decision].get("name", ""),
                )
            )
        )
    opinion = _clean_text(opinion, "opinion", required=False)
    _transition(
        actor,
        app,
        "approve",
        version,
        values={"decided_at": utcnow(), "current_step": decision, "step_started_on": today()},
        details={"opinion": opinion},
        notice_context={"opinion": opinion},
    )
    return _after_decision(actor, app)


def _approve_instantly(
    actor: User | None,
    app: Application,
    version: int,
    *,
    opinion: str = "",
    auto: bool = False,
    rules: list[dict] | None = None,
) -> Application:
    """即办件 (and 秒批): accepted and approved on the spot, then delivered the same way."""
    if actor is not None and app.item_version.case_type != "instant":
        raise Conflict(str(_l("只有即办件可以当场受理并办结")))
    if _materials(app, SatisfiedBy.deferred, SatisfiedBy.commitment):
        raise ValidationError({"": str(_l("有容缺或告知承诺的材料，不能即办"))})
    _refuse_unsettled(app)
    opinion = _clean_text(opinion, "opinion", required=False)
    now = utcnow()
    decision = delivery.decision_step(app.item_version.steps)
    _transition(
        actor,
        app,
        "approve_instantly",
        version,
        values={
            "accepted_at": now,
            "decided_at": now,
            "due_date": today(),
            "current_step": decision,
            "step_started_on": today(),
        },
        details={"opinion": opinion, "auto": auto, "rules": rules or []},
        notice_context={"opinion": opinion, "instant": True, "auto": auto},
    )
    return _after_decision(actor, app, instant=True, auto=auto)


def _certify(actor: User | None, app: Application, version: int) -> Application:
    """制证完成: the result is made; it goes out by the applicant's method."""
    _transition(actor, app, "certify", version, details={"step": app.current_step})
    return _deliver(actor, app)


def _deliver_decided(actor: User | None, app: Application, version: int) -> Application:
    _transition(actor, app, "deliver", version)
    return _deliver(actor, app)


def _deliver_online(actor: User | None, app: Application, version: int) -> Application:
    raise Conflict(str(_l("送达由系统按申请人选择的方式进行")))


_await_pickup = _await_post = _start_certifying = _deliver_online


def _pickup(actor: User | None, app: Application, version: int) -> Application:
    """出件 at any counter: the result is handed over, the case completes. The visit is recorded
    by the caller (services/counter.decide), in the same transaction."""
    now = utcnow()
    return _transition(
        actor,
        app,
        "pickup",
        version,
        values={"completed_at": now, "delivered_at": now},
        details={"delivery": "pickup"},
        notice_context={"delivery": "pickup", "delivery_label": str(DELIVERY_KINDS["pickup"])},
        message=("decided", {}),
    )


def _mail(
    actor: User | None, app: Application, version: int, *, carrier: str = "", tracking: str = ""
) -> Application:
    """邮寄: staff record the carrier and the waybill number; the citizen sees both."""
    try:
        carrier, tracking = delivery.clean_mailing(carrier, tracking)
    except delivery.MailingError as exc:
        raise ValidationError(exc.errors) from None
    label = str(delivery.CARRIERS[carrier])
    return _transition(
        actor,
        app,
        "mail",
        version,
        values={"post_carrier": carrier, "post_tracking": tracking, "mailed_at": utcnow()},
        details={"carrier": carrier, "tracking": tracking},
        message=(
            "reminder",
            {
                "what": str(
                    _l(
                        "办理结果已寄出：%(carrier)s，运单号 %(number)s",
                        carrier=label,
                        number=tracking,
                    )
                )
            },
        ),
    )


def _confirm_receipt(actor: User | None, app: Application, version: int) -> Application:
    now = utcnow()
    return _transition(
        actor,
        app,
        "confirm_receipt",
        version,
        values={"completed_at": now, "delivered_at": now},
        details={"delivery": "post", "tracking": app.post_tracking},
        notice_context={
            "delivery": "post",
            "delivery_label": str(DELIVERY_KINDS["post"]),
            "carrier": str(delivery.CARRIERS.get(app.post_carrier, app.post_carrier)),
            "tracking": app.post_tracking,
        },
        message=("decided", {}),
    )


def _deny(actor: User | None, app: Application, version: int, *, reasons: str = "") -> Application:
    """不予许可: the reasons are required and the notice names the routes of redress."""
    reasons = _clean_text(reasons, "reasons", limit=2000, message=_l("不予许可必须写明理由"))
    last = max(len(app.item_version.steps or []) - 1, 0)
    return _transition(
        actor,
        app,
        "deny",
        version,
        values={"decided_at": utcnow(), "current_step": last},
        details={"reasons": reasons},
        notice_context={"reasons": reasons},
        message=("decided", {}),
    )


def _withdraw(
    actor: User | None, app: Application, version: int, *, reason: str = ""
) -> Application:
    """The citizen withdraws a case; withdrawing a 一件事 withdraws every child case that can still
    be withdrawn, in the same transaction. Children already decided go on (``kept_children``)."""
    reason = str(reason or "")[:200]
    sources = TRANSITIONS["withdraw"].sources
    children = list(app.children) if app.bundle_id is not None else []
    _transition(
        actor,
        app,
        "withdraw",
        version,
        values={"completed_at": utcnow()},
        details={
            "reason": reason,
            "children_withdrawn": [c.number for c in children if c.status in sources],
            "children_kept": {c.number: c.status for c in children if c.status not in sources},
        },
    )
    for child in children:
        if child.status not in sources:
            continue
        try:
            _transition(
                actor,
                child,
                "withdraw",
                child.version,
                values={"completed_at": utcnow()},
                details={"reason": reason, "parent": app.number},
            )
        except (
            Conflict
        ):  # decided a moment ago by its department: it goes on, the rest is withdrawn
            db.session.refresh(child)
            if child.status in sources:
                raise
    return app


def kept_children(app: Application) -> list[Application]:
    """The children of a withdrawn 一件事 that were already decided and so go on."""
    return [c for c in app.children if c.status != "withdrawn"]


def _terminate_deferral(actor: User | None, app: Application, version: int) -> Application:
    missing = [_material_name(m) for m in _materials(app, SatisfiedBy.deferred)]
    if not missing or app.supply_deadline is None or app.supply_deadline >= today():
        raise Conflict(str(STATE_MESSAGE))
    reason = f"容缺受理的材料（{'、'.join(missing)}）未在 {app.supply_deadline.isoformat()} 前补齐"
    return _transition(
        actor,
        app,
        "terminate_deferral",
        version,
        values={"completed_at": utcnow()},
        details={"missing": missing, "supply_deadline": app.supply_deadline.isoformat()},
        notice_context={"reason": reason},
        message=("decided", {}),
    )


def _terminate_false_commitment(
    actor: User | None, app: Application, version: int, *, finding: str = ""
) -> Application:
    finding = _clean_text(finding, "note", message=_l("请写明核查发现的不实情况"))
    task = db.session.scalar(select(PostCheckTask).where(PostCheckTask.application_id == app.id))
    if task is None:
        raise Conflict(str(_l("该办件不是告知承诺办件")))
    revoked = []
    for licence in db.session.scalars(
        select(ELicence).where(ELicence.application_id == app.id, ELicence.status == "valid")
    ):
        licence.status = "cancelled"
        if licence.document_id:
            doc = db.session.get(Document, licence.document_id)
            doc.status = DocumentStatus.revoked
        revoked.append(licence.number)
    app.applicant.commitment_barred = True
    reason = f"经核查，申请人告知承诺的内容不实：{finding}"
    return _transition(
        actor,
        app,
        "terminate_false_commitment",
        version,
        values={"completed_at": utcnow()},
        details={"finding": finding, "revoked_licences": revoked, "barred": app.applicant_id},
        notice_context={"reason": reason, "revoked": revoked},
        message=("decided", {}),
    )


# ---- who holds the case ---------------------------------------------------------------------


def _department_reviewer(app: Application, user_id: Any) -> User:
    try:
        user = db.session.get(User, int(user_id))
    except (TypeError, ValueError):
        user = None
    if (
        user is None
        or user.role != Role.reviewer
        or not user.active
        or user.department_id != app.department_id
    ):
        raise ValidationError({"assignee_id": str(_l("只能指派给本部门的审批人员"))})
    return user


def _claim(actor: User | None, app: Application, version: int) -> Application:
    if app.assignee_id is not None and app.assignee_id != actor.id:
        raise Conflict(str(_l("该办件已由其他审批人员认领")))
    return _transition(
        actor,
        app,
        "claim",
        version,
        values={"assignee_id": actor.id},
        details={"assignee": actor.id},
    )


def _assign(
    actor: User | None, app: Application, version: int, *, assignee_id: Any = None
) -> Application:
    assignee = _department_reviewer(app, assignee_id)
    return _transition(
        actor,
        app,
        "assign",
        version,
        values={"assignee_id": assignee.id},
        details={"assignee": assignee.id},
    )


# ---- 提交: draft → submitted ----------------------------------------------------------------


def submit(actor: User, app: Application) -> Application:
    """Submit a draft through the table's "submit" row. The caller has loaded and locked the
    draft, checked the actor's access (services/case_access), the submission token and the
    pre-check (services/applications.submit_application, services/bundle_applications)."""
    return _perform(actor, app, "submit", app.version, _submit, {})


def _submit(actor: User | None, app: Application, version: int) -> Application:
    """The case gets its number and its reuse count (services/materials.reuse_count); a 一件事
    parent submits each child case to its own department with it. A submission that lost a
    race with a concurrent one of the same draft returns the case as that one left it."""
    bundle = app.bundle_id is not None  # a 一件事 parent: its children are the cases
    try:
        if bundle:
            _submit_bundle(actor, app, version)
        else:
            _submit_single(actor, app, version)
    except Conflict:
        db.session.refresh(app)
        if app.status != DRAFT:
            return app
        raise
    cases = list(app.children) if bundle else [app]
    for case in cases:
        materials.record_reuse(case)
    if bundle:
        messages.notify(app.applicant, "submitted", application=app, item=app.title)
    else:
        messages.notify(app.applicant, "submitted", application=app)
    for case in cases:
        after_submission(case)
    return app


def _delivery_choice(app: Application) -> dict[str, Any]:
    """The delivery method the applicant chose on the form (services/delivery.py), kept on the
    case so that a later guide version cannot change it."""
    method = delivery.chosen_method(app.item_version, app.form_data)
    address = delivery.chosen_address(app.form_data) if method == "post" else ""
    return {"delivery_method": method, "delivery_address": address}


def _first_step() -> dict[str, Any]:
    """What ``after_submission`` sets, written by the submission's own UPDATE instead of a
    second one (the case's version then moves once for both)."""
    return {"current_step": 0, "step_started_on": today()}


def _submit_single(actor: User | None, app: Application, version: int) -> None:
    now = utcnow()
    counted = materials.reuse_count(app.materials)

    def number() -> dict[str, Any]:
        # the draft is locked (submit_application), so the guarded UPDATE that writes the
        # number takes; a later failure leaves a gap on PostgreSQL (services/numbering.py)
        return {"number": numbering.new_case_number(app.channel, clock.local_date(now))}

    def numbered(app: Application) -> dict[str, Any]:
        return {
            "number": app.number,
            "channel": str(app.channel),
            "applicant": app.applicant_id,
            "agent": app.agent_id,
            "materials": {str(m.requirement_id): str(m.satisfied_by) for m in app.materials},
        }

    _transition(
        actor,
        app,
        "submit",
        version,
        values={
            "submitted_at": now,
            "materials_required": counted.required,
            "materials_reused": counted.reused,
            **_delivery_choice(app),
            **_first_step(),
        },
        drawn=number,
        after_update=numbered,
    )


def _submit_bundle(actor: User | None, parent: Application, version: int) -> None:
    now = utcnow()
    children = list(parent.children)
    counts = [materials.reuse_count(child.materials) for child in children]
    numbers: list[str] = []

    def numbered(parent: Application) -> dict[str, Any]:
        parent.number = numbering.new_bundle_number(clock.local_date(now))
        numbers.extend(
            numbering.new_case_number(Channel.online, clock.local_date(now)) for _ in children
        )
        db.session.flush()
        return {"number": parent.number, "bundle": parent.bundle_id, "children": numbers}

    _transition(
        actor,
        parent,
        "submit",
        version,
        values={
            "submitted_at": now,
            "materials_required": sum(c.required for c in counts),
            "materials_reused": sum(c.reused for c in counts),
        },
        after_update=numbered,
    )
    for child, number, counted in zip(children, numbers, counts, strict=True):
        _transition(
            actor,
            child,
            "submit",
            child.version,
            values={
                "submitted_at": now,
                "number": number,
                "materials_required": counted.required,
                "materials_reused": counted.reused,
                **_delivery_choice(child),
                **_first_step(),
            },
            details={"number": number, "parent": parent.number},
        )


def after_submission(app: Application) -> None:
    """Called right after a case is submitted: 秒批 decides it when the item's rules all pass,
    unless a material is deferred (容缺) or replaced by a commitment (告知承诺): those need the
    department's acceptance (and its post-check), so the case waits for review like any other
    (approving it refused the submission itself). The submission's UPDATE has set the case's
    first step (``_first_step``)."""
    passed, recorded = auto_approval.check_automatically(app)
    if passed and not _materials(app, SatisfiedBy.deferred, SatisfiedBy.commitment):
        perform(None, app.id, "approve_instantly", app.version, auto=True, rules=recorded)


ACTIONS: dict[str, Callable[..., Application]] = {
    "submit": _submit,
    "request_correction": _request_correction,
    "resubmit": _resubmit,
    "accept": _accept,
    "accept_pending_materials": _accept_pending_materials,
    "accept_on_commitment": _accept_on_commitment,
    "not_accept": _not_accept,
    "approve_instantly": _approve_instantly,
    "supply_materials": _supply_materials,
    "materials_complete": _materials_complete,
    "start_review": _start_review,
    "advance_step": _advance_step,
    "suspend": _suspend,
    "resume": _resume,
    "approve": _approve,
    "deny": _deny,
    "start_certifying": _start_certifying,
    "certify": _certify,
    "deliver": _deliver_decided,
    "deliver_online": _deliver_online,
    "await_pickup": _await_pickup,
    "await_post": _await_post,
    "pickup": _pickup,
    "mail": _mail,
    "confirm_receipt": _confirm_receipt,
    "withdraw": _withdraw,
    "terminate_deferral": _terminate_deferral,
    "terminate_false_commitment": _terminate_false_commitment,
    "claim": _claim,
    "assign": _assign,
}
assert set(ACTIONS) == set(TRANSITIONS), "every action in the table has a handler and vice versa"


# ---- outside the state machine: verdicts, exceptions, post-checks ---------------------------

VERDICTS = {"ok": _l("合格"), "correct": _l("需补正"), "original_checked": _l("原件已核验")}


def set_material_verdict(
    actor: User, application_id: int, material_id: int, verdict: str, reason: str = ""
) -> ApplicationMaterial:
    """A reviewer's verdict on one material; 原件已核验 raises a C-grade document to B. A counter
    clerk gives the 原件已核验 verdict for the citizen being served."""
    if actor.role == Role.counter and verdict == "original_checked":
        app = load_case(application_id)
        if not may_see(actor, app):
            raise NotFound(str(_l("办件不存在")))
    else:
        app = get_staff_case(actor, application_id)
    return set_checked_material_verdict(actor, app, material_id, verdict, reason)


def set_checked_material_verdict(
    actor: User, app: Application, material_id: int, verdict: str, reason: str = ""
) -> ApplicationMaterial:
    """``set_material_verdict`` for a caller that loaded the case and checked the actor's access
    through services/case_access itself (the counter, against the clerk's open context)."""
    if app.status == DRAFT:
        raise NotFound(str(_l("办件不存在")))
    if app.status not in ("submitted", "accepted_pending_materials", "in_review"):
        raise Conflict(str(STATE_MESSAGE))
    material = next((m for m in app.materials if m.id == material_id), None)
    if material is None:
        raise NotFound(str(_l("该材料不在本次申请中")))
    if verdict not in VERDICTS:
        raise ValidationError({"verdict": str(_l("请选择审核意见"))})
    text = _clean_text(
        reason,
        "reason",
        required=verdict == "correct",
        message=_l("需补正的材料请写明理由，申请人会看到"),
    )
    details: dict[str, Any] = {
        "material": material.requirement_id,
        "verdict": verdict,
        "reason": text,
    }
    if verdict == "original_checked":
        doc = db.session.get(Document, material.document_id) if material.document_id else None
        if doc is None:
            raise ValidationError({"verdict": str(_l("该材料没有可核验的文件"))})
        if doc.grade == Grade.C:
            doc.grade, doc.verified_by_id, doc.verified_at = Grade.B, actor.id, utcnow()
            details["document_raised"] = doc.id
    material.verdict, material.verdict_reason = verdict, text
    db.session.flush()
    audit.record_event("material_verdict", actor=actor, application_id=app.id, details=details)
    return material


def grant_correction_exception(
    actor: User, number_or_id: str | int, reason: str
) -> CorrectionException:
    """An admin allows one more correction round on a case, with a reason (counted)."""
    if actor.role != Role.admin:
        raise NotAuthorized(str(_l("只有管理员可以登记例外")))
    key = str(number_or_id).strip()
    app = db.session.scalar(select(Application).where(Application.number == key))
    if app is None and key.isdigit():
        app = db.session.get(Application, int(key))
    if app is None or app.status == "draft":
        raise ValidationError({"case": str(_l("没有这个办件编号"))})
    if app.correction_rounds < 1:
        raise ValidationError({"case": str(_l("该办件还没有补正过，不需要例外"))})
    text = _clean_text(reason, "reason", message=_l("请写明需要再次补正的理由"))
    exception = CorrectionException(application_id=app.id, granted_by_id=actor.id, reason=text)
    db.session.add(exception)
    db.session.flush()
    audit.record_event(
        "correction_exception",
        actor=actor,
        application_id=app.id,
        details={"exception": exception.id, "reason": text},
    )
    return exception


def count_correction_exceptions() -> int:
    return db.session.scalar(select(func.count()).select_from(CorrectionException)) or 0


def record_post_check(actor: User, task_id: int, outcome: str, note: str = "") -> PostCheckTask:
    """告知承诺 post-check: true → closed; false → the case is terminated and the applicant barred."""
    task = db.session.get(PostCheckTask, task_id)
    if task is None or actor.role != Role.reviewer or task.department_id != actor.department_id:
        raise NotFound(str(_l("核查任务不存在")))
    if task.status != "open":
        raise Conflict(str(_l("该核查任务已处理")))
    if outcome not in ("passed", "false"):
        raise ValidationError({"outcome": str(_l("请选择核查结果"))})
    note = _clean_text(
        note, "note", required=outcome == "false", message=_l("请写明核查发现的不实情况")
    )
    claimed = db.session.execute(
        update(PostCheckTask)
        .where(PostCheckTask.id == task.id, PostCheckTask.status == "open")
        .values(status=outcome, note=note, checked_by_id=actor.id, checked_at=utcnow())
        .execution_options(synchronize_session=False)
    ).rowcount
    if claimed != 1:
        raise Conflict(str(CONFLICT_MESSAGE))
    db.session.refresh(task)
    if outcome == "false":
        app = load_case(task.application_id)
        perform(actor, app.id, "terminate_false_commitment", app.version, finding=note)
    else:
        audit.record_event(
            "post_check_passed",
            actor=actor,
            application_id=task.application_id,
            details={"task": task.id, "note": note},
        )
    return task
