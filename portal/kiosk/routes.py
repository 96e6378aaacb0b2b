"""Thin views over services.kiosk, services.catalogue_query and services.queue."""

from __future__ import annotations

from flask import current_app, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, logout_user

from forms.auth import EmptyForm
from forms.kiosk import CaseCheckForm, KioskDeviceForm
from portal.access import roles_required
from portal.auth.routes import safe_next
from portal.kiosk import bp, device
from portal.models import Role
from portal.params import parse_int
from portal.templating import ELDER_COOKIE
from portal.transaction import attempt
from services import catalogue_query, kiosk
from services import queue as queue_svc
from services.errors import TooManyAttempts, ValidationError


def _enter(hall_code: str):
    """The hall of a kiosk page. Opening it sets nothing: kiosk mode is this browser's device
    setting (portal/kiosk/device.py), made by staff on 把本机设为自助终端."""
    return queue_svc.get_hall(hall_code)


def _terminal() -> str:
    """This kiosk's name and place, from its device setting; empty for any other browser."""
    setting = device.current()
    return setting.terminal if setting else ""


@bp.app_context_processor
def _kiosk_globals():
    return {"kiosk_idle_hall": device.idle_hall, "kiosk_terminal": _terminal}


def _page(template: str, hall, status: int = 200, **context):
    return render_template(template, hall=hall, **context), status


@bp.route("/setup", methods=["GET", "POST"])
@roles_required(Role.counter, Role.admin)
def setup():
    """把本机设为自助终端: the hall and the terminal's name and place, kept in a signed cookie.
    The member of staff is logged out afterwards, so the kiosk is handed over ready."""
    form = KioskDeviceForm()
    halls = kiosk.device_halls(current_user)
    form.hall.choices = [(h.code, h.name) for h in halls]
    current = device.current()
    if request.method == "GET" and current is None and halls:
        form.hall.data = halls[0].code
    status = 200
    if form.validate_on_submit():
        try:
            with attempt():
                hall, name = kiosk.set_up_device(current_user, form.hall.data, form.terminal.data)
        except ValidationError as exc:
            form.apply_errors(exc)
            status = 422
        else:
            logout_user()
            keep = session.get("locale")
            session.clear()
            if keep:
                session["locale"] = keep
            flash(
                _(
                    "本机已设为%(hall)s的自助终端：%(terminal)s。您已退出登录。",
                    hall=hall.name,
                    terminal=name,
                ),
                "success",
            )
            response = redirect(url_for("kiosk.start", hall_code=hall.code))
            device.set_cookie(response, device.Device(hall.code, name))
            response.set_cookie(ELDER_COOKIE, "1", httponly=True, samesite="Lax")
            return response
    elif form.errors:
        status = 422
    return render_template(
        "kiosk/setup.html",
        form=form,
        halls=halls,
        current=current,
        current_hall=kiosk.hall_name(current.hall) if current else "",
        clear_form=EmptyForm(),
    ), status


@bp.route("/setup/clear", methods=["POST"])
@roles_required(Role.counter, Role.admin)
def clear_setup():
    """取消本机的自助终端设置: the browser is an ordinary one again."""
    current = device.current()
    if current is not None:
        kiosk.clear_device(current_user, current.hall, current.terminal)
        flash(_("本机已不再是自助终端"), "success")
    response = redirect(url_for("kiosk.setup"))
    device.clear_cookie(response)
    return response


@bp.route("/<hall_code>/")
def start(hall_code: str):
    """The kiosk's start page; on a kiosk, in 长辈模式 until the citizen switches it off."""
    hall = _enter(hall_code)
    first = (
        device.hall_code() == hall.code
        and not current_user.is_authenticated
        and request.cookies.get(ELDER_COOKIE) is None
    )
    extra = {"elder_mode_active": lambda: True} if first else {}
    response = current_app.make_response(render_template("kiosk/start.html", hall=hall, **extra))
    if first:
        response.set_cookie(ELDER_COOKIE, "1", httponly=True, samesite="Lax")
    return response


@bp.route("/<hall_code>/guides")
def guides(hall_code: str):
    hall = _enter(hall_code)
    theme = request.args.get("theme", "")
    department = request.args.get("department", "")[:16]
    filters = catalogue_query.CatalogueFilters(
        theme_id=parse_int(theme), department_code=department or None
    )
    chosen = filters.theme_id is not None or filters.department_code
    return _page(
        "kiosk/guides.html",
        hall,
        themes=[t for t in catalogue_query.theme_counts() if t.count],
        departments=catalogue_query.department_counts(),
        results=catalogue_query.list_catalogue(filters, per_page=30) if chosen else None,
    )


@bp.route("/<hall_code>/case", methods=["GET", "POST"])
def case_status(hall_code: str):
    hall = _enter(hall_code)
    form = CaseCheckForm()
    result, checked, status = None, False, 200
    if form.validate_on_submit():
        try:
            with attempt():
                result = kiosk.check_case(
                    form.number.data,
                    form.id_number.data,
                    remote_addr=request.remote_addr or "",
                    max_failures=int(current_app.config["VERIFY_MAX_FAILURES"]),
                    window_minutes=int(current_app.config["VERIFY_FAILURE_WINDOW_MINUTES"]),
                )
        except TooManyAttempts as exc:
            form.form_errors.append(exc.message)
            status = 429
        except ValidationError as exc:
            form.apply_errors(exc)
            status = 422
        else:  # a miss is kept (the boundary commits it) so that guessing is throttled
            checked = True
            form.number.data = form.id_number.data = ""  # nothing typed stays on a shared screen
    elif form.errors:
        status = 422
    return _page("kiosk/case.html", hall, status, form=form, result=result, checked=checked)


@bp.route("/<hall_code>/apply")
def items(hall_code: str):
    hall = _enter(hall_code)
    return _page("kiosk/items.html", hall, items=kiosk.kiosk_items())


@bp.route("/<hall_code>/apply/<code>")
def apply_item(hall_code: str, code: str):
    """Log in (the normal login page, back here afterwards), then start the kiosk application."""
    hall = _enter(hall_code)
    if not current_user.is_authenticated:
        return redirect(url_for("auth.login", next=request.path))
    item = next((i for i in kiosk.kiosk_items() if i.code == code), None)
    return _page("kiosk/apply.html", hall, 200 if item else 404, item=item)


@bp.route("/<hall_code>/apply/<code>/start", methods=["POST"])
def start_application(hall_code: str, code: str):
    queue_svc.get_hall(hall_code)
    if not current_user.is_authenticated:
        return redirect(
            url_for("auth.login", next=url_for("kiosk.apply_item", hall_code=hall_code, code=code))
        )
    draft = kiosk.start_kiosk_application(current_user, code)
    return redirect(url_for("apply.conditions", draft_id=draft.id))


@bp.route("/<hall_code>/help", methods=["POST"])
def call_staff(hall_code: str):
    hall = queue_svc.get_hall(hall_code)
    kiosk.request_help(hall, where=request.form.get("where", "")[:60], terminal=_terminal())
    flash(_("已通知工作人员，请在终端旁稍候，工作人员马上过来"), "success")
    return redirect(
        safe_next(request.form.get("next")) or url_for("kiosk.start", hall_code=hall.code)
    )


@bp.route("/<hall_code>/reset", methods=["POST"])
def reset(hall_code: str):
    """The idle countdown ran out: log out, forget everything, back to the kiosk's start."""
    hall = queue_svc.get_hall(hall_code)
    logout_user()
    session.clear()
    response = redirect(url_for("kiosk.start", hall_code=hall.code))
    if device.hall_code():  # an ordinary browser posting here keeps its own mode
        response.set_cookie(ELDER_COOKIE, "1", httponly=True, samesite="Lax")
    return response
