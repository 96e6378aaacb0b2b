"""Thin views over services.accounts."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import current_app, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_user, logout_user

from forms.auth import EmptyForm, LoginForm, RegisterForm
from portal.auth import bp, staff_login
from portal.extensions import login_manager
from portal.models import Role, User
from services import accounts, phone_accounts
from services.errors import NotAuthorized, TooManyAttempts, ValidationError


@login_manager.user_loader
def load_user(user_id: str) -> User | None:
    try:
        pk, epoch = (int(part) for part in user_id.split(":", 1))
    except ValueError:
        return None
    user = accounts.user_by_id(pk)
    if user is None or user.session_epoch != epoch:
        return None
    return user


# the session key holding the random token of a registration waiting for its SMS code
REGISTER_FLOW = "phone_flow_register"


def safe_next(target: str | None) -> str | None:
    """Only a path on this site; never another host, scheme or a protocol-relative URL."""
    if not target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return None
    if "\\" in target or any(ord(ch) < 32 for ch in target):
        return None
    return target


def home_for(user: User) -> str:
    if user.role == Role.citizen:
        return url_for("main.profile")
    return url_for("main.index")


def start_session(user: User) -> None:
    """Renew the session at login: nothing from before the login carries over but the locale."""
    keep = {k: session[k] for k in ("locale",) if k in session}
    session.clear()
    session.update(keep)
    login_user(user)


@bp.route("/register", methods=["GET", "POST"])
def register():
    if current_user.is_authenticated:
        return redirect(home_for(current_user))
    form = RegisterForm()
    status = 200
    if form.validate_on_submit():
        # step 1 of 2: a code goes to the phone; the account is made only when it comes back
        # right (phone_routes.register_code), from what the challenge keeps server-side
        try:  # not in attempt(): a refusal that says a phone is taken is counted (and kept)
            _challenge, token = phone_accounts.start_registration(
                phone=form.phone.data,
                password=form.password.data,
                name=form.name.data,
                id_number=form.id_number.data,
                address=form.address.data or "",
                remote_addr=request.remote_addr or "",
            )
        except TooManyAttempts as exc:
            form.phone.errors.append(exc.message)
            status = 429
        except ValidationError as exc:
            form.apply_errors(exc)
        else:
            session[REGISTER_FLOW] = token
            return redirect(url_for("auth.register_code"))
    if status == 200 and (form.errors or form.form_errors):
        status = 422
    return render_template("auth/register.html", form=form), status


@bp.route("/login", methods=["GET", "POST"])
def login():
    if current_user.is_authenticated:
        return redirect(home_for(current_user))
    form = LoginForm()
    status = 200
    if form.validate_on_submit():
        try:
            user = accounts.authenticate(
                form.login.data,
                form.password.data,
                remote_addr=request.remote_addr or "",
                max_failures=int(current_app.config["LOGIN_MAX_FAILURES"]),
                window_minutes=int(current_app.config["LOGIN_FAILURE_WINDOW_MINUTES"]),
            )
        except TooManyAttempts as exc:  # refused before anything was written
            form.form_errors.append(exc.message)
            return render_template("auth/login.html", form=form), 429
        except NotAuthorized as exc:  # the failure is kept (the boundary commits it): guessing
            form.form_errors.append(exc.message)  # is throttled
            status = 422
        else:
            # staff: the password is the first step (authenticator, new password, enrolment)
            if (further := staff_login.after_password(user, form)) is not None:
                return further
            start_session(user)
            flash(_("登录成功"), "success")
            return redirect(safe_next(request.args.get("next")) or home_for(user))
    elif form.errors:
        status = 422
    return render_template("auth/login.html", form=form), status


@bp.route("/logout", methods=["POST"])
def logout():
    form = EmptyForm()
    if form.validate_on_submit() and current_user.is_authenticated:
        accounts.end_sessions(current_user)
    clerk = current_user.is_authenticated and current_user.role == Role.counter
    logout_user()
    keep = session.get("locale")
    session.clear()
    if keep:
        session["locale"] = keep
    if clerk:  # the next page clears what the offline intake keeps in this browser (base.html)
        session["offline_cleanup"] = True
    flash(_("您已安全退出"), "success")
    return redirect(url_for("main.index"))
