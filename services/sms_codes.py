"""SMS codes (短信验证码): proving that a person holds a phone.

A flow (registration, password reset, change of phone) is a ``PhoneChallenge``; the browser
keeps only its random token. Each code sent for it is an ``SmsCode`` row with a keyed hash of
the code (HMAC with the app's secret key, so a copy of the database alone does not give the
codes away); the code itself leaves only in the SMS written to the outbox.

The rules, from the issue: 6 digits, valid ``SMS_CODE_MINUTES`` (10), at most
``SMS_CODE_MAX_TRIES`` (5) tries per code, a new code no sooner than ``SMS_CODE_RESEND_SECONDS``
(60) after the last, and at most ``SMS_CODES_PER_PHONE_HOUR`` codes per phone and
``SMS_CODES_PER_CLIENT_HOUR`` per client address in any hour. A resend is a new code and
counts like the first. Each try is claimed by a conditional UPDATE before the code is
compared, so parallel guesses cannot get more than the allowed tries.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import secrets
import unicodedata
from datetime import timedelta
from typing import Any

from flask import current_app
from flask_babel import force_locale
from flask_babel import lazy_gettext as _l
from sqlalchemy import delete, func, select, update

from portal.extensions import db
from portal.models import OutboxMessage, PhoneChallenge, SmsCode, User
from portal.models.base import utcnow
from services import audit
from services.errors import TooManyAttempts, ValidationError
from services.identity import mask_phone

PURPOSES = ("register", "reset", "phone")
CODE_DIGITS = 6
# a flow left open longer than this starts again from its first page
CHALLENGE_HOURS = 1

SMS_TEXTS = {
    "register": _l(
        "验证码 %(code)s，您正在注册一网通办账号，%(minutes)d 分钟内有效。请勿告诉他人，"
        "工作人员不会向您索要验证码。"
    ),
    "reset": _l(
        "验证码 %(code)s，您正在找回一网通办账号的密码，%(minutes)d 分钟内有效。请勿告诉他人，"
        "工作人员不会向您索要验证码。"
    ),
    "phone": _l(
        "验证码 %(code)s，您正在将一网通办账号的手机号更换为本号码，%(minutes)d 分钟内有效。"
        "请勿告诉他人，工作人员不会向您索要验证码。"
    ),
}


def _setting(key: str) -> int:
    return int(current_app.config[key])


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _code_hash(challenge: PhoneChallenge, code: str) -> str:
    key = str(current_app.config["SECRET_KEY"]).encode()
    return hmac.new(key, f"{challenge.token_hash}:{code}".encode(), hashlib.sha256).hexdigest()


def client_key(remote_addr: str) -> str:
    """The address the per-client limit counts: an IPv6 client by its /64 (one subscriber
    holds a whole /64, and the same address may be written in several ways)."""
    try:
        address = ipaddress.ip_address((remote_addr or "").strip())
    except ValueError:
        return (remote_addr or "").strip().lower()[:64]
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network(f"{address}/64", strict=False))
    return str(address)


def normalise_code(value: str) -> str:
    """What a person typed: full-width digits and spaces are accepted."""
    return "".join(unicodedata.normalize("NFKC", value or "").split())


def _check_limits(phone: str, client: str) -> None:
    since = utcnow() - timedelta(hours=1)
    per_phone = db.session.scalar(
        select(func.count())
        .select_from(SmsCode)
        .where(SmsCode.phone == phone, SmsCode.created_at >= since)
    )
    if per_phone >= _setting("SMS_CODES_PER_PHONE_HOUR"):
        raise TooManyAttempts(
            str(_l("该手机号在一小时内获取验证码的次数过多，请稍后再试")), field="phone"
        )
    per_client = db.session.scalar(
        select(func.count())
        .select_from(SmsCode)
        .where(SmsCode.client == client, SmsCode.created_at >= since)
    )
    if per_client >= _setting("SMS_CODES_PER_CLIENT_HOUR"):
        raise TooManyAttempts(
            str(_l("您所在的网络在一小时内获取验证码的次数过多，请稍后再试")), field="phone"
        )


def _issue_code(challenge: PhoneChallenge, client: str, *, send: bool) -> SmsCode:
    """A new code for the challenge; the SMS goes into the outbox (delivered after the commit)."""
    code = f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"
    minutes = _setting("SMS_CODE_MINUTES")
    row = SmsCode(
        challenge=challenge,
        phone=challenge.phone,
        client=client,
        code_hash=_code_hash(challenge, code),
        attempts=0,
        expires_at=utcnow() + timedelta(minutes=minutes),
        sent=send,
    )
    db.session.add(row)
    if send:
        with force_locale("zh_CN"):
            subject = str(_l("验证码"))
            body = str(SMS_TEXTS[challenge.purpose]) % {"code": code, "minutes": minutes}
        db.session.add(
            OutboxMessage(channel="sms", recipient=challenge.phone, subject=subject, body=body)
        )
    # the delivery runs after the commit whether or not an SMS was written, so that a reset
    # for a phone without an account takes the same steps as one for a known phone
    db.session.info["outbox_pending"] = True
    db.session.flush()
    return row


def start_challenge(
    purpose: str,
    phone: str,
    *,
    remote_addr: str,
    user: User | None = None,
    payload: dict[str, Any] | None = None,
    send: bool = True,
) -> tuple[PhoneChallenge, str]:
    """Open a flow and send its first code; returns the challenge and the browser's token.

    ``send=False`` (a password reset for a phone without an account) goes through every step
    but writes no SMS, so the answer is the same either way. The hourly limits apply alike."""
    assert purpose in PURPOSES
    client = client_key(remote_addr)
    _check_limits(phone, client)
    token = secrets.token_urlsafe(32)
    challenge = PhoneChallenge(
        token_hash=token_hash(token),
        purpose=purpose,
        phone=phone,
        user_id=user.id if user is not None else None,
        payload=payload or {},
    )
    db.session.add(challenge)
    db.session.flush()
    _issue_code(challenge, client, send=send)
    audit.record_event(
        "sms_code_sent" if send else "sms_code_not_sent",
        actor=user,
        details={"purpose": purpose, "phone": mask_phone(phone), "challenge": challenge.id},
    )
    return challenge, token


def find_challenge(token: str | None, purpose: str) -> PhoneChallenge | None:
    """The open flow a browser's token names, if it is still open."""
    if not token:
        return None
    challenge = db.session.scalar(
        select(PhoneChallenge).where(
            PhoneChallenge.token_hash == token_hash(token), PhoneChallenge.purpose == purpose
        )
    )
    if challenge is None or challenge.completed_at is not None:
        return None
    if challenge.created_at < utcnow() - timedelta(hours=CHALLENGE_HOURS):
        return None
    return challenge


def latest_code(challenge: PhoneChallenge) -> SmsCode | None:
    return db.session.scalar(
        select(SmsCode)
        .where(SmsCode.challenge_id == challenge.id)
        .order_by(SmsCode.id.desc())
        .limit(1)
    )


def seconds_until_resend(challenge: PhoneChallenge) -> int:
    last = latest_code(challenge)
    if last is None:
        return 0
    wait = last.created_at + timedelta(seconds=_setting("SMS_CODE_RESEND_SECONDS")) - utcnow()
    return max(0, int(wait.total_seconds() + 0.999))


def resend_code(challenge: PhoneChallenge, *, remote_addr: str) -> SmsCode:
    """A new code for an open flow: not before the resend wait, and within the hourly limits."""
    wait = seconds_until_resend(challenge)
    if wait > 0:
        raise TooManyAttempts(
            str(_l("请在 %(seconds)d 秒后再重新获取验证码", seconds=wait)), field="code"
        )
    client = client_key(remote_addr)
    _check_limits(challenge.phone, client)
    previous = latest_code(challenge)
    send = previous.sent if previous is not None else True
    row = _issue_code(challenge, client, send=send)
    audit.record_event(
        "sms_code_sent" if send else "sms_code_not_sent",
        actor=db.session.get(User, challenge.user_id) if challenge.user_id else None,
        details={
            "purpose": challenge.purpose,
            "phone": mask_phone(challenge.phone),
            "challenge": challenge.id,
            "resend": True,
        },
    )
    return row


def check_code(challenge: PhoneChallenge, value: str) -> None:
    """Accept the right code once; a wrong one costs a try (kept even though this raises: the
    caller must not roll back, so that the request boundary commits the count)."""
    code = normalise_code(value)
    row = latest_code(challenge)
    if row is None or row.expires_at <= utcnow():
        raise ValidationError({"code": str(_l("验证码已过期，请重新获取"))})
    max_tries = _setting("SMS_CODE_MAX_TRIES")
    claimed = db.session.execute(
        update(SmsCode)
        .where(SmsCode.id == row.id, SmsCode.attempts < max_tries, SmsCode.used_at.is_(None))
        .values(attempts=SmsCode.attempts + 1)
        .execution_options(synchronize_session=False)
    ).rowcount
    if not claimed:
        raise ValidationError({"code": str(_l("验证码输错次数过多，请重新获取验证码"))})
    db.session.refresh(row)
    right = len(code) == CODE_DIGITS and hmac.compare_digest(
        _code_hash(challenge, code), row.code_hash
    )
    if not right:
        left = max_tries - row.attempts
        if left <= 0:
            raise ValidationError({"code": str(_l("验证码输错次数过多，请重新获取验证码"))})
        raise ValidationError({"code": str(_l("验证码不正确，还可以再试 %(left)d 次", left=left))})
    used = db.session.execute(
        update(SmsCode)
        .where(SmsCode.id == row.id, SmsCode.used_at.is_(None))
        .values(used_at=utcnow())
        .execution_options(synchronize_session=False)
    ).rowcount
    if not used:
        raise ValidationError({"code": str(_l("验证码已使用，请重新获取"))})
    challenge.completed_at = utcnow()
    db.session.flush()


def close_challenge(challenge: PhoneChallenge) -> None:
    """The flow is done: forget what it carried (a pending registration's personal data)."""
    challenge.completed_at = challenge.completed_at or utcnow()
    challenge.payload = {}
    db.session.flush()


def purge_old_challenges(keep_days: int = 1) -> int:
    """For the scheduled jobs: a flow nobody finished forgets its pending data once it can no
    longer be finished (a registration's name, 身份证号 and password hash), and challenges with
    their codes are deleted after ``keep_days`` (the audit trail keeps that each code was sent).
    Returns how many challenges were deleted."""
    now = utcnow()
    db.session.execute(
        update(PhoneChallenge)
        .where(
            PhoneChallenge.completed_at.is_(None),
            PhoneChallenge.created_at < now - timedelta(hours=CHALLENGE_HOURS),
        )
        .values(payload={}, completed_at=now)
        .execution_options(synchronize_session=False)
    )
    old = select(PhoneChallenge.id).where(
        PhoneChallenge.created_at < now - timedelta(days=keep_days)
    )
    db.session.execute(
        delete(SmsCode)
        .where(SmsCode.challenge_id.in_(old))
        .execution_options(synchronize_session=False)
    )
    deleted = db.session.execute(
        delete(PhoneChallenge)
        .where(PhoneChallenge.id.in_(old))
        .execution_options(synchronize_session=False)
    ).rowcount
    db.session.flush()
    return deleted
