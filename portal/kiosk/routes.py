"""Thin views over services.kiosk, services.catalogue_query and services.queue."""

from __future__ import annotations

from urllib.parse import quote, unquote

from flask import current_app, flash, g, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, logout_user

from forms.kiosk import CaseCheckForm
from portal.auth.routes import safe_next
from portal.kiosk import bp
from portal.models import Role
from portal.params import parse_int
from portal.templating import ELDER_COOKIE
from portal.transaction import attempt
from services import catalogue_query, kiosk
from services import queue as queue_svc
from services.errors import TooManyAttempts, ValidationError

KIOSK_FLAG = "kiosk_hall"
TERMINAL_COOKIE = "kiosk_terminal"  # this kiosk's name and place, set when staff set it up
TERMINAL_DAYS = 3650


def _terminal() -> str:
    """This kiosk's name and place: ``?terminal=`` on its start page (staff setting it up), else
    what the browser kept from then; empty for a kiosk never set up."""
    if "terminal" in request.args and request.endpoint == "kiosk.start":
        g.kiosk_terminal_set = kiosk.terminal_name(request.args["terminal"])
        return g.kiosk_terminal_set
    return kiosk.terminal_name(unquote(request.cookies.get(TERMINAL_COOKIE, "")))


def _enter(hall_code: str):
    """The hall, with the browser marked as this hall's kiosk (the idle timer runs on every page).

    Staff looking at the kiosk pages from their own browser are not put in kiosk mode: the
    idle reset would log them out."""
    hall = queue_svc.get_hall(hall_code)
    if not current_user.is_authenticated or current_user.role == Role.citizen:
        session[KIOSK_FLAG] = g.kiosk_hall = hall.code
    g.kiosk_terminal = _terminal()
    return hall


@bp.after_request
def _remember_kiosk(response):
    """Also mark the browser (until it closes): a login renews the session and would drop
    the flag, yet a citizen who logs in on the kiosk must still be logged out when idle."""
    if g.get("kiosk_hall"):
        response.set_cookie(KIOSK_FLAG, g.kiosk_hall, httponly=True, samesite="Lax")
    if g.get("kiosk_terminal_set") is not None:  # kept through idle resets and restarts
        response.set_cookie(
            TERMINAL_COOKIE,
            quote(g.kiosk_terminal_set),
            max_age=TERMINAL_DAYS * 86400,
            httponly=True,
            samesite="Lax",
        )
    return response


def _page(template: str, hall, status: int = 200, **context):
    return render_template(template, hall=hall, **context), status


@bp.route("/<hall_code>/")
def start(hall_code: str):
    """The kiosk's start page. Opening it makes this browser a kiosk, in 长辈模式 by default."""
    first = session.get(KIOSK_FLAG) is None and not current_user.is_authenticated
    hall = _enter(hall_code)
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
    response.set_cookie(ELDER_COOKIE, "1", httponly=True, samesite="Lax")
    return response
