"""Thin views: home, profile, and the switches in the header."""

from __future__ import annotations

from flask import current_app, flash, jsonify, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user

from forms.auth import EmptyForm, ProfileForm
from forms.catalogue import SearchForm
from portal.access import login_required_any
from portal.auth.routes import safe_next
from portal.caching import cached_page
from portal.main import bp
from portal.templating import ELDER_COOKIE
from portal.transaction import attempt
from services import accounts, cache, catalogue_query
from services.errors import ValidationError

COOKIE_MAX_AGE = 365 * 24 * 3600


@bp.route("/")
@cached_page
def index():
    return render_template(
        "main/index.html",
        # counts and rankings over the whole catalogue: computed once per publish generation
        overview=cache.get_or_set_scoped(catalogue_query.home_overview, "home_overview"),
        search_form=SearchForm(formdata=None),
    )


@bp.route("/profile", methods=["GET", "POST"])
@login_required_any
def profile():
    form = ProfileForm(obj=None)
    if request.method == "GET":
        form.address.data = current_user.citizen.address if current_user.citizen else ""
        form.elder_mode.data = current_user.elder_mode
        form.locale.data = current_user.locale or session.get("locale") or "zh_CN"
    if form.validate_on_submit():
        try:
            with attempt():
                accounts.update_profile(
                    current_user,
                    address=form.address.data or "",
                    elder_mode=bool(form.elder_mode.data),
                    locale=form.locale.data,
                )
        except ValidationError as exc:
            form.apply_errors(exc)
        else:
            session["locale"] = form.locale.data
            flash(_("个人设置已保存"), "success")
            return redirect(url_for("main.profile"))
    status = 422 if form.errors else 200
    return render_template("main/profile.html", form=form), status


def _back() -> str:
    return safe_next(request.form.get("next")) or url_for("main.index")


@bp.route("/session/extend", methods=["POST"])
@login_required_any
def extend_session():
    """The timeout dialog's “continue”: a request that renews the session cookie."""
    session.modified = True
    return jsonify(
        extended=True, seconds=int(current_app.permanent_session_lifetime.total_seconds())
    )


@bp.route("/preferences/elder-mode", methods=["POST"])
def toggle_elder_mode():
    form = EmptyForm()
    if not form.validate_on_submit():
        return redirect(_back())
    enable = request.form.get("enable") == "1"
    response = redirect(_back())
    if current_user.is_authenticated:
        accounts.set_elder_mode(current_user, enable)
    response.set_cookie(
        ELDER_COOKIE, "1" if enable else "0", max_age=COOKIE_MAX_AGE, httponly=True, samesite="Lax"
    )
    flash(_("已切换到长辈模式") if enable else _("已切换到标准模式"), "success")
    return response


@bp.route("/preferences/language", methods=["POST"])
def set_language():
    form = EmptyForm()
    locale = request.form.get("locale")
    if form.validate_on_submit() and locale in ("zh_CN", "en"):
        session["locale"] = locale
        if current_user.is_authenticated:
            current_user.locale = locale
    return redirect(_back())
