"""Staff accounts (工作人员账号): create, edit, deactivate, roles held and the role acted in.

A person may hold several roles (窗口 counter, 审批 reviewer, 管理 admin); ``User.role`` is the
one they act in now, so every access check elsewhere reads one role. Accounts are never
deleted: audit events keep pointing at them. Two rules protect the console itself: the last
active admin cannot lose the admin role or be deactivated, and no admin can take away their own
admin role or deactivate themselves. Every change writes an audit event naming the actor.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select
from sqlalchemy.orm import selectinload
from werkzeug.security import check_password_hash

from portal.extensions import db
from portal.models import Department, Role, ServiceHall, StaffRole, User
from services import audit, two_factor
from services.accounts import (
    check_password_strength,
    end_sessions,
    hash_password,
    personal_words,
    user_words,
)
from services.errors import Conflict, NotAuthorized, NotFound, ValidationError

STAFF_ROLES = (Role.counter, Role.reviewer, Role.admin)
# a letter first: a login made of digits is read as a phone number (services.accounts.find_login)
USERNAME_RE = re.compile(r"^[a-z][a-z0-9_.-]{2,39}$")
STAFF_ROLE_LABELS = {
    Role.counter: _l("综合窗口人员"),
    Role.reviewer: _l("审批人员"),
    Role.admin: _l("系统管理员"),
}


def role_label(role: Role) -> str:
    return str(STAFF_ROLE_LABELS.get(role, role.value))


@dataclass
class StaffRow:
    user: User
    hall: ServiceHall | None


def list_staff() -> list[StaffRow]:
    """Every staff account, active first, with roles, department and hall (three queries)."""
    users = db.session.scalars(
        select(User)
        .where(User.role != Role.citizen)
        .options(selectinload(User.role_grants), selectinload(User.department))
        .order_by(User.active.desc(), User.username)
    ).all()
    halls = {hall.id: hall for hall in db.session.scalars(select(ServiceHall))}
    return [StaffRow(user, halls.get(user.hall_id)) for user in users]


def get_staff(user_id: int) -> User:
    user = db.session.get(User, user_id)
    if user is None or not user.is_staff:
        raise NotFound(str(_l("没有找到该工作人员")))
    return user


def list_halls() -> list[ServiceHall]:
    return list(db.session.scalars(select(ServiceHall).order_by(ServiceHall.code)))


def _check_assignment(
    roles: set[Role],
    acting_role: Role | None,
    department: Department | None,
    hall: ServiceHall | None,
) -> dict[str, str]:
    errors: dict[str, str] = {}
    if not roles or not roles <= set(STAFF_ROLES):
        errors["roles"] = str(_l("请至少选择一个角色"))
    elif acting_role not in roles:
        errors["acting_role"] = str(_l("登录后使用的角色须是所选角色之一"))
    if roles & {Role.counter, Role.reviewer} and department is None:
        errors["department"] = str(_l("窗口人员和审批人员须属于一个部门"))
    if Role.counter in roles and hall is None:
        errors["hall_id"] = str(_l("窗口人员须选择所在大厅"))
    return errors


def _normalise_username(username: str) -> str:
    username = (username or "").strip().lower()
    if not USERNAME_RE.match(username):
        raise ValidationError(
            {"username": str(_l("账号以字母开头，3 至 40 位，只用小写字母、数字和 _ . -"))}
        )
    return username


def _username_taken(username: str) -> bool:
    return bool(
        db.session.scalar(
            select(func.count()).select_from(User).where(func.lower(User.username) == username)
        )
    )


def _display_name(name: str) -> str:
    name = (name or "").strip()
    if not 2 <= len(name) <= 50:
        raise ValidationError({"display_name": str(_l("姓名 2 至 50 个字"))})
    return name


def create_staff_account(
    *,
    actor: User,
    username: str,
    display_name: str,
    roles: set[Role],
    acting_role: Role | None,
    department: Department | None,
    hall: ServiceHall | None,
    initial_password: str,
) -> User:
    """A new colleague: they change the initial password and enrol a second factor at their
    first login. Raises ValidationError naming each wrong field."""
    errors: dict[str, str] = {}
    for check in (
        lambda: _normalise_username(username),
        lambda: _display_name(display_name),
        lambda: check_password_strength(
            initial_password,
            field="initial_password",
            personal=personal_words(name=display_name, username=username),
        ),
    ):
        try:
            check()
        except ValidationError as exc:
            errors.update(exc.errors)
    if "username" not in errors and _username_taken(_normalise_username(username)):
        errors["username"] = str(_l("该账号已被使用，请换一个"))
    errors.update(_check_assignment(roles, acting_role, department, hall))
    if errors:
        raise ValidationError(errors)
    user = User(
        role=acting_role,
        username=_normalise_username(username),
        display_name=_display_name(display_name),
        password_hash=hash_password(initial_password),
        department=department,
        hall_id=hall.id if hall and Role.counter in roles else None,
        must_change_password=True,
        role_grants=[StaffRole(role=role) for role in sorted(roles)],
    )
    db.session.add(user)
    db.session.flush()
    audit.record_event(
        "staff_created",
        actor=actor,
        details={
            "user_id": user.id,
            "username": user.username,
            "roles": sorted(roles),
            "acting_role": acting_role,
            "department_id": user.department_id,
            "hall_id": user.hall_id,
        },
    )
    return user


def _other_active_admins(target: User) -> int:
    """Active admins other than ``target``, their rows locked (PostgreSQL) so that two admins
    removing each other at the same moment cannot both succeed."""
    ids = db.session.scalars(
        select(User.id)
        .join(StaffRole, StaffRole.user_id == User.id)
        .where(StaffRole.role == Role.admin, User.active.is_(True), User.id != target.id)
        .with_for_update(of=User)
    ).all()
    return len(ids)


def _check_admin_rules(actor: User, target: User, *, keeps_admin: bool, stays_active: bool) -> None:
    holds_admin = Role.admin in target.roles_held
    if target.id == actor.id and not stays_active:
        raise ValidationError({"": str(_l("不能停用自己的账号"))})
    if holds_admin and not keeps_admin and target.id == actor.id:
        raise ValidationError({"roles": str(_l("不能取消自己的管理员角色"))})
    if (
        holds_admin
        and target.active
        and (not keeps_admin or not stays_active)
        and _other_active_admins(target) == 0
    ):
        field = "roles" if not keeps_admin else ""
        raise ValidationError(
            {field: str(_l("这是最后一位在岗的管理员，不能取消其管理员角色或停用"))}
        )


def update_staff_account(
    target: User,
    *,
    actor: User,
    display_name: str,
    roles: set[Role],
    acting_role: Role | None,
    department: Department | None,
    hall: ServiceHall | None,
) -> User:
    """Change a colleague's name, roles held, acting role, department or hall."""
    errors: dict[str, str] = {}
    try:
        display_name = _display_name(display_name)
    except ValidationError as exc:
        errors.update(exc.errors)
    errors.update(_check_assignment(roles, acting_role, department, hall))
    if errors:
        raise ValidationError(errors)
    _check_admin_rules(actor, target, keeps_admin=Role.admin in roles, stays_active=True)
    before = _snapshot(target)
    target.display_name = display_name
    target.department = department
    target.hall_id = hall.id if hall and Role.counter in roles else None
    held = {grant.role: grant for grant in target.role_grants}
    for role, grant in held.items():
        if role not in roles:
            target.role_grants.remove(grant)
    for role in sorted(roles - set(held)):
        target.role_grants.append(StaffRole(role=role))
    target.role = acting_role
    db.session.flush()
    after = _snapshot(target)
    changed = {key: [before[key], after[key]] for key in after if before[key] != after[key]}
    if changed:
        audit.record_event(
            "staff_updated", actor=actor, details={"user_id": target.id, "changes": changed}
        )
    return target


def _snapshot(user: User) -> dict[str, object]:
    return {
        "display_name": user.display_name,
        "roles": sorted(grant.role.value for grant in user.role_grants),
        "acting_role": user.role.value,
        "department_id": user.department_id,
        "hall_id": user.hall_id,
    }


def set_staff_active(target: User, active: bool, *, actor: User) -> None:
    """Deactivate (停用) or reactivate an account. A deactivated account cannot log in and
    every session it has ends at once; it stays in the audit trail."""
    if target.active == active:
        raise Conflict(str(_l("该账号已是此状态，请刷新页面")))
    if not active:
        _check_admin_rules(
            actor, target, keeps_admin=Role.admin in target.roles_held, stays_active=False
        )
    target.active = active
    end_sessions(target)
    audit.record_event(
        "staff_activated" if active else "staff_deactivated",
        actor=actor,
        details={"user_id": target.id, "username": target.username},
    )


def reset_second_factor(target: User, *, actor: User) -> None:
    """A colleague lost their phone: forget their authenticator and recovery codes; they enrol
    again at their next login, and their sessions end now. Not for one's own account."""
    if target.id == actor.id:
        raise NotAuthorized(str(_l("不能重置自己的验证器，请由另一位管理员操作")))
    two_factor.clear_second_factor(target)
    end_sessions(target)
    audit.record_event(
        "second_factor_reset",
        actor=actor,
        details={"user_id": target.id, "username": target.username},
    )


def reset_password(target: User, new_password: str, *, actor: User) -> None:
    """A colleague forgot their password: the admin gives a new initial password, to be
    changed at the next login (after the second factor, which stays). Sessions end now."""
    if target.id == actor.id:
        raise NotAuthorized(str(_l("请在个人中心修改自己的密码")))
    check_password_strength(new_password, field="initial_password", personal=user_words(target))
    target.password_hash = hash_password(new_password)
    target.must_change_password = True
    end_sessions(target)
    audit.record_event(
        "staff_password_reset",
        actor=actor,
        details={"user_id": target.id, "username": target.username},
    )


def change_initial_password(user: User, new_password: str) -> None:
    """The person replaces the password an admin gave them; never the same one again."""
    check_password_strength(new_password, field="password", personal=user_words(user))
    if check_password_hash(user.password_hash, new_password):
        raise ValidationError({"password": str(_l("新密码不能与当前密码相同"))})
    user.password_hash = hash_password(new_password)
    user.must_change_password = False
    end_sessions(user)
    audit.record_event("password_changed", actor=user, details={"user_id": user.id})


def switch_acting_role(user: User, role: Role) -> None:
    """Act in another of the roles one holds (the header's switch)."""
    if role not in user.roles_held:
        raise NotAuthorized(str(_l("您没有该角色")))
    if role == user.role:
        return
    before = user.role
    user.role = role
    db.session.flush()
    audit.record_event(
        "acting_role_switched",
        actor=user,
        details={"user_id": user.id, "from": before.value, "to": role.value},
    )


def create_first_admin(*, username: str, display_name: str, password: str) -> User:
    """`flask users create-admin`: an admin for a fresh install (no demo seed in production).
    They change nothing at first login but must enrol a second factor."""
    errors: dict[str, str] = {}
    for check in (
        lambda: _normalise_username(username),
        lambda: _display_name(display_name),
        lambda: check_password_strength(
            password, personal=personal_words(name=display_name, username=username)
        ),
    ):
        try:
            check()
        except ValidationError as exc:
            errors.update(exc.errors)
    if "username" not in errors and _username_taken(_normalise_username(username)):
        errors["username"] = str(_l("该账号已被使用，请换一个"))
    if errors:
        raise ValidationError(errors)
    user = User(
        role=Role.admin,
        username=_normalise_username(username),
        display_name=_display_name(display_name),
        password_hash=hash_password(password),
        role_grants=[StaffRole(role=Role.admin)],
    )
    db.session.add(user)
    db.session.flush()
    audit.record_event(
        "staff_created",
        actor=user,
        details={"user_id": user.id, "username": user.username, "roles": ["admin"], "via": "cli"},
    )
    return user
