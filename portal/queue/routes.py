"""Thin views over services.queue: parse, call one service, redirect."""

from __future__ import annotations

from flask import (
    abort,
    current_app,
    flash,
    get_template_attribute,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user

from portal.access import roles_required
from portal.kiosk import device as kiosk_device
from portal.models import Role
from portal.params import parse_int
from portal.queue import bp
from portal.transaction import attempt
from services import kiosk
from services import queue as svc
from services.errors import Conflict, ValidationError


def announcement(code: str, window: int) -> str:
    """The one string the call display shows and speaks."""
    return _("请 %(code)s 号到 %(window)d 号窗口", code=code, window=window)


# --- public: take a ticket, see it, the call display -----------------------------------------


@bp.route("/<hall_code>/")
def take(hall_code: str):
    hall = svc.get_hall(hall_code)
    return render_template(
        "queue/take.html",
        hall=hall,
        queues=svc.hall_queues(hall),
        errors={},
        values={},
        in_kiosk=kiosk_device.hall_code() == hall.code,
    )


@bp.route("/<hall_code>/tickets", methods=["POST"])
def issue(hall_code: str):
    hall = svc.get_hall(hall_code)
    in_kiosk = kiosk_device.hall_code() == hall.code
    values = {k: request.form.get(k, "").strip()[:32] for k in ("appointment_code", "case_number")}
    try:
        with attempt():
            ticket = svc.take_ticket(
                hall,
                request.form.get("category", ""),
                source="kiosk" if in_kiosk else "tablet",
                **values,
            )
    except ValidationError as exc:
        return render_template(
            "queue/take.html",
            hall=hall,
            queues=svc.hall_queues(hall),
            errors=exc.errors,
            values=values,
            in_kiosk=in_kiosk,
        ), 422
    except Conflict as exc:
        return render_template(
            "queue/take.html",
            hall=hall,
            queues=svc.hall_queues(hall),
            errors={"category": exc.message},
            values=values,
            in_kiosk=in_kiosk,
        ), 409
    return redirect(url_for("queue.ticket", hall_code=hall.code, ticket_id=ticket.id))


@bp.route("/<hall_code>/tickets/<int:ticket_id>")
def ticket(hall_code: str, ticket_id: int):
    hall = svc.get_hall(hall_code)
    found = svc.get_ticket(hall, ticket_id)
    return render_template(
        "queue/ticket.html",
        hall=hall,
        ticket=found,
        ahead=svc.people_ahead(found),
        in_kiosk=kiosk_device.hall_code() == hall.code,
    )


def _call_json(call: svc.CallShown) -> dict:
    return {
        "id": call.id,
        "code": call.code,
        "window": call.window,
        "kind": call.kind,
        "text": announcement(call.code, call.window),
        "window_label": _("%(n)d 号窗口", n=call.window),
    }


@bp.route("/<hall_code>/display")
def display(hall_code: str):
    hall = svc.get_hall(hall_code)
    calls = svc.recent_calls(hall)
    return render_template(
        "queue/display.html",
        hall=hall,
        calls=calls,
        announcement=announcement,
        poll_ms=int(current_app.config.get("QUEUE_POLL_MS", 2000)),
    )


@bp.route("/<hall_code>/calls.json")
def calls(hall_code: str):
    hall = svc.get_hall(hall_code)
    after = request.args.get("after", "0")
    recent = svc.recent_calls(hall, after=parse_int(after) or 0)
    response = jsonify(calls=[_call_json(c) for c in recent])
    response.headers["Cache-Control"] = "no-store"
    return response


# --- the clerk's desk ------------------------------------------------------------------------


@bp.route("/desk")
@roles_required(Role.counter)
def desk():
    return render_template(
        "queue/desk.html",
        desk=svc.desk_overview(current_user),
        poll_ms=int(current_app.config["QUEUE_DESK_POLL_MS"]),
    )


@bp.route("/desk/status.json")
@roles_required(Role.counter)
def desk_status():
    """What the open desk refreshes by polling: the waiting counts and the hall's help requests,
    rendered by the same macros as the page."""
    overview = svc.desk_overview(current_user)
    part = "queue/_desk_live.html"
    response = jsonify(
        waiting=str(get_template_attribute(part, "waiting_list")(overview.queues)),
        help=str(get_template_attribute(part, "help_list")(overview.help_requests)),
    )
    response.headers["Cache-Control"] = "no-store"
    return response


def _back_to_desk():
    return redirect(url_for("queue.desk"))


@bp.route("/desk/window", methods=["POST"])
@roles_required(Role.counter)
def choose_window():
    window_id = parse_int(request.form.get("window", ""))
    if window_id is None:
        abort(400)
    window = svc.choose_window(current_user, window_id)
    flash(_("您已在 %(number)d 号窗口就座", number=window.number), "success")
    return _back_to_desk()


@bp.route("/desk/leave", methods=["POST"])
@roles_required(Role.counter)
def leave_window():
    svc.leave_window(current_user)
    flash(_("您已离开窗口"), "success")
    return _back_to_desk()


@bp.route("/desk/call", methods=["POST"])
@roles_required(Role.counter)
def call_next():
    called = svc.call_next(current_user)
    if called is None:
        flash(_("暂无等候的号码"), "success")
    else:
        flash(_("已叫号：%(code)s", code=called.code), "success")
    return _back_to_desk()


ACTIONS = {
    "recall": svc.recall,
    "skip": svc.skip,
    "return": svc.recall_skipped,
    "finish": svc.finish,
}


def _done_message(action: str, code: str) -> str:
    return {
        "recall": _("已重呼：%(code)s", code=code),
        "skip": _("已过号：%(code)s", code=code),
        "return": _("已过号重呼：%(code)s", code=code),
        "finish": _("已完成：%(code)s", code=code),
    }[action]


@bp.route("/desk/tickets/<int:ticket_id>/<action>", methods=["POST"])
@roles_required(Role.counter)
def act(ticket_id: int, action: str):
    if action == "serve":
        ticket = svc.start_serving(current_user, ticket_id)
        if svc.names_someone(ticket):
            message = _(
                "正在接待 %(code)s 号。该号关联了预约或办件：请读取或输入身份证号核验身份，"
                "身份一致才会带出预约和办件",
                code=ticket.code,
            )
        else:
            message = _("正在接待 %(code)s 号，请查找或登记办事群众", code=ticket.code)
        flash(message, "success")
        return redirect(url_for("counter.workstation"))
    if action not in ACTIONS:
        abort(404)
    ticket = ACTIONS[action](current_user, ticket_id)
    flash(_done_message(action, ticket.code), "success")
    return _back_to_desk()


@bp.route("/desk/help/<int:reminder_id>", methods=["POST"])
@roles_required(Role.counter)
def acknowledge_help(reminder_id: int):
    kiosk.acknowledge_help(current_user, reminder_id)
    flash(_("已处理自助终端求助"), "success")
    return _back_to_desk()


@bp.route("/stats")
@roles_required(Role.counter, Role.admin)
def stats():
    hall, halls = svc.stats_hall(current_user, request.args.get("hall"))
    return render_template("queue/stats.html", hall=hall, halls=halls, stats=svc.daily_stats(hall))
