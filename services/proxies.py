"""亲友代办: a citizen authorises another registered citizen to apply in their name."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import Select, select

from portal.extensions import db
from portal.models import Authorisation, Citizen, User
from portal.models.base import utcnow
from services import audit, clock
from services.case_access import can_act_for as can_act_for  # the rule lives in case_access
from services.errors import NotFound, ValidationError
from services.identity import normalise_phone

MAX_DAYS = 3 * 365


def authorise_agent(
    principal: User, *, agent_phone: str, valid_until: date | None
) -> Authorisation:
    """The principal names an agent by the agent's registered phone, for a limited period."""
    phone = normalise_phone(agent_phone, field="agent_phone")
    agent_user = db.session.scalar(select(User).where(User.phone == phone))
    if agent_user is None or agent_user.citizen_id is None:
        raise ValidationError({"agent_phone": str(_l("该手机号没有注册，请对方先实名注册"))})
    if agent_user.citizen_id == principal.citizen_id:
        raise ValidationError({"agent_phone": str(_l("不能授权给自己"))})
    today = clock.local_today()
    if valid_until is None or valid_until <= today:
        raise ValidationError({"valid_until": str(_l("授权截止日期须晚于今天"))})
    if valid_until > today + timedelta(days=MAX_DAYS):
        raise ValidationError({"valid_until": str(_l("授权期限最长 3 年"))})
    auth = Authorisation(
        principal_id=principal.citizen_id,
        agent_id=agent_user.citizen_id,
        valid_from=today,
        valid_until=valid_until,
    )
    db.session.add(auth)
    db.session.flush()
    audit.record_event(
        "proxy_authorised",
        actor=principal,
        details={
            "authorisation": auth.id,
            "agent_citizen": agent_user.citizen_id,
            "until": valid_until.isoformat(),
        },
    )
    return auth


def revoke_authorisation(principal: User, authorisation_id: int) -> None:
    auth = db.session.get(Authorisation, authorisation_id)
    if auth is None or auth.principal_id != principal.citizen_id:
        raise NotFound(str(_l("授权不存在")))
    if auth.revoked_at is None:
        auth.revoked_at = utcnow()
        db.session.flush()
        audit.record_event("proxy_revoked", actor=principal, details={"authorisation": auth.id})


def principals_of(agent: User) -> list[Citizen]:
    return list(db.session.scalars(select(Citizen).where(Citizen.id.in_(principal_ids_of(agent)))))


def principal_ids_of(agent: User) -> Select:
    """The citizens who authorise ``agent`` today, as a subquery (of their citizen ids)."""
    return principal_ids_query(agent.citizen_id, clock.local_today())


def principal_ids_query(agent_citizen_id: Any, today: Any) -> Select:
    """The same for an agent's citizen id and a day given as values or bound parameters (a
    statement built once and run with its parameters: services.applications.own_cases)."""
    return select(Authorisation.principal_id).where(
        Authorisation.agent_id == agent_citizen_id,
        Authorisation.revoked_at.is_(None),
        Authorisation.valid_from <= today,
        Authorisation.valid_until >= today,
    )


def given_by(principal: User) -> list[tuple[Authorisation, Citizen]]:
    rows = db.session.execute(
        select(Authorisation, Citizen)
        .join(Citizen, Citizen.id == Authorisation.agent_id)
        .where(Authorisation.principal_id == principal.citizen_id)
        .order_by(Authorisation.created_at.desc())
    )
    return [(auth, agent) for auth, agent in rows]
