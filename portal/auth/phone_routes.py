"""Thin views over services.phone_accounts: the SMS-code steps of 实名注册, 忘记密码, and the
profile's 修改密码 and 更换手机号.

The browser's session holds only each open flow's random token. A wrong code is counted by
``sms_codes.check_code`` and committed by the request boundary, so it is called outside
``attempt()``; the change that follows a right code runs inside it.
"""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_user

from forms.auth import (
    ChangePasswordForm,
    ChangePhoneForm,
    CodeForm,
    EmptyForm,
    ForgotForm,
    ResetForm,
)
from portal.access import login_required_any, roles_required
from portal.auth import bp
from portal.auth.routes import REGISTER_FLOW, home_for, start_session
from portal.models import PhoneChallenge, Role
from portal.templating import elder_mode_active
from portal.transaction import attempt
from services import phone_accounts, sms_codes
from services.errors import TooManyAttempts, ValidationError
from services.identity import mask_phone

RESET_FLOW = "phone_flow_reset"
PHONE_FLOW = "phone_flow_phone"
FLOWS = {
    # flow: (session key, its code page, where it starts, whether it needs a login)
    "register": (REGISTER_FLOW, "auth.register_code", "auth.register", False),
    "reset": (RESET_FLOW, "auth.forgot_code", "auth.forgot", False),
    "phone": (PHONE_FLOW, "auth.change_phone_code", "auth.change_phone", True),
}


def _remote_addr() -> str:
    return request.remote_addr or ""


def _challenge(flow: str) -> PhoneChallenge | None:
    return sms_codes.find_challenge(session.get(FLOWS[flow][0]), flow)


def _code_page(flow: str, form, challenge: PhoneChallenge, status: int = 200):
    return render_template(
        "auth/code.html",
        flow=flow,
        form=form,
        action=url_for(FLOWS[flow][1]),
        start=url_for(FLOWS[flow][2]),
        masked_phone=mask_phone(challenge.phone),
        wait=sms_codes.seconds_until_resend(challenge),
        resend_form=EmptyForm(formdata=None),
    ), status


def _expired_page(flow: str):
    """The flow is over or was never opened in this browser: start again."""
    return render_template("auth/code_expired.html", flow=flow, start=url_for(FLOWS[flow][2]))


def _anonymous_only():
    return redirect(home_for(current_user)) if current_user.is_authenticated else None


@bp.route("/register/code", methods=["GET", "POST"])
def register_code():
    if (away := _anonymous_only()) is not None:
        return away
    challenge = _challenge("register")
    if challenge is None:
        return _expired_page("register")
    form = CodeForm()
    status = 200
    if form.validate_on_submit():
        try:
            sms_codes.check_code(challenge, form.code.data)
            with attempt():
                user = phone_accounts.complete_registration(
                    challenge, elder_mode=elder_mode_active()
                )
        except ValidationError as exc:
            form.apply_errors(exc)
            status = 422
        else:
            session.pop(REGISTER_FLOW, None)
            start_session(user)
            flash(_("注册成功，欢迎使用%(site)s", site=_("一网通办")), "success")
            return redirect(url_for("main.profile"))
    elif form.errors:
        status = 422
    return _code_page("register", form, challenge, status)


@bp.route("/code/<flow>/resend", methods=["POST"])
def resend_code(flow: str):
    """重新获取验证码: a new code for the browser's open flow (the server keeps the wait)."""
    if flow not in FLOWS:
        abort(404)
    key, code_page, _start, needs_login = FLOWS[flow]
    if needs_login and not current_user.is_authenticated:
        return redirect(url_for("auth.login"))
    if not needs_login and (away := _anonymous_only()) is not None:
        return away
    if needs_login and current_user.role != Role.citizen:
        abort(403)
    challenge = _challenge(flow)  # (CSRF is checked for every POST before any view runs)
    if challenge is None or (needs_login and challenge.user_id != current_user.id):
        return redirect(url_for(code_page))
    try:
        with attempt():
            sms_codes.resend_code(challenge, remote_addr=_remote_addr())
    except TooManyAttempts as exc:
        form = (ResetForm if flow == "reset" else CodeForm)(formdata=None)
        form.code.errors = [exc.message]
        return _code_page(flow, form, challenge, 429)
    flash(_("新的验证码已发送到 %(phone)s", phone=mask_phone(challenge.phone)), "success")
    return redirect(url_for(code_page))


@bp.route("/forgot", methods=["GET", "POST"])
def forgot():
    """忘记密码: the same answer for a phone with or without an account."""
    if (away := _anonymous_only()) is not None:
        return away
    form = ForgotForm()
    status = 200
    if form.validate_on_submit():
        try:
            with attempt():
                _challenge_, token = phone_accounts.start_reset(
                    form.phone.data, remote_addr=_remote_addr()
                )
        except TooManyAttempts as exc:
            form.phone.errors.append(exc.message)
            status = 429
        except ValidationError as exc:
            form.apply_errors(exc)
            status = 422
        else:
            session[RESET_FLOW] = token
            return redirect(url_for("auth.forgot_code"))
    elif form.errors:
        status = 422
    return render_template("auth/forgot.html", form=form), status


@bp.route("/forgot/code", methods=["GET", "POST"])
def forgot_code():
    if (away := _anonymous_only()) is not None:
        return away
    challenge = _challenge("reset")
    if challenge is None:
        return _expired_page("reset")
    form = ResetForm()
    status = 200
    if form.validate_on_submit():
        try:
            phone_accounts.check_reset_password(challenge, form.password.data)
            sms_codes.check_code(challenge, form.code.data)
            with attempt():
                phone_accounts.complete_reset(challenge, form.password.data)
        except ValidationError as exc:
            form.apply_errors(exc)
            status = 422
        else:
            session.pop(RESET_FLOW, None)
            flash(
                _("密码已重置，请用新密码登录。为了您的安全，此前各设备上的登录都已退出。"),
                "success",
            )
            return redirect(url_for("auth.login"))
    elif form.errors:
        status = 422
    return _code_page("reset", form, challenge, status)


@bp.route("/password", methods=["GET", "POST"])
@login_required_any
def change_password():
    """修改密码: the current password, then the new one; other sessions end, this one stays."""
    form = ChangePasswordForm()
    status = 200
    if form.validate_on_submit():
        try:
            phone_accounts.check_current_password(
                current_user, form.current_password.data, remote_addr=_remote_addr()
            )
            with attempt():
                phone_accounts.change_password(current_user, new_password=form.new_password.data)
        except TooManyAttempts as exc:
            form.current_password.errors.append(exc.message)
            status = 429
        except ValidationError as exc:
            form.apply_errors(exc)
            status = 422
        else:
            login_user(current_user._get_current_object())  # this session, on the new epoch
            flash(_("密码已修改。其他设备上的登录已退出。"), "success")
            return redirect(url_for("main.profile"))
    elif form.errors:
        status = 422
    return render_template("auth/change_password.html", form=form), status


@bp.route("/phone", methods=["GET", "POST"])
@roles_required(Role.citizen)
def change_phone():
    """更换手机号, step 1: the new phone and the password; a code goes to the new phone."""
    form = ChangePhoneForm()
    status = 200
    if form.validate_on_submit():
        try:
            phone_accounts.check_current_password(
                current_user, form.current_password.data, remote_addr=_remote_addr()
            )
            with attempt():
                _challenge_, token = phone_accounts.start_phone_change(
                    current_user, form.phone.data, remote_addr=_remote_addr()
                )
        except TooManyAttempts as exc:
            form.apply_errors(ValidationError({exc.field or "phone": exc.message}))
            status = 429
        except ValidationError as exc:
            form.apply_errors(exc)
            status = 422
        else:
            session[PHONE_FLOW] = token
            return redirect(url_for("auth.change_phone_code"))
    elif form.errors:
        status = 422
    return render_template("auth/change_phone.html", form=form), status


@bp.route("/phone/code", methods=["GET", "POST"])
@roles_required(Role.citizen)
def change_phone_code():
    challenge = _challenge("phone")
    if challenge is None or challenge.user_id != current_user.id:
        return _expired_page("phone")
    form = CodeForm()
    status = 200
    if form.validate_on_submit():
        try:
            sms_codes.check_code(challenge, form.code.data)
            with attempt():
                phone_accounts.complete_phone_change(current_user, challenge)
        except ValidationError as exc:
            form.apply_errors(exc)
            status = 422
        else:
            session.pop(PHONE_FLOW, None)
            flash(
                _(
                    "手机号已更换为 %(phone)s，以后请用新手机号登录。",
                    phone=mask_phone(current_user.phone or ""),
                ),
                "success",
            )
            return redirect(url_for("main.profile"))
    elif form.errors:
        status = 422
    return _code_page("phone", form, challenge, status)
