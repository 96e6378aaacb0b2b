"""办件 from draft to submission: steps saved on the server, pre-check, exactly-once submit.

A draft is the citizen's own; every step saves to it. Submission is idempotent by the draft's
token: a double click, a back-button resubmit or a network retry returns the same case.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from portal.extensions import db
from portal.models import (
    Application,
    ApplicationMaterial,
    Channel,
    Citizen,
    DailyCounter,
    Document,
    Grade,
    IntakeKey,
    ItemVersion,
    MaterialRequirement,
    Role,
    SatisfiedBy,
    ServiceItem,
    User,
    VersionStatus,
)
from portal.models.base import utcnow
from services import audit, data_use, documents, messages, proxies, reuse, workdays, workflow
from services.errors import Conflict, NotFound, ValidationError
from services.identity import normalise_phone, parse_resident_id

DRAFT = "draft"
CLOSED_STATES = ("completed", "denied", "not_accepted", "withdrawn", "terminated")
PROFILE_FIELDS = ("name", "id_number", "phone", "address", "birth_date")
MAX_TEXT = 500


# ---- drafts -------------------------------------------------------------------------------


def start_draft(
    *,
    actor: User,
    applicant: Citizen,
    item: ServiceItem,
    channel: Channel = Channel.online,
    agent: Citizen | None = None,
    intake: IntakeKey | None = None,
) -> Application:
    """A new draft for the item's published version, or the applicant's open draft for it.

    A citizen applies for themself or, as an authorised agent (亲友代办), for a principal.
    A counter clerk applies on behalf of the citizen they are serving (channel counter),
    optionally brought by an agent (代理人) whose 授权委托书 is one of the materials.
    An offline intake being sent (``intake``, the clerk's own claimed key without a case yet)
    gets a new draft of its own, whoever the clerk is serving now (services/offline_intake)."""
    agent_id = None
    if actor.role == Role.counter:
        from services import counter

        if intake is not None:
            if (
                channel != Channel.counter
                or intake.staff_id != actor.id
                or intake.application_id is not None
            ):
                raise NotFound(str(_l("请先接待该办事群众")))
        elif channel != Channel.counter or counter.serving_citizen_id(actor) != applicant.id:
            raise NotFound(str(_l("请先接待该办事群众")))
        agent_id = agent.id if agent is not None else None
    elif actor.role != Role.citizen:
        raise NotFound(str(_l("该事项暂未开放办理")))
    elif applicant.id != actor.citizen_id:
        if not proxies.can_act_for(actor.citizen_id, applicant.id):
            raise NotFound(str(_l("您没有代办该申请人事项的授权")))
        agent_id = actor.citizen_id
    version = item.published_version
    if version is None or version.status != VersionStatus.published:
        raise NotFound(str(_l("该事项暂未开放办理")))
    existing = (
        None
        if intake is not None
        else db.session.scalar(
            select(Application).where(
                Application.applicant_id == applicant.id,
                Application.item_version_id == version.id,
                Application.status == DRAFT,
                Application.channel == channel,
                Application.parent_id.is_(None),
            )
        )
    )
    if existing is not None:
        return existing
    app = Application(
        item_version_id=version.id,
        department_id=version.department_id,
        applicant_id=applicant.id,
        agent_id=agent_id,
        created_by_id=actor.id,
        channel=channel,
        status=DRAFT,
        form_data={},
        condition_answers={},
        submit_token=secrets.token_urlsafe(24),
    )
    db.session.add(app)
    db.session.flush()
    if intake is not None:
        intake.application_id = app.id
        db.session.flush()
    return app


def get_own_draft(actor: User, application_id: int) -> Application:
    """The actor's own draft (404 for anyone else's, and for a case no longer a draft)."""
    app = get_own_application(actor, application_id)
    if app.status != DRAFT:
        raise NotFound(str(_l("草稿不存在或已提交")))
    return app


def get_own_application(actor: User, application_id: int) -> Application:
    app = db.session.scalar(
        select(Application)
        .where(Application.id == application_id)
        .options(selectinload(Application.item_version))
    )
    if app is None or not may_act_on(actor, app):
        raise NotFound(str(_l("办件不存在")))
    return app


def may_act_on(actor: User, app: Application) -> bool:
    """The applicant, or the agent who started it while their authorisation holds; at a
    counter, the clerk serving the applicant now, for a case taken at a counter, or the clerk
    who made an offline intake, for its draft while it is being sent."""
    if actor.role == Role.counter:
        from services import counter

        return app.channel == Channel.counter and (
            counter.is_serving(actor, app) or is_offline_intake_draft(actor, app)
        )
    if actor.citizen_id is None:
        return False
    if app.applicant_id == actor.citizen_id:
        return True
    return app.agent_id == actor.citizen_id and proxies.can_act_for(
        actor.citizen_id, app.applicant_id
    )


def is_offline_intake_draft(actor: User, app: Application) -> bool:
    """The draft of an offline intake this clerk made, while it is being sent (it is a draft
    only inside the sending transaction: services/offline_intake submits or rolls back)."""
    if app.status != DRAFT or app.created_by_id != actor.id:
        return False
    return (
        db.session.scalar(
            select(IntakeKey.id).where(
                IntakeKey.application_id == app.id, IntakeKey.staff_id == actor.id
            )
        )
        is not None
    )


def delete_draft(actor: User, application_id: int) -> None:
    app = get_own_draft(actor, application_id)
    db.session.delete(app)
    db.session.flush()


# ---- step 1: 情形 -------------------------------------------------------------------------


def save_conditions(app: Application, answers: dict[str, str]) -> None:
    version = app.item_version
    errors: dict[str, str] = {}
    clean: dict[str, str] = {}
    for q in version.condition_questions or []:
        value = (answers.get(q["key"]) or "").strip()
        allowed = {str(opt[0]) for opt in q.get("options", [])}
        if not value:
            errors[f"c_{q['key']}"] = str(_l("请选择"))
        elif value not in allowed:
            errors[f"c_{q['key']}"] = str(_l("选项不正确"))
        else:
            clean[q["key"]] = value
    if errors:
        raise ValidationError(errors)
    app.condition_answers = clean
    sync_materials(app)
    db.session.flush()


# ---- step 2: 填写信息 ----------------------------------------------------------------------


def prefill(app: Application, citizen: Citizen) -> dict[str, Any]:
    """Values for the form: saved answers, else the latest earlier answer, else the profile."""
    earlier: dict[str, Any] = {}
    rows = db.session.scalars(
        select(Application.form_data)
        .where(Application.applicant_id == citizen.id, Application.id != app.id)
        .order_by(Application.updated_at.desc())
        .limit(20)
    )
    for data in rows:
        for key, value in (data or {}).items():
            earlier.setdefault(key, value)
    profile = {
        "name": citizen.name,
        "id_number": citizen.id_number,
        "phone": citizen.phone or "",
        "address": citizen.address,
        "birth_date": citizen.birth_date.isoformat(),
    }
    values: dict[str, Any] = {}
    for q in app.item_version.questions or []:
        key = q["key"]
        if key in (app.form_data or {}):
            values[key] = app.form_data[key]
        elif key in earlier:
            values[key] = earlier[key]
        elif q.get("prefill") in PROFILE_FIELDS:
            values[key] = profile[q["prefill"]]
    return values


def clean_answer(q: dict[str, Any], raw: Any) -> Any:
    """Check one answer against its question; raises ValueError with the message to show."""
    kind = q.get("type", "text")
    options = {str(o[0]) for o in q.get("options", [])}
    if kind == "multiselect":
        values = [str(v) for v in (raw or [])]
        if not set(values) <= options:
            raise ValueError(str(_l("选项不正确")))
        if q.get("required") and not values:
            raise ValueError(str(_l("请至少选择一项")))
        return values
    if kind == "checkbox":
        value = raw in (True, "y", "on", "1", "true")
        if q.get("required") and not value:
            raise ValueError(str(_l("请勾选")))
        return value
    text = str(raw or "").strip()
    if any(ord(ch) < 32 for ch in text):
        raise ValueError(str(_l("含有不允许的字符")))
    if not text:
        if q.get("required"):
            raise ValueError(str(_l("此项必填")))
        return ""
    if kind in ("text", "address"):
        limit = int(q.get("max_length") or (200 if kind == "address" else MAX_TEXT))
        if len(text) > limit:
            raise ValueError(str(_l("最多 %(n)d 个字", n=limit)))
        return text
    if kind in ("number", "money"):
        try:
            number = Decimal(text)
        except InvalidOperation:
            raise ValueError(str(_l("请输入数字"))) from None
        if not number.is_finite():
            raise ValueError(str(_l("请输入数字")))
        if kind == "money" and number.as_tuple().exponent < -2:
            raise ValueError(str(_l("金额最多两位小数")))
        if kind == "number" and number != number.to_integral_value():
            raise ValueError(str(_l("请输入整数")))
        if q.get("min") is not None and number < Decimal(str(q["min"])):
            raise ValueError(str(_l("不能小于 %(n)s", n=q["min"])))
        if q.get("max") is not None and number > Decimal(str(q["max"])):
            raise ValueError(str(_l("不能大于 %(n)s", n=q["max"])))
        if kind == "money" and number < 0:
            raise ValueError(str(_l("金额不能为负数")))
        return str(number)
    if kind == "date":
        if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
            raise ValueError(str(_l("请按 年-月-日 填写日期")))
        try:
            return date.fromisoformat(text).isoformat()
        except ValueError:
            raise ValueError(str(_l("日期不存在"))) from None
    if kind == "select":
        if text not in options:
            raise ValueError(str(_l("选项不正确")))
        return text
    if kind == "id_number":
        try:
            return parse_resident_id(text).number
        except ValidationError as exc:
            raise ValueError(next(iter(exc.errors.values()))) from None
    if kind == "phone":
        try:
            return normalise_phone(text)
        except ValidationError as exc:
            raise ValueError(next(iter(exc.errors.values()))) from None
    raise ValueError(str(_l("不支持的题型")))


def save_form(app: Application, raw: dict[str, Any], *, partial: bool = False) -> None:
    """Check every answer; with ``partial`` (autosave) keep what is valid and skip required checks."""
    errors: dict[str, str] = {}
    clean: dict[str, Any] = dict(app.form_data or {})
    for q in app.item_version.questions or []:
        key = q["key"]
        if partial and key not in raw:
            continue
        question = {**q, "required": q.get("required") and not partial}
        try:
            clean[key] = clean_answer(question, raw.get(key))
        except ValueError as exc:
            errors[f"q_{key}"] = str(exc)
    if errors and not partial:
        raise ValidationError(errors)
    app.form_data = clean
    db.session.flush()


# ---- step 3: 提交材料 ----------------------------------------------------------------------


def promised_date(version: ItemVersion, start: date | None = None) -> date:
    return workdays.due_date(
        start or date.today(), version.promised_limit or 0, version.promised_limit_unit
    )


def sync_materials(app: Application) -> None:
    """One ApplicationMaterial per applicable requirement; proposals fill the empty ones."""
    requirements = reuse.requirements_with_types(app.item_version_id)
    applicable = reuse.applicable_requirements(requirements, app.condition_answers or {})
    wanted = {r.id for r in applicable}
    existing = {m.requirement_id: m for m in app.materials}
    for req_id, material in list(existing.items()):
        if req_id not in wanted:
            app.materials.remove(material)
            del existing[req_id]
    proposals = reuse.propose_materials(
        app.applicant_id, applicable, promised_date(app.item_version)
    )
    for proposal in proposals:
        material = existing.get(proposal.requirement.id)
        if material is None:
            material = ApplicationMaterial(requirement_id=proposal.requirement.id)
            app.materials.append(material)
        if (
            material.satisfied_by in (SatisfiedBy.missing, None)
            or material.satisfied_by == SatisfiedBy.shared
        ):
            apply_proposal(material, proposal)
    db.session.flush()


def apply_proposal(material: ApplicationMaterial, proposal: reuse.Proposal) -> None:
    if proposal.kind == "shared":
        material.satisfied_by, material.document_id = SatisfiedBy.shared, None
    elif proposal.document is not None:
        material.document_id = proposal.document.id
        material.satisfied_by = (
            SatisfiedBy.elicence if proposal.document.grade == Grade.A else SatisfiedBy.library
        )
    else:
        material.satisfied_by, material.document_id = SatisfiedBy.missing, None


def material_for(app: Application, requirement_id: int) -> ApplicationMaterial:
    for material in app.materials:
        if material.requirement_id == requirement_id:
            return material
    raise NotFound(str(_l("该材料不在本次申请中")))


def choose_document(app: Application, requirement_id: int, document_id: int) -> None:
    """Use a library document for a material; someone else's or an unfit one is refused."""
    material = material_for(app, requirement_id)
    doc = db.session.get(Document, document_id)
    field = f"m_{requirement_id}"
    if doc is None or doc.owner_id != app.applicant_id:
        raise NotFound(str(_l("材料不存在")))
    requirement = db.session.get(MaterialRequirement, requirement_id)
    if doc.material_type_id != requirement.material_type_id:
        raise ValidationError({field: str(_l("所选材料的类型与要求不符"))})
    if doc.grade == Grade.D:
        raise ValidationError({field: str(_l("本人承诺不能代替证明材料"))})
    reason = reuse.usable_until(doc, promised_date(app.item_version))
    if reason:
        raise ValidationError({field: str(_l("该材料不能使用：%(reason)s", reason=reason))})
    material.document_id = doc.id
    material.satisfied_by = (
        SatisfiedBy.elicence
        if doc.grade == Grade.A
        else (
            SatisfiedBy.upload
            if doc.grade == Grade.C and doc.source == "upload" and _fresh(doc)
            else SatisfiedBy.library
        )
    )
    db.session.flush()


def _fresh(doc: Document) -> bool:
    """An upload made during this application counts as uploaded, not reused."""
    return (utcnow() - doc.created_at).total_seconds() < 24 * 3600


def choose_option(app: Application, requirement_id: int, option: str, citizen: Citizen) -> None:
    """容缺后补 (deferred) or 告知承诺 (commitment), where the item allows it."""
    material = material_for(app, requirement_id)
    requirement = db.session.get(MaterialRequirement, requirement_id)
    field = f"m_{requirement_id}"
    if option == "deferred":
        if requirement.necessity != "deferrable":
            raise ValidationError({field: str(_l("该材料不支持容缺后补"))})
        material.satisfied_by, material.document_id = SatisfiedBy.deferred, None
    elif option == "commitment":
        if not requirement.commitment_allowed:
            raise ValidationError({field: str(_l("该材料不适用告知承诺"))})
        if citizen.commitment_barred:
            raise ValidationError(
                {field: str(_l("因曾有不实承诺，您暂不能使用告知承诺，请提交材料"))}
            )
        material.satisfied_by, material.document_id = SatisfiedBy.commitment, None
    elif option == "none":
        material.satisfied_by, material.document_id = SatisfiedBy.missing, None
    else:
        raise ValidationError({field: str(_l("选项不正确"))})
    db.session.flush()


# ---- one snapshot of a draft's materials, shared by the pages and the pre-check ------------


@dataclass
class MaterialSnapshot:
    due: date
    requirements: dict[int, MaterialRequirement]
    applicable: list[MaterialRequirement]
    proposals: dict[int, reuse.Proposal]
    chosen: dict[int, ApplicationMaterial]
    documents: dict[int, Document]

    def rows(self) -> list[dict[str, Any]]:
        return [
            {"requirement": r, "proposal": self.proposals[r.id], "material": self.chosen.get(r.id)}
            for r in self.applicable
        ]


def snapshot_materials(app: Application) -> MaterialSnapshot:
    """Requirements, proposals and chosen documents of a draft in a fixed number of queries."""
    due = promised_date(app.item_version)
    requirements = reuse.requirements_with_types(app.item_version_id)
    applicable = reuse.applicable_requirements(requirements, app.condition_answers or {})
    proposals = {
        p.requirement.id: p for p in reuse.propose_materials(app.applicant_id, applicable, due)
    }
    chosen = {m.requirement_id: m for m in app.materials}
    documents = {
        d.id: d
        for p in proposals.values()
        for d in ([p.document] if p.document else [])
        + p.alternatives
        + [doc for doc, _ in p.excluded]
    }
    missing = [
        m.document_id for m in chosen.values() if m.document_id and m.document_id not in documents
    ]
    if missing:
        documents.update(
            {d.id: d for d in db.session.scalars(select(Document).where(Document.id.in_(missing)))}
        )
    return MaterialSnapshot(
        due, {r.id: r for r in requirements}, applicable, proposals, chosen, documents
    )


# ---- pre-check and submission -------------------------------------------------------------


@dataclass
class Problem:
    field: str
    message: str


def precheck(app: Application, snapshot: MaterialSnapshot | None = None) -> list[Problem]:
    """智能预审: every missing, expired or invalid item at once."""
    problems: list[Problem] = []
    version = app.item_version
    for q in version.condition_questions or []:
        if q["key"] not in (app.condition_answers or {}):
            problems.append(
                Problem(f"c_{q['key']}", str(_l("情形“%(label)s”未选择", label=q["label"])))
            )
    for q in version.questions or []:
        try:
            clean_answer(q, (app.form_data or {}).get(q["key"]))
        except ValueError as exc:
            problems.append(Problem(f"q_{q['key']}", f"{q['label']}：{exc}"))
    if app.channel == Channel.counter and app.agent_id and not app.agent_authorisation_id:
        problems.append(Problem("authorisation", str(_l("代理人办理须提交申请人签署的授权委托书"))))
    snap = snapshot or snapshot_materials(app)
    for req in snap.applicable:
        name = req.material_type.name
        field = f"m_{req.id}"
        material = snap.chosen.get(req.id)
        if req.necessity == "shared":
            continue
        if material is None or material.satisfied_by == SatisfiedBy.missing:
            if req.necessity in ("required", "deferrable"):
                problems.append(Problem(field, str(_l("缺少材料：%(name)s", name=name))))
        elif material.document_id:
            doc = snap.documents.get(material.document_id)
            if doc is None or doc.owner_id != app.applicant_id:
                problems.append(Problem(field, str(_l("材料无效：%(name)s", name=name))))
            elif reason := reuse.usable_until(doc, snap.due):
                problems.append(Problem(field, f"{name}：{reason}"))
    return problems


def next_in_sequence(name: str, day: date) -> int:
    """The next value of a per-day counter; safe under concurrent submissions on both databases."""
    stmt = (
        update(DailyCounter)
        .where(DailyCounter.name == name, DailyCounter.day == day)
        .values(value=DailyCounter.value + 1)
        .returning(DailyCounter.value)
    )
    value = db.session.execute(stmt).scalar()
    if value is None:
        try:
            with db.session.begin_nested():
                db.session.add(DailyCounter(name=name, day=day, value=1))
            return 1
        except IntegrityError:
            value = db.session.execute(stmt).scalar()
    return int(value)


def new_case_number(channel: Channel, day: date) -> str:
    """E.g. WB20261124000123: a channel prefix, the date and a daily sequence."""
    prefix = {Channel.online: "WB", Channel.counter: "CK", Channel.kiosk: "ZZ"}[channel]
    return f"{prefix}{day:%Y%m%d}{next_in_sequence('case', day):06d}"


def submit_application(actor: User, application_id: int, token: str) -> Application:
    """Submit a draft exactly once. Replaying the token returns the same case."""
    app = db.session.scalar(
        select(Application).where(Application.id == application_id).with_for_update()
    )
    if app is None or not may_act_on(actor, app):
        raise NotFound(str(_l("办件不存在")))
    if not token or not secrets.compare_digest(token, app.submit_token or ""):
        raise Conflict(str(_l("提交凭证无效，请回到确认页重新提交")))
    if app.status != DRAFT:
        return app  # a replay of the same submission
    problems = precheck(app)
    if problems:
        raise ValidationError({p.field: p.message for p in problems})
    now = utcnow()
    claimed = db.session.execute(
        update(Application)
        .where(Application.id == app.id, Application.status == DRAFT)
        .values(status="submitted", submitted_at=now, version=Application.version + 1)
        .execution_options(synchronize_session=False)
    ).rowcount
    db.session.refresh(app)
    if claimed == 0:
        return app
    app.number = new_case_number(app.channel, now.date())
    required = [m for m in app.materials if m.requirement.necessity != "optional"]
    app.materials_required = len(required)
    app.materials_reused = sum(
        1
        for m in required
        if m.satisfied_by in (SatisfiedBy.elicence, SatisfiedBy.library, SatisfiedBy.shared)
    )
    db.session.flush()
    with audit.deferred_events():  # 秒批 may render notices and a licence before the appends
        audit.record_event(
            "submitted",
            actor=actor,
            application_id=app.id,
            details={
                "number": app.number,
                "channel": str(app.channel),
                "applicant": app.applicant_id,
                "agent": app.agent_id,
                "materials": {str(m.requirement_id): str(m.satisfied_by) for m in app.materials},
            },
        )
        record_reuse(app)
        messages.notify(app.applicant, "submitted", application=app)
        workflow.after_submission(app)
    return app


def record_reuse(app: Application) -> None:
    """我的数据使用记录: the system reused these library documents for this case."""
    for material in app.materials:
        if material.document_id and material.satisfied_by in (
            SatisfiedBy.elicence,
            SatisfiedBy.library,
        ):
            data_use.record_data_use(
                citizen_id=app.applicant_id,
                actor=None,
                action="reuse_document",
                document_id=material.document_id,
                application_id=app.id,
                detail=app.number or "",
            )


def upload_for(
    actor: User,
    app: Application,
    requirement_id: int,
    *,
    data: bytes,
    filename: str | None,
    issued_on: date | None,
    own_expiry: date | None,
    intake: IntakeKey | None = None,
) -> Document:
    """Upload a file for one material of a draft: it goes to the applicant's library and is chosen.
    ``intake``: the offline intake whose draft this is (a clerk scanning for it)."""
    material = material_for(app, requirement_id)
    requirement = db.session.get(MaterialRequirement, material.requirement_id)
    doc = upload_to_library(
        actor,
        app.applicant,
        requirement.material_type_id,
        f"u{requirement_id}",
        data=data,
        filename=filename,
        issued_on=issued_on,
        own_expiry=own_expiry,
        intake=intake,
    )
    choose_document(app, requirement_id, doc.id)
    return doc


def upload_to_library(
    actor: User,
    owner: Citizen,
    material_type_id: int,
    prefix: str,
    *,
    data: bytes,
    filename: str | None,
    issued_on: date | None,
    own_expiry: date | None,
    intake: IntakeKey | None = None,
) -> Document:
    """Upload one file of a material type into the applicant's library; the field errors are
    named ``<prefix>_<field>`` as the upload form macro (templates/apply/_upload.html) shows them."""
    try:
        return documents.upload_document(
            actor,
            material_type_id=material_type_id,
            data=data,
            filename=filename,
            issued_on=issued_on,
            own_expiry=own_expiry,
            owner=owner,
            intake=intake,
        )
    except ValidationError as exc:
        raise ValidationError({f"{prefix}_{k}": v for k, v in exc.errors.items()}) from None


def withdraw_application(
    actor: User, application_id: int, reason: str = "", expected_version: int | None = None
) -> Application:
    """The citizen withdraws a case until a decision is made (the workflow table's "withdraw")."""
    app = get_own_application(actor, application_id)
    if app.status not in workflow.TRANSITIONS["withdraw"].sources:
        raise Conflict(str(_l("该办件当前状态不能撤回")))
    return workflow.perform(
        actor,
        app.id,
        "withdraw",
        app.version if expected_version is None else expected_version,
        reason=reason,
    )


def list_own_applications(actor: User) -> list[Application]:
    """The actor's cases and drafts, and those they handle as a still-authorised agent."""
    if actor.citizen_id is None:
        return []
    principals = {c.id for c in proxies.principals_of(actor)}
    rows = db.session.scalars(
        select(Application)
        .where(
            or_(
                Application.applicant_id == actor.citizen_id,
                Application.agent_id == actor.citizen_id,
            ),
            Application.parent_id.is_(None),
        )
        .options(selectinload(Application.item_version), selectinload(Application.applicant))
        .order_by(Application.updated_at.desc())
    )
    return [a for a in rows if a.applicant_id == actor.citizen_id or a.applicant_id in principals]
