"""Registration, login and profile rules for citizens and staff."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select
from werkzeug.security import check_password_hash, generate_password_hash

from portal.extensions import db
from portal.models import Citizen, Department, LoginFailure, Role, StaffRole, User
from portal.models.base import utcnow
from services.errors import NotAuthorized, TooManyAttempts, ValidationError
from services.identity import normalise_phone, parse_resident_id

PASSWORD_MIN_LENGTH = 8
NAME_RE = re.compile(r"^[\u3400-\u9fff·•A-Za-z ]{2,30}$")


def check_password_strength(password: str, field: str = "password") -> None:
    """At least 8 characters with letters and digits; long passphrases are welcome."""
    if len(password) < PASSWORD_MIN_LENGTH:
        raise ValidationError({field: str(_l("密码至少 8 位"))})
    if len(password) > 128:
        raise ValidationError({field: str(_l("密码最多 128 位"))})
    if not (re.search(r"[A-Za-z]", password) and re.search(r"\d", password)):
        raise ValidationError({field: str(_l("密码需同时包含字母和数字"))})


def hash_password(password: str) -> str:
    return generate_password_hash(password, method=current_app.config["PASSWORD_HASH_METHOD"])


def check_real_name(name: str, field: str = "name") -> str:
    name = (name or "").strip()
    if not NAME_RE.match(name):
        raise ValidationError({field: str(_l("请填写与身份证一致的姓名（2 至 30 个字）"))})
    return name


def find_citizen_by_id_number(id_number: str) -> Citizen | None:
    return db.session.scalar(select(Citizen).where(Citizen.id_number == id_number))


def find_or_create_citizen(
    *, name: str, id_number: str, phone: str | None, address: str = ""
) -> Citizen:
    """Return the person with this id number, creating the record if the portal has none.

    A person may already exist without an online account (met at a counter); the
    real-name fields must then agree with what the portal holds.
    """
    name = check_real_name(name)
    rid = parse_resident_id(id_number)
    citizen = find_citizen_by_id_number(rid.number)
    if citizen is not None:
        if citizen.name != name:
            raise ValidationError({"name": str(_l("姓名与该身份证号的登记信息不一致"))})
        return citizen
    citizen = Citizen(
        name=name,
        id_number=rid.number,
        phone=phone,
        address=(address or "").strip(),
        birth_date=rid.birth_date,
        gender=rid.gender,
    )
    db.session.add(citizen)
    db.session.flush()
    return citizen


def register_citizen(
    *, phone: str, password: str, name: str, id_number: str, address: str = ""
) -> User:
    """Create a citizen's online account (实名注册) at once: the demo seed, the tests and the
    counter's people. Online, services.phone_accounts confirms the phone by SMS first.
    Raises ValidationError naming the field."""
    checked = check_registration(phone=phone, password=password, name=name, id_number=id_number)
    return create_citizen_account(
        phone=checked.phone,
        password_hash=hash_password(password),
        name=checked.name,
        id_number=checked.id_number,
        address=address,
    )


@dataclass(frozen=True)
class Registration:
    phone: str
    name: str
    id_number: str


def check_registration(*, phone: str, password: str, name: str, id_number: str) -> Registration:
    """Every rule of 实名注册, each error on its field; nothing is written."""
    errors: dict[str, str] = {}
    try:
        phone = normalise_phone(phone)
    except ValidationError as exc:
        errors.update(exc.errors)
    try:
        check_password_strength(password)
    except ValidationError as exc:
        errors.update(exc.errors)
    try:
        name = check_real_name(name)
    except ValidationError as exc:
        errors.update(exc.errors)
    try:
        rid = parse_resident_id(id_number)
    except ValidationError as exc:
        errors.update(exc.errors)
        rid = None
    if "phone" not in errors:
        # a person met at a counter has a Citizen record with this phone but no login yet:
        # they activate online access with the same phone and 身份证号
        taken = db.session.scalar(
            select(func.count()).select_from(User).where(User.phone == phone)
        ) or db.session.scalar(
            select(func.count())
            .select_from(Citizen)
            .where(Citizen.phone == phone, Citizen.id_number != (rid.number if rid else ""))
        )
        if taken:
            errors["phone"] = str(_l("该手机号已注册，请直接登录或找回密码"))
    if rid is not None:
        existing = find_citizen_by_id_number(rid.number)
        if existing is not None and existing.user is not None:
            errors["id_number"] = str(_l("该身份证号已注册账号"))
        elif existing is not None and existing.phone not in (None, phone):
            errors["phone"] = str(_l("该身份证号登记的手机号与填写的不一致，请到窗口核实"))
    if errors:
        raise ValidationError(errors)
    return Registration(phone=phone, name=name, id_number=rid.number)


def create_citizen_account(
    *, phone: str, password_hash: str, name: str, id_number: str, address: str = ""
) -> User:
    """The account of a registration that passed ``check_registration``."""
    citizen = find_or_create_citizen(name=name, id_number=id_number, phone=phone, address=address)
    citizen.phone = phone
    user = User(
        role=Role.citizen,
        phone=phone,
        display_name=citizen.name,
        password_hash=password_hash,
        citizen=citizen,
    )
    db.session.add(user)
    db.session.flush()
    return user


def create_staff(
    *,
    username: str,
    password: str,
    role: Role,
    display_name: str,
    department: Department | None,
    second_factor_exempt: bool = False,
) -> User:
    """A staff account holding one role, ready to log in (the demo seed and tests use it);
    admins create accounts through services.staff, with an initial password and several roles.
    ``second_factor_exempt`` is for demo accounts only: production refuses them at login."""
    if role == Role.citizen:
        raise ValidationError({"role": "staff role required"})
    if role in (Role.reviewer, Role.counter) and department is None:
        raise ValidationError({"department": "reviewers and counter staff belong to a department"})
    check_password_strength(password)
    user = User(
        role=role,
        username=username,
        display_name=display_name,
        password_hash=hash_password(password),
        department=department,
        second_factor_exempt=second_factor_exempt,
        role_grants=[StaffRole(role=role)],
    )
    db.session.add(user)
    db.session.flush()
    return user


def find_login(login: str) -> User | None:
    login = (login or "").strip()
    if re.fullmatch(r"\+?\d[\d\s-]*", login):
        try:
            phone = normalise_phone(login)
        except ValidationError:
            return None
        return db.session.scalar(select(User).where(User.phone == phone))
    return db.session.scalar(select(User).where(User.username == login))


def authenticate(
    login: str,
    password: str,
    *,
    remote_addr: str = "",
    max_failures: int = 5,
    window_minutes: int = 15,
) -> User:
    """Check a login; too many recent failures for the same login refuse it (429)."""
    key = (login or "").strip()[:40]
    since = utcnow() - timedelta(minutes=window_minutes)
    failures = db.session.scalar(
        select(func.count())
        .select_from(LoginFailure)
        .where(LoginFailure.login == key, LoginFailure.created_at >= since)
    )
    if failures >= max_failures:
        raise TooManyAttempts(
            str(_l("登录失败次数过多，请 %(minutes)d 分钟后再试", minutes=window_minutes))
        )
    user = find_login(key)
    if (
        user is None
        or not user.active
        or not check_password_hash(user.password_hash, password or "")
    ):
        db.session.add(LoginFailure(login=key, remote_addr=remote_addr[:64]))
        db.session.flush()
        raise NotAuthorized(str(_l("账号或密码不正确")))
    user.last_login_at = utcnow()
    db.session.flush()
    return user


def end_sessions(user: User) -> None:
    """Invalidate every session of this user (logout everywhere, password change)."""
    user.session_epoch += 1
    db.session.flush()


def update_profile(user: User, *, address: str, elder_mode: bool, locale: str | None) -> None:
    if user.citizen is not None:
        address = (address or "").strip()
        if len(address) > 200:
            raise ValidationError({"address": str(_l("地址最多 200 个字"))})
        user.citizen.address = address
    user.elder_mode = elder_mode
    user.locale = locale
    db.session.flush()


def set_elder_mode(user: User, enabled: bool) -> None:
    user.elder_mode = enabled
    db.session.flush()
