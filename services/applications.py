"""办件 from draft to submission: steps saved on the server, pre-check, exactly-once submit.

A draft is the citizen's own; every step saves to it. Submission is idempotent by the draft's
token: a double click, a back-button resubmit or a network retry returns the same case.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import cache

from flask_babel import lazy_gettext as _l
from sqlalchemy import Date, Row, Select, and_, bindparam, func, or_, select, union_all
from sqlalchemy.orm import joinedload

from portal.extensions import db
from portal.models import (
    Application,
    Bundle,
    Channel,
    Citizen,
    Document,
    IntakeKey,
    ItemVersion,
    MaterialRequirement,
    Role,
    ServiceItem,
    User,
    VersionStatus,
)
from services import (
    case_access,
    clock,
    delivery,
    documents,
    materials,
    proxies,
    workflow,
)
from services.case_states import CLOSED_STATES as CLOSED_STATES
from services.case_states import DRAFT as DRAFT
from services.errors import Conflict, NotFound, ValidationError

# a draft's answers and materials live in services/materials.py; re-exported for the views
from services.materials import (
    Problem as Problem,
)
from services.materials import (
    choose_document as choose_document,
)
from services.materials import (
    choose_option as choose_option,
)
from services.materials import (
    clean_answer as clean_answer,
)
from services.materials import (
    material_for as material_for,
)
from services.materials import (
    prefill as prefill,
)
from services.materials import (
    promised_date as promised_date,
)
from services.materials import (
    record_reuse as record_reuse,
)
from services.materials import (
    save_conditions as save_conditions,
)
from services.materials import (
    snapshot_materials as snapshot_materials,
)
from services.materials import (
    sync_materials as sync_materials,
)

PROFILE_FIELDS = ("name", "id_number", "phone", "address", "birth_date")


def save_form(app: Application, raw: dict, *, partial: bool = False) -> None:
    """The form's answers (services/materials.save_form), and 邮寄 only with an address."""
    errors: dict[str, str] = {}
    try:
        materials.save_form(app, raw, partial=partial)
    except ValidationError as exc:
        errors.update(exc.errors)
    if not partial:
        for field, message in delivery.answer_problems(app.item_version, raw).items():
            errors.setdefault(field, message)
    if errors:
        raise ValidationError(errors)


def precheck(app: Application, snapshot: materials.MaterialSnapshot | None = None) -> list[Problem]:
    """智能预审 (services/materials.precheck) and the delivery answers."""
    problems = materials.precheck(app, snapshot)
    taken = {p.field for p in problems}
    for field, message in delivery.answer_problems(app.item_version, app.form_data).items():
        if field not in taken:
            problems.append(Problem(field, message))
    return problems


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
        if not case_access.may_start_draft(actor, applicant, channel, intake):
            raise NotFound(str(_l("请先接待该办事群众")))
        agent_id = agent.id if agent is not None else None
    elif actor.role != Role.citizen:
        raise NotFound(str(_l("该事项暂未开放办理")))
    elif not case_access.may_start_draft(actor, applicant, channel):
        raise NotFound(str(_l("您没有代办该申请人事项的授权")))
    elif applicant.id != actor.citizen_id:
        agent_id = actor.citizen_id
    version = item.published_version
    if version is None or version.status != VersionStatus.published:
        raise NotFound(str(_l("该事项暂未开放办理")))
    existing = None if intake is not None else open_draft(applicant.id, version.id, channel)
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


def open_draft(
    applicant_id: int | None, item_version_id: int | None, channel: Channel = Channel.online
) -> Application | None:
    """The applicant's open draft of this item version on this channel (a 一件事's child cases
    are the bundle's, not drafts of their own); ``start_draft`` resumes it."""
    if applicant_id is None or item_version_id is None:
        return None
    return db.session.scalar(
        select(Application).where(
            Application.applicant_id == applicant_id,
            Application.item_version_id == item_version_id,
            Application.status == DRAFT,
            Application.channel == channel,
            Application.parent_id.is_(None),
        )
    )


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
        .options(joinedload(Application.item_version))  # one query, not two
    )
    if app is None or not case_access.may_act_on(actor, app):
        raise NotFound(str(_l("办件不存在")))
    return app


def delete_draft(actor: User, application_id: int) -> None:
    app = get_own_draft(actor, application_id)
    db.session.delete(app)
    db.session.flush()


# the draft with what submitting it reads, its row locked; built once
_DRAFT_TO_SUBMIT = (
    select(Application)
    .where(Application.id == bindparam("draft"))
    .options(
        joinedload(Application.item_version),
        joinedload(Application.applicant),
        joinedload(Application.materials),
    )
    .with_for_update(of=Application)  # the draft's row; the rest is only read
)


def submit_application(actor: User, application_id: int, token: str) -> Application:
    """Submit a draft exactly once. Replaying the token returns the same case."""
    app = db.session.scalars(_DRAFT_TO_SUBMIT, {"draft": application_id}).unique().one_or_none()
    if app is None or not case_access.may_act_on(actor, app):
        raise NotFound(str(_l("办件不存在")))
    return _submit(actor, app, token)


def submit_checked(actor: User, app: Application, token: str) -> Application:
    """``submit_application`` for a caller that loaded the draft and checked the actor's access
    through services/case_access itself (the counter, against the clerk's open context)."""
    db.session.refresh(app, with_for_update=True)
    return _submit(actor, app, token)


def _submit(actor: User, app: Application, token: str) -> Application:
    if not token or not secrets.compare_digest(token, app.submit_token or ""):
        raise Conflict(str(_l("提交凭证无效，请回到确认页重新提交")))
    if app.status != DRAFT:
        return app  # a replay of the same submission
    # a local until the submission is done: its requirements (and their types) stay in the
    # session's identity map (weak references), so counting the reused materials and
    # recording their reuse load none of them again
    snapshot = snapshot_materials(app)
    problems = precheck(app, snapshot)
    if problems:
        raise ValidationError({p.field: p.message for p in problems})
    return workflow.submit(actor, app)


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


# 我的办件 shows this many cases a page, the most recently changed first
OWN_CASES_PAGE = 50


@dataclass
class OwnCases:
    rows: list[Row]  # id, number, status, updated_at, title (the item's or life event's name)
    next_cursor: str | None  # ?after= for the next page; None on the last


def _own_cursor(row: Row) -> str:
    return f"{row.updated_at.astimezone(UTC).strftime('%Y%m%d%H%M%S%f')}.{row.id}"


def _parse_own_cursor(raw: str) -> tuple[datetime, int] | None:
    moment, _dot, case_id = (raw or "").partition(".")
    if not (len(moment) == 20 and moment.isascii() and moment.isdigit()):
        return None
    if not (case_id.isascii() and case_id.isdigit() and 0 < len(case_id) <= 10):
        return None
    try:
        return datetime.strptime(moment, "%Y%m%d%H%M%S%f").replace(tzinfo=UTC), int(case_id)
    except ValueError:
        return None


def own_cases(actor: User, *, after: str = "", page_size: int = OWN_CASES_PAGE) -> OwnCases:
    """A page of the actor's cases and drafts, and those they handle as a still-authorised
    agent, the most recently changed first, as rows of the columns the list shows: one query
    whatever the number of cases (built once per page size, run with the actor's parameters);
    the next page starts after the last row's (updated_at, id), never at an OFFSET."""
    if actor.citizen_id is None:
        return OwnCases([], None)
    key = _parse_own_cursor(after)
    params = {"citizen": actor.citizen_id, "today": clock.local_today()}
    if key is not None:
        params["moment"], params["after_id"] = key
    rows = db.session.execute(_own_cases_statement(key is not None, page_size + 1), params).all()
    more = len(rows) > page_size
    rows = rows[:page_size]
    return OwnCases(rows, _own_cursor(rows[-1]) if more else None)


@cache
def _own_cases_statement(paged: bool, limit: int) -> Select:
    """own_cases's query. Its two halves (own cases; a principal's cases the actor is the
    agent of) each use their index (ix_applications_applicant_parent / _agent_parent: one OR
    would lead SQLite to the parent_id index, i.e. to every case)."""
    citizen = bindparam("citizen")

    def cases_where(*conditions) -> Select:
        stmt = select(
            Application.id,
            Application.number,
            Application.status,
            Application.updated_at,
            Application.item_version_id,
            Application.bundle_id,
        ).where(Application.parent_id.is_(None), *conditions)
        if paged:
            moment = bindparam("moment", type_=Application.updated_at.type)
            stmt = stmt.where(
                or_(
                    Application.updated_at < moment,
                    and_(Application.updated_at == moment, Application.id < bindparam("after_id")),
                )
            )
        return stmt

    cases = union_all(
        cases_where(Application.applicant_id == citizen),
        cases_where(
            Application.agent_id == citizen,
            Application.applicant_id.in_(
                proxies.principal_ids_query(citizen, bindparam("today", type_=Date()))
            ),
            Application.applicant_id != citizen,
        ),
    ).subquery()
    return (
        select(
            cases.c.id,
            cases.c.number,
            cases.c.status,
            cases.c.updated_at,
            func.coalesce(Bundle.name, ItemVersion.name, "").label("title"),
        )
        .outerjoin(Bundle, Bundle.id == cases.c.bundle_id)
        .outerjoin(ItemVersion, ItemVersion.id == cases.c.item_version_id)
        .order_by(cases.c.updated_at.desc(), cases.c.id.desc())
        .limit(limit)
    )


def list_own_applications(actor: User) -> list[Row]:
    """The first page of own_cases."""
    return own_cases(actor).rows
