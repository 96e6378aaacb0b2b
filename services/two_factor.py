"""Two-factor login for staff (双因素认证): TOTP codes from an authenticator app, and recovery codes.

Every staff account proves a second factor after its password. The login's steps after the
password are decided by ``next_login_step``; the web layer keeps the half-finished login in the
session and logs the person in only when the step is ``done``.

A demo account (``User.second_factor_exempt``, set only by the demo seed) skips the second
factor; with the production configuration it cannot log in at all, since its password is
printed in the README (``refuse_demo_account_in_production``).
"""

from __future__ import annotations

import enum
import secrets
from datetime import timedelta

import pyotp
import segno
from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import delete, func, select
from werkzeug.security import check_password_hash

from portal.extensions import db
from portal.models import RecoveryCode, SecondFactorFailure, User
from portal.models.base import utcnow
from services import audit
from services.accounts import hash_password
from services.errors import NotAuthorized, TooManyAttempts, ValidationError

RECOVERY_CODE_COUNT = 10
# ten characters from an alphabet without look-alikes (no 0/O, 1/I/L): about 50 random bits
RECOVERY_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
TOTP_DIGITS = 6


class LoginStep(enum.StrEnum):
    verify = "verify"  # enter the authenticator's code (or a recovery code)
    change_password = "change_password"  # replace the initial password an admin set
    enrol = "enrol"  # scan the QR code and confirm with a first code
    done = "done"


def refuse_demo_account_in_production(user: User, *, production: bool) -> None:
    """A demo account's password is public: in production it is refused, never let in."""
    if production and user.second_factor_exempt:
        raise NotAuthorized(str(_l("演示账号不能在正式环境登录，请联系管理员开设工作账号")))


def next_login_step(user: User, *, verified: bool) -> LoginStep:
    """What a staff member must still do after the password (``verified``: the second factor
    was proved during this login). Citizens are done after the password."""
    if not user.is_staff:
        return LoginStep.done
    needs_factor = not user.second_factor_exempt
    if needs_factor and user.second_factor_enrolled and not verified:
        return LoginStep.verify
    if user.must_change_password:
        return LoginStep.change_password
    if needs_factor and not user.second_factor_enrolled:
        return LoginStep.enrol
    return LoginStep.done


# ---------------------------------------------------------------------------- enrolment


def start_enrolment(user: User) -> None:
    """A new secret, not yet valid for login until a first code confirms it."""
    user.totp_secret = pyotp.random_base32()
    user.totp_enrolled_at = None
    user.totp_last_step = None
    db.session.flush()


def provisioning_uri(user: User, issuer: str) -> str:
    return pyotp.TOTP(user.totp_secret or "").provisioning_uri(
        name=user.username or str(user.id), issuer_name=issuer
    )


def enrolment_qr(user: User, issuer: str) -> str:
    """The QR code of the secret for an authenticator app, as an SVG data URI."""
    return segno.make(provisioning_uri(user, issuer), error="m").svg_data_uri(scale=5, border=2)


def grouped_secret(user: User) -> str:
    """The secret in groups of four, for typing it into an app by hand."""
    secret = user.totp_secret or ""
    return " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))


def confirm_enrolment(user: User, code: str, *, remote_addr: str = "") -> list[str]:
    """Check a first code from the app; the second factor then counts. Returns the recovery
    codes in clear, to be shown once (only their hashes are kept)."""
    if user.totp_secret is None or user.second_factor_enrolled:
        raise ValidationError({"code": str(_l("请重新登录后再设置验证器"))})
    check_throttle(user, remote_addr)
    if not _accept_totp(user, code):
        record_failure(user, remote_addr)
    user.totp_enrolled_at = utcnow()
    codes = new_recovery_codes(user)
    audit.record_event("second_factor_enrolled", actor=user, details={"user_id": user.id})
    return codes


def new_recovery_codes(user: User) -> list[str]:
    """Replace the person's recovery codes with fresh ones; returns them in clear."""
    db.session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    codes = [
        "".join(secrets.choice(RECOVERY_ALPHABET) for _ in range(10))
        for _ in range(RECOVERY_CODE_COUNT)
    ]
    for code in codes:
        db.session.add(RecoveryCode(user_id=user.id, code_hash=hash_password(code)))
    db.session.flush()
    return [f"{code[:5]}-{code[5:]}" for code in codes]


def unused_recovery_codes(user: User) -> int:
    return db.session.scalar(
        select(func.count())
        .select_from(RecoveryCode)
        .where(RecoveryCode.user_id == user.id, RecoveryCode.used_at.is_(None))
    )


# ---------------------------------------------------------------------------- login


def verify_second_factor(user: User, code: str, *, remote_addr: str = "") -> str:
    """Check the authenticator's code or a recovery code (used up by this). Returns "totp" or
    "recovery". A wrong code is recorded (the caller lets it be committed) and refused;
    too many wrong codes for this account or from this client refuse even a right one."""
    if not user.second_factor_enrolled:
        raise ValidationError({"code": str(_l("请重新登录后再设置验证器"))})
    check_throttle(user, remote_addr)
    if _accept_totp(user, code):
        return "totp"
    recovery = _match_recovery_code(user, code)
    if recovery is None:
        record_failure(user, remote_addr)
    recovery.used_at = utcnow()
    audit.record_event(
        "recovery_code_used",
        actor=user,
        details={"user_id": user.id, "left": unused_recovery_codes(user)},
    )
    return "recovery"


def check_throttle(user: User, remote_addr: str) -> None:
    cfg = current_app.config
    minutes = int(cfg["SECOND_FACTOR_WINDOW_MINUTES"])
    since = utcnow() - timedelta(minutes=minutes)
    recent = select(func.count()).select_from(SecondFactorFailure)
    per_account = db.session.scalar(
        recent.where(
            SecondFactorFailure.user_id == user.id, SecondFactorFailure.created_at >= since
        )
    )
    per_client = db.session.scalar(
        recent.where(
            SecondFactorFailure.remote_addr == remote_addr[:64],
            SecondFactorFailure.created_at >= since,
        )
    )
    if per_account >= int(cfg["SECOND_FACTOR_MAX_FAILURES"]) or per_client >= int(
        cfg["SECOND_FACTOR_MAX_FAILURES_PER_CLIENT"]
    ):
        raise TooManyAttempts(
            str(_l("验证码错误次数过多，请 %(minutes)d 分钟后再试", minutes=minutes)), "code"
        )


def record_failure(user: User, remote_addr: str) -> None:
    """Keep the wrong code's trace for the throttle and refuse (never returns)."""
    db.session.add(SecondFactorFailure(user_id=user.id, remote_addr=remote_addr[:64]))
    audit.record_event("second_factor_failed", actor=user, details={"client": remote_addr[:64]})
    db.session.flush()
    raise ValidationError({"code": str(_l("验证码不正确，请查看验证器中的 6 位数字"))})


def _accept_totp(user: User, code: str) -> bool:
    """A code of the current 30-second step or its neighbours, never one already used."""
    code = "".join((code or "").split())
    if len(code) != TOTP_DIGITS or not code.isdigit() or not user.totp_secret:
        return False
    totp = pyotp.TOTP(user.totp_secret)
    now = utcnow()
    for offset in (0, -1, 1):
        at = now + timedelta(seconds=30 * offset)
        step = totp.timecode(at)
        if secrets.compare_digest(totp.at(at), code):
            if user.totp_last_step is not None and step <= user.totp_last_step:
                return False  # replayed: this code (or a later one) was already accepted
            user.totp_last_step = step
            db.session.flush()
            return True
    return False


def _match_recovery_code(user: User, code: str) -> RecoveryCode | None:
    typed = "".join(ch for ch in (code or "").upper() if ch.isalnum())
    if len(typed) != 10:
        return None
    unused = db.session.scalars(
        select(RecoveryCode).where(RecoveryCode.user_id == user.id, RecoveryCode.used_at.is_(None))
    )
    for recovery in unused:
        if check_password_hash(recovery.code_hash, typed):
            return recovery
    return None


def clear_second_factor(user: User) -> None:
    """Forget the secret and the recovery codes: the person enrols again at the next login."""
    user.totp_secret = None
    user.totp_enrolled_at = None
    user.totp_last_step = None
    db.session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    db.session.flush()
