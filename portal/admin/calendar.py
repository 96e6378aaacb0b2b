"""工作日历: the year's working and rest days, importing the State Council's schedule, one day.

Thin views over services.calendar_admin: a preview is a POST that changes nothing; confirming
posts the same text with the preview's fingerprint and then shows the import's record (the
days changed and the cases whose 承诺办结日 moved)."""

from __future__ import annotations

from datetime import date

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from forms.calendar import DAY_CHOICE_LABELS, DayForm, FindDayForm, ScheduleImportForm
from portal.admin import bp
from portal.transaction import attempt
from services import calendar_admin, clock
from services.errors import Conflict, NotFound, ValidationError


def _day(value: str) -> date:
    try:
        day = date.fromisoformat(value)
    except ValueError:
        raise NotFound(_("没有这一天")) from None
    calendar_admin.check_year(day.year)
    return day


def _render_year(year: int, find_form: FindDayForm | None = None, status: int = 200):
    return render_template(
        "admin/calendar.html",
        view=calendar_admin.year_view(year),
        missing=calendar_admin.missing_schedule_years(),
        missing_schedule_message=calendar_admin.missing_schedule_message,
        find_form=find_form or FindDayForm(formdata=None),
        today=clock.local_today(),
    ), status


@bp.route("/calendar")
@bp.route("/calendar/<int:year>")
def calendar_year(year: int | None = None):
    return _render_year(calendar_admin.check_year(year or clock.local_today().year))


@bp.route("/calendar/day")
def calendar_find_day():
    form = FindDayForm(request.args)
    if form.validate():
        try:
            calendar_admin.check_year(form.day.data.year)
        except NotFound as exc:
            form.day.errors = [exc.message]
        else:
            return redirect(url_for("admin.calendar_day", day=form.day.data.isoformat()))
    return _render_year(clock.local_today().year, form, 422)


@bp.route("/calendar/<int:year>/import", methods=["GET", "POST"])
def calendar_import(year: int):
    calendar_admin.check_year(year)
    form = ScheduleImportForm()
    plan = None
    status = 200
    if form.is_submitted():
        if not form.validate():
            status = 422
        elif request.form.get("action") == "confirm":
            try:
                with attempt():
                    record = calendar_admin.import_schedule(
                        year,
                        form.source.data,
                        fingerprint=form.fingerprint.data or "",
                        actor=current_user._get_current_object(),
                    )
            except ValidationError as exc:
                form.apply_errors(exc)
                status = 422
            except Conflict as exc:
                form.form_errors.append(exc.message)
                status = 409
            else:
                flash(
                    _(
                        "已导入 %(year)d 年的放假安排：%(days)d 天有变化，%(cases)d 个办件的承诺办结日已重新计算",
                        year=year,
                        days=len(record.changed_days),
                        cases=len(record.moved_cases),
                    ),
                    "success",
                )
                return redirect(url_for("admin.calendar_import_record", import_id=record.id))
        if status == 200 or status == 409:
            try:
                plan = calendar_admin.plan_import(year, form.source.data)
            except ValidationError as exc:
                form.apply_errors(exc)
                status = 422
            else:
                form.fingerprint.data = plan.fingerprint
    return render_template(
        "admin/calendar_import.html",
        year=year,
        form=form,
        plan=plan,
        known=calendar_admin.library_knows(year),
    ), status


@bp.route("/calendar/imports/<int:import_id>")
def calendar_import_record(import_id: int):
    record = calendar_admin.load_import(import_id)
    return render_template(
        "admin/calendar_import_record.html",
        record=record,
        changed=[(date.fromisoformat(c["day"]), c) for c in record.changed_days],
        moved=[
            (c, date.fromisoformat(c["before"]), date.fromisoformat(c["after"]))
            for c in record.moved_cases
        ],
    )


@bp.route("/calendar/day/<day>", methods=["GET", "POST"])
def calendar_day(day: str):
    the_day = _day(day)
    cell = calendar_admin.day_cell(the_day)
    form = DayForm()
    if request.method == "GET":
        form.choice.data = ("work" if cell.workday else "rest") if cell.overridden else "default"
        form.note.data = cell.note if cell.overridden else ""
    elif form.validate():
        try:
            with attempt():
                edit = calendar_admin.set_day(
                    the_day,
                    form.choice.data,
                    form.note.data or "",
                    actor=current_user._get_current_object(),
                )
        except ValidationError as exc:
            form.apply_errors(exc)
        else:
            moved = edit.cases.moves
            flash(
                _(
                    "已保存 %(day)s：%(what)s",
                    day=the_day.isoformat(),
                    what=DAY_CHOICE_LABELS[form.choice.data],
                ),
                "success",
            )
            if moved:
                shown = "、".join(
                    f"{m.number}（{m.before.isoformat()} → {m.after.isoformat()}）"
                    for m in moved[:10]
                )
                flash(
                    _(
                        "%(n)d 个办件的承诺办结日已重新计算：%(cases)s",
                        n=len(moved),
                        cases=shown + ("……" if len(moved) > 10 else ""),
                    ),
                    "success",
                )
            return redirect(url_for("admin.calendar_year", year=the_day.year))
    return render_template(
        "admin/calendar_day.html",
        cell=cell,
        form=form,
        library_known=calendar_admin.library_knows(the_day.year),
    ), (422 if form.errors else 200)
