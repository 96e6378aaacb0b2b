"""Account changes proved by an SMS code: 实名注册, 忘记密码, 修改密码 and 更换手机号.

Each flow has two steps. The first checks the input and opens a challenge
(services.sms_codes), which sends a code; nothing of the account changes yet (a registration
waits in the challenge, server-side). The second takes the code (``sms_codes.check_code``) and
then calls ``complete_*``, which makes the change and writes its audit event.

A password reset for a phone without an account answers exactly like one for a known phone,
and sends nothing. A reset or a change of password ends every other session of the account
(``User.session_epoch``).
"""

from __future__ import annotations

from datetime import timedelta

from flask import current_app
from flask_babel import force_locale
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select
from werkzeug.security import check_password_hash

from portal.extensions import db
from portal.models import Citizen, LoginFailure, OutboxMessage, PhoneChallenge, Role, User
from portal.models.base import utcnow
from services import accounts, audit, sms_codes
from services.errors import TooManyAttempts, ValidationError
from services.identity import mask_phone, normalise_phone


def start_registration(
    *, phone: str, password: str, name: str, id_number: str, address: str, remote_addr: str
) -> tuple[PhoneChallenge, str]:
    """Step 1 of 实名注册: check everything, keep it server-side, send a code to the phone.

    The form has to say when a phone is already registered, so that answer is rationed: each
    one counts against the client address, and past ``SMS_CODES_PER_CLIENT_HOUR`` in an hour the
    address is refused before anything is checked (the caller must not roll back, so that the
    count is kept). Otherwise the form would tell what 忘记密码 is careful not to."""
    probe = f"register:{sms_codes.client_key(remote_addr)}"[:40]
    since = utcnow() - timedelta(hours=1)
    told = db.session.scalar(
        select(func.count())
        .select_from(LoginFailure)
        .where(LoginFailure.login == probe, LoginFailure.created_at >= since)
    )
    if told >= int(current_app.config["SMS_CODES_PER_CLIENT_HOUR"]):
        raise TooManyAttempts(
            str(_l("您所在的网络在一小时内注册失败的次数过多，请稍后再试")), field="phone"
        )
    try:
        checked = accounts.check_registration(
            phone=phone, password=password, name=name, id_number=id_number
        )
    except ValidationError as exc:
        if "phone" in exc.errors:
            db.session.add(LoginFailure(login=probe, remote_addr=(remote_addr or "")[:64]))
            db.session.flush()
        raise
    address = (address or "").strip()
    if len(address) > 200:
        raise ValidationError({"address": str(_l("地址最多 200 个字"))})
    payload = {
        "name": checked.name,
        "id_number": checked.id_number,
        "address": address,
        "password_hash": accounts.hash_password(password),
    }
    return sms_codes.start_challenge(
        "register", checked.phone, remote_addr=remote_addr, payload=payload
    )


def complete_registration(challenge: PhoneChallenge, *, elder_mode: bool = False) -> User:
    """Step 2, after the right code: the account is created now, never before. ``elder_mode``:
    the browser was in 长辈模式 while registering, and the account keeps it."""
    data = challenge.payload
    # the phone or the 身份证号 may have been registered meanwhile: the same rules again
    _check_still_free(challenge.phone, data["id_number"])
    user = accounts.create_citizen_account(
        phone=challenge.phone,
        password_hash=data["password_hash"],
        name=data["name"],
        id_number=data["id_number"],
        address=data.get("address", ""),
    )
    user.elder_mode = elder_mode
    sms_codes.close_challenge(challenge)
    audit.record_event(
        "account_registered",
        actor=user,
        details={"phone": mask_phone(user.phone or ""), "confirmed_by": "sms_code"},
    )
    return user


def _check_still_free(phone: str, id_number: str) -> None:
    taken = db.session.scalar(
        select(func.count()).select_from(User).where(User.phone == phone)
    ) or db.session.scalar(
        select(func.count())
        .select_from(Citizen)
        .where(Citizen.phone == phone, Citizen.id_number != id_number)
    )
    if taken:
        raise ValidationError({"phone": str(_l("该手机号已注册，请直接登录或找回密码"))})
    existing = accounts.find_citizen_by_id_number(id_number)
    if existing is not None and existing.user is not None:
        raise ValidationError({"id_number": str(_l("该身份证号已注册账号"))})


def _citizen_by_phone(phone: str) -> User | None:
    return db.session.scalar(
        select(User).where(User.phone == phone, User.role == Role.citizen, User.active.is_(True))
    )


def start_reset(phone: str, *, remote_addr: str) -> tuple[PhoneChallenge, str]:
    """忘记密码, step 1. The same answer whether the phone has an account or not: only the
    SMS differs (none is sent to a phone without an account)."""
    phone = normalise_phone(phone)
    user = _citizen_by_phone(phone)
    return sms_codes.start_challenge(
        "reset", phone, remote_addr=remote_addr, user=user, send=user is not None
    )


def _check_new_password(user: User, password: str, field: str = "password") -> None:
    accounts.check_password_strength(password, field, personal=accounts.user_words(user))
    if check_password_hash(user.password_hash, password or ""):
        raise ValidationError({field: str(_l("新密码不能与当前密码相同"))})


def check_reset_password(challenge: PhoneChallenge, password: str) -> None:
    """Before the code is taken: a weak or reused new password is refused and costs no try."""
    user = db.session.get(User, challenge.user_id) if challenge.user_id else None
    if user is None:
        accounts.check_password_strength(password)
    else:
        _check_new_password(user, password)


def complete_reset(challenge: PhoneChallenge, password: str) -> User:
    """忘记密码, step 2, after the right code: the new password, and every session ends."""
    user = db.session.get(User, challenge.user_id) if challenge.user_id else None
    if user is None:  # nothing was sent, so no right code can come: answer as for a wrong one
        raise ValidationError({"code": str(_l("验证码不正确，请重新获取"))})
    _check_new_password(user, password)
    user.password_hash = accounts.hash_password(password)
    accounts.end_sessions(user)
    sms_codes.close_challenge(challenge)
    audit.record_event(
        "password_reset", actor=user, details={"phone": mask_phone(user.phone or "")}
    )
    return user


def check_current_password(user: User, password: str, *, remote_addr: str) -> None:
    """The account's password again before a change. A wrong one counts as a failed login of
    the account (so the form cannot be used to guess it): the caller must not roll back."""
    key = (user.phone or user.username or "")[:40]
    window = int(current_app.config["LOGIN_FAILURE_WINDOW_MINUTES"])
    since = utcnow() - timedelta(minutes=window)
    failures = db.session.scalar(
        select(func.count())
        .select_from(LoginFailure)
        .where(LoginFailure.login == key, LoginFailure.created_at >= since)
    )
    if failures >= int(current_app.config["LOGIN_MAX_FAILURES"]):
        raise TooManyAttempts(
            str(_l("密码输错次数过多，请 %(minutes)d 分钟后再试", minutes=window)),
            field="current_password",
        )
    if not check_password_hash(user.password_hash, password or ""):
        db.session.add(LoginFailure(login=key, remote_addr=(remote_addr or "")[:64]))
        db.session.flush()
        raise ValidationError({"current_password": str(_l("当前密码不正确"))})


def change_password(user: User, *, new_password: str) -> None:
    """修改密码 (the current password was checked first): other sessions end, this one is
    renewed by the view."""
    _check_new_password(user, new_password, "new_password")
    user.password_hash = accounts.hash_password(new_password)
    accounts.end_sessions(user)
    audit.record_event("password_changed", actor=user, details={})


def _check_phone_free(user: User, phone: str, field: str = "phone") -> None:
    if phone == user.phone:
        raise ValidationError({field: str(_l("新手机号与当前手机号相同"))})
    taken = db.session.scalar(
        select(func.count()).select_from(User).where(User.phone == phone, User.id != user.id)
    ) or db.session.scalar(
        select(func.count())
        .select_from(Citizen)
        .where(Citizen.phone == phone, Citizen.id != user.citizen_id)
    )
    if taken:
        raise ValidationError({field: str(_l("该手机号已被其他账号使用"))})


def start_phone_change(user: User, phone: str, *, remote_addr: str) -> tuple[PhoneChallenge, str]:
    """更换手机号, step 1 (after the password): the code goes to the new phone."""
    phone = normalise_phone(phone)
    _check_phone_free(user, phone)
    return sms_codes.start_challenge("phone", phone, remote_addr=remote_addr, user=user)


def complete_phone_change(user: User, challenge: PhoneChallenge) -> None:
    """更换手机号, step 2, after the right code: the new phone for login and notices; the old
    phone is told by SMS, so that a change the holder did not make does not go unnoticed."""
    if challenge.user_id != user.id:
        raise ValidationError({"code": str(_l("验证码不正确，请重新获取"))})
    _check_phone_free(user, challenge.phone, "code")
    old = user.phone or ""
    user.phone = challenge.phone
    if user.citizen is not None:
        user.citizen.phone = challenge.phone
    if old:
        with force_locale("zh_CN"):
            subject = str(_l("手机号已更换"))
            body = str(
                _l(
                    "您的一网通办账号手机号已更换为 %(phone)s。如非本人操作，请立即拨打 "
                    "%(hotline)s 或到服务大厅窗口办理。",
                    phone=mask_phone(challenge.phone),
                    hotline=current_app.config["SERVICE_HOTLINE"],
                )
            )
        db.session.add(OutboxMessage(channel="sms", recipient=old, subject=subject, body=body))
        db.session.info["outbox_pending"] = True
    sms_codes.close_challenge(challenge)
    audit.record_event(
        "phone_changed",
        actor=user,
        details={"from": mask_phone(old), "to": mask_phone(challenge.phone)},
    )
