"""The staff's login after the password: authenticator code, new password, enrolment; and the
header's switch of the acting role.

Between the password and the last step the person is NOT logged in: the session holds only a
marker (``staff_login``: the account, its session epoch, whether the second factor was proved,
when the password was given), which no page but these steps reads. It expires after
STAFF_LOGIN_STEP_MINUTES; a logout elsewhere, a password change or a deactivation (the epoch
moves) ends it too. The order of the steps is services.two_factor.next_login_step.
"""

from __future__ import annotations

from flask import (
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user
from werkzeug.wrappers import Response

from forms.auth import EmptyForm, LoginForm
from forms.staff import ChangePasswordForm, EnrolForm, SecondFactorForm
from portal.auth import bp
from portal.auth import routes as auth_routes
from portal.extensions import db, login_manager
from portal.models import Role, User
from portal.models.base import utcnow
from portal.transaction import attempt
from services import staff, two_factor
from services.errors import NotAuthorized, TooManyAttempts, ValidationError
from services.two_factor import LoginStep

MARKER = "staff_login"
STEP_ENDPOINTS = {
    LoginStep.verify: "auth.second_factor",
    LoginStep.change_password: "auth.change_initial_password",
    LoginStep.enrol: "auth.enrol",
}


def after_password(user: User, form: LoginForm) -> Response | tuple | None:
    """Called by the login view once the password is right: None when the login is complete
    (a citizen, a demo account), else the response that takes the person to their next step."""
    try:
        with attempt():
            two_factor.refuse_demo_account_in_production(
                user, production=current_app.config["PORTAL_ENV"] == "production"
            )
    except NotAuthorized as exc:
        form.form_errors.append(exc.message)
        return render_template("auth/login.html", form=form), 403
    if two_factor.next_login_step(user, verified=False) == LoginStep.done:
        return None
    keep = {k: session[k] for k in ("locale",) if k in session}
    session.clear()
    session.update(keep)
    session[MARKER] = {
        "id": user.id,
        "epoch": user.session_epoch,
        "verified": False,
        "since": utcnow().timestamp(),
        "next": auth_routes.safe_next(request.args.get("next")),
    }
    return _go_on(user)


def _pending() -> tuple[User, dict] | None:
    """The account whose login is half done in this session, if the marker still holds."""
    marker = session.get(MARKER)
    if not isinstance(marker, dict):
        return None
    minutes = float(current_app.config["STAFF_LOGIN_STEP_MINUTES"])
    user = db.session.get(User, marker.get("id") or 0)
    if (
        user is None
        or not user.active
        or not user.is_staff
        or user.session_epoch != marker.get("epoch")
        or utcnow().timestamp() - float(marker.get("since", 0)) > minutes * 60
    ):
        session.pop(MARKER, None)
        return None
    return user, marker


def _step_page(expected: LoginStep) -> tuple[User, dict] | Response:
    """The half-logged-in account if its next step is ``expected``; else where to go."""
    if current_user.is_authenticated:
        return redirect(auth_routes.home_for(current_user))
    pending = _pending()
    if pending is None:
        flash(_("登录已过期，请重新输入账号和密码"), "error")
        return redirect(url_for("auth.login"))
    user, marker = pending
    step = two_factor.next_login_step(user, verified=bool(marker["verified"]))
    if step != expected:
        return redirect(
            url_for(STEP_ENDPOINTS[step]) if step in STEP_ENDPOINTS else url_for("auth.login")
        )
    return user, marker


def _go_on(user: User) -> Response:
    """After a step: the next one (a fresh secret when enrolment comes), or the login itself."""
    marker = session[MARKER]
    marker["epoch"] = user.session_epoch  # a password change moves the epoch
    session[MARKER] = marker
    step = two_factor.next_login_step(user, verified=bool(marker["verified"]))
    if step == LoginStep.done:
        return _finish(user, marker)
    if step == LoginStep.enrol:  # never from the enrolment page itself: it logs in
        two_factor.start_enrolment(user)
    return redirect(url_for(STEP_ENDPOINTS[step]))


def _finish(user: User, marker: dict) -> Response:
    user.last_login_at = utcnow()
    said = session.get("_flashes", [])  # what the last step said (a recovery code used)
    auth_routes.start_session(user)  # drops the marker with everything else
    session["_flashes"] = said
    flash(_("登录成功"), "success")
    return redirect(marker.get("next") or auth_routes.home_for(user))


@bp.route("/second-factor", methods=["GET", "POST"])
def second_factor():
    found = _step_page(LoginStep.verify)
    if not isinstance(found, tuple):
        return found
    user, marker = found
    form = SecondFactorForm()
    status = 200
    if form.validate_on_submit():
        try:  # no attempt(): a wrong code's trace must be committed, it is the throttle
            how = two_factor.verify_second_factor(
                user, form.code.data, remote_addr=request.remote_addr or ""
            )
        except TooManyAttempts as exc:
            form.code.errors = [exc.message]
            status = 429
        except ValidationError as exc:
            form.apply_errors(exc)
            status = 422
        else:
            marker["verified"] = True
            session[MARKER] = marker
            if how == "recovery":
                flash(
                    _(
                        "已使用一个恢复码，还剩 %(left)d 个。手机找回前请妥善保管其余恢复码。",
                        left=two_factor.unused_recovery_codes(user),
                    ),
                    "warning",
                )
            return _go_on(user)
    elif form.errors:
        status = 422
    return render_template("auth/second_factor.html", form=form, user=user), status


@bp.route("/change-password", methods=["GET", "POST"])
def change_initial_password():
    found = _step_page(LoginStep.change_password)
    if not isinstance(found, tuple):
        return found
    user, _marker = found
    form = ChangePasswordForm()
    if form.validate_on_submit():
        try:
            with attempt():
                staff.change_initial_password(user, form.password.data)
        except ValidationError as exc:
            form.apply_errors(exc)
        else:
            flash(_("密码已修改"), "success")
            return _go_on(user)
    status = 422 if form.errors or form.form_errors else 200
    return render_template("auth/initial_password.html", form=form, user=user), status


@bp.route("/enrol", methods=["GET", "POST"])
def enrol():
    found = _step_page(LoginStep.enrol)
    if not isinstance(found, tuple):
        return found
    user, marker = found
    if user.totp_secret is None:  # the step began in a request that was rolled back
        return redirect(url_for("auth.login"))
    form = EnrolForm()
    status = 200
    if form.validate_on_submit():
        try:  # no attempt(): a wrong code's trace is the throttle
            codes = two_factor.confirm_enrolment(
                user, form.code.data, remote_addr=request.remote_addr or ""
            )
        except TooManyAttempts as exc:
            form.code.errors = [exc.message]
            status = 429
        except ValidationError as exc:
            form.apply_errors(exc)
            status = 422
        else:
            user.last_login_at = utcnow()
            next_url = marker.get("next") or auth_routes.home_for(user)
            auth_routes.start_session(user)
            # shown once, in this response only: nothing keeps them in clear
            return render_template("auth/recovery_codes.html", codes=codes, next_url=next_url)
    elif form.errors:
        status = 422
    issuer = current_app.config["SITE_NAME"]
    return render_template(
        "auth/enrol.html",
        form=form,
        user=user,
        qr=two_factor.enrolment_qr(user, issuer),
        secret=two_factor.grouped_secret(user),
    ), status


@bp.route("/acting-role", methods=["POST"])
def switch_role():
    """The header's switch for someone holding several roles."""
    if not current_user.is_authenticated:
        return login_manager.unauthorized()
    if not current_user.is_staff:
        abort(403)
    form = EmptyForm()
    try:
        role = Role(request.form.get("role", ""))
    except ValueError:
        abort(400)
    if not form.validate_on_submit():
        abort(400)
    staff.switch_acting_role(current_user._get_current_object(), role)
    flash(_("当前角色：%(role)s", role=staff.role_label(role)), "success")
    return redirect(url_for("main.index"))


@bp.app_context_processor
def _staff_helpers() -> dict:
    return {"staff_role_label": staff.role_label, "second_factor_status": second_factor_status}


def second_factor_status(user: User) -> str:
    if user.second_factor_exempt:
        return _("演示账号，免验证（正式环境不能登录）")
    if user.second_factor_enrolled:
        return _("已设置")
    return _("未设置（下次登录时设置）")
