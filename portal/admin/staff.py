"""Staff accounts (工作人员账号) for admins: list, create, edit, deactivate, reset a second factor.
Thin views over services.staff; the admin blueprint's guard lets admins only in."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from wtforms.fields.choices import SelectChoice

from forms.staff import PasswordResetForm, StaffCreateForm, StaffForm
from portal.admin import bp
from portal.extensions import db
from portal.form_flow import form_status, save_form
from portal.models import Department, Role, ServiceHall, User
from portal.transaction import attempt
from services import catalogue, staff
from services.errors import Conflict, NotAuthorized, ValidationError


def _admin() -> User:
    return current_user._get_current_object()  # type: ignore[attr-defined]


def _with_choices(form: StaffForm, user: User | None) -> StaffForm:
    role_choices = [SelectChoice(role.value, staff.role_label(role)) for role in staff.STAFF_ROLES]
    form.roles.choices = role_choices
    form.acting_role.choices = role_choices
    departments = catalogue.list_active_departments(include_id=user.department_id if user else None)
    form.department_id.choices = [SelectChoice(0, _("（无）"))] + [
        SelectChoice(dept.id, dept.name) for dept in departments
    ]
    form.hall_id.choices = [SelectChoice(0, _("（无）"))] + [
        SelectChoice(hall.id, hall.name) for hall in staff.list_halls()
    ]
    return form


def _assignment(form: StaffForm) -> dict:
    roles = {Role(value) for value in form.roles.data or ()}
    return {
        "display_name": form.display_name.data,
        "roles": roles,
        "acting_role": Role(form.acting_role.data) if form.acting_role.data else None,
        "department": db.session.get(Department, form.department_id.data or 0),
        "hall": db.session.get(ServiceHall, form.hall_id.data or 0),
    }


@bp.route("/staff")
def staff_list():
    return render_template("admin/staff.html", rows=staff.list_staff())


@bp.route("/staff/new", methods=["GET", "POST"])
def staff_new():
    form = _with_choices(StaffCreateForm(), None)
    if request.method == "GET":
        form.acting_role.data = Role.counter.value
    if form.validate_on_submit() and (
        done := save_form(
            form,
            lambda: staff.create_staff_account(
                actor=_admin(),
                username=form.username.data,
                initial_password=form.initial_password.data,
                **_assignment(form),
            ),
            done=lambda user: _(
                "已创建工作人员账号 %(username)s。请把初始密码告知本人，首次登录时须修改密码并设置验证器。",
                username=user.username,
            ),
            to=url_for("admin.staff_list"),
        )
    ):
        return done
    return render_template("admin/staff_form.html", form=form, person=None), form_status(form)


def _filled(person: User) -> StaffForm:
    form = _with_choices(StaffForm(formdata=None), person)
    form.display_name.data = person.display_name
    form.roles.data = [role.value for role in person.roles_held]
    form.acting_role.data = person.role.value
    form.department_id.data = person.department_id or 0
    form.hall_id.data = person.hall_id or 0
    return form


@bp.route("/staff/<int:user_id>/edit", methods=["GET", "POST"])
def staff_edit(user_id: int):
    person = staff.get_staff(user_id)
    form = _filled(person) if request.method == "GET" else _with_choices(StaffForm(), person)
    if form.validate_on_submit() and (
        done := save_form(
            form,
            lambda: staff.update_staff_account(person, actor=_admin(), **_assignment(form)),
            done=_("已保存：%(name)s", name=person.display_name),
            to=url_for("admin.staff_list"),
        )
    ):
        return done
    return render_template(
        "admin/staff_form.html", form=form, person=person, password_form=PasswordResetForm()
    ), form_status(form)


@bp.route("/staff/<int:user_id>/password", methods=["POST"])
def staff_password(user_id: int):
    """A new initial password for a colleague who forgot theirs (shown again with its error)."""
    person = staff.get_staff(user_id)
    password_form = PasswordResetForm()
    if password_form.validate_on_submit():
        try:
            with attempt():
                staff.reset_password(person, password_form.initial_password.data, actor=_admin())
        except ValidationError as exc:
            password_form.apply_errors(exc)
        except NotAuthorized as exc:
            flash(exc.message, "error")
            return redirect(url_for("admin.staff_edit", user_id=person.id))
        else:
            flash(
                _(
                    "已为 %(name)s 设置新的初始密码：其登录已失效，下次登录时须修改密码。",
                    name=person.display_name,
                ),
                "success",
            )
            return redirect(url_for("admin.staff_edit", user_id=person.id))
    return render_template(
        "admin/staff_form.html",
        form=_filled(person),
        person=person,
        password_form=password_form,
        password_errors=True,
    ), 422


@bp.route("/staff/<int:user_id>/active", methods=["POST"])
def staff_active(user_id: int):
    person = staff.get_staff(user_id)
    active = request.form.get("active") == "1"
    try:
        with attempt():
            staff.set_staff_active(person, active, actor=_admin())
    except (Conflict, NotAuthorized) as exc:
        flash(exc.message, "error")
    except ValidationError as exc:
        flash(exc.message, "error")
    else:
        flash(
            _("已启用账号：%(name)s", name=person.display_name)
            if active
            else _("已停用账号：%(name)s。其所有登录已立即失效。", name=person.display_name),
            "success",
        )
    return redirect(url_for("admin.staff_edit", user_id=person.id))


@bp.route("/staff/<int:user_id>/reset-second-factor", methods=["POST"])
def staff_reset_second_factor(user_id: int):
    person = staff.get_staff(user_id)
    try:
        with attempt():
            staff.reset_second_factor(person, actor=_admin())
    except NotAuthorized as exc:
        flash(exc.message, "error")
    else:
        flash(
            _(
                "已重置 %(name)s 的验证器：其登录已失效，下次登录时重新设置验证器。",
                name=person.display_name,
            ),
            "success",
        )
    return redirect(url_for("admin.staff_edit", user_id=person.id))
