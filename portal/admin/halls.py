"""Service halls for admins: the hall, its windows and queue categories, the weekly appointment
template with extra sessions and closures, one day's slots, and the bookings to contact.

Thin views over services.halls and services.capacity: parse the form, call one service,
flash, redirect; a refusal shows the form again with the message next to the field (422)."""

from __future__ import annotations

from datetime import date, timedelta

from flask import current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from wtforms.fields.choices import SelectChoice

from forms.halls import (
    CategoryCreateForm,
    CategoryForm,
    ClosureForm,
    ExtraSessionForm,
    HallCreateForm,
    HallForm,
    SlotCapacityForm,
    WeeklySessionForm,
    WindowForm,
)
from portal.admin import bp
from portal.form_flow import form_status, save_form
from portal.models import QueueCategory, ServiceHall, User
from portal.params import parse_day, parse_int
from portal.transaction import attempt
from services import appointments, capacity, clock, halls
from services.errors import ValidationError


def _admin() -> User:
    return current_user._get_current_object()  # type: ignore[attr-defined]


def _affected_message(result: capacity.Reconciled) -> str:
    n = len(result.affected)
    if not n:
        return ""
    return _(
        "%(n)d 个预约所在的时段不再开放：预约保留，已通知办事群众，请在“需要联系的预约”中联系。",
        n=n,
    )


def _done(message: str, result: capacity.Reconciled) -> str:
    extra = _affected_message(result)
    return f"{message} {extra}" if extra else message


# ---------------------------------------------------------------------------- halls


@bp.route("/halls")
def halls_list():
    return render_template("admin/halls.html", rows=halls.list_halls())


@bp.route("/halls/new", methods=["GET", "POST"])
def hall_new():
    form = HallCreateForm()
    if form.validate_on_submit() and (
        done := save_form(
            form,
            lambda: halls.create_hall(
                _admin(),
                code=form.code.data,
                name=form.name.data,
                address=form.address.data,
                hours=form.hours.data,
                phone=form.phone.data,
            ),
            done=lambda hall: _("已新增服务大厅：%(name)s", name=hall.name),
            to=lambda hall: url_for("admin.hall", hall_id=hall.id),
        )
    ):
        return done
    return render_template("admin/halls_form.html", form=form, hall=None), form_status(form)


@bp.route("/halls/<int:hall_id>")
def hall(hall_id: int):
    hall = halls.get_hall(hall_id)
    today = clock.local_today()
    to_contact = capacity.to_contact(hall.id, today)
    return render_template(
        "admin/halls_detail.html",
        hall=hall,
        staff=halls.hall_staff(hall),
        slots_ahead=halls.slots_ahead(hall, today + timedelta(days=1)),
        closures=capacity.closures_of(hall, today),
        to_contact=to_contact,
        titles=appointments.titles_of(to_contact),
        departments={d.id: d for d in halls.department_choices()},
        part_labels=capacity.PART_LABELS,
        weeks=capacity.weeks_ahead(),
        staff_endpoint=_staff_endpoint(),
    )


def _staff_endpoint() -> str | None:
    """The staff account page, when the staff console is there (another part builds it)."""
    for name in ("admin.staff_edit", "admin.staff_account", "admin.staff_detail"):
        if name in current_app.view_functions:
            return name
    return None


@bp.route("/halls/<int:hall_id>/edit", methods=["GET", "POST"])
def hall_edit(hall_id: int):
    hall = halls.get_hall(hall_id)
    form = HallForm(obj=hall)
    if form.validate_on_submit() and (
        done := save_form(
            form,
            lambda: halls.update_hall(
                _admin(),
                hall,
                name=form.name.data,
                address=form.address.data,
                hours=form.hours.data,
                phone=form.phone.data,
            ),
            done=lambda _r: _("已保存服务大厅：%(name)s", name=hall.name),
            to=url_for("admin.hall", hall_id=hall.id),
        )
    ):
        return done
    return render_template("admin/halls_form.html", form=form, hall=hall), form_status(form)


@bp.route("/halls/<int:hall_id>/active", methods=["POST"])
def hall_active(hall_id: int):
    hall = halls.get_hall(hall_id)
    active = request.form.get("active") == "1"
    halls.set_hall_active(_admin(), hall, active)
    flash(
        _("已开放服务大厅：%(name)s", name=hall.name)
        if active
        else _("已停用服务大厅：%(name)s（已有的预约保留）", name=hall.name),
        "success",
    )
    return redirect(url_for("admin.hall", hall_id=hall.id))


# ---------------------------------------------------------------------------- categories


def _department_choices(form) -> None:
    form.department_ids.choices = [
        SelectChoice(d.id, f"{d.name}（{d.code}）") for d in halls.department_choices()
    ]


@bp.route("/halls/<int:hall_id>/categories/new", methods=["GET", "POST"])
def category_new(hall_id: int):
    hall = halls.get_hall(hall_id)
    form = CategoryCreateForm()
    _department_choices(form)
    if form.validate_on_submit() and (
        done := save_form(
            form,
            lambda: halls.create_category(
                _admin(),
                hall,
                code=form.code.data,
                name=form.name.data,
                department_ids=form.department_ids.data,
                open=form.open.data,
            ),
            done=lambda c: _("已新增服务类别：%(code)s %(name)s", code=c.code, name=c.name),
            to=url_for("admin.hall", hall_id=hall.id),
        )
    ):
        return done
    return render_template(
        "admin/halls_category.html", form=form, hall=hall, category=None
    ), form_status(form)


@bp.route("/halls/<int:hall_id>/categories/<int:category_id>/edit", methods=["GET", "POST"])
def category_edit(hall_id: int, category_id: int):
    hall = halls.get_hall(hall_id)
    category = halls.get_category(hall, category_id)
    form = CategoryForm(obj=category)
    _department_choices(form)
    if form.validate_on_submit() and (
        done := save_form(
            form,
            lambda: halls.update_category(
                _admin(),
                category,
                name=form.name.data,
                department_ids=form.department_ids.data,
                open=form.open.data,
            ),
            done=lambda c: _("已保存服务类别：%(code)s %(name)s", code=c.code, name=c.name),
            to=url_for("admin.hall", hall_id=hall.id),
        )
    ):
        return done
    return render_template(
        "admin/halls_category.html", form=form, hall=hall, category=category
    ), form_status(form)


# ---------------------------------------------------------------------------- windows


def _category_choices(form, hall: ServiceHall) -> None:
    form.category_codes.choices = [
        SelectChoice(c.code, f"{c.code} {c.name}") for c in hall.categories
    ]


@bp.route("/halls/<int:hall_id>/windows/new", methods=["GET", "POST"])
def window_new(hall_id: int):
    hall = halls.get_hall(hall_id)
    form = WindowForm()
    _category_choices(form, hall)
    if form.validate_on_submit() and (
        done := save_form(
            form,
            lambda: halls.create_window(
                _admin(),
                hall,
                number=form.number.data,
                name=form.name.data,
                category_codes=form.category_codes.data,
            ),
            done=lambda w: _("已新增窗口：%(name)s", name=w.name),
            to=url_for("admin.hall", hall_id=hall.id),
        )
    ):
        return done
    return render_template(
        "admin/halls_window.html", form=form, hall=hall, window=None
    ), form_status(form)


@bp.route("/halls/<int:hall_id>/windows/<int:window_id>/edit", methods=["GET", "POST"])
def window_edit(hall_id: int, window_id: int):
    hall = halls.get_hall(hall_id)
    window = halls.get_window(hall, window_id)
    form = WindowForm(obj=window)
    _category_choices(form, hall)
    if form.validate_on_submit() and (
        done := save_form(
            form,
            lambda: halls.update_window(
                _admin(),
                window,
                number=form.number.data,
                name=form.name.data,
                category_codes=form.category_codes.data,
                active=form.active.data,
            ),
            done=lambda w: _("已保存窗口：%(name)s", name=w.name),
            to=url_for("admin.hall", hall_id=hall.id),
        )
    ):
        return done
    return render_template(
        "admin/halls_window.html", form=form, hall=hall, window=window
    ), form_status(form)


# ---------------------------------------------------------------------------- the template


def _template_page(
    hall: ServiceHall,
    category: QueueCategory,
    weekly: WeeklySessionForm | None = None,
    extra: ExtraSessionForm | None = None,
):
    weekly = weekly or WeeklySessionForm(formdata=None, prefix="week")
    extra = extra or ExtraSessionForm(formdata=None, prefix="extra")
    status = max(form_status(weekly), form_status(extra))
    return render_template(
        "admin/halls_template.html",
        hall=hall,
        category=category,
        template=capacity.template_of(category),
        extras=capacity.extra_sessions(category, clock.local_today()),
        weekday_labels=capacity.WEEKDAY_LABELS,
        weekly=weekly,
        extra=extra,
        weeks=capacity.weeks_ahead(),
    ), status


@bp.route("/halls/<int:hall_id>/categories/<int:category_id>/template", methods=["GET", "POST"])
def hall_template(hall_id: int, category_id: int):
    """预约模板: the weekly sessions of one category; POST adds sessions."""
    hall = halls.get_hall(hall_id)
    category = halls.get_category(hall, category_id)
    if request.method == "GET":
        return _template_page(hall, category)
    form = WeeklySessionForm(prefix="week")
    if form.validate_on_submit() and (
        done := save_form(
            form,
            lambda: capacity.add_weekly_sessions(
                _admin(),
                category,
                weekdays=form.weekdays.data,
                starts_at=form.starts_at.data,
                ends_at=form.ends_at.data,
                slot_minutes=form.slot_minutes.data,
                capacity=form.capacity.data,
            ),
            done=lambda r: _done(_("已加入预约模板，已生成 %(n)d 个号段。", n=r.created), r),
            to=url_for("admin.hall_template", hall_id=hall.id, category_id=category.id),
        )
    ):
        return done
    return _template_page(hall, category, weekly=form)


@bp.route("/halls/<int:hall_id>/categories/<int:category_id>/extra", methods=["POST"])
def extra_add(hall_id: int, category_id: int):
    """加开: a session on one date."""
    hall = halls.get_hall(hall_id)
    category = halls.get_category(hall, category_id)
    form = ExtraSessionForm(prefix="extra")
    if form.validate_on_submit() and (
        done := save_form(
            form,
            lambda: capacity.add_extra_session(
                _admin(),
                category,
                day=form.day.data,
                starts_at=form.starts_at.data,
                ends_at=form.ends_at.data,
                slot_minutes=form.slot_minutes.data,
                capacity=form.capacity.data,
            ),
            done=_("已加开时段"),
            to=url_for("admin.hall_template", hall_id=hall.id, category_id=category.id),
        )
    ):
        return done
    return _template_page(hall, category, extra=form)


@bp.route(
    "/halls/<int:hall_id>/categories/<int:category_id>/sessions/<int:session_id>/edit",
    methods=["GET", "POST"],
)
def session_edit(hall_id: int, category_id: int, session_id: int):
    hall = halls.get_hall(hall_id)
    category = halls.get_category(hall, category_id)
    session = capacity.get_session(category, session_id)
    form = WeeklySessionForm(obj=session)
    del form.weekdays  # the weekday stays; a session for another day is added on its own
    if session.weekday is None:
        return redirect(url_for("admin.hall_template", hall_id=hall.id, category_id=category.id))
    if form.validate_on_submit() and (
        done := save_form(
            form,
            lambda: capacity.update_weekly_session(
                _admin(),
                session,
                starts_at=form.starts_at.data,
                ends_at=form.ends_at.data,
                slot_minutes=form.slot_minutes.data,
                capacity=form.capacity.data,
            ),
            done=lambda r: _done(_("已修改预约模板"), r),
            to=url_for("admin.hall_template", hall_id=hall.id, category_id=category.id),
        )
    ):
        return done
    return render_template(
        "admin/halls_session.html",
        form=form,
        hall=hall,
        category=category,
        period=session,
        weekday_labels=capacity.WEEKDAY_LABELS,
    ), form_status(form)


@bp.route(
    "/halls/<int:hall_id>/categories/<int:category_id>/sessions/<int:session_id>/delete",
    methods=["GET", "POST"],
)
def session_delete(hall_id: int, category_id: int, session_id: int):
    """GET: what deleting the session would leave to contact; POST: delete it."""
    hall = halls.get_hall(hall_id)
    category = halls.get_category(hall, category_id)
    session = capacity.get_session(category, session_id)
    if request.method == "GET":
        booked = capacity.bookings_in_session(session, clock.local_today())
        return render_template(
            "admin/halls_session_delete.html",
            hall=hall,
            category=category,
            period=session,
            booked=booked,
            titles=appointments.titles_of(booked),
            weekday_labels=capacity.WEEKDAY_LABELS,
        )
    result = capacity.delete_session(_admin(), session)
    flash(_done(_("已删除时段"), result), "success")
    return redirect(url_for("admin.hall_template", hall_id=hall.id, category_id=category.id))


# ---------------------------------------------------------------------------- closures


def _closure_choices(form, hall: ServiceHall) -> None:
    form.category_id.choices = [SelectChoice(0, _("全部服务类别"))] + [
        SelectChoice(c.id, f"{c.code} {c.name}") for c in hall.categories
    ]


@bp.route("/halls/<int:hall_id>/closures", methods=["GET", "POST"])
def hall_closures(hall_id: int):
    """暂停预约: closures to come, and a form to add one."""
    hall = halls.get_hall(hall_id)
    form = ClosureForm()
    _closure_choices(form, hall)
    if form.validate_on_submit() and (
        done := save_form(
            form,
            lambda: capacity.add_closure(
                _admin(),
                hall,
                first_day=form.first_day.data,
                last_day=form.last_day.data,
                part=form.part.data,
                category_id=form.category_id.data or None,
                reason=form.reason.data,
            ),
            done=lambda r: (
                _("已暂停预约，%(n)d 个预约受影响，已通知办事群众。", n=len(r[1]))
                if r[1]
                else _("已暂停预约，没有预约受影响。")
            ),
            to=url_for("admin.hall_closures", hall_id=hall.id),
        )
    ):
        return done
    today = clock.local_today()
    to_contact = capacity.to_contact(hall.id, today)
    return render_template(
        "admin/halls_closures.html",
        hall=hall,
        form=form,
        closures=capacity.closures_of(hall, today),
        part_labels=capacity.PART_LABELS,
        to_contact=to_contact,
        titles=appointments.titles_of(to_contact),
    ), form_status(form)


@bp.route("/halls/<int:hall_id>/closures/<int:closure_id>/delete", methods=["POST"])
def closure_delete(hall_id: int, closure_id: int):
    hall = halls.get_hall(hall_id)
    closure = capacity.get_closure(hall, closure_id)
    capacity.delete_closure(_admin(), closure)
    flash(_("已恢复预约：这些日期的号段重新开放"), "success")
    return redirect(url_for("admin.hall_closures", hall_id=hall.id))


# ---------------------------------------------------------------------------- one day's slots


def _day(raw: str | None) -> date | None:
    return parse_day(raw)


def _slots_page(
    hall: ServiceHall,
    day: date,
    day_error: str = "",
    typed: str = "",
    forms=None,
    category_id: int | None = None,
):
    today = clock.local_today()
    if category_id not in {c.id for c in hall.categories}:
        category_id = None
    slots = [s for s in capacity.hall_slots(hall, day) if category_id in (None, s.category_id)]
    forms = {
        s.id: SlotCapacityForm(prefix=f"slot{s.id}", formdata=None, data={"capacity": s.capacity})
        for s in slots
    } | (forms or {})
    return render_template(
        "admin/halls_slots.html",
        hall=hall,
        day=day,
        today=today,
        prev_day=day - timedelta(days=1),
        next_day=day + timedelta(days=1),
        day_error=day_error,
        day_typed=typed,
        slots=slots,
        forms=forms,
        weekday_labels=capacity.WEEKDAY_LABELS,
        category_id=category_id,
    )


@bp.route("/halls/<int:hall_id>/slots")
def hall_slots(hall_id: int):
    """One day's slots of the hall (any day, past or future), each with its places."""
    hall = halls.get_hall(hall_id)
    today = clock.local_today()
    raw = (request.args.get("day") or "").strip()
    day = _day(raw) if raw else today
    error = "" if day else _("请按 年-月-日 填写日期，例如 %(day)s", day=today.isoformat())
    category_id = parse_int(request.args.get("category"))
    return _slots_page(hall, day or today, error, raw, category_id=category_id), (
        422 if error else 200
    )


@bp.route("/halls/<int:hall_id>/slots/<int:slot_id>", methods=["POST"])
def slot_capacity(hall_id: int, slot_id: int):
    hall = halls.get_hall(hall_id)
    slot = capacity.get_slot(hall, slot_id)
    form = SlotCapacityForm(prefix=f"slot{slot.id}")
    back = url_for(
        "admin.hall_slots",
        hall_id=hall.id,
        day=slot.day.isoformat(),
        category=slot.category_id,
    )
    if form.validate_on_submit():
        try:
            with attempt():
                capacity.set_slot_capacity(_admin(), slot, form.capacity.data)
        except ValidationError as exc:
            form.apply_errors(exc)
        else:
            flash(
                _(
                    "已把 %(when)s 的名额改为 %(n)d",
                    when=appointments.when_text(slot),
                    n=form.capacity.data,
                ),
                "success",
            )
            return redirect(back)
    slot = capacity.get_slot(hall, slot_id)
    return _slots_page(
        hall, slot.day, forms={slot.id: form}, category_id=slot.category_id
    ), form_status(form)
