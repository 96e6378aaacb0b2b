"""Registration, login and profile rules for citizens and staff."""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import timedelta

from flask import current_app
from flask_babel import lazy_gettext as _l
from pypinyin import lazy_pinyin
from sqlalchemy import bindparam, func, select
from werkzeug.security import check_password_hash, generate_password_hash
from zxcvbn import zxcvbn

from portal.extensions import db
from portal.models import Citizen, Department, LoginFailure, Role, StaffRole, User
from portal.models.base import utcnow
from services import audit
from services.errors import NotAuthorized, TooManyAttempts, ValidationError
from services.identity import normalise_phone, parse_resident_id

PASSWORD_MIN_LENGTH = 8
NAME_RE = re.compile(r"^[\u3400-\u9fff·•A-Za-z ]{2,30}$")


PASSWORD_MIN_SCORE = 2  # zxcvbn: 2 = more than a million guesses (its common-password lists)


def personal_words(
    *, name: str = "", phone: str = "", id_number: str = "", username: str = ""
) -> list[str]:
    """What a password must not contain, from what the account knows of its person: the phone,
    the 身份证号's birth date (19850312) and last six, the name in pinyin (zhangweiming,
    weiming) and the account name. Lower case; pieces under 4 characters are left out."""
    digits = re.sub(r"\D", "", phone or "")
    words = [digits[-11:] if digits.startswith("86") and len(digits) == 13 else digits]
    words.append((username or "").strip())
    id_number = (id_number or "").strip().upper()
    if len(id_number) == 18:
        words += [id_number[6:14], id_number[-6:]]
    han = "".join(ch for ch in (name or "") if "\u3400" <= ch <= "\u9fff")
    if han:
        words += ["".join(lazy_pinyin(han)), "".join(lazy_pinyin(han[1:]))]
    return sorted({w.lower() for w in words if len(w) >= 4})


def user_words(user: User) -> list[str]:
    """``personal_words`` of an account: its own fields and, for a citizen, the real name."""
    citizen = db.session.get(Citizen, user.citizen_id) if user.citizen_id else None
    return personal_words(
        name=citizen.name if citizen else user.display_name,
        phone=user.phone or "",
        id_number=citizen.id_number if citizen else "",
        username=user.username or "",
    )


def check_password_strength(
    password: str, field: str = "password", *, personal: list[str] | tuple = ()
) -> None:
    """At least 8 characters with letters and digits, none of the person's own data
    (``personal_words``), and not a common or easily guessed password (zxcvbn's lists of
    common passwords, names and words; keyboard rows, dates, repeats); long passphrases are
    welcome."""
    if len(password) < PASSWORD_MIN_LENGTH:
        raise ValidationError({field: str(_l("密码至少 8 位"))})
    if len(password) > 128:
        raise ValidationError({field: str(_l("密码最多 128 位"))})
    if not (re.search(r"[A-Za-z]", password) and re.search(r"\d", password)):
        raise ValidationError({field: str(_l("密码需同时包含字母和数字"))})
    lowered = password.lower()
    if any(word in lowered for word in personal):
        raise ValidationError(
            {
                field: str(
                    _l("密码不能包含您的手机号、身份证号中的数字、姓名拼音或账号，别人容易猜到")
                )
            }
        )
    if zxcvbn(password[:64], user_inputs=list(personal))["score"] < PASSWORD_MIN_SCORE:
        raise ValidationError(
            {
                field: str(
                    _l("这个密码太常见，很容易被猜中。请换一个，例如用几个不相关的词加上数字和符号")
                )
            }
        )


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
        check_password_strength(
            password, personal=personal_words(name=name, phone=phone, id_number=id_number)
        )
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
    check_password_strength(password, personal=personal_words(name=display_name, username=username))
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


# the statement every logged-in request runs first (portal.auth's user loader), built once:
# Session.get builds its own each time, about 90 of its 300 µs on SQLite
_USER_BY_ID = select(User).where(User.id == bindparam("pk"))


def user_by_id(pk: int) -> User | None:
    return db.session.execute(_USER_BY_ID, {"pk": pk}).scalar()


def find_login(login: str) -> User | None:
    login = (login or "").strip()
    if re.fullmatch(r"\+?\d[\d\s-]*", login):
        try:
            phone = normalise_phone(login)
        except ValidationError:
            return None
        return db.session.scalar(select(User).where(User.phone == phone))
    return db.session.scalar(select(User).where(User.username == login))


# A hash to check a password against when the login names nobody, so that the answer takes
# as long as for a real account (timing must not tell which accounts exist).
_dummy_hashes: dict[str, str] = {}


def _dummy_hash() -> str:
    method = current_app.config["PASSWORD_HASH_METHOD"]
    if method not in _dummy_hashes:
        _dummy_hashes[method] = hash_password(secrets.token_urlsafe(16))
    return _dummy_hashes[method]


def failure_key(login: str, user: User | None) -> str:
    """What failures are counted on: the account the login resolves to (however the phone is
    written: spaces, dashes, +86), else the login itself, normalised."""
    if user is not None:
        return f"user:{user.id}"
    compact = re.sub(r"[\s-]", "", (login or "").strip().lower())
    return f"unknown:{compact}"[:40]


def _failures(*where, since) -> tuple[int, object]:
    """How many failures match, and when the latest was."""
    count, latest = db.session.execute(
        select(func.count(LoginFailure.id), func.max(LoginFailure.created_at)).where(
            LoginFailure.created_at >= since, *where
        )
    ).one()
    return int(count), latest


def _wait_after(failures: int, free: int, cap_seconds: int) -> int:
    """Seconds to wait after the latest failure: none for the first ``free`` failures, then
    30 s, doubling with each further failure, never more than ``cap_seconds``."""
    if failures < free:
        return 0
    return min(30 * 2 ** (failures - free), cap_seconds)


def authenticate(
    login: str,
    password: str,
    *,
    remote_addr: str = "",
    max_failures: int = 5,
    window_minutes: int = 15,
    client_max_failures: int = 20,
    account_max_failures_per_hour: int = 50,
) -> User:
    """Check a login, slowing guessing down without letting anyone lock the owner out.

    - Failures are counted on the account the login resolves to, not on the text typed, so
      writing the same phone another way gives no fresh tries.
    - From one client, ``max_failures`` free tries per account, then growing waits (30 s,
      1 min, 2 min … up to the window). Another client (the owner at home) is not held up.
    - One client may fail ``client_max_failures`` times in the window, on any accounts
      (unknown ones too), then it waits out the window.
    - A citizen's account failing more than ``account_max_failures_per_hour`` times an hour
      from everywhere (many clients) allows one try a minute. Staff accounts have no such
      account-wide limit: their second factor stands between a guessed password and the
      account, and an attacker must not be able to lock staff out.
    - An unknown login costs the same password check as a known one.
    """
    now = utcnow()
    since = now - timedelta(minutes=window_minutes)
    cap = window_minutes * 60
    addr = (remote_addr or "")[:64]
    user = find_login(login)
    key = failure_key(login, user)

    def refuse(wait_seconds: int) -> TooManyAttempts:
        minutes = max(1, -(-wait_seconds // 60))
        return TooManyAttempts(
            str(_l("登录失败次数过多，请 %(minutes)d 分钟后再试", minutes=minutes))
        )

    def waiting(count: int, latest, free: int, cap_seconds: int) -> int:
        if latest is None:
            return 0
        left = _wait_after(count, free, cap_seconds) - (now - latest).total_seconds()
        return int(left) if left > 0 else 0

    client_count, _latest = _failures(LoginFailure.remote_addr == addr, since=since)
    if client_count >= client_max_failures:
        raise refuse(cap)
    pair_count, pair_latest = _failures(
        LoginFailure.login == key, LoginFailure.remote_addr == addr, since=since
    )
    if wait := waiting(pair_count, pair_latest, max_failures, cap):
        raise refuse(wait)
    if user is not None and not user.is_staff:
        hour_count, hour_latest = _failures(
            LoginFailure.login == key, since=now - timedelta(hours=1)
        )
        if wait := waiting(hour_count, hour_latest, account_max_failures_per_hour, 60):
            raise refuse(wait)
    stored = user.password_hash if user is not None else _dummy_hash()
    matches = check_password_hash(stored, password or "")
    if user is None or not user.active or not matches:
        db.session.add(LoginFailure(login=key, remote_addr=addr))
        # the account it resolved to (never what was typed as a password), for the audit trail
        audit.record_event(
            "login_failed",
            actor=None,
            details={"account": user.id if user else None, "login": key, "client": addr},
        )
        db.session.flush()
        raise NotAuthorized(str(_l("账号或密码不正确")))
    user.last_login_at = now
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
