"""Thin views over services.appointments: parse, call one service, redirect."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from portal.access import roles_required
from portal.appointments import bp
from portal.models import Role
from portal.params import parse_day, parse_int
from portal.transaction import attempt
from services import appointments as svc
from services import capacity
from services.errors import Conflict, ValidationError

citizen_only = roles_required(Role.citizen)
counter_only = roles_required(Role.counter)


def _int(value: str | None) -> int | None:
    return parse_int(value)


def _day(raw: str | None) -> date | None:
    return parse_day(raw)


def _change(action: Callable[[], object], done: str = "") -> bool:
    """Run one state change (and say ``done``), or undo it and say why it was refused."""
    try:
        with attempt():
            action()
    except Conflict as exc:
        flash(exc.message, "error")
        return False
    if done:
        flash(done, "success")
    return True


def _booking(target: svc.Target, action: str, *, appointment=None):
    """The booking page (GET), or the booking itself (POST): a refusal goes next to the field."""
    errors: dict[str, str] = {}
    hall_code, day = request.values.get("hall"), _day(request.values.get("day"))
    if request.method == "POST":
        slot_id = _int(request.form.get("slot"))
        try:
            with attempt():
                if appointment is None:
                    booked = svc.book_appointment(current_user, target, slot_id)
                else:
                    booked = svc.reschedule_appointment(current_user, appointment.id, slot_id)
        except ValidationError as exc:
            errors = exc.errors
        except Conflict as exc:
            flash(exc.message, "error")
            return redirect(
                url_for("appointments.detail", appointment_id=appointment.id)
                if appointment
                else url_for("appointments.mine")
            )
        else:
            flash(
                _("预约成功，预约号 %(code)s", code=booked.code)
                if appointment is None
                else _("已改约，预约号不变：%(code)s", code=booked.code),
                "success",
            )
            return redirect(url_for("appointments.detail", appointment_id=booked.id))
    if appointment is not None and not hall_code:
        hall_code, day = appointment.slot.hall.code, day or appointment.slot.day
    page = svc.booking_page(target, hall_code, day)
    return render_template(
        "appointments/book.html",
        target=target,
        page=page,
        action=action,
        appointment=appointment,
        errors=errors,
        chosen=_int(request.form.get("slot")),
        preparation=svc.prepare(target),
    ), (422 if errors else 200)


@bp.route("/")
@citizen_only
def mine():
    """我的预约."""
    rows = svc.list_own(current_user)
    return render_template(
        "appointments/mine.html", rows=rows, titles=svc.titles_of(rows), labels=svc.STATUS_LABELS
    )


@bp.route("/items/<code>/book", methods=["GET", "POST"])
@citizen_only
def book_item(code: str):
    return _booking(
        svc.target_for_item(current_user, code), url_for("appointments.book_item", code=code)
    )


@bp.route("/cases/<int:case_id>/book", methods=["GET", "POST"])
@citizen_only
def book_case(case_id: int):
    return _booking(
        svc.target_for_case(current_user, case_id),
        url_for("appointments.book_case", case_id=case_id),
    )


@bp.route("/<int:appointment_id>")
@citizen_only
def detail(appointment_id: int):
    appointment = svc.own_appointment(current_user, appointment_id)
    target = svc.target_of(appointment)
    return render_template(
        "appointments/detail.html",
        appointment=appointment,
        target=target,
        preparation=svc.prepare(target),
        labels=svc.STATUS_LABELS,
        changeable=svc.is_changeable(appointment),
    )


@bp.route("/<int:appointment_id>/reschedule", methods=["GET", "POST"])
@citizen_only
def reschedule(appointment_id: int):
    appointment = svc.own_appointment(current_user, appointment_id)
    if not svc.is_changeable(appointment):
        flash(_("这个预约不能再改约"), "error")
        return redirect(url_for("appointments.detail", appointment_id=appointment_id))
    return _booking(
        svc.target_of(appointment),
        url_for("appointments.reschedule", appointment_id=appointment_id),
        appointment=appointment,
    )


@bp.route("/<int:appointment_id>/cancel", methods=["POST"])
@citizen_only
def cancel(appointment_id: int):
    _change(lambda: svc.cancel_appointment(current_user, appointment_id), _("预约已取消"))
    return redirect(url_for("appointments.detail", appointment_id=appointment_id))


# ---- the counter ---------------------------------------------------------------------------


@bp.route("/hall")
@counter_only
def hall_today():
    """今日预约 of the clerk's hall, or another day's with ``?day=YYYY-MM-DD``."""
    today = svc.local_now().date()
    raw = (request.args.get("day") or "").strip()
    day = _day(raw) if raw else today
    error = "" if day else _("请按 年-月-日 填写日期，例如 %(day)s", day=today.isoformat())
    day = day or today
    rows = svc.hall_day(current_user, day)
    cases = svc.cases_of(rows)
    to_contact = capacity.to_contact(current_user.hall_id, today)
    return render_template(
        "appointments/hall_today.html",
        rows=rows,
        day=day,
        today=today,
        day_error=error,
        day_typed=raw,
        titles=svc.titles_of(rows),
        cases=cases,
        labels=svc.STATUS_LABELS,
        prep_labels=svc.PREPARATION_LABELS,
        prep_kinds={a.id: svc.preparation_kind(cases.get(a.application_id)) for a in rows},
        started={a.id: svc.has_started(a.slot) for a in rows},
        to_contact=to_contact,
        contact_titles=svc.titles_of(to_contact),
    ), (422 if error else 200)


@bp.route("/hall/<int:appointment_id>")
@counter_only
def hall_detail(appointment_id: int, phone: str | None = None):
    """One booking of the hall and the state of its case (what is prepared, what is missing)."""
    appointment = svc.hall_appointment(current_user, appointment_id)
    target = svc.target_of(appointment)
    return render_template(
        "appointments/hall_detail.html",
        appointment=appointment,
        target=target,
        preparation=svc.prepare(target),
        labels=svc.STATUS_LABELS,
        started=svc.has_started(appointment.slot),
        phone=phone,
    )


@bp.route("/hall/<int:appointment_id>/contact", methods=["POST"])
@counter_only
def contact(appointment_id: int):
    """The citizen's full phone number, to call them (recorded in their 数据使用记录); shown in
    this response only, never in a URL."""
    phone = capacity.contact_phone(current_user, appointment_id)
    return hall_detail(appointment_id, phone=phone)


@bp.route("/hall/<int:appointment_id>/receive", methods=["POST"])
@counter_only
def receive(appointment_id: int):
    """接待: mark arrived and start serving the citizen at the workstation."""
    if _change(lambda: svc.receive_appointment(current_user, appointment_id)):
        return redirect(url_for("counter.workstation"))
    return redirect(url_for("appointments.hall_today"))


@bp.route("/hall/<int:appointment_id>/no-show", methods=["POST"])
@counter_only
def no_show(appointment_id: int):
    _change(lambda: svc.mark_no_show(current_user, appointment_id), _("已标记为未到场"))
    return redirect(url_for("appointments.hall_today"))
