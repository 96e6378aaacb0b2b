"""Who may see or act on a case or a document now: every access rule of the case core.

The one file to read for "may this actor see / act on this case (or open this document)?":

- a **citizen** acts on their own cases, and on a principal's case they started as an agent
  while a 亲友代办 authorisation holds (valid today, not expired, not revoked);
- a **counter clerk** (综合窗口, 无差别受理) acts on the cases of the citizen they are serving
  now (their open ``CounterContext``), and on the draft of an offline intake of theirs while
  it is being sent;
- a **reviewer** sees the submitted cases of their own department;
- an **admin** sees every case; scheduled jobs and 秒批 (no actor) act as the system.

Each public service entry asks here once and then trusts what it loaded: inner calls do not
check again. Anyone refused is told the case (or document) does not exist, never whose it is.
This module only reads: it queries, never writes, and imports no other case service.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import bindparam, select

from portal.extensions import db
from portal.models import (
    Application,
    ApplicationMaterial,
    Authorisation,
    Channel,
    Citizen,
    CounterContext,
    Document,
    IntakeKey,
    Role,
    User,
)
from services import clock
from services.case_states import DRAFT

# ---- 亲友代办: an agent acting for a principal -----------------------------------------------


def can_act_for(agent_citizen_id: int | None, principal_id: int, on: date | None = None) -> bool:
    """True while a 亲友代办 authorisation lets the agent act for the principal on ``on``
    (today by default): from its first day to its last, unless revoked."""
    if agent_citizen_id is None:
        return False
    on = on or clock.local_today()
    return (
        db.session.scalar(
            select(Authorisation.id)
            .where(
                Authorisation.agent_id == agent_citizen_id,
                Authorisation.principal_id == principal_id,
                Authorisation.revoked_at.is_(None),
                Authorisation.valid_from <= on,
                Authorisation.valid_until >= on,
            )
            .limit(1)
        )
        is not None
    )


def may_act_for(actor: User, principal: Citizen) -> bool:
    """May this citizen account apply in ``principal``'s name (themself, or as an agent)?"""
    if actor.citizen_id is None:
        return False
    return principal.id == actor.citizen_id or can_act_for(actor.citizen_id, principal.id)


# ---- the counter clerk and the citizen being served ------------------------------------------


def current_context(staff: User | None) -> CounterContext | None:
    """The clerk's open context (the citizen being served), or None between two citizens."""
    if staff is None or staff.role != Role.counter:
        return None
    return db.session.scalar(_OPEN_CONTEXT, {"staff": staff.id})


# built once: every counter page asks it (building the select cost as much as running it)
_OPEN_CONTEXT = (
    select(CounterContext)
    .where(CounterContext.staff_id == bindparam("staff"), CounterContext.ended_at.is_(None))
    .order_by(CounterContext.id.desc())
    .limit(1)
)


def serving_citizen_id(staff: User | None) -> int | None:
    ctx = current_context(staff)
    return ctx.citizen_id if ctx is not None else None


def serves(ctx: CounterContext | None, app: Application) -> bool:
    """True when the open context ``ctx`` is serving the case's applicant."""
    return ctx is not None and ctx.citizen_id is not None and app.applicant_id == ctx.citizen_id


def is_serving(staff: User, app: Application) -> bool:
    """True while the clerk serves the case's applicant (or the agent who brought it)."""
    return serves(current_context(staff), app)


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


def is_own_intake_for(actor: User, intake: IntakeKey | None, owner: Citizen) -> bool:
    """True when ``intake`` is the clerk's offline intake and its draft is ``owner``'s."""
    if intake is None or intake.staff_id != actor.id or intake.application_id is None:
        return False
    app = db.session.get(Application, intake.application_id)
    return app is not None and app.status == DRAFT and app.applicant_id == owner.id


# ---- cases ---------------------------------------------------------------------------------


def may_act_on(actor: User, app: Application) -> bool:
    """May ``actor`` work on this case as its applicant's side (edit a draft, submit,
    withdraw, rate …)? The applicant, or the agent who started it while their authorisation
    holds; at a counter, the clerk serving the applicant now, for a case taken at a counter,
    or the clerk who made an offline intake, for its draft while it is being sent."""
    if actor.role == Role.counter:
        return app.channel == Channel.counter and (
            is_serving(actor, app) or is_offline_intake_draft(actor, app)
        )
    if actor.citizen_id is None:
        return False
    if app.applicant_id == actor.citizen_id:
        return True
    return app.agent_id == actor.citizen_id and can_act_for(actor.citizen_id, app.applicant_id)


def may_see(actor: User | None, app: Application) -> bool:
    """May ``actor`` see (and, as the workflow table's roles allow, act on) this case? Staff
    see the cases of their own department (counter staff, 无差别受理: any department's case of
    the citizen they serve); citizens their own; the admin all; the system (None) all."""
    if actor is None:
        return True
    if actor.role == Role.reviewer:
        return actor.department_id is not None and app.department_id == actor.department_id
    if actor.role == Role.counter:
        return is_serving(actor, app)
    if actor.role == Role.citizen:
        return may_act_on(actor, app)
    return actor.role == Role.admin


def may_start_draft(
    actor: User, applicant: Citizen, channel: Channel, intake: IntakeKey | None = None
) -> bool:
    """May ``actor`` start a draft in ``applicant``'s name? (the caller checks the role)"""
    if actor.role == Role.counter:
        if intake is not None:
            return (
                channel == Channel.counter
                and intake.staff_id == actor.id
                and intake.application_id is None
            )
        return channel == Channel.counter and serving_citizen_id(actor) == applicant.id
    return may_act_for(actor, applicant)


# ---- documents (材料库) ----------------------------------------------------------------------


@dataclass(frozen=True)
class Access:
    """Why ``user`` may open a document: as its owner, as an authorised agent, or as staff
    handling ``application_id`` (all but the owner's are written to the owner's data-use log)."""

    kind: str  # owner / agent / staff
    application_id: int | None = None

    @property
    def logged(self) -> bool:
        """Staff and agents' uses go into the owner's data-use log; the owner's own do not."""
        return self.kind != "owner"


def agent_may_view(user: User, document: Document) -> bool:
    """亲友代办: True when ``user`` is a citizen the owner has authorised to act for them now."""
    return user.citizen_id is not None and can_act_for(user.citizen_id, document.owner_id)


def _newest_case_using(document: Document, department_id: int | None = None) -> int | None:
    """The newest case that uses the document (of ``department_id``, once submitted to it)."""
    query = (
        select(Application.id)
        .join(ApplicationMaterial, ApplicationMaterial.application_id == Application.id)
        .where(ApplicationMaterial.document_id == document.id)
        .order_by(Application.id.desc())
        .limit(1)
    )
    if department_id is not None:
        query = query.where(Application.department_id == department_id, Application.status != DRAFT)
    return db.session.scalar(query)


def document_access(user: User | None, document: Document) -> Access | None:
    """Why ``user`` may open ``document``, or None: the single rule for viewing and downloading.
    The owner; an agent the owner authorised; the clerk serving the owner; a reviewer of the
    department a case using the document was submitted to."""
    if user is None or not user.is_authenticated or not user.active:
        return None
    if user.role == Role.citizen:
        if user.citizen_id is not None and document.owner_id == user.citizen_id:
            return Access("owner")
        if agent_may_view(user, document):
            return Access("agent")
        return None
    if user.role == Role.counter:  # the documents of the citizen being served, as for their cases
        if document.owner_id != serving_citizen_id(user):
            return None
        return Access("staff", _newest_case_using(document))
    if user.role == Role.reviewer and user.department_id is not None:
        application_id = _newest_case_using(document, user.department_id)
        return Access("staff", application_id) if application_id is not None else None
    return None


def can_view(user: User | None, document: Document) -> bool:
    """May ``user`` view or download ``document``? (owner, authorised agent, staff on its case)"""
    return document_access(user, document) is not None


def may_upload_for(user: User, owner: Citizen | None, intake: IntakeKey | None = None) -> bool:
    """May ``user`` put a document into ``owner``'s library? A citizen into their own (``owner``
    None) or a principal's; a clerk into the library of the citizen being served, or of the
    applicant of an offline intake of theirs being sent (``intake``)."""
    if user.role == Role.counter:
        return owner is not None and (
            serving_citizen_id(user) == owner.id or is_own_intake_for(user, intake, owner)
        )
    if owner is None or owner.id == user.citizen_id:
        return True
    return can_act_for(user.citizen_id, owner.id)
